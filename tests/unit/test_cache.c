/*
 * test_cache.c: the verified-token cache spares Argon2 for warm tokens
 * only; hashes at another cost are throttled and rewritten; a PAT is
 * accepted with its own prefix only.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

static char dir[64];
static struct store *st;
/* The token cost the checks run at; the tokens below are hashed at it. */
static struct config cfg = { .argon2_m = 1024, .argon2_t = 1, .argon2_p = 1 };

/*
 * Store a token for a fixed user with a real hash of core at cost m (t=1,
 * p=1) and prefix (NULL: a record from before prefixes were stored);
 * returns its PAT under the prefix given as shown.
 */
static void
mint_as(uint32_t m, const char *prefix, const char *shown, char core[TOKEN_CORE_LEN + 1],
    char *pat, size_t patlen, uint64_t *number)
{
	struct token_rec t;

	memset(&t, 0, sizeof(t));
	token_core_new(core);
	token_uuid_new(t.id);
	strcpy(t.user_id, "00000000-0000-4000-8000-000000000001");
	strcpy(t.name, "cached");
	strcpy(t.abilities[0], "*");
	t.nabilities = 1;
	hash_make(core, TOKEN_CORE_LEN, m, 1, 1, t.hash);
	if (prefix != NULL) {
		snprintf(t.prefix, sizeof(t.prefix), "%s", prefix);
		t.prefix_known = 1;
	}
	t.created_at = time(NULL);
	CHECK(store_token_create(st, &t, 100, t.created_at) == STORE_OK);
	token_pat_format(pat, patlen, t.number, shown, core);
	*number = t.number;
}

static void
mint(char core[TOKEN_CORE_LEN + 1], char *pat, size_t patlen, uint64_t *number)
{
	mint_as(1024, "", "", core, pat, patlen, number);
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
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);	/* cold: one Argon2 run */
	for (i = 0; i < 20; i++)
		CHECK(auth_pat(st, &cfg, pat, now + 1, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);	/* warm: none */
	CHECK(auth_pat(st, &cfg, pat, now + 61, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 2);	/* a minute on: cold again */
}

static void
wrong_secret_runs_argon2_once_and_fails(void)
{
	struct principal who;
	char		 core[TOKEN_CORE_LEN + 1], pat[128], forged[128], fake[TOKEN_CORE_LEN + 1];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	mint(core, pat, sizeof(pat), &n);
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);	/* warm it */
	memcpy(fake, core, sizeof(fake));
	fake[0] = fake[0] == 'A' ? 'B' : 'A';
	token_pat_format(forged, sizeof(forged), n, "", fake);
	before = hash_check_count();
	CHECK(auth_pat(st, &cfg, forged, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "wrong-secret") == 0);
	CHECK(hash_check_count() == before + 1);
	/* and the holder's entry is still warm */
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);
	/* the same wrong secret again, within the minute: refused without Argon2 */
	CHECK(auth_pat(st, &cfg, forged, now + 30, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "wrong-secret") == 0);
	CHECK(hash_check_count() == before + 1);
	/* and a minute on, judged afresh */
	CHECK(auth_pat(st, &cfg, forged, now + 61, &who, &why) == AUTH_INVALID);
	CHECK(hash_check_count() == before + 2);
}

/*
 * Forged secrets for a number, at the current cost: each costs one cheap
 * Argon2 run and a refusal, and the holder pays nothing for them, warm or
 * on a worker that has never seen the token.
 */
static void
forged_secrets_never_cost_the_holder(void)
{
	struct principal who;
	char		 core[TOKEN_CORE_LEN + 1], pat[128], forged[128], fake[TOKEN_CORE_LEN + 1];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);
	int		 i, tries = 0, refused = 0, pass;

	for (pass = 0; pass < 2; pass++) {
		cache_clear();
		throttle_clear();
		mint(core, pat, sizeof(pat), &n);
		if (pass == 0)	/* the holder, warm */
			CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
		memcpy(fake, core, sizeof(fake));
		before = hash_check_count();
		for (i = 0; i < 30; i++) {
			fake[0] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i];
			if (fake[0] == core[0])
				continue;
			token_pat_format(forged, sizeof(forged), n, "", fake);
			tries++;
			if (auth_pat(st, &cfg, forged, now, &who, &why) == AUTH_INVALID &&
			    strcmp(why, "wrong-secret") == 0)
				refused++;
		}
		CHECK(hash_check_count() - before == 30 - (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", core[0]) != NULL));
		/* eight checks by the holder, all accepted */
		for (i = 0; i < 8; i++)
			CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
		/* the last forged secret, sent again and again, costs no Argon2 */
		before = hash_check_count();
		for (i = 0; i < 20; i++)
			CHECK(auth_pat(st, &cfg, forged, now, &who, &why) == AUTH_INVALID);
		CHECK(hash_check_count() - before <= 1);	/* its slot held by pass 0's */
	}
	CHECK(refused == tries);
}

