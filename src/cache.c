/*
 * cache.c: the verified-token cache.  A credential whose secret passed
 * Argon2 is accepted again for CACHE_TTL seconds by comparing a keyed
 * digest (SipHash-2-4, 128-bit, key from getrandom at start) in constant
 * time.  A secret that failed is remembered the same way, in a table of
 * its own, so that the same wrong secret sent again (a flood, a client
 * with a stale token) is refused without Argon2; it is keyed by the
 * secret, so it never stands in the way of the holder's.  No plaintext
 * secret is kept; the tables have a fixed size.
 */
#include <string.h>

#include "patgate.h"

/*
 * As many slots as a gateway has tokens in turn: 100,000 at the scale the
 * benchmark holds a worker to.  48 bytes each, 6 MiB in all, of which only
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

struct cache_slot {
	uint64_t	 id;	/* token number, or session id as a number */
	uint32_t	 until;		/* seconds since the epoch */
	unsigned char	 digest[16];	/* of kind, id and secret */
	unsigned char	 kind;		/* 0: empty */
	/* of the stored hash it passed */
	char		 hashtail[CACHE_HASH_TAIL + 1];
};

#define CACHE_REFUSED_SLOTS	1024	/* a power of two */
#define CACHE_REFUSED_TAG	0x80 /* apart from the kinds: digests differ */

static struct cache_slot slots[CACHE_SLOTS];
static struct cache_slot refused[CACHE_REFUSED_SLOTS];
static unsigned char	 cache_key[16];
static int		 cache_keyed;

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

int
cache_secret_known(enum cache_kind kind, uint64_t id, const char *secret,
    size_t len, time_t now)
{
	struct cache_slot *s = cache_slot_for(kind, id);
	unsigned char	 d[16];

	if (s->kind != kind || s->id != id || s->until <= (uint32_t)now)
		return 0;
	if (cache_mac((unsigned char)kind, id, secret, len, d) == -1)
		return 0;
	return cache_same(d, s->digest);
}

/* The last characters of an encoded hash, which hold its tag. */
static const char *
cache_tail(const char *stored_hash)
{
	size_t	 n = strlen(stored_hash);

	return stored_hash + (n > CACHE_HASH_TAIL ? n - CACHE_HASH_TAIL : 0);
}

int
cache_hash_bound(enum cache_kind kind, uint64_t id, const char *stored_hash)
{
	struct cache_slot *s = cache_slot_for(kind, id);

	return s->kind == kind && s->id == id &&
	    strcmp(s->hashtail, cache_tail(stored_hash)) == 0;
}

int
cache_hit(enum cache_kind kind, uint64_t id, const char *secret, size_t len,
    const char *stored_hash, time_t now)
{
	/* The stored hash is bound in too: a changed record misses. */
	return cache_secret_known(kind, id, secret, len, now) &&
	    cache_hash_bound(kind, id, stored_hash);
}

void
cache_remember(enum cache_kind kind, uint64_t id, const char *secret,
    size_t len, const char *stored_hash, time_t now)
{
	struct cache_slot *s = cache_slot_for(kind, id);

	if (cache_mac((unsigned char)kind, id, secret, len, s->digest) == -1) {
		s->kind = 0;
		return;
	}
	strcpy(s->hashtail, cache_tail(stored_hash));
	s->kind = (unsigned char)kind;
	s->id = id;
	s->until = (uint32_t)(now + CACHE_TTL);
}

static struct cache_slot *
cache_refused_slot(enum cache_kind kind, uint64_t id)
{
	uint64_t h = (id ^ ((uint64_t)kind << 61)) * 0x9e3779b97f4a7c15ULL;

	return &refused[h >> (64 - 10)];
}

int
cache_refused(enum cache_kind kind, uint64_t id, const char *secret, size_t len,
    const char *stored_hash, time_t now)
{
	struct cache_slot *s = cache_refused_slot(kind, id);
	unsigned char	 d[16];

	if (s->kind != kind || s->id != id || s->until <= (uint32_t)now ||
	    strcmp(s->hashtail, cache_tail(stored_hash)) != 0)
		return 0;
	if (cache_mac((unsigned char)(kind | CACHE_REFUSED_TAG), id, secret,
	    len, d) == -1)
		return 0;
	return cache_same(d, s->digest);
}

void
cache_remember_refusal(enum cache_kind kind, uint64_t id, const char *secret,
    size_t len, const char *stored_hash, time_t now)
{
	struct cache_slot *s = cache_refused_slot(kind, id);

	if (cache_mac((unsigned char)(kind | CACHE_REFUSED_TAG), id, secret,
	    len, s->digest) == -1) {
		s->kind = 0;
		return;
	}
	strcpy(s->hashtail, cache_tail(stored_hash));
	s->kind = (unsigned char)kind;
	s->id = id;
	s->until = (uint32_t)(now + CACHE_TTL);
}

void
cache_forget(enum cache_kind kind, uint64_t id)
{
	struct cache_slot *s = cache_slot_for(kind, id);

	if (s->kind == kind && s->id == id)
		s->kind = 0;
}

void
cache_clear(void)
{
	memset(slots, 0, sizeof(slots));
	memset(refused, 0, sizeof(refused));
}
