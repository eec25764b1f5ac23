/* test_request.c: CGI parameters, body limits and JSON edge cases in-process. */
#include <json-c/json.h>
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

struct fake_env {
	const char	*names[8];
	const char	*values[8];
};

static const char *
env_get(const char *name, void *arg)
{
	struct fake_env *e = arg;
	int	 i;

	for (i = 0; i < 8 && e->names[i] != NULL; i++)
		if (strcmp(e->names[i], name) == 0)
			return e->values[i];
	return NULL;
}

struct mem {
	const char	*buf;
	size_t		 len, at;
};

static long
mem_read(void *ctx, char *buf, size_t n)
{
	struct mem *m = ctx;

	if (n > m->len - m->at)
		n = m->len - m->at;
	memcpy(buf, m->buf + m->at, n);
	m->at += n;
	return (long)n;
}

/*
 * Run the body rules on body (len bytes) with the given Content-Type and
 * Content-Length; returns the status (0 when the body was accepted).
 */
static int
body_status(const char *ct, const char *cl, const char *body, size_t len)
{
	struct fake_env	 env = { { "REQUEST_METHOD", "REQUEST_URI", "CONTENT_TYPE",
	    "CONTENT_LENGTH" }, { "POST", "/api/v1/user/api-tokens?x=1", ct, cl } };
	struct mem	 m = { body, len, 0 };
	struct body_source src = { mem_read, &m };
	struct log_sink	 sink = { NULL, NULL };
	struct request	 req;
	struct response	 res;
	struct ctx	 c;
	struct json_object *o, *msg;
	char		 lenbuf[32];
	int		 status;

	if (cl == NULL) {
		snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
		env.values[3] = lenbuf;
	}
	if (ct == NULL)
		env.names[2] = "UNSET";
	request_init(&req, env_get, &env, src, sink);
	CHECK(strcmp(req.path, "/api/v1/user/api-tokens") == 0);
	response_init(&res);
	memset(&c, 0, sizeof(c));
	c.req = &req;
	c.res = &res;
	o = api_json_body(&c);
	if (o != NULL) {
		json_object_put(o);
		status = 0;
	} else {
		status = res.status;
		/* every refusal carries a message */
		json_out_raw(&res.text, "", 1);
		CHECK(res.text.buf != NULL && (o = json_tokener_parse(res.text.buf)) != NULL &&
		    json_object_object_get_ex(o, "message", &msg));
		json_object_put(o);
	}
	response_free(&res);
	request_free(&req);
	return status;
}

#define J	"application/json"
#define BODY(s)	s, sizeof(s) - 1

static void
media_type(void)
{
	CHECK(body_status(J, NULL, BODY("{\"name\":\"x\"}")) == 0);
	CHECK(body_status("application/json; charset=utf-8", NULL, BODY("{}")) == 0);
	CHECK(body_status("Application/JSON", NULL, BODY("{}")) == 0);
	CHECK(body_status("text/plain", NULL, BODY("{}")) == 415);
	CHECK(body_status("application/jsonx", NULL, BODY("{}")) == 415);
	CHECK(body_status("application/x-www-form-urlencoded", NULL, BODY("a=b")) == 415);
	CHECK(body_status(NULL, NULL, BODY("{}")) == 415);
}

static void
size_limits(void)
{
	char	*big = malloc(REQUEST_BODY_MAX + 2);

	memset(big, ' ', REQUEST_BODY_MAX + 1);
	big[0] = '{';
	big[REQUEST_BODY_MAX - 1] = '}';
	CHECK(body_status(J, NULL, big, REQUEST_BODY_MAX) == 0);
	big[REQUEST_BODY_MAX] = '}';
	CHECK(body_status(J, NULL, big, REQUEST_BODY_MAX + 1) == 413);
	CHECK(body_status(J, "99999999999999999999999", big, 10) == 413);
	/* a lying Content-Length: fewer bytes than announced */
	CHECK(body_status(J, "500", BODY("{\"name\":\"x\"}")) == 400);
	CHECK(body_status(J, "12x", BODY("{\"name\":\"x\"}")) == 400);
	CHECK(body_status(J, "-5", BODY("{}")) == 400);
	free(big);
}

static void
json_edge_cases(void)
{
	CHECK(body_status(J, NULL, BODY("")) == 400);
	CHECK(body_status(J, NULL, BODY("{not json")) == 400);
	CHECK(body_status(J, NULL, BODY("[]")) == 400);
	CHECK(body_status(J, NULL, BODY("\"name\"")) == 400);
	CHECK(body_status(J, NULL, BODY("null")) == 400);
	CHECK(body_status(J, NULL, BODY("42")) == 400);
	CHECK(body_status(J, NULL, BODY("{\"name\": \"\xff\xfe\"}")) == 400);
	CHECK(body_status(J, NULL, BODY("{\"name\":\"a\"} trailing")) == 400);
	CHECK(body_status(J, NULL, BODY("{\"name\":\"a\"}{}")) == 400);
	CHECK(body_status(J, NULL, BODY("{\"name\":\"a\",}")) == 400);
	CHECK(body_status(J, NULL, BODY("{'name':'a'}")) == 400);
	CHECK(body_status(J, NULL, BODY("{\"name\":\"a\"}\0")) == 400);
	CHECK(body_status(J, NULL, BODY(" {\"name\":\"a\"}\r\n")) == 0);
	CHECK(body_status(J, NULL, BODY("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}")) == 400);
}

static void
path_and_defaults(void)
{
	struct fake_env	 env = { { NULL }, { NULL } };
	struct body_source src = { mem_read, NULL };
	struct log_sink	 sink = { NULL, NULL };
	struct request	 req;

	request_init(&req, env_get, &env, src, sink);
	CHECK(strcmp(req.method, "GET") == 0);
	CHECK(strcmp(req.path, "/") == 0);
	CHECK(strcmp(req.remote_addr, "-") == 0);
	CHECK(req.authorization == NULL);
}

static void
bearer_parsing(void)
{
	CHECK(auth_bearer(NULL) == NULL);
	CHECK(auth_bearer("Basic YWxpY2U6cHc=") == NULL);
	CHECK(auth_bearer("Bearer") == NULL);
	CHECK(auth_bearer("Bearer ") == NULL);
	CHECK(strcmp(auth_bearer("Bearer abc"), "abc") == 0);
	CHECK(strcmp(auth_bearer("bearer  abc"), "abc") == 0);
}

int
main(void)
{
	RUN(media_type);
	RUN(size_limits);
	RUN(json_edge_cases);
	RUN(path_and_defaults);
	RUN(bearer_parsing);
	return tap_done();
}
