/* test_cache.c: the verified-token cache spares Argon2 for warm tokens only. */
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

static char dir[64];
static struct store *st;

/* Store a token for a fixed user with a real hash of core; returns its PAT. */
static void
mint(char core[TOKEN_CORE_LEN + 1], char *pat, size_t patlen, uint64_t *number)
{
	struct token_rec t;

	memset(&t, 0, sizeof(t));
	token_core_new(core);
	token_uuid_new(t.id);
	strcpy(t.user_id, "00000000-0000-4000-8000-000000000001");
	strcpy(t.name, "cached");
	strcpy(t.abilities[0], "*");
	t.nabilities = 1;
	hash_make(core, TOKEN_CORE_LEN, 1024, 1, 1, t.hash);
	t.created_at = time(NULL);
	CHECK(store_token_create(st, &t, 100, t.created_at) == STORE_OK);
	token_pat_format(pat, patlen, t.number, "", core);
	*number = t.number;
}

static void
siphash_reference_vectors(void)
{
	/* The SipHash-2-4 128-bit reference: key 00..0f, message 00..(n-1). */
	static const struct { size_t n; unsigned char tag[16]; } v[] = {
		{ 0, { 0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
		       0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93 } },
		{ 3, { 0x9c, 0x70, 0xb6, 0x0c, 0x52, 0x67, 0xa9, 0x4e,
		       0x5f, 0x33, 0xb6, 0xb0, 0x29, 0x85, 0xed, 0x51 } },
		{ 8, { 0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61,
		       0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4 } },
	};
	unsigned char	 k[16], m[16], out[16];
	size_t		 i;

	for (i = 0; i < 16; i++)
		k[i] = m[i] = (unsigned char)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cache_siphash128(k, m, v[i].n, out);
		CHECK(memcmp(out, v[i].tag, 16) == 0);
	}
}

static void
warm_token_runs_no_argon2(void)
{
	struct principal who;
	char		 core[TOKEN_CORE_LEN + 1], pat[128];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);
	int		 i;

	cache_clear();
	mint(core, pat, sizeof(pat), &n);
	before = hash_check_count();
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);	/* cold: one Argon2 run */
	for (i = 0; i < 20; i++)
		CHECK(auth_pat(st, pat, now + 1, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);	/* warm: none */
	CHECK(auth_pat(st, pat, now + 61, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 2);	/* a minute on: cold again */
}

static void
wrong_secret_always_runs_argon2_and_fails(void)
{
	struct principal who;
	char		 core[TOKEN_CORE_LEN + 1], pat[128], forged[128], fake[TOKEN_CORE_LEN + 1];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	mint(core, pat, sizeof(pat), &n);
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);	/* warm it */
	memcpy(fake, core, sizeof(fake));
	fake[0] = fake[0] == 'A' ? 'B' : 'A';
	token_pat_format(forged, sizeof(forged), n, "", fake);
	before = hash_check_count();
	CHECK(auth_pat(st, forged, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "wrong-secret") == 0);
	CHECK(hash_check_count() == before + 1);
	/* and the holder's entry is still warm */
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);
}

static void
flood_on_one_number_is_answered_cheaply(void)
{
	struct principal who;
	char		 core[TOKEN_CORE_LEN + 1], pat[128], forged[128], fake[TOKEN_CORE_LEN + 1];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);
	int		 i, busy = 0;

	cache_clear();
	throttle_clear();
	mint(core, pat, sizeof(pat), &n);
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);	/* the holder, warm */
	memcpy(fake, core, sizeof(fake));
	before = hash_check_count();
	for (i = 0; i < 50; i++) {
		fake[0] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i];
		if (fake[0] == core[0])
			continue;
		token_pat_format(forged, sizeof(forged), n, "", fake);
		if (auth_pat(st, forged, now, &who, &why) == AUTH_BUSY)
			busy++;
	}
	/* five Argon2 runs, then one a second: the rest cost no Argon2 */
	CHECK(hash_check_count() - before <= 6);
	CHECK(busy >= 40);
	/* the holder's warm token is not locked out */
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() - before <= 6);
	throttle_clear();
}

static void
revoke_bites_while_warm(void)
{
	struct principal who;
	struct token_rec t;
	char		 core[TOKEN_CORE_LEN + 1], pat[128];
	const char	*why;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	mint(core, pat, sizeof(pat), &n);
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_OK);
	CHECK(store_token_revoke(st, NULL, who.token.id, now, &t) == STORE_OK);
	CHECK(auth_pat(st, pat, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "revoked") == 0);
}

static void
changed_record_misses(void)
{
	const char	*secret = "0123456789012345678901234567890123456789";
	time_t		 now = 1800000000;

	cache_clear();
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 59) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$two", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 9, "1123456789012345678901234567890123456789", 40,
	    "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 10, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_SESSION, 9, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 60) == 0);
	cache_forget(CACHE_PAT, 9);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now) == 0);
}

static void
sessions_are_cached_too(void)
{
	struct session_rec s;
	struct principal who;
	char		 tok[SESSION_TOKEN_LEN + 1], core[TOKEN_CORE_LEN + 1];
	unsigned long	 before;
	time_t		 now = time(NULL);

	cache_clear();
	memset(&s, 0, sizeof(s));
	token_session_new(tok, s.id, core);
	strcpy(s.user_id, "00000000-0000-4000-8000-000000000001");
	hash_make(core, TOKEN_CORE_LEN, 1024, 1, 1, s.hash);
	s.expires_at = now + 3600;
	CHECK(store_session_put(st, &s) == STORE_OK);
	before = hash_check_count();
	CHECK(auth_session(st, tok, now, &who) == AUTH_OK);
	CHECK(auth_session(st, tok, now, &who) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);
	CHECK(store_session_revoke(st, s.id, now) == STORE_OK);
	CHECK(auth_session(st, tok, now, &who) == AUTH_INVALID);
}

int
main(void)
{
	char	 err[256], cmd[128];
	int	 rc;

	snprintf(dir, sizeof(dir), "/tmp/patgate-unit-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	strcat(dir, "/db");
	if (store_open(dir, 1, &st, err, sizeof(err)) != STORE_OK) {
		printf("Bail out! %s\n", err);
		return 99;
	}
	RUN(siphash_reference_vectors);
	RUN(warm_token_runs_no_argon2);
	RUN(wrong_secret_always_runs_argon2_and_fails);
	RUN(flood_on_one_number_is_answered_cheaply);
	RUN(revoke_bites_while_warm);
	RUN(changed_record_misses);
	RUN(sessions_are_cached_too);
	store_close(st);
	rc = tap_done();
	dir[strlen(dir) - 3] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
