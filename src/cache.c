/*
 * cache.c: the verified-token cache.  A credential whose secret passed
 * Argon2 is accepted again for CACHE_TTL seconds, and on while it is in
 * use, by comparing a keyed digest (SipHash-2-4, 128-bit, key from
 * getrandom) in constant time.  A secret that failed is remembered the
 * same way, in a table of its own, so that the same wrong secret sent
 * again (a flood, a client with a stale token) is refused without Argon2;
 * it is keyed by the secret, so it never stands in the way of the
 * holder's.  No plaintext secret is kept; the tables have a fixed size.
 *
 * The table of secrets that passed is shared by the workers of an
 * environment when cache_share can map it (cache_share.c), else private.
 * Shared, a slot is written under its sequence number (odd while a
 * writer holds it) and read as a copy taken between two equal even
 * readings: a torn read is a miss, never a mix of two entries.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/*
 * As many slots as a gateway has tokens in turn: 100,000 at the scale the
 * benchmark holds a worker to.  56 bytes each, 7 MiB in all, of which only
 * the pages of slots in use are ever resident.
 */
#define CACHE_SLOT_BITS	17
#define CACHE_SLOTS	(1U << CACHE_SLOT_BITS)
#define CACHE_TTL	60
/*
 * The end of an encoded Argon2 hash is its tag, unique to salt and secret:
 * its last characters tell the record's hash apart from any other.  It is
 * public (it is in the database), so a plain comparison does.
 */
#define CACHE_HASH_TAIL	16	/* 96 bits of the tag */

struct cache_entry {
	uint64_t	 id;	/* token number, or session id as a number */
	uint32_t	 until;		/* seconds since the epoch */
	unsigned char	 digest[16];	/* of kind, id and secret */
	unsigned char	 kind;		/* 0: empty */
	/* of the stored hash it passed */
	char		 hashtail[CACHE_HASH_TAIL + 1];
};

struct cache_slot {
	_Atomic uint32_t seq;		/* odd: being written */
	struct cache_entry e;
};

#define CACHE_REFUSED_SLOTS	1024	/* a power of two */
#define CACHE_REFUSED_TAG	0x80 /* apart from the kinds: digests differ */

static struct cache_slot private_slots[CACHE_SLOTS];
static struct cache_slot *slots = private_slots;
static struct cache_slot refused[CACHE_REFUSED_SLOTS];
static unsigned char	 cache_key[16];
static int		 cache_keyed;

int
cache_share(const char *dir)
{
	unsigned char	*p;

	if (slots != private_slots)
		return 0;
	p = cache_share_map(dir, CACHE_SHARE_HEAD + sizeof(private_slots),
	    cache_key);
	if (p == NULL)
		return -1;
	/*
	 * Called before any check: the private table, never touched, stays
	 * out of memory (a memset would bring in all 7 MiB of it).
	 */
	cache_keyed = 1;
	slots = (struct cache_slot *)(void *)(p + CACHE_SHARE_HEAD);
	return 0;
}

/* A copy of slot s into e; -1 while it is being written. */
static int
cache_read(struct cache_slot *s, struct cache_entry *e)
{
	uint32_t	 seq;

	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq & 1)
		return -1;
	*e = s->e;
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&s->seq, memory_order_relaxed) == seq ?
	    0 : -1;
}

/*
 * Hold slot s to write it; NULL while another writer holds it: skip it.
 * A writer killed while it holds a slot (a window of some nanoseconds)
 * leaves it odd: that slot misses, and costs its tokens Argon2, until the
 * table is made anew at the next boot.
 */
static struct cache_entry *
cache_hold(struct cache_slot *s, uint32_t *seq)
{
	*seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	if ((*seq & 1) || !atomic_compare_exchange_strong_explicit(&s->seq,
	    seq, *seq + 1, memory_order_acquire, memory_order_relaxed))
		return NULL;
	atomic_thread_fence(memory_order_release);
	return &s->e;
}

