/* hash.c: Argon2id parameters, hashing with a fresh salt, and checking. */
#include <sys/mman.h>

#include <argon2.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

#define HASH_SALT_LEN	16
#define HASH_OUT_LEN	32
/* For hash_dummy: 16 bytes of salt, and 32 zero bytes no Argon2 run gives. */
#define HASH_DUMMY_SALT	"cGF0Z2F0ZS1uby11c2VyIQ"
#define HASH_DUMMY_OUT	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* Parse one "k=number" item at *sp; advance past a following comma. */
static int
hash_param_item(const char **sp, char *key, uint32_t *val)
{
	const char		*s = *sp;
	char			*end;
	unsigned long long	 v;

	if (s[0] == '\0' || s[1] != '=' || s[2] < '0' || s[2] > '9')
		return -1;
	*key = s[0];
	errno = 0;
	v = strtoull(s + 2, &end, 10);
	if (errno != 0 || v > UINT32_MAX)
		return -1;
	if (*end == ',' && end[1] != '\0')
		end++;
	else if (*end != '\0')
		return -1;
	*val = (uint32_t)v;
	*sp = end;
	return 0;
}

int
hash_params_parse(const char *s, uint32_t *m, uint32_t *t, uint32_t *p)
{
	int		 seen = 0;
	char		 key;
	uint32_t	 v;

	while (*s != '\0') {
		if (hash_param_item(&s, &key, &v) == -1)
			return -1;
		switch (key) {
		case 'm': *m = v; seen |= 1; break;
		case 't': *t = v; seen |= 2; break;
		case 'p': *p = v; seen |= 4; break;
		default: return -1;
		}
	}
	if (seen != 7 || *t < ARGON2_MIN_TIME || *p < ARGON2_MIN_LANES ||
	    *p > ARGON2_MAX_LANES || *m < ARGON2_MIN_MEMORY ||
	    (uint64_t)*m < 8 * (uint64_t)*p)
		return -1;
	return 0;
}

int
hash_make(const char *secret, size_t len, uint32_t m, uint32_t t, uint32_t p,
    char out[HASH_ENCODED_MAX])
{
	unsigned char	 salt[HASH_SALT_LEN];

	if (argon2_encodedlen(t, m, p, HASH_SALT_LEN, HASH_OUT_LEN, Argon2_id) >
	    HASH_ENCODED_MAX)
		return -1;
	if (token_random(salt, sizeof(salt)) == -1)
		return -1;
	if (argon2id_hash_encoded(t, m, p, secret, len, salt, sizeof(salt),
	    HASH_OUT_LEN, out, HASH_ENCODED_MAX) != ARGON2_OK)
		return -1;
	return 0;
}

void
hash_dummy(uint32_t m, uint32_t t, uint32_t p, char out[HASH_ENCODED_MAX])
{
	snprintf(out, HASH_ENCODED_MAX, "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s",
	    m, t, p, HASH_DUMMY_SALT, HASH_DUMMY_OUT);
}

int
hash_same_cost(const char *encoded, uint32_t m, uint32_t t, uint32_t p)
{
	/* The last cost asked about, written out: every check asks again. */
	static char	 want[64];
	static size_t	 n;
	static uint32_t	 wm, wt, wp;

	if (n == 0 || m != wm || t != wt || p != wp) {
		/* As libargon2 writes it: "$argon2id$v=19$m=M,t=T,p=P$...". */
		n = (size_t)snprintf(want, sizeof(want),
		    "$argon2id$v=%d$m=%u,t=%u,p=%u$", ARGON2_VERSION_NUMBER,
		    m, t, p);
		if (n >= sizeof(want)) {
			n = 0;
			return 0;
		}
		wm = m;
		wt = t;
		wp = p;
	}
	return strncmp(encoded, want, n) == 0;
}

static unsigned long hash_checks;

unsigned long
hash_check_count(void)
{
	return hash_checks;
}

/*
 * Argon2's memory, kept for the next hash.  libargon2 would take a fresh
 * block from malloc each time, and with the worker's fixed mmap threshold
 * (main.c) that is a fresh mapping: at the password cost, 4,864 pages
 * faulted in and zeroed for every login.  libargon2 wipes the block
 * before giving it back (its default), so nothing of a secret stays.
 * One hash at a time: the process hashes in one thread only.
 */
static uint8_t	*hash_arena;
static size_t	 hash_arena_len;

