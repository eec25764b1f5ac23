/* test_valid.c: the field rules of create and login bodies, UTF-8 and time parsing. */
#include <json-c/json.h>
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

#define NOW	((time_t)1800000000)	/* 2027-01-15T08:00:00Z */

/* Judge the JSON text body; returns 0 or -1 and leaves errors in *errs. */
static int
judge(const char *body, struct token_input *in, struct field_errors *errs)
{
	struct json_object *o = json_tokener_parse(body);
	int		 rc;

	errs->obj = NULL;
	rc = valid_token_input(o, NOW, 366, in, errs);
	json_object_put(o);
	return rc;
}

static int
has_error(struct field_errors *errs, const char *field)
{
	struct json_object *v;
	int		 yes = errs->obj != NULL && json_object_object_get_ex(errs->obj, field, &v) &&
	    json_object_array_length(v) > 0;

	json_object_put(errs->obj);
	errs->obj = NULL;
	return yes;
}

static void
name_255_four_byte_points_pass(void)
{
	struct token_input in;
	struct field_errors e;
	char	*body = malloc(255 * 4 + 32), *p;
	int	 i;

	p = body + sprintf(body, "{\"name\":\"");
	for (i = 0; i < 255; i++)
		p += sprintf(p, "\xf0\x9f\x94\x91");	/* U+1F511 */
	sprintf(p, "\"}");
	CHECK(judge(body, &in, &e) == 0);
	CHECK(strlen(in.name) == 255 * 4);
	CHECK(!has_error(&e, "name"));
	free(body);
}

static void
name_256_ascii_fails(void)
{
	struct token_input in;
	struct field_errors e;
	char	 body[400];

	snprintf(body, sizeof(body), "{\"name\":\"%0256d\"}", 0);
	CHECK(judge(body, &in, &e) == -1);
	CHECK(has_error(&e, "name"));
	snprintf(body, sizeof(body), "{\"name\":\"%0255d\"}", 0);
	CHECK(judge(body, &in, &e) == 0);
}

static void
name_trimmed_and_required(void)
{
	struct token_input in;
	struct field_errors e;

	CHECK(judge("{\"name\":\"  Local Dev \\n\"}", &in, &e) == 0);
	CHECK(strcmp(in.name, "Local Dev") == 0);
	CHECK(judge("{\"name\":\"\\u00a0CI\\u3000\"}", &in, &e) == 0);
	CHECK(strcmp(in.name, "CI") == 0);
	CHECK(judge("{}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":\"\"}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":\"   \"}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":null}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":42}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":[\"x\"]}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":true}", &in, &e) == -1 && has_error(&e, "name"));
}

static void
name_control_characters_fail(void)
{
	struct token_input in;
	struct field_errors e;

	CHECK(judge("{\"name\":\"tab\\there\"}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":\"nul\\u0000x\"}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":\"del\\u007fx\"}", &in, &e) == -1 && has_error(&e, "name"));
	CHECK(judge("{\"name\":\"esc\\u001bx\"}", &in, &e) == -1 && has_error(&e, "name"));
	/* json-c decodes a lone surrogate escape to U+FFFD; the name stays valid UTF-8 */
	CHECK(judge("{\"name\":\"x\\ud800y\"}", &in, &e) == 0);
	CHECK(strcmp(in.name, "x\xef\xbf\xbdy") == 0);
	CHECK(judge("{\"name\":\"caf\\u00e9 \\u00b5\"}", &in, &e) == 0);
}

static void
abilities_default_dedupe_and_empty(void)
{
	struct token_input in;
	struct field_errors e;

	CHECK(judge("{\"name\":\"a\"}", &in, &e) == 0);
	CHECK(in.nabilities == 1 && strcmp(in.abilities[0], "*") == 0);
	CHECK(judge("{\"name\":\"a\",\"abilities\":null}", &in, &e) == 0);
	CHECK(in.nabilities == 1 && strcmp(in.abilities[0], "*") == 0);
	CHECK(judge("{\"name\":\"a\",\"abilities\":[]}", &in, &e) == 0);
	CHECK(in.nabilities == 0);
	CHECK(judge("{\"name\":\"a\",\"abilities\":[\"read\",\"write\",\"read\",\"calls:create\"]}", &in, &e) == 0);
	CHECK(in.nabilities == 3);
	CHECK(strcmp(in.abilities[0], "read") == 0 && strcmp(in.abilities[1], "write") == 0 &&
	    strcmp(in.abilities[2], "calls:create") == 0);
	CHECK(judge("{\"name\":\"a\",\"abilities\":[\"A-z_0.9:*\"]}", &in, &e) == 0);
}

static void
abilities_rules_fail(void)
{
	static const char *bad[] = {
		"\"read\"", "[1]", "[null]", "[\"has space\"]", "[\"\"]", "{\"a\":1}",
		"[\"x\\u00e9\"]", "[\"slash/no\"]", "[[\"read\"]]", "true",
	};
	struct token_input in;
	struct field_errors e;
	char	 body[8192], *p;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"name\":\"n\",\"abilities\":%s}", bad[i]);
		CHECK(judge(body, &in, &e) == -1);
		CHECK(has_error(&e, "abilities"));
	}
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"abilities\":[\"%065d\"]}", 0);
	CHECK(judge(body, &in, &e) == -1 && has_error(&e, "abilities"));
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"abilities\":[\"%064d\"]}", 0);
	CHECK(judge(body, &in, &e) == 0);
	p = body + sprintf(body, "{\"name\":\"n\",\"abilities\":[");
	for (i = 0; i < 51; i++)
		p += sprintf(p, "%s\"a%zu\"", i ? "," : "", i);
	sprintf(p, "]}");
	CHECK(judge(body, &in, &e) == -1 && has_error(&e, "abilities"));
}