/* A hash at another (dearer) cost is throttled, then rewritten on its use. */
static void
other_cost_is_throttled_and_rewritten(void)
{
	struct principal who;
	struct token_rec got;
	char		 core[TOKEN_CORE_LEN + 1], pat[128];
	const char	*why;
	unsigned long	 before;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	throttle_clear();
	mint_as(2048, "", "", core, pat, sizeof(pat), &n);
	CHECK(throttle_allow());
	throttle_record(600000);	/* this second's share is spent */
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_BUSY);
	CHECK(strcmp(why, "throttled") == 0);
	throttle_clear();
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(strncmp(who.rehash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	CHECK(hash_check(who.rehash, core, TOKEN_CORE_LEN));
	/* not written until the use is allowed */
	CHECK(store_token_get(st, n, &got) == STORE_OK && strstr(got.hash, "m=2048,") != NULL);
	auth_pat_used(st, &who, NULL, now);
	CHECK(store_token_get(st, n, &got) == STORE_OK && strcmp(got.hash, who.rehash) == 0);
	/* the use in the same transaction, kept apart from the record */
	CHECK(store_token_by_id(st, NULL, got.id, &got) == STORE_OK && got.last_used_at == now);
	/* at the current cost now: no throttle, no rewrite */
	cache_clear();
	throttle_record(600000);
	before = hash_check_count();
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(who.rehash[0] == '\0' && hash_check_count() == before + 1);
	throttle_clear();
}

/* A rewrite comes with the use even within the minute of the last one. */
static void
rewrite_does_not_wait_for_the_minute(void)
{
	struct principal who;
	struct token_rec got;
	char		 core[TOKEN_CORE_LEN + 1], pat[128];
	const char	*why;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	mint_as(2048, "", "", core, pat, sizeof(pat), &n);
	CHECK(store_token_get(st, n, &got) == STORE_OK);
	store_token_touch(st, &got, NULL, NULL, NULL, now);	/* a use a moment ago */
	CHECK(auth_pat(st, &cfg, pat, now + 5, &who, &why) == AUTH_OK);
	auth_pat_used(st, &who, NULL, now + 5);
	CHECK(store_token_get(st, n, &got) == STORE_OK && strstr(got.hash, "m=1024,") != NULL);
	/* a rewrite prepared against a hash since changed is not made */
	strcpy(who.token.hash, "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA");
	strcpy(who.rehash, "$argon2id$v=19$m=9,t=1,p=1$c2FsdA$aGFzaA");
	auth_pat_used(st, &who, NULL, now + 6);
	CHECK(store_token_get(st, n, &got) == STORE_OK && strstr(got.hash, "m=1024,") != NULL);
}

/* A PAT is accepted with its own prefix only; an old record takes its first. */
static void
own_prefix_only(void)
{
	struct principal who;
	struct token_rec got;
	char		 core[TOKEN_CORE_LEN + 1], pat[128], other[128];
	const char	*why;
	uint64_t	 n;
	time_t		 now = time(NULL);

	cache_clear();
	mint_as(1024, "pgt_", "pgt_", core, pat, sizeof(pat), &n);
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);	/* warm too */
	token_pat_format(other, sizeof(other), n, "", core);
	CHECK(auth_pat(st, &cfg, other, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "prefix") == 0);
	token_pat_format(other, sizeof(other), n, "zz_", core);
	CHECK(auth_pat(st, &cfg, other, now, &who, &why) == AUTH_INVALID);
	token_pat_format(other, sizeof(other), n, "pgt", core);
	CHECK(auth_pat(st, &cfg, other, now, &who, &why) == AUTH_INVALID);

	/* a record stored before prefixes were: the first successful use pins it */
	mint_as(1024, NULL, "old_", core, pat, sizeof(pat), &n);
	token_pat_format(other, sizeof(other), n, "zz_", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK(auth_pat(st, &cfg, other, now, &who, &why) == AUTH_INVALID);	/* a forger pins nothing */
	CHECK(store_token_get(st, n, &got) == STORE_OK && !got.prefix_known);
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(who.pin_prefix && strcmp(who.token.prefix, "old_") == 0);
	auth_pat_used(st, &who, NULL, now);
	CHECK(store_token_get(st, n, &got) == STORE_OK && got.prefix_known &&
	    strcmp(got.prefix, "old_") == 0);
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK && !who.pin_prefix);
	token_pat_format(other, sizeof(other), n, "pgt_", core);
	CHECK(auth_pat(st, &cfg, other, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "prefix") == 0);
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
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_OK);
	CHECK(store_token_revoke(st, NULL, who.token.id, now, &t) == STORE_OK);
	CHECK(auth_pat(st, &cfg, pat, now, &who, &why) == AUTH_INVALID);
	CHECK(strcmp(why, "revoked") == 0);
}

