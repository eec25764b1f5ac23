/* test_token.c: token generation, parsing and the CRC-32 checksum. */
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
crc32_matches_zlib(void)
{
	/* The standard check value and zlib.crc32(b"hello"). */
	CHECK(token_crc32("123456789", 9) == 0xcbf43926u);
	CHECK(token_crc32("hello", 5) == 0x3610a686u);
	CHECK(token_crc32("", 0) == 0);
}

static void
core_is_40_base62_and_varies(void)
{
	char	 a[TOKEN_CORE_LEN + 1], b[TOKEN_CORE_LEN + 1];
	size_t	 i;

	CHECK(token_core_new(a) == 0);
	CHECK(token_core_new(b) == 0);
	CHECK(strlen(a) == TOKEN_CORE_LEN);
	for (i = 0; i < TOKEN_CORE_LEN; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", a[i]) != NULL);
	CHECK(strcmp(a, b) != 0);
}

static void
pat_round_trip(void)
{
	char	 core[TOKEN_CORE_LEN + 1], tok[128];
	struct pat p;

	CHECK(token_core_new(core) == 0);
	CHECK(token_pat_format(tok, sizeof(tok), 7, "", core) == 1 + 1 + 48);
	CHECK(token_pat_parse(tok, &p) == 0);
	CHECK(p.number == 7);
	CHECK(memcmp(p.core, core, TOKEN_CORE_LEN) == 0);
	CHECK(token_pat_format(tok, sizeof(tok), 18446744073709ULL, "ci_", core) > 0);
	CHECK(strncmp(tok, "18446744073709|ci_", 18) == 0);
	CHECK(token_pat_parse(tok, &p) == 0 && p.number == 18446744073709ULL);
	CHECK(p.prefix_len == 3 && memcmp(p.prefix, "ci_", 3) == 0);
	CHECK(token_pat_format(tok, 10, 7, "", core) == -1);
}

/* The core and checksum are found from the end, whatever the prefix. */
static void
pat_prefix_any(void)
{
	static const char *const prefixes[] = { "", "pgt_", "pgt", "A", "x-y_z9",
	    "0123456789abcdefghijABCDEFGHIJ_-" };
	char	 core[TOKEN_CORE_LEN + 1], tok[128];
	struct pat p;
	size_t	 i, n;

	CHECK(token_core_new(core) == 0);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		CHECK(token_pat_format(tok, sizeof(tok), 42, prefixes[i], core) > 0);
		CHECK(token_pat_parse(tok, &p) == 0);
		CHECK(p.number == 42 && p.prefix_len == n);
		CHECK(memcmp(p.prefix, prefixes[i], n) == 0);
		CHECK(memcmp(p.core, core, TOKEN_CORE_LEN) == 0);
	}
	/* a prefix of 33 characters is refused; so is one with a '|' or '.' */
	CHECK(token_pat_format(tok, sizeof(tok), 42, "0123456789abcdefghijABCDEFGHIJ_-x", core) > 0);
	CHECK(token_pat_parse(tok, &p) == -1);
	CHECK(token_pat_format(tok, sizeof(tok), 42, "a.b", core) > 0);
	CHECK(token_pat_parse(tok, &p) == -1);
}

static void
pat_known_value(void)
{
	/* The checksum is the CRC-32 of the 40 characters, in lowercase hex. */
	const char *core = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
	char	 tok[128], want[128];
	struct pat p;

	snprintf(want, sizeof(want), "3|%s%08x", core, token_crc32(core, 40));
	CHECK(token_pat_format(tok, sizeof(tok), 3, "", core) > 0);
	CHECK(strcmp(tok, want) == 0);
	CHECK(token_pat_parse(want, &p) == 0);
}