static int
hash_arena_take(uint8_t **memory, size_t len)
{
	void	*p;

	if (len > hash_arena_len) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return ARGON2_MEMORY_ALLOCATION_ERROR;
		(void)madvise(p, len, MADV_DONTDUMP);
		if (hash_arena != NULL)
			(void)munmap(hash_arena, hash_arena_len);
		hash_arena = p;
		hash_arena_len = len;
	}
	*memory = hash_arena;
	return ARGON2_OK;
}

size_t
hash_kept_bytes(void)
{
	return hash_arena_len;
}

static void
hash_arena_give(uint8_t *memory, size_t len)
{
	(void)memory;
	(void)len;
}

/* Base64 without padding, as in an encoded hash; -1 if not that. */
static int
hash_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode s[0..n) into out (at most max bytes): their count, or -1. */
static int
hash_b64_decode(const char *s, size_t n, unsigned char *out, size_t max)
{
	unsigned	 acc = 0;
	size_t		 i, bits = 0, len = 0;
	int		 v;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = hash_b64_value(s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (len == max)
				return -1;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	/* The bits left over are zero in the form libargon2 writes. */
	if ((acc & ((1U << bits) - 1)) != 0)
		return -1;
	return (int)len;
}

/*
 * "<name>=<decimal><end>" at *s: the number in *v and *s past end, 0; or
 * -1.  Stricter than sscanf's %u, which takes blanks and signs.
 */
static int
hash_field(const char **s, char name, char end, uint32_t *v)
{
	const char	*p = *s;
	uint64_t	 n = 0;

	if (p[0] != name || p[1] != '=' || p[2] < '0' || p[2] > '9')
		return -1;
	for (p += 2; *p >= '0' && *p <= '9'; p++)
		if ((n = n * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return -1;
	if (*p != end)
		return -1;
	*v = (uint32_t)n;
	*s = p + 1;
	return 0;
}

/*
 * Check secret against "$argon2id$v=19$m=M,t=T,p=P$salt$tag" with the
 * kept memory: 1 when it matches, 0 when not, -1 when the hash is of
 * another form (libargon2's own parser then judges it).
 */
#define HASH_FORM	"$argon2id$v=19$"

static int
hash_check_kept(const char *encoded, const char *secret, size_t len)
{
	unsigned char	 salt[64], tag[64], out[64];
	argon2_context	 ctx;
	const char	*s, *sep;
	uint32_t	 m, t, p;
	int		 n, rc;

	memset(&ctx, 0, sizeof(ctx));
	if (strncmp(encoded, HASH_FORM, strlen(HASH_FORM)) != 0)
		return -1;
	s = encoded + strlen(HASH_FORM);
	if (hash_field(&s, 'm', ',', &m) == -1 ||
	    hash_field(&s, 't', ',', &t) == -1 ||
	    hash_field(&s, 'p', '$', &p) == -1 ||
	    (sep = strchr(s, '$')) == NULL)
		return -1;
	if ((n = hash_b64_decode(s, (size_t)(sep - s), salt,
	    sizeof(salt))) < (int)ARGON2_MIN_SALT_LENGTH)
		return -1;
	ctx.salt = salt;
	ctx.saltlen = (uint32_t)n;
	s = sep + 1;
	if ((n = hash_b64_decode(s, strlen(s), tag, sizeof(tag))) <
	    (int)ARGON2_MIN_OUTLEN)
		return -1;
	ctx.out = out;
	ctx.outlen = (uint32_t)n;
	ctx.pwd = (uint8_t *)(uintptr_t)secret;
	ctx.pwdlen = (uint32_t)len;
	ctx.t_cost = t;
	ctx.m_cost = m;
	ctx.lanes = ctx.threads = p;
	ctx.version = ARGON2_VERSION_13;
	ctx.allocate_cbk = hash_arena_take;
	ctx.free_cbk = hash_arena_give;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	/* libargon2 compares the digests in constant time. */
	rc = argon2id_verify_ctx(&ctx, (const char *)tag);
	explicit_bzero(out, sizeof(out));
	if (rc == ARGON2_OK)
		return 1;
	return rc == ARGON2_VERIFY_MISMATCH ? 0 : -1;
}

int
hash_check(const char *encoded, const char *secret, size_t len)
{
	int	 rc;

	hash_checks++;
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return 0;
	if ((rc = hash_check_kept(encoded, secret, len)) >= 0)
		return rc;
	return argon2id_verify(encoded, secret, len) == ARGON2_OK;
}