static void
changed_record_misses(void)
{
	const char	*secret = "0123456789012345678901234567890123456789";
	time_t		 now = 1800000000;

	cache_clear();
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 29) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$two", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 9, "1123456789012345678901234567890123456789", 40,
	    "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 10, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_SESSION, 9, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 60) == 0);
	/* a secret in use stays: a hit late in its minute gives another */
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 40) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 99) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 158) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 218) == 0);
	/* but not a wrong secret's miss, nor one early in the minute */
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_hit(CACHE_PAT, 9, "1123456789012345678901234567890123456789", 40,
	    "$argon2id$one", now + 40) == 0);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 20) == 1);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 60) == 0);
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	cache_forget(CACHE_PAT, 9);
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now) == 0);
	/* a refusal is of that secret, against that record, for the minute */
	cache_remember_refusal(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_refused(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 59) == 1);
	CHECK(cache_refused(CACHE_PAT, 9, "1123456789012345678901234567890123456789", 40,
	    "$argon2id$one", now) == 0);
	CHECK(cache_refused(CACHE_PAT, 9, secret, 40, "$argon2id$two", now) == 0);
	CHECK(cache_refused(CACHE_PAT, 10, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_refused(CACHE_SESSION, 9, secret, 40, "$argon2id$one", now) == 0);
	CHECK(cache_refused(CACHE_PAT, 9, secret, 40, "$argon2id$one", now + 60) == 0);
	/* and apart from the positive cache: neither answers for the other */
	CHECK(cache_hit(CACHE_PAT, 9, secret, 40, "$argon2id$one", now) == 0);
	cache_remember(CACHE_PAT, 9, secret, 40, "$argon2id$one", now);
	CHECK(cache_refused(CACHE_PAT, 9, secret, 40, "$argon2id$one", now) == 1);
	cache_clear();
	CHECK(cache_refused(CACHE_PAT, 9, secret, 40, "$argon2id$one", now) == 0);
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
	CHECK(auth_session(st, &cfg, tok, now, &who) == AUTH_OK);
	CHECK(auth_session(st, &cfg, tok, now, &who) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);
	CHECK(store_session_revoke(st, s.id, now) == STORE_OK);
	CHECK(auth_session(st, &cfg, tok, now, &who) == AUTH_INVALID);
}