static void
pat_refuses_malformed(void)
{
	char	 core[TOKEN_CORE_LEN + 1], tok[128], bad[160];
	struct pat p;
	size_t	 n;

	CHECK(token_core_new(core) == 0);
	n = (size_t)token_pat_format(tok, sizeof(tok), 12, "", core);
	/* wrong checksum: change its last digit */
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[n - 1] = bad[n - 1] == '0' ? '1' : '0';
	CHECK(token_pat_parse(bad, &p) == -1);
	/* a changed core character breaks the checksum too */
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	CHECK(token_pat_parse(bad, &p) == -1);
	/* uppercase hex is not the form */
	snprintf(bad, sizeof(bad), "%s", tok);
	for (size_t i = n - 8; i < n; i++)
		if (bad[i] >= 'a' && bad[i] <= 'f')
			bad[i] -= 32;
	if (strcmp(bad, tok) != 0)
		CHECK(token_pat_parse(bad, &p) == -1);
	CHECK(token_pat_parse("", &p) == -1);
	CHECK(token_pat_parse("nonsense", &p) == -1);
	CHECK(token_pat_parse("1|short", &p) == -1);
	snprintf(bad, sizeof(bad), "0%s", tok);		/* leading zero */
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "0|%s", tok + 3);	/* number zero */
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "|%s", tok + 3);	/* no number */
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "-1|%s", tok + 3);
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "12345678901234567890|%s", tok + 3);	/* too big */
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "%s ", tok);		/* trailing byte */
	CHECK(token_pat_parse(bad, &p) == -1);
	snprintf(bad, sizeof(bad), "12|a b%s", tok + 3);	/* space in prefix */
	CHECK(token_pat_parse(bad, &p) == -1);
}

static void
session_round_trip_and_forms_differ(void)
{
	char	 tok[SESSION_TOKEN_LEN + 1], id[SESSION_ID_LEN + 1], core[TOKEN_CORE_LEN + 1];
	char	 bad[SESSION_TOKEN_LEN + 8], pat[128];
	struct session_token s;
	struct pat p;

	CHECK(token_session_new(tok, id, core) == 0);
	CHECK(strlen(tok) == SESSION_TOKEN_LEN);
	CHECK(strncmp(tok, "pgs_", 4) == 0);
	CHECK(token_session_parse(tok, &s) == 0);
	CHECK(strcmp(s.id, id) == 0 && memcmp(s.core, core, TOKEN_CORE_LEN) == 0);
	/* a session is not a PAT, and a PAT is not a session */
	CHECK(token_pat_parse(tok, &p) == -1);
	CHECK(token_pat_format(pat, sizeof(pat), 1, "", core) > 0);
	CHECK(token_session_parse(pat, &s) == -1);
	snprintf(bad, sizeof(bad), "%sx", tok);
	CHECK(token_session_parse(bad, &s) == -1);
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[SESSION_TOKEN_LEN - 1] = bad[SESSION_TOKEN_LEN - 1] == '0' ? '1' : '0';
	CHECK(token_session_parse(bad, &s) == -1);
}

static void
uuid_form(void)
{
	char	 u[UUID_LEN + 1], v[UUID_LEN + 1], hex[13];
	struct timespec ts = { 0, 2000000 };
	long long ms;

	CHECK(token_uuid_new(u) == 0);
	CHECK(token_uuid_valid(u));
	CHECK(u[14] == '7');
	CHECK(strchr("89ab", u[19]) != NULL);
	/* its first 48 bits are the time in milliseconds */
	snprintf(hex, sizeof(hex), "%.8s%.4s", u, u + 9);
	ms = strtoll(hex, NULL, 16);
	CHECK(llabs(ms - (long long)time(NULL) * 1000) < 5000);
	/* made later, it sorts after; random below the time */
	nanosleep(&ts, NULL);
	CHECK(token_uuid_new(v) == 0);
	CHECK(strcmp(u, v) < 0);
	CHECK(strcmp(u + 24, v + 24) != 0);
	CHECK(!token_uuid_valid("00000000-0000-4000-8000-00000000000"));
	CHECK(!token_uuid_valid("00000000-0000-4000-8000-00000000000G"));
	CHECK(!token_uuid_valid("00000000-0000-4000-8000-00000000000A"));
	CHECK(!token_uuid_valid("00000000-0000-4000-8000-0000000000000"));
	CHECK(token_uuid_valid("00000000-0000-4000-8000-000000000000"));
}

int
main(void)
{
	RUN(crc32_matches_zlib);
	RUN(core_is_40_base62_and_varies);
	RUN(pat_round_trip);
	RUN(pat_prefix_any);
	RUN(pat_known_value);
	RUN(pat_refuses_malformed);
	RUN(session_round_trip_and_forms_differ);
	RUN(uuid_form);
	return tap_done();
}
