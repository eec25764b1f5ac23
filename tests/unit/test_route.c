/*
 * test_route.c: requests in, responses out, through route_dispatch and
 * authorizer_dispatch over a real store in a temporary directory.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

#define ENV_MAX	16

static char		 dir[64];
static struct config	 cfg;
static struct app	 app;
static struct user_rec	 alice, bob;
static char		 alice_session[SESSION_TOKEN_LEN + 1];
static char		 bob_session[SESSION_TOKEN_LEN + 1];

/* One request: CGI parameters as NAME=value strings, and a body. */
struct call {
	const char	*env[ENV_MAX];
	const char	*body;
};

struct reply {
	struct response	 res;
	struct json_object *json;	/* the body parsed, or NULL */
};

static const char *
call_param(const char *name, void *arg)
{
	const struct call *c = arg;
	size_t		 i, n = strlen(name);

	for (i = 0; i < ENV_MAX && c->env[i] != NULL; i++)
		if (strncmp(c->env[i], name, n) == 0 && c->env[i][n] == '=')
			return c->env[i] + n + 1;
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

static void
discard_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
}

/*
 * Dispatch c as the program would (the authorizer for FCGI_ROLE=AUTHORIZER)
 * into r; CONTENT_LENGTH is the body's unless c names one.
 */
static void
dispatch(struct call *c, struct reply *r)
{
	struct mem	 m = { c->body != NULL ? c->body : "", 0, 0 };
	struct body_source src = { mem_read, &m };
	struct log_sink	 sink = { discard_line, NULL };
	struct request	 req;
	char		 len[48], *text;
	size_t		 i;

	m.len = strlen(m.buf);
	for (i = 0; i < ENV_MAX - 1 && c->env[i] != NULL; i++)
		;
	if (call_param("CONTENT_LENGTH", c) == NULL && i < ENV_MAX - 1) {
		snprintf(len, sizeof(len), "CONTENT_LENGTH=%zu", m.len);
		c->env[i] = len;
	}
	request_init(&req, call_param, c, src, sink);
	response_init(&r->res);
	if (req.role != NULL && strcmp(req.role, "AUTHORIZER") == 0)
		authorizer_dispatch(&app, &req, &r->res);
	else
		route_dispatch(&app, &req, &r->res);
	request_free(&req);
	if (r->res.body != NULL)
		r->json = json_object_get(r->res.body);
	else if ((text = strndup(r->res.text.buf != NULL ? r->res.text.buf : "",
	    r->res.text.len)) != NULL) {
		r->json = json_tokener_parse(text);
		free(text);
	} else
		r->json = NULL;
	if (c->env[i] == len)
		c->env[i] = NULL;
}

static void
reply_free(struct reply *r)
{
	json_object_put(r->json);
	response_free(&r->res);
}

/* The value of header name in r, or NULL. */
static const char *
header(const struct reply *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->res.nheaders; i++)
		if (strcasecmp(r->res.headers[i].name, name) == 0)
			return r->res.headers[i].value;
	return NULL;
}

static int
header_is(const struct reply *r, const char *name, const char *want)
{
	const char *v = header(r, name);

	if (v == NULL || strcmp(v, want) != 0) {
		printf("# %s: %s, want %s\n", name, v != NULL ? v : "(none)", want);
		return 0;
	}
	return 1;
}