/* A session hashed at another cost is rewritten once, on its next use. */
static void
session_rewritten_at_the_current_cost(void)
{
	struct session_rec s, got, again;
	struct principal who;
	char		 tok[SESSION_TOKEN_LEN + 1], core[TOKEN_CORE_LEN + 1];
	unsigned long	 before;
	time_t		 now = time(NULL);

	cache_clear();
	memset(&s, 0, sizeof(s));
	token_session_new(tok, s.id, core);
	strcpy(s.user_id, "00000000-0000-4000-8000-000000000001");
	hash_make(core, TOKEN_CORE_LEN, 2048, 1, 1, s.hash);
	s.expires_at = now + 3600;
	CHECK(store_session_put(st, &s) == STORE_OK);
	CHECK(auth_session(st, &cfg, tok, now, &who) == AUTH_OK);
	CHECK(store_session_get(st, s.id, &got) == STORE_OK);
	CHECK(strncmp(got.hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	CHECK(hash_check(got.hash, core, TOKEN_CORE_LEN));
	cache_clear();
	before = hash_check_count();
	CHECK(auth_session(st, &cfg, tok, now, &who) == AUTH_OK);
	CHECK(hash_check_count() == before + 1);
	CHECK(store_session_get(st, s.id, &again) == STORE_OK && strcmp(again.hash, got.hash) == 0);
	/* an ended session is never rewritten back to life */
	CHECK(store_session_revoke(st, s.id, now) == STORE_OK);
	CHECK(store_session_rehash(st, s.id, again.hash, "$argon2id$x") == STORE_EXISTS);
	CHECK(store_session_get(st, s.id, &got) == STORE_OK && got.revoked_at == now);
}

/*
 * A gateway's tokens in turn: 100,000 consecutive numbers remembered at
 * once all stay.
 */
static void
holds_a_gateway_of_tokens(void)
{
	const char	*hash = "$argon2id$v=19$m=32,t=1,p=1$c2FsdHNhbHQ$"
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	time_t		 now = time(NULL);
	uint64_t	 n, held = 0;

	cache_clear();
	for (n = 5000; n < 105000; n++)
		cache_remember(CACHE_PAT, n, "secret", 6, hash, now);
	for (n = 5000; n < 105000; n++)
		held += cache_hit(CACHE_PAT, n, "secret", 6, hash, now) == 1;
	printf("# %llu of 100000 held\n", (unsigned long long)held);
	CHECK(held == 100000);
	CHECK(cache_hit(CACHE_PAT, 5000 + 1, "secreT", 6, hash, now) == 0);
	cache_clear();
}

/* The shared table's name under /dev/shm for the environment in d. */
static void
shared_name(const char *d, char *out, size_t n)
{
	struct stat	 sb;

	if (stat(d, &sb) == -1)
		sb.st_dev = sb.st_ino = 0;
	snprintf(out, n, "/dev/shm/patgate-cache-1-%lu-%lu-%lu",
	    (unsigned long)geteuid(), (unsigned long)sb.st_dev,
	    (unsigned long)sb.st_ino);
}

/*
 * A table made open to others, or of another size, is not taken: another
 * user could have made it, and written entries under a key of its own.
 */
static void
foreign_table_refused(void)
{
	char		 d[64], name[160];
	unsigned char	 key[16];
	void		*p;
	size_t		 size = CACHE_SHARE_HEAD + 4096;

	snprintf(d, sizeof(d), "%s.foreign", dir);
	CHECK(mkdir(d, 0700) == 0);
	shared_name(d, name, sizeof(name));
	CHECK((p = cache_share_map(d, size, key)) != NULL);
	CHECK(stat(name, &(struct stat){ 0 }) == 0);
	CHECK(chmod(name, 0644) == 0);
	CHECK(cache_share_map(d, size, key) == NULL);
	CHECK(chmod(name, 0600) == 0);
	CHECK(cache_share_map(d, size + 4096, key) == NULL);
	CHECK(cache_share_map(d, size, key) != NULL);
	CHECK(unlink(name) == 0);
	CHECK(rmdir(d) == 0);
}

/*
 * A process that claimed the key and died before writing it (its pid in
 * the head's first word) leaves the table to the next; one still alive
 * is waited for, not overtaken.
 */
static void
orphaned_claim_taken_over(void)
{
	char		 d[64], name[160];
	unsigned char	 key[16], again[16];
	uint32_t	*state;
	void		*other;
	size_t		 size = CACHE_SHARE_HEAD + 4096;
	pid_t		 pid;
	int		 status;

	snprintf(d, sizeof(d), "%s.orphan", dir);
	CHECK(mkdir(d, 0700) == 0);
	shared_name(d, name, sizeof(name));
	CHECK((state = cache_share_map(d, size, key)) != NULL);
	if ((pid = fork()) == 0)
		_exit(0);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	*state = (uint32_t)pid;
	CHECK((other = cache_share_map(d, size, again)) != NULL);
	CHECK(*state == UINT32_MAX);
	CHECK(memcmp(key, again, sizeof(key)) != 0);
	CHECK(other == NULL || munmap(other, size) == 0);
	*state = (uint32_t)getpid();
	CHECK(cache_share_map(d, size, again) == NULL);
	CHECK(*state == (uint32_t)getpid());
	CHECK(munmap(state, size) == 0);
	CHECK(unlink(name) == 0);
	CHECK(rmdir(d) == 0);
}

/*
 * Shared: what one process remembered, another finds (a worker that did
 * not run Argon2 for it); a wrong secret or another record still misses.
 */
static void
shared_between_processes(void)
{
	const char	*secret = "0123456789012345678901234567890123456789";
	const char	*hash = "$argon2id$v=19$m=32,t=1,p=1$c2FsdHNhbHQ$"
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char		 name[160];
	time_t		 now = time(NULL);
	pid_t		 pid;
	int		 status;

	CHECK(cache_share(dir) == 0);
	shared_name(dir, name, sizeof(name));
	CHECK(stat(name, &(struct stat){ 0 }) == 0);
	if ((pid = fork()) == 0) {
		cache_remember(CACHE_PAT, 77, secret, 40, hash, now);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
	CHECK(cache_hit(CACHE_PAT, 77, secret, 40, hash, now) == 1);
	CHECK(cache_hit(CACHE_PAT, 77, "1123456789012345678901234567890123456789",
	    40, hash, now) == 0);
	CHECK(cache_hit(CACHE_PAT, 77, secret, 40, "$argon2id$other", now) == 0);
	if ((pid = fork()) == 0) {
		cache_forget(CACHE_PAT, 77);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
	CHECK(cache_hit(CACHE_PAT, 77, secret, 40, hash, now) == 0);
	/* the tests before, now against the shared table */
	warm_token_runs_no_argon2();
	changed_record_misses();
	CHECK(unlink(name) == 0);
}

/*
 * One slot written over and over by another process, alternately with a
 * secret that passed just now and with another that passed an hour ago:
 * a read that took the second's digest and record with the first's time
 * would pass a secret whose entry has run out.  None may, in the reads
 * taken while the writes go on.
 */
static void
torn_reads_miss(void)
{
	const char	*fresh = "0123456789012345678901234567890123456789";
	const char	*stale = "9876543210987654321098765432109876543210";
	const char	*fresh_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$"
			    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
	const char	*stale_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$"
			    "SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS";
	time_t		 now = time(NULL);
	long		 i, fresh_hits = 0, false_hits = 0;
	volatile int	 spin;
	pid_t		 pid;
	int		 status;

	/* A pause after each write, or the slot is always being written. */
	if ((pid = fork()) == 0)
		for (;;) {
			cache_remember(CACHE_PAT, 91, fresh, 40, fresh_hash,
			    now);
			for (spin = 0; spin < 300; spin++)
				;
			cache_remember(CACHE_PAT, 91, stale, 40, stale_hash,
			    now - 3600);
			for (spin = 0; spin < 300; spin++)
				;
		}
	CHECK(pid > 0);
	/*
	 * Until the fresh secret has passed often: on one core the writer
	 * can be preempted holding the slot, and every read then misses.
	 */
	for (i = 0; i < 30000000 && fresh_hits < 100000; i++) {
		fresh_hits += cache_hit(CACHE_PAT, 91, fresh, 40, fresh_hash,
		    now);
		false_hits += cache_hit(CACHE_PAT, 91, stale, 40, stale_hash,
		    now);
		false_hits += cache_hit(CACHE_PAT, 91, fresh, 40, stale_hash,
		    now);
	}
	(void)kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("# %ld of %ld reads passed the fresh secret; %ld passed what "
	    "they should not\n", fresh_hits, i, false_hits);
	CHECK(fresh_hits > 0);
	CHECK(false_hits == 0);
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
	RUN(wrong_secret_runs_argon2_once_and_fails);
	RUN(forged_secrets_never_cost_the_holder);
	RUN(other_cost_is_throttled_and_rewritten);
	RUN(rewrite_does_not_wait_for_the_minute);
	RUN(own_prefix_only);
	RUN(revoke_bites_while_warm);
	RUN(changed_record_misses);
	RUN(sessions_are_cached_too);
	RUN(session_rewritten_at_the_current_cost);
	RUN(holds_a_gateway_of_tokens);
	RUN(foreign_table_refused);
	RUN(orphaned_claim_taken_over);
	/* last: a process's table, once shared, stays shared */
	RUN(shared_between_processes);
	RUN(torn_reads_miss);
	store_close(st);
	rc = tap_done();
	dir[strlen(dir) - 3] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