static void
every_failing_field_named(void)
{
	struct token_input in;
	struct field_errors e;
	struct json_object *v;

	CHECK(judge("{\"name\":\"\",\"abilities\":\"x\",\"expires_at\":\"soon\"}", &in, &e) == -1);
	CHECK(e.obj != NULL && json_object_object_get_ex(e.obj, "name", &v) &&
	    json_object_object_get_ex(e.obj, "abilities", &v) &&
	    json_object_object_get_ex(e.obj, "expires_at", &v));
	json_object_put(e.obj);
}

static void
expires_at_rules(void)
{
	struct token_input in;
	struct field_errors e;

	CHECK(judge("{\"name\":\"n\",\"expires_at\":null}", &in, &e) == 0 && in.expires_at == 0);
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2027-01-16T08:00:00Z\"}", &in, &e) == 0);
	CHECK(in.expires_at == NOW + 86400);
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2027-01-16T09:00:00+01:00\"}", &in, &e) == 0);
	CHECK(in.expires_at == NOW + 86400);
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2001-01-01T00:00:00Z\"}", &in, &e) == -1 &&
	    has_error(&e, "expires_at"));
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2027-01-15T08:00:00Z\"}", &in, &e) == -1 &&
	    has_error(&e, "expires_at"));
	/* 366 days is the most */
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2028-01-16T08:00:00Z\"}", &in, &e) == 0);
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"2028-01-16T08:00:01Z\"}", &in, &e) == -1 &&
	    has_error(&e, "expires_at"));
	CHECK(judge("{\"name\":\"n\",\"expires_at\":\"tomorrow\"}", &in, &e) == -1 &&
	    has_error(&e, "expires_at"));
	CHECK(judge("{\"name\":\"n\",\"expires_at\":1800086400}", &in, &e) == -1 &&
	    has_error(&e, "expires_at"));
}