/* The string at a dotted path of r's body, or NULL. */
static const char *
body_str(const struct reply *r, const char *k1, const char *k2)
{
	struct json_object *o = r->json, *v;

	if (o == NULL || !json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 != NULL && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int
status_is(const struct reply *r, int want)
{
	if (r->res.status != want) {
		printf("# status %d, want %d: %s\n", r->res.status, want,
		    r->json != NULL ? json_object_to_json_string(r->json) : "(no JSON body)");
		return 0;
	}
	/* Every answer but a success says why in a message. */
	return want < 300 || body_str(r, "message", NULL) != NULL;
}

/* Create a PAT for session with body json; token and id receive it. */
static int
create_pat(const char *session, const char *json, char *token, size_t tokenlen,
    char *id, size_t idlen)
{
	char		 auth[128];
	struct call	 c = { { "REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/user/api-tokens",
	    "CONTENT_TYPE=application/json", auth }, json };
	struct reply	 r;
	const char	*t, *i;
	int		 ok;

	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", session);
	dispatch(&c, &r);
	t = body_str(&r, "data", "token");
	i = body_str(&r, "data", "id");
	ok = r.res.status == 201 && t != NULL && i != NULL;
	if (ok) {
		snprintf(token, tokenlen, "%s", t);
		snprintf(id, idlen, "%s", i);
	}
	reply_free(&r);
	return ok;
}

/* The serialised answer holds needle (1) or not (0). */
static int
wire_has(const struct reply *r, const char *needle)
{
	char	*wire;
	size_t	 len;
	int	 has;

	if ((wire = response_serialize(&r->res, &len)) == NULL)
		return -1;
	has = memmem(wire, len, needle, strlen(needle)) != NULL;
	free(wire);
	return has;
}

/*
 * The token page: its files with their type, CSP, nosniff and an ETag that
 * If-None-Match turns into a bodiless 304; unknown files 404; /tokens
 * redirects; the API's answers keep no-store and get no CSP.
 */
static void
page_served_with_its_headers(void)
{
	struct call	 html = { { "REQUEST_METHOD=GET", "REQUEST_URI=/tokens/" }, NULL };
	struct call	 js = { { "REQUEST_METHOD=GET", "REQUEST_URI=/tokens/app.js?v=1" }, NULL };
	struct call	 other = { { "REQUEST_METHOD=GET", "REQUEST_URI=/tokens/app.css",
	    "HTTP_IF_NONE_MATCH=\"0000000000000000\"" }, NULL };
	struct call	 none = { { "REQUEST_METHOD=GET", "REQUEST_URI=/tokens/secret.txt" }, NULL };
	struct call	 bare = { { "REQUEST_METHOD=GET", "REQUEST_URI=/tokens" }, NULL };
	struct call	 post = { { "REQUEST_METHOD=POST", "REQUEST_URI=/tokens/" }, NULL };
	struct call	 health = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/health" }, NULL };
	const char	*csp = "default-src 'self'; frame-ancestors 'none'", *tag;
	char		 inm[64];
	struct reply	 r;

	dispatch(&html, &r);
	CHECK(r.res.status == 200 && r.res.content_type != NULL &&
	    strncmp(r.res.content_type, "text/html", 9) == 0);
	CHECK(header_is(&r, "Content-Security-Policy", csp));
	CHECK(r.res.raw != NULL && memmem(r.res.raw, r.res.rawlen,
	    "<script src=\"app.js\"", 20) != NULL);
	CHECK(wire_has(&r, "X-Content-Type-Options: nosniff\r\n") == 1);
	CHECK(wire_has(&r, "no-store") == 0);
	reply_free(&r);

	dispatch(&js, &r);
	CHECK(r.res.status == 200 && r.res.content_type != NULL &&
	    strncmp(r.res.content_type, "text/javascript", 15) == 0);
	tag = header(&r, "ETag");
	CHECK(tag != NULL && strlen(tag) == 18 && tag[0] == '"');
	snprintf(inm, sizeof(inm), "HTTP_IF_NONE_MATCH=W/\"x\", %s", tag != NULL ? tag : "");
	reply_free(&r);
	js.env[2] = inm;
	dispatch(&js, &r);
	CHECK(r.res.status == 304 && r.res.raw == NULL);
	CHECK(wire_has(&r, "Content-Length") == 0);
	CHECK(header_is(&r, "Content-Security-Policy", csp));
	reply_free(&r);

	dispatch(&other, &r);
	CHECK(r.res.status == 200 && r.res.rawlen > 0);
	reply_free(&r);
	dispatch(&none, &r);
	CHECK(status_is(&r, 404) && r.res.content_type == NULL);
	reply_free(&r);
	dispatch(&bare, &r);
	CHECK(status_is(&r, 301) && header_is(&r, "Location", "tokens/"));
	reply_free(&r);
	dispatch(&post, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "GET"));
	reply_free(&r);
	dispatch(&health, &r);
	CHECK(wire_has(&r, "Cache-Control: no-store\r\n") == 1);
	CHECK(header(&r, "Content-Security-Policy") == NULL);
	reply_free(&r);
}

static void
method_not_allowed_names_allow(void)
{
	struct call	 c1 = { { "REQUEST_METHOD=DELETE", "REQUEST_URI=/api/v1/health" }, NULL };
	struct call	 c2 = { { "REQUEST_METHOD=PUT", "REQUEST_URI=/api/v1/user/api-tokens" }, NULL };
	struct call	 c3 = { { "REQUEST_METHOD=PUT", "REQUEST_URI=/api/v1/user/api-tokens/abc" }, NULL };
	struct call	 c4 = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/nowhere" }, NULL };
	struct call	 c5 = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/user/api-tokens/abc/rotate" }, NULL };
	struct call	 c6 = { { "REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/user/api-tokens/self" }, NULL };
	struct call	 c7 = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/user/api-tokens/abc/other" }, NULL };
	struct call	 c8 = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/user/api-tokens//rotate" }, NULL };
	struct reply	 r;

	dispatch(&c1, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "GET"));
	reply_free(&r);
	dispatch(&c2, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "POST, GET"));
	reply_free(&r);
	dispatch(&c3, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "GET, DELETE"));
	reply_free(&r);
	dispatch(&c4, &r);
	CHECK(status_is(&r, 404) && header(&r, "Allow") == NULL);
	reply_free(&r);
	/* {id} inside a path, and a self form beside {id}: each method named once. */
	dispatch(&c5, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "POST"));
	reply_free(&r);
	dispatch(&c6, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "GET, DELETE"));
	reply_free(&r);
	dispatch(&c7, &r);
	CHECK(status_is(&r, 404));
	reply_free(&r);
	dispatch(&c8, &r);
	CHECK(status_is(&r, 404));
	reply_free(&r);
}

