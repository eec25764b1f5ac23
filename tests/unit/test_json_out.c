/* test_json_out.c: JSON written as text reads back, and matches json-c's plain form. */
#include <json-c/json.h>
#include <stdlib.h>
#include <time.h>

#include "../../src/patgate.h"
#include "tap.h"

/* Every string json-c would print, printed alike. */
static void
strings_match_json_c(void)
{
	static const char *const cases[] = {
		"", "plain", "quote \" and back\\slash", "a/b", "tab\there\nnew\rline",
		"\x01\x1f\x7f", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x94\x91", "\b\f", "</script>",
	};
	struct json_out	 w = { NULL, 0, 0, 0 };
	struct json_object *o;
	const char	*want;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		w.len = 0;
		json_out_str(&w, cases[i]);
		o = json_object_new_string(cases[i]);
		want = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		CHECK(w.len == strlen(want) && memcmp(w.buf, want, w.len) == 0);
		if (w.len != strlen(want) || memcmp(w.buf, want, w.len) != 0)
			printf("# case %zu: %.*s vs %s\n", i, (int)w.len, w.buf, want);
		json_object_put(o);
	}
	json_out_free(&w);
	CHECK(w.buf == NULL);
}

/* A token's fields, in braces, parse back to the same values. */
static void
token_fields_parse_back(void)
{
	struct json_out	 w = { NULL, 0, 0, 0 };
	struct token_rec t;
	struct json_object *o, *v;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "0b4e7f3c-6f1d-4c55-9a39-2f1a3c5d7e90");
	snprintf(t.name, sizeof(t.name), "deploy \"prod\"");
	snprintf(t.abilities[0], sizeof(t.abilities[0]), "read");
	snprintf(t.abilities[1], sizeof(t.abilities[1]), "write");
	t.nabilities = 2;
	t.created_at = 1764316800;
	JSON_OUT_LIT(&w, "{");
	token_object_write(&w, &t, "12|pat_x", 0);
	JSON_OUT_LIT(&w, "}");
	json_out_raw(&w, "", 1);	/* a terminating NUL for the parser */
	CHECK(!w.failed);
	o = json_tokener_parse(w.buf);
	CHECK(o != NULL);
	if (o == NULL)
		return;
	CHECK(json_object_object_get_ex(o, "name", &v) &&
	    strcmp(json_object_get_string(v), "deploy \"prod\"") == 0);
	CHECK(json_object_object_get_ex(o, "abilities", &v) && json_object_array_length(v) == 2);
	CHECK(json_object_object_get_ex(o, "token", &v) &&
	    strcmp(json_object_get_string(v), "12|pat_x") == 0);
	CHECK(json_object_object_get_ex(o, "last_used_at", &v) && v == NULL);
	CHECK(json_object_object_get_ex(o, "expires_at", &v) && v == NULL);
	CHECK(json_object_object_get_ex(o, "created_at", &v) &&
	    strcmp(json_object_get_string(v), "2025-11-28T08:00:00Z") == 0);
	json_object_put(o);
	json_out_free(&w);
}

/* Times are written by arithmetic; they agree with gmtime and strftime. */
static void
times_match_strftime(void)
{
	char		 got[21], want[21];
	struct tm	 tm;
	time_t		 t;
	long long	 step;
	int		 bad = 0;

	for (step = 0; step <= 253402300799LL; step += 86400LL * 11 + 3599) {
		t = (time_t)step;
		valid_time_format(t, got);
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (strcmp(got, want) != 0 && bad++ < 3)
			printf("# %lld: %s, not %s\n", step, got, want);
	}
	CHECK(bad == 0);
	valid_time_format((time_t)951782400, got);	/* a leap day */
	CHECK(strcmp(got, "2000-02-29T00:00:00Z") == 0);
	valid_time_format((time_t)253402300799LL, got);
	CHECK(strcmp(got, "9999-12-31T23:59:59Z") == 0);
}

int
main(void)
{
	RUN(strings_match_json_c);
	RUN(token_fields_parse_back);
	RUN(times_match_strftime);
	return tap_done();
}
