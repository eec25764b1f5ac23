/* hash.c: Argon2id parameters, hashing with a fresh salt, and checking. */
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
	char	 want[64];
	size_t	 n;

	/* The form libargon2 writes: "$argon2id$v=19$m=M,t=T,p=P$salt$tag". */
	n = (size_t)snprintf(want, sizeof(want),
	    "$argon2id$v=%d$m=%u,t=%u,p=%u$", ARGON2_VERSION_NUMBER, m, t, p);
	return n < sizeof(want) && strncmp(encoded, want, n) == 0;
}

static unsigned long hash_checks;

unsigned long
hash_check_count(void)
{
	return hash_checks;
}

int
hash_check(const char *encoded, const char *secret, size_t len)
{
	hash_checks++;
	/* libargon2 compares the digests in constant time. */
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return 0;
	return argon2id_verify(encoded, secret, len) == ARGON2_OK;
}
