/* token.c: the forms of PATs and session tokens; pure but for getrandom. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "patgate.h"

static const char base62[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* CRC-32 as zlib computes it (reflected polynomial 0xEDB88320). */
uint32_t
token_crc32(const void *buf, size_t len)
{
	static uint32_t	 table[256];
	static int	 ready;
	const unsigned char *p = buf;
	uint32_t	 c = 0xffffffffu;
	size_t		 i;
	int		 k;

	if (!ready) {
		/* Idempotent: racing threads compute the same table. */
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
		c = 0xffffffffu;
	}
	for (i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

int
token_random(void *buf, size_t n)
{
	unsigned char	*p = buf;
	ssize_t		 got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int
token_core_new(char core[TOKEN_CORE_LEN + 1])
{
	unsigned char	 pool[64];
	size_t		 have = 0, used = sizeof(pool);

	/*
	 * Rejection sampling: only bytes below 248 (4 * 62) keep the draw
	 * uniform.
	 */
	while (have < TOKEN_CORE_LEN) {
		if (used == sizeof(pool)) {
			if (token_random(pool, sizeof(pool)) == -1)
				return -1;
			used = 0;
		}
		if (pool[used] < 248)
			core[have++] = base62[pool[used] % 62];
		used++;
	}
	core[TOKEN_CORE_LEN] = '\0';
	explicit_bzero(pool, sizeof(pool));
	return 0;
}

/*
 * A UUID of version 7: the time in milliseconds, then 74 random bits.
 * Ids made one after another sort together, so an index keyed by them
 * takes each new one at its end, in pages already in the cache, where
 * random ones (version 4) each dirtied a page of their own, anywhere in
 * an index of millions, for the cache to write out again.  The time is no
 * secret: a token's created_at is shown beside its id.
 */
int
token_uuid_new(char out[UUID_LEN + 1])
{
	unsigned char	 b[16];
	struct timespec	 ts;
	uint64_t	 ms;
	int		 i;

	if (token_random(b, sizeof(b)) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 5; i >= 0; i--, ms >>= 8)
		b[i] = (unsigned char)ms;
	b[6] = (b[6] & 0x0f) | 0x70;	/* version 7 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 9562 variant */
	snprintf(out, UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int
token_uuid_valid(const char *s)
{
	size_t	 i;

	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[UUID_LEN] == '\0';
}

static int
token_is_base62(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* Does the 8 hex digits at crc hold the CRC-32 of the core before it? */
static int
token_crc_matches(const char *core, const char *crc)
{
	static const char hex[] = "0123456789abcdef";
	char		 want[TOKEN_CRC_LEN];
	uint32_t	 v = token_crc32(core, TOKEN_CORE_LEN);
	int		 i;

	/*
	 * Checked on every request, so formatted by hand rather than by printf.
	 */
	for (i = TOKEN_CRC_LEN - 1; i >= 0; i--, v >>= 4)
		want[i] = hex[v & 0xf];
	return memcmp(want, crc, TOKEN_CRC_LEN) == 0;
}

int
token_pat_format(char *out, size_t outlen, uint64_t number, const char *prefix,
    const char *core)
{
	int	 n;

	n = snprintf(out, outlen, "%llu|%s%.*s%08x", (unsigned long long)number,
	    prefix, TOKEN_CORE_LEN, core, token_crc32(core, TOKEN_CORE_LEN));
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

int
token_pat_parse(const char *s, struct pat *out)
{
	const char	*bar, *secret, *core, *p;
	uint64_t	 n = 0;
	size_t		 slen, i;

	bar = strchr(s, '|');
	if (bar == NULL || bar == s || bar - s > 19 || s[0] == '0')
		return -1;
	for (p = s; p < bar; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	secret = bar + 1;
	slen = strlen(secret);
	if (slen < TOKEN_CORE_LEN + TOKEN_CRC_LEN ||
	    slen > TOKEN_PREFIX_MAX + TOKEN_CORE_LEN + TOKEN_CRC_LEN)
		return -1;
	/* The prefix is whatever was configured when the token was made. */
	for (i = 0; i < slen - TOKEN_CORE_LEN - TOKEN_CRC_LEN; i++)
		if (!token_is_base62(secret + i, 1) && secret[i] != '_' &&
		    secret[i] != '-')
			return -1;
	core = secret + slen - TOKEN_CORE_LEN - TOKEN_CRC_LEN;
	if (!token_is_base62(core, TOKEN_CORE_LEN))
		return -1;
	for (i = 0; i < TOKEN_CRC_LEN; i++) {
		char c = core[TOKEN_CORE_LEN + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	if (!token_crc_matches(core, core + TOKEN_CORE_LEN))
		return -1;
	out->number = n;
	out->prefix = secret;
	out->prefix_len = (size_t)(core - secret);
	out->core = core;
	return 0;
}

int
token_session_new(char out[SESSION_TOKEN_LEN + 1], char id[SESSION_ID_LEN + 1],
    char core[TOKEN_CORE_LEN + 1])
{
	unsigned char	 b[SESSION_ID_LEN / 2];
	size_t		 i;

	if (token_random(b, sizeof(b)) == -1 || token_core_new(core) == -1)
		return -1;
	for (i = 0; i < sizeof(b); i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	snprintf(out, SESSION_TOKEN_LEN + 1, SESSION_PREFIX "%s_%s%08x", id,
	    core, token_crc32(core, TOKEN_CORE_LEN));
	return 0;
}

int
token_session_parse(const char *s, struct session_token *out)
{
	const char	*id, *core;
	size_t		 i;

	if (strlen(s) != SESSION_TOKEN_LEN ||
	    strncmp(s, SESSION_PREFIX, strlen(SESSION_PREFIX)) != 0)
		return -1;
	id = s + strlen(SESSION_PREFIX);
	for (i = 0; i < SESSION_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return -1;
	if (id[SESSION_ID_LEN] != '_')
		return -1;
	core = id + SESSION_ID_LEN + 1;
	if (!token_is_base62(core, TOKEN_CORE_LEN))
		return -1;
	for (i = 0; i < TOKEN_CRC_LEN; i++) {
		char c = core[TOKEN_CORE_LEN + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	if (!token_crc_matches(core, core + TOKEN_CORE_LEN))
		return -1;
	memcpy(out->id, id, SESSION_ID_LEN);
	out->id[SESSION_ID_LEN] = '\0';
	out->core = core;
	return 0;
}