static void
unauthenticated_names_the_scheme(void)
{
	struct call	 none = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/user/api-tokens" }, NULL };
	struct call	 junk = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/user/api-tokens",
	    "HTTP_AUTHORIZATION=Bearer pgs_nonsense" }, NULL };
	struct call	 basic = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/user",
	    "HTTP_AUTHORIZATION=Basic YTpi" }, NULL };
	struct reply	 r;

	dispatch(&none, &r);
	CHECK(status_is(&r, 401) && header_is(&r, "WWW-Authenticate", "Bearer"));
	CHECK(body_str(&r, "message", NULL) != NULL &&
	    strcmp(body_str(&r, "message", NULL), "Unauthenticated.") == 0);
	reply_free(&r);
	dispatch(&junk, &r);
	CHECK(status_is(&r, 401) &&
	    header_is(&r, "WWW-Authenticate", "Bearer error=\"invalid_token\""));
	reply_free(&r);
	dispatch(&basic, &r);
	CHECK(status_is(&r, 401) && header_is(&r, "WWW-Authenticate", "Bearer"));
	reply_free(&r);
}

/* A body over 64 KiB, announced or not, and a body that is not JSON. */
static void
body_refusals(void)
{
	char		 auth[128], *big;
	struct call	 c = { { "REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/user/api-tokens",
	    "CONTENT_TYPE=application/json", auth }, NULL };
	struct reply	 r;

	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", alice_session);
	c.env[4] = "CONTENT_LENGTH=70000";
	c.body = "{\"name\":\"x\"}";
	dispatch(&c, &r);
	CHECK(status_is(&r, 413));
	reply_free(&r);
	c.env[4] = NULL;
	if ((big = malloc(70001)) != NULL) {
		memset(big, ' ', 70000);
		big[0] = '{';
		big[69999] = '}';
		big[70000] = '\0';
		c.body = big;
		dispatch(&c, &r);
		CHECK(status_is(&r, 413));
		reply_free(&r);
		free(big);
	}
	c.env[2] = "CONTENT_TYPE=text/plain";
	c.body = "{\"name\":\"x\"}";
	dispatch(&c, &r);
	CHECK(status_is(&r, 415));
	reply_free(&r);
	c.env[2] = "CONTENT_TYPE=application/json; charset=utf-8";
	c.body = "{\"name\":";
	dispatch(&c, &r);
	CHECK(status_is(&r, 400));
	reply_free(&r);
}

static void
invalid_fields_named_in_errors(void)
{
	char		 auth[128];
	struct call	 c = { { "REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/user/api-tokens",
	    "CONTENT_TYPE=application/json", auth },
	    "{\"name\":\"  \",\"abilities\":[\"no spaces\"],\"expires_at\":\"yesterday\"}" };
	struct json_object *errors, *v;
	struct reply	 r;

	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", alice_session);
	dispatch(&c, &r);
	CHECK(status_is(&r, 422));
	CHECK(r.json != NULL && json_object_object_get_ex(r.json, "errors", &errors));
	if (r.json != NULL && json_object_object_get_ex(r.json, "errors", &errors)) {
		CHECK(json_object_object_get_ex(errors, "name", &v) &&
		    json_object_is_type(v, json_type_array) && json_object_array_length(v) >= 1);
		CHECK(json_object_object_get_ex(errors, "abilities", &v));
		CHECK(json_object_object_get_ex(errors, "expires_at", &v));
	}
	reply_free(&r);
}