static void
rfc3339_parsing(void)
{
	time_t	 t;
	char	 buf[21];

	CHECK(valid_rfc3339("2024-01-15T19:00:00Z", &t) == 0 && t == 1705345200);
	CHECK(valid_rfc3339("2024-01-15t19:00:00.123z", &t) == 0 && t == 1705345200);
	CHECK(valid_rfc3339("2024-01-15T20:30:00+01:30", &t) == 0 && t == 1705345200);
	CHECK(valid_rfc3339("2024-02-29T00:00:00Z", &t) == 0);
	CHECK(valid_rfc3339("2023-02-29T00:00:00Z", &t) == -1);
	CHECK(valid_rfc3339("2024-13-01T00:00:00Z", &t) == -1);
	CHECK(valid_rfc3339("2024-01-15 19:00:00Z", &t) == -1);
	CHECK(valid_rfc3339("2024-01-15T19:00:00", &t) == -1);
	CHECK(valid_rfc3339("2024-01-15T19:00:00Zjunk", &t) == -1);
	CHECK(valid_rfc3339("2024-01-15T24:00:00Z", &t) == -1);
	CHECK(valid_rfc3339("2024-01-15T19:00:00.Z", &t) == -1);
	CHECK(valid_rfc3339("", &t) == -1);
	valid_time_format(1705345200, buf);
	CHECK(strcmp(buf, "2024-01-15T19:00:00Z") == 0);
}

static void
utf8_rules(void)
{
	CHECK(valid_utf8("plain", 5));
	CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91", 9));
	CHECK(!valid_utf8("\xff\xfe", 2));
	CHECK(!valid_utf8("\xc0\xaf", 2));		/* overlong / */
	CHECK(!valid_utf8("\xe0\x80\xaf", 3));		/* overlong / */
	CHECK(!valid_utf8("\xed\xa0\x80", 3));		/* surrogate */
	CHECK(!valid_utf8("\xf4\x90\x80\x80", 4));	/* past U+10FFFF */
	CHECK(!valid_utf8("\xe2\x82", 2));		/* cut short */
	CHECK(!valid_utf8("\x80", 1));
}

/* Judge a login body; 0 or -1; errs keeps the errors, in the object it returns. */
static int
judge_login(const char *body, struct login_input *in, struct field_errors *errs,
    struct json_object **o)
{
	errs->obj = NULL;
	*o = json_tokener_parse(body);
	return valid_login_input(*o, in, errs);
}

static void
login_fields_required_strings(void)
{
	struct login_input in;
	struct field_errors e;
	struct json_object *o, *v;

	CHECK(judge_login("{\"email\":\"a@b.c\",\"password\":\"p w\\u0000x\",\"x\":1}",
	    &in, &e, &o) == 0);
	CHECK(strcmp(in.email, "a@b.c") == 0 && in.password_len == 5 &&
	    memcmp(in.password, "p w\0x", 5) == 0);
	json_object_put(o);
	CHECK(judge_login("{}", &in, &e, &o) == -1);
	CHECK(json_object_object_get_ex(e.obj, "email", &v) &&
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
	    "The email field is required.") == 0);
	CHECK(has_error(&e, "password"));
	json_object_put(o);
	CHECK(judge_login("{\"email\":1,\"password\":[\"p\"]}", &in, &e, &o) == -1);
	CHECK(json_object_object_get_ex(e.obj, "password", &v) &&
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
	    "The password must be a string.") == 0);
	CHECK(has_error(&e, "email"));
	json_object_put(o);
	CHECK(judge_login("{\"email\":\"a@b.c\",\"password\":\"\"}", &in, &e, &o) == -1);
	CHECK(!json_object_object_get_ex(e.obj, "email", &v));
	CHECK(has_error(&e, "password"));
	json_object_put(o);
	CHECK(judge_login("{\"email\":null,\"password\":\"p\"}", &in, &e, &o) == -1);
	CHECK(has_error(&e, "email"));
	json_object_put(o);
}

int
main(void)
{
	RUN(name_255_four_byte_points_pass);
	RUN(name_256_ascii_fails);
	RUN(name_trimmed_and_required);
	RUN(name_control_characters_fail);
	RUN(abilities_default_dedupe_and_empty);
	RUN(abilities_rules_fail);
	RUN(every_failing_field_named);
	RUN(expires_at_rules);
	RUN(rfc3339_parsing);
	RUN(utf8_rules);
	RUN(login_fields_required_strings);
	return tap_done();
}