static void
cache_release(struct cache_slot *s, uint32_t seq)
{
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
cache_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
cache_put_le64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* SipHash-2-4 with 128-bit output of in[0..len) under k. */
void
cache_siphash128(const unsigned char k[16], const void *in, size_t len,
    unsigned char out[16])
{
	const unsigned char *m = in, *end = m + len - (len % 8);
	uint64_t	 k0 = cache_le64(k), k1 = cache_le64(k + 8);
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ k0,
			 v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ k0,
			 v3 = 0x7465646279746573ULL ^ k1;
	uint64_t	 b = (uint64_t)len << 56, mi;
	size_t		 left = len & 7;

	v1 ^= 0xee;
	for (; m != end; m += 8) {
		mi = cache_le64(m);
		v3 ^= mi;
		SIPROUND; SIPROUND;
		v0 ^= mi;
	}
	while (left-- > 0)
		b |= (uint64_t)m[left] << (8 * left);
	v3 ^= b;
	SIPROUND; SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	cache_put_le64(out, v0 ^ v1 ^ v2 ^ v3);
	v1 ^= 0xdd;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	cache_put_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* A keyed digest of prefix (tag) and buf; 0 or -1 without randomness. */
static int
cache_mac(unsigned char tag, uint64_t id, const char *buf, size_t len,
    unsigned char out[16])
{
	unsigned char	 msg[9 + HASH_ENCODED_MAX];

	if (!cache_keyed) {
		if (token_random(cache_key, sizeof(cache_key)) == -1)
			return -1;
		cache_keyed = 1;
	}
	if (len > HASH_ENCODED_MAX)
		return -1;
	msg[0] = tag;
	cache_put_le64(msg + 1, id);
	memcpy(msg + 9, buf, len);
	cache_siphash128(cache_key, msg, 9 + len, out);
	explicit_bzero(msg, sizeof(msg));
	return 0;
}

/*
 * Token numbers are given out in turn: taken as they are, the ones in use
 * at once never share a slot.  Session ids are random already.
 */
static struct cache_slot *
cache_slot_for(enum cache_kind kind, uint64_t id)
{
	uint64_t h = kind == CACHE_PAT ? id : id >> (64 - CACHE_SLOT_BITS);

	return &slots[h & (CACHE_SLOTS - 1)];
}

/* Compare two digests in constant time. */
static int
cache_same(const unsigned char a[16], const unsigned char b[16])
{
	unsigned char	 diff = 0;
	size_t		 i;

	for (i = 0; i < 16; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* The last characters of an encoded hash, which hold its tag. */
static const char *
cache_tail(const char *stored_hash)
{
	size_t	 n = strlen(stored_hash);

	return stored_hash + (n > CACHE_HASH_TAIL ? n - CACHE_HASH_TAIL : 0);
}

/*
 * Does entry e hold this secret (under tag) for (kind, id) and the stored
 * hash, within its time?
 */
static int
cache_holds(const struct cache_entry *e, unsigned char tag,
    enum cache_kind kind, uint64_t id, const char *secret, size_t len,
    const char *stored_hash, time_t now)
{
	unsigned char	 d[16];

	if (e->kind != kind || e->id != id || e->until <= (uint32_t)now ||
	    strncmp(e->hashtail, cache_tail(stored_hash),
	    sizeof(e->hashtail)) != 0)
		return 0;
	if (cache_mac(tag, id, secret, len, d) == -1)
		return 0;
	return cache_same(d, e->digest);
}

/* Fill entry e for the secret (under tag); kind 0 when it cannot be made. */
static void
cache_fill(struct cache_entry *e, unsigned char tag, enum cache_kind kind,
    uint64_t id, const char *secret, size_t len, const char *stored_hash,
    time_t now)
{
	const char	*tail;
	size_t		 n;

	if (cache_mac(tag, id, secret, len, e->digest) == -1) {
		e->kind = 0;
		return;
	}
	/* Cut to the slot, as snprintf would, at a fraction of its cost. */
	tail = cache_tail(stored_hash);
	n = strnlen(tail, sizeof(e->hashtail) - 1);
	memcpy(e->hashtail, tail, n);
	e->hashtail[n] = '\0';
	e->kind = (unsigned char)kind;
	e->id = id;
	e->until = (uint32_t)(now + CACHE_TTL);
}

/*
 * A secret in use stays: a hit in the second half of its entry's minute
 * gives it another, so that a token checked at least once a minute runs
 * Argon2 once, not once a minute.  Nothing is lost by that: the secret
 * passed against this very hash, and the record, read on every check,
 * still has it.  The entry is rewritten only if it is still the one read.
 */
static void
cache_prolong(struct cache_slot *s, const struct cache_entry *seen,
    time_t now)
{
	struct cache_entry *e;
	uint32_t	 seq;

	if (seen->until - (uint32_t)now >= CACHE_TTL / 2 ||
	    (e = cache_hold(s, &seq)) == NULL)
		return;
	if (e->kind == seen->kind && e->id == seen->id &&
	    memcmp(e->digest, seen->digest, sizeof(e->digest)) == 0)
		e->until = (uint32_t)(now + CACHE_TTL);
	cache_release(s, seq);
}

int
cache_hit(enum cache_kind kind, uint64_t id, const char *secret, size_t len,
    const char *stored_hash, time_t now)
{
	struct cache_slot *s = cache_slot_for(kind, id);
	struct cache_entry e;

	/* The stored hash is bound in too: a changed record misses. */
	if (cache_read(s, &e) == -1 ||
	    !cache_holds(&e, (unsigned char)kind, kind, id, secret, len,
	    stored_hash, now))
		return 0;
	cache_prolong(s, &e, now);
	return 1;
}

void
cache_remember(enum cache_kind kind, uint64_t id, const char *secret,
    size_t len, const char *stored_hash, time_t now)
{
	struct cache_slot *s = cache_slot_for(kind, id);
	struct cache_entry *e;
	uint32_t	 seq;

	if ((e = cache_hold(s, &seq)) == NULL)
		return;
	cache_fill(e, (unsigned char)kind, kind, id, secret, len, stored_hash,
	    now);
	cache_release(s, seq);
}

/* The refused table is the process's own: no other writer. */
static struct cache_entry *
cache_refused_entry(enum cache_kind kind, uint64_t id)
{
	uint64_t h = (id ^ ((uint64_t)kind << 61)) * 0x9e3779b97f4a7c15ULL;

	return &refused[h >> (64 - 10)].e;
}

int
cache_refused(enum cache_kind kind, uint64_t id, const char *secret, size_t len,
    const char *stored_hash, time_t now)
{
	return cache_holds(cache_refused_entry(kind, id),
	    (unsigned char)(kind | CACHE_REFUSED_TAG), kind, id, secret, len,
	    stored_hash, now);
}

void
cache_remember_refusal(enum cache_kind kind, uint64_t id, const char *secret,
    size_t len, const char *stored_hash, time_t now)
{
	cache_fill(cache_refused_entry(kind, id),
	    (unsigned char)(kind | CACHE_REFUSED_TAG), kind, id, secret, len,
	    stored_hash, now);
}

/*
 * A slot another writer holds is left as it is: the record, read on every
 * check, refuses what is forgotten here anyway; this only frees the slot.
 */
void
cache_forget(enum cache_kind kind, uint64_t id)
{
	struct cache_slot *s = cache_slot_for(kind, id);
	struct cache_entry *e;
	uint32_t	 seq;

	if ((e = cache_hold(s, &seq)) == NULL)
		return;
	if (e->kind == kind && e->id == id)
		e->kind = 0;
	cache_release(s, seq);
}

void
cache_clear(void)
{
	memset(slots, 0, sizeof(private_slots));
	memset(refused, 0, sizeof(refused));
}