/* Another user's token is not found, and stays live for its owner. */
static void
another_users_token_is_not_found(void)
{
	char		 tok[128], id[UUID_LEN + 1], uri[128], auth[128];
	struct call	 del = { { "REQUEST_METHOD=DELETE", uri, auth }, NULL };
	struct reply	 r;
	struct principal who;
	const char	*why;

	CHECK(create_pat(bob_session, "{\"name\":\"bob's\"}", tok, sizeof(tok), id, sizeof(id)));
	snprintf(uri, sizeof(uri), "REQUEST_URI=/api/v1/user/api-tokens/%s", id);
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", alice_session);
	dispatch(&del, &r);
	CHECK(status_is(&r, 404));
	reply_free(&r);
	principal_reset(&who);
	CHECK(auth_pat(app.store, &cfg, tok, time(NULL), &who, &why) == AUTH_OK);
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", bob_session);
	dispatch(&del, &r);
	CHECK(status_is(&r, 200));
	reply_free(&r);
	dispatch(&del, &r);
	CHECK(status_is(&r, 404));
	reply_free(&r);
	explicit_bzero(tok, sizeof(tok));
}

/* The check endpoint judges only a request it is told all of. */
static void
check_endpoint_needs_method_and_uri(void)
{
	char		 tok[128], id[UUID_LEN + 1], auth[160];
	struct call	 c = { { "REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/auth/check", auth,
	    "HTTP_X_ORIGINAL_URI=/svc/read/x" }, NULL };
	struct reply	 r;

	CHECK(create_pat(alice_session, "{\"name\":\"ro\",\"abilities\":[\"read\"]}",
	    tok, sizeof(tok), id, sizeof(id)));
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", tok);
	dispatch(&c, &r);
	CHECK(status_is(&r, 400) && header(&r, "X-Patgate-User-Id") == NULL);
	reply_free(&r);
	c.env[3] = "HTTP_X_ORIGINAL_METHOD=GET";
	dispatch(&c, &r);
	CHECK(status_is(&r, 400));
	reply_free(&r);
	c.env[4] = "HTTP_X_ORIGINAL_URI=/svc/read/x";
	dispatch(&c, &r);
	CHECK(status_is(&r, 200) && header_is(&r, "X-Patgate-User-Id", alice.id) &&
	    header_is(&r, "X-Patgate-Token-Id", id) && header_is(&r, "X-Patgate-Abilities", "read"));
	reply_free(&r);
	c.env[3] = "HTTP_X_ORIGINAL_METHOD=PUT";
	dispatch(&c, &r);
	CHECK(status_is(&r, 403));
	reply_free(&r);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(auth, sizeof(auth));
}

/* The FastCGI Authorizer role: the original request is the request. */
static void
authorizer_role(void)
{
	char		 tok[128], id[UUID_LEN + 1], auth[160];
	struct call	 c = { { "FCGI_ROLE=AUTHORIZER", "REQUEST_METHOD=GET",
	    "REQUEST_URI=/svc/read/x?y=1", auth }, NULL };
	struct reply	 r;

	CHECK(create_pat(alice_session, "{\"name\":\"gate\",\"abilities\":[\"read\"]}",
	    tok, sizeof(tok), id, sizeof(id)));
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", tok);
	dispatch(&c, &r);
	CHECK(status_is(&r, 200) && header_is(&r, "Variable-PATGATE_USER_ID", alice.id) &&
	    header_is(&r, "Variable-PATGATE_TOKEN_ID", id));
	reply_free(&r);
	c.env[1] = "REQUEST_METHOD=POST";
	dispatch(&c, &r);
	CHECK(status_is(&r, 403));
	CHECK(header(&r, "WWW-Authenticate") != NULL &&
	    strncmp(header(&r, "WWW-Authenticate"), "Bearer error=\"insufficient_scope\"", 32) == 0);
	CHECK(header(&r, "Variable-PATGATE_USER_ID") == NULL);
	reply_free(&r);
	c.env[3] = NULL;
	dispatch(&c, &r);
	CHECK(status_is(&r, 401) && header_is(&r, "WWW-Authenticate", "Bearer"));
	reply_free(&r);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(auth, sizeof(auth));
}

