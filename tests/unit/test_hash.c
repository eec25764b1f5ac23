/* test_hash.c: Argon2id cost parsing, hashing and checking. */
#include <argon2.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
params_parse(void)
{
	uint32_t m, t, p;

	CHECK(hash_params_parse("m=19456,t=2,p=1", &m, &t, &p) == 0);
	CHECK(m == 19456 && t == 2 && p == 1);
	CHECK(hash_params_parse("t=1,p=2,m=64", &m, &t, &p) == 0 && m == 64 && p == 2);
	CHECK(hash_params_parse("m=1024,t=1", &m, &t, &p) == -1);
	CHECK(hash_params_parse("m=1024,t=0,p=1", &m, &t, &p) == -1);
	CHECK(hash_params_parse("m=4,t=1,p=1", &m, &t, &p) == -1);	/* below 8 KiB */
	CHECK(hash_params_parse("m=16,t=1,p=4", &m, &t, &p) == -1);	/* below 8 per lane */
	CHECK(hash_params_parse("m=1024,t=1,p=1,", &m, &t, &p) == -1);
	CHECK(hash_params_parse("m=1024;t=1;p=1", &m, &t, &p) == -1);
	CHECK(hash_params_parse("m=99999999999,t=1,p=1", &m, &t, &p) == -1);
	CHECK(hash_params_parse("", &m, &t, &p) == -1);
}

static void
hash_and_check(void)
{
	char	 enc[HASH_ENCODED_MAX], enc2[HASH_ENCODED_MAX];

	CHECK(hash_make("secret", 6, 1024, 1, 1, enc) == 0);
	CHECK(strncmp(enc, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	CHECK(hash_check(enc, "secret", 6) == 1);
	CHECK(hash_check(enc, "secreT", 6) == 0);
	CHECK(hash_check(enc, "secret", 5) == 0);
	/* a fresh salt every time */
	CHECK(hash_make("secret", 6, 1024, 1, 1, enc2) == 0);
	CHECK(strcmp(enc, enc2) != 0);
	CHECK(hash_check("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "secret", 6) == 0);
	CHECK(hash_check("garbage", "secret", 6) == 0);
}

static void
dummy_costs_a_full_check(void)
{
	char	 enc[HASH_ENCODED_MAX];
	unsigned long before = hash_check_count();

	hash_dummy(1024, 2, 1, enc);
	CHECK(strcmp(enc, "$argon2id$v=19$m=1024,t=2,p=1$cGF0Z2F0ZS1uby11c2VyIQ$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == 0);
	/* A mismatch, not a decoding failure: the whole Argon2 run was made. */
	CHECK(argon2id_verify(enc, "password", 8) == ARGON2_VERIFY_MISMATCH);
	CHECK(argon2id_verify(enc, "", 0) == ARGON2_VERIFY_MISMATCH);
	CHECK(hash_check(enc, "password", 8) == 0);
	CHECK(hash_check_count() == before + 1);
	hash_dummy(19456, 2, 1, enc);
	CHECK(argon2id_verify(enc, "x", 1) == ARGON2_VERIFY_MISMATCH);
}

/*
 * hash_check parses the encoded form itself to hash in kept memory: it
 * must agree with libargon2 on every form libargon2 writes (any salt and
 * tag length, costs growing and shrinking) and on what it refuses.
 */
static void
check_agrees_with_libargon2(void)
{
	static const struct { uint32_t m, t; size_t salt, out; } k[] = {
		{ 64, 1, 8, 16 }, { 1024, 2, 16, 32 }, { 32, 1, 32, 64 },
		{ 19456, 2, 16, 32 }, { 8, 3, 16, 4 },
	};
	unsigned char	 salt[32] = "some salt, 32 bytes of it......";
	char		 enc[256], bad[256];
	size_t		 i, n;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		CHECK(argon2id_hash_encoded(k[i].t, k[i].m, 1, "pw", 2, salt,
		    k[i].salt, k[i].out, enc, sizeof(enc)) == ARGON2_OK);
		CHECK(hash_check(enc, "pw", 2) == 1);
		/* in memory kept from one check to the next, grown as needed */
		CHECK(hash_kept_bytes() >= k[i].m * 1024);
		CHECK(hash_check(enc, "pW", 2) == 0);
		n = strlen(enc);
		memcpy(bad, enc, n + 1);
		bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';	/* the tag */
		CHECK(hash_check(bad, "pw", 2) == 0);
		memcpy(bad, enc, n + 1);
		strcat(bad, "$");				/* trailing */
		CHECK(hash_check(bad, "pw", 2) ==
		    (argon2id_verify(bad, "pw", 2) == ARGON2_OK));
	}
	/* Forms only libargon2's parser knows, and forms nobody takes. */
	CHECK(argon2id_hash_encoded(1, 64, 1, "pw", 2, salt, 16, 32, enc,
	    sizeof(enc)) == ARGON2_OK);
	memmove(enc + 10, enc + 15, strlen(enc + 15) + 1);	/* no "v=19$" */
	CHECK(hash_check(enc, "pw", 2) ==
	    (argon2id_verify(enc, "pw", 2) == ARGON2_OK));
	CHECK(hash_check("$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaA",
	    "pw", 2) == 0);
	CHECK(hash_check("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ", "pw", 2) ==
	    0);
	CHECK(hash_check("$argon2id$v=19$m=64,t=1,p=1$c2F*dHNhbHQ$aGFzaA",
	    "pw", 2) == 0);
	CHECK(hash_check("$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
	    "pw", 2) == 0);
}

static void
same_cost_reads_the_parameters(void)
{
	char	 enc[HASH_ENCODED_MAX];

	CHECK(hash_make("secret", 6, 32, 1, 1, enc) == 0);
	CHECK(hash_same_cost(enc, 32, 1, 1) == 1);
	CHECK(hash_same_cost(enc, 3, 1, 1) == 0);	/* m=3 is not m=32 */
	CHECK(hash_same_cost(enc, 320, 1, 1) == 0);
	CHECK(hash_same_cost(enc, 32, 2, 1) == 0);
	CHECK(hash_same_cost(enc, 32, 1, 2) == 0);
	CHECK(hash_same_cost("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", 19456, 2, 1) == 1);
	CHECK(hash_same_cost("$argon2id$v=16$m=32,t=1,p=1$c2FsdA$aGFzaA", 32, 1, 1) == 0);
	CHECK(hash_same_cost("$argon2i$v=19$m=32,t=1,p=1$c2FsdA$aGFzaA", 32, 1, 1) == 0);
	CHECK(hash_same_cost("", 32, 1, 1) == 0);
}

int
main(void)
{
	RUN(params_parse);
	RUN(hash_and_check);
	RUN(dummy_costs_a_full_check);
	RUN(check_agrees_with_libargon2);
	RUN(same_cost_reads_the_parameters);
	return tap_done();
}