/* Without REQUEST_URI: SCRIPT_NAME + PATH_INFO, or PATH_INFO below cgi-bin. */
static void
script_name_and_path_info(void)
{
	struct call	 c1 = { { "REQUEST_METHOD=GET", "SCRIPT_NAME=/cgi-bin/patgate.cgi",
	    "PATH_INFO=/api/v1/health" }, NULL };
	struct call	 c2 = { { "REQUEST_METHOD=GET", "SCRIPT_NAME=/api/v1", "PATH_INFO=/health" }, NULL };
	struct call	 c3 = { { "REQUEST_METHOD=POST", "SCRIPT_NAME=/cgi-bin/patgate.cgi",
	    "PATH_INFO=/api/v1/health" }, NULL };
	struct call	 c4 = { { "REQUEST_METHOD=GET", "SCRIPT_NAME=/cgi-bin/patgate.cgi",
	    "PATH_INFO=/api/v1/health", "REQUEST_URI=/cgi-bin/patgate.cgi/api/v1/health" }, NULL };
	struct reply	 r;

	dispatch(&c1, &r);
	CHECK(status_is(&r, 200) && body_str(&r, "status", NULL) != NULL);
	reply_free(&r);
	dispatch(&c2, &r);
	CHECK(status_is(&r, 200));
	reply_free(&r);
	dispatch(&c3, &r);
	CHECK(status_is(&r, 405) && header_is(&r, "Allow", "GET"));
	reply_free(&r);
	/* With REQUEST_URI set, its path decides, as API.md says. */
	dispatch(&c4, &r);
	CHECK(status_is(&r, 404));
	reply_free(&r);
}

/* The environment, two users and their sessions, in a fresh directory. */
static int
setup(void)
{
	char		 path[128], err[256];
	struct session_rec s;
	FILE		*f;
	time_t		 now = time(NULL);

	snprintf(dir, sizeof(dir), "/tmp/patgate-unit-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/rules", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs("GET /svc/read/* read\n* /svc/* write\n", f);
	if (fclose(f) != 0)
		return -1;
	setenv("PATGATE_RULES", path, 1);
	snprintf(path, sizeof(path), "%s/db", dir);
	setenv("PATGATE_DB", path, 1);
	setenv("PATGATE_ARGON2", "m=1024,t=1,p=1", 1);
	setenv("PATGATE_PASSWORD_ARGON2", "m=1024,t=1,p=1", 1);
	if (config_load(&cfg, err, sizeof(err)) == -1 ||
	    rules_load(cfg.rules_path, err, sizeof(err)) == -1 ||
	    store_open(cfg.db_dir, 1, &app.store, err, sizeof(err)) != STORE_OK) {
		printf("# setup: %s\n", err);
		return -1;
	}
	app.cfg = &cfg;
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	token_uuid_new(alice.id);
	token_uuid_new(bob.id);
	strcpy(alice.email, "alice@example.com");
	strcpy(bob.email, "bob@example.com");
	strcpy(alice.name, "Alice");
	strcpy(bob.name, "Bob");
	alice.created_at = bob.created_at = now;
	if (store_user_add(app.store, &alice) != STORE_OK ||
	    store_user_add(app.store, &bob) != STORE_OK ||
	    auth_session_new(app.store, &cfg, alice.id, 3600, now, alice_session, &s) != AUTH_OK ||
	    auth_session_new(app.store, &cfg, bob.id, 3600, now, bob_session, &s) != AUTH_OK)
		return -1;
	return 0;
}

int
main(void)
{
	char	 cmd[128];
	int	 rc;

	if (setup() == -1) {
		printf("Bail out! cannot set up a store in %s\n", dir);
		return 99;
	}
	RUN(method_not_allowed_names_allow);
	RUN(unauthenticated_names_the_scheme);
	RUN(body_refusals);
	RUN(invalid_fields_named_in_errors);
	RUN(another_users_token_is_not_found);
	RUN(check_endpoint_needs_method_and_uri);
	RUN(authorizer_role);
	RUN(script_name_and_path_info);
	RUN(page_served_with_its_headers);
	rc = tap_done();
	store_close(app.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
