/* route.c: the route table, and the path from request to handler. */
#include <stdio.h>
#include <string.h>

#include "patgate.h"

struct route {
	const char	*method;
	/* the whole path, or one with an {id} segment */
	const char	*pattern;
	/* pattern ends with, or holds, an {id} segment */
	int		 id_follows;
	enum cred_kind	 cred;
	handler_fn	 handler;
};

/* The check comes first: it is by far the most frequent request. */
/* table: wider than 80 columns */
static const struct route routes[] = {
	/* nginx's auth_request keeps the original method: serve them all. */
	{ "*",      "/api/v1/auth/check",       0, CRED_NONE,    api_auth_check },
	{ "POST",   "/api/v1/user/api-tokens",  0, CRED_SESSION, api_tokens_create },
	{ "GET",    "/api/v1/user/api-tokens",  0, CRED_SESSION, api_tokens_list },
	/* The self forms come before {id}, which "self" would match. */
	{ "GET",    "/api/v1/user/api-tokens/self", 0, CRED_PAT, api_tokens_self_get },
	{ "DELETE", "/api/v1/user/api-tokens/self", 0, CRED_PAT, api_tokens_self_revoke },
	/* Authenticates itself: a rotated-away PAT is judged there, not refused. */
	{ "POST",   "/api/v1/user/api-tokens/self/rotate", 0, CRED_NONE, api_tokens_self_rotate },
	{ "GET",    "/api/v1/user/api-tokens/", 1, CRED_SESSION, api_tokens_get },
	{ "DELETE", "/api/v1/user/api-tokens/", 1, CRED_SESSION, api_tokens_revoke },
	{ "POST",   "/api/v1/user/api-tokens/{id}/rotate", 1, CRED_SESSION, api_tokens_rotate },
	{ "GET",    "/api/user",                0, CRED_SESSION, api_user_show },
	{ "GET",    "/api/v1/health",           0, CRED_NONE,    api_health },
	{ "POST",   "/api/v1/auth/login",       0, CRED_NONE,    api_auth_login },
	{ "POST",   "/api/v1/auth/logout",      0, CRED_SESSION, api_auth_logout },
	/* The token page: its HTML at /tokens/, its files below. */
	{ "GET",    "/tokens/",                 0, CRED_NONE,    page_serve },
	{ "GET",    "/tokens/",                 1, CRED_NONE,    page_serve },
	{ "GET",    "/tokens",                  0, CRED_NONE,    page_redirect },
	{ "POST",   "/api/v1/credentials/revoke", 0, CRED_NONE,  api_credentials_revoke },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/*
 * Does path fit route r?  *param receives the {id} segment, if any, and
 * *paramlen its length.  The {id} is a whole segment: "{id}" in the
 * pattern, or all that follows a pattern without one.
 */
static int
route_match(const struct route *r, const char *path, const char **param,
    size_t *paramlen)
{
	const char	*mark, *tail, *seg;
	size_t		 fixed, seglen;

	*param = NULL;
	*paramlen = 0;
	if (!r->id_follows)
		return strcmp(r->pattern, path) == 0;
	mark = strstr(r->pattern, "{id}");
	fixed = mark != NULL ? (size_t)(mark - r->pattern) : strlen(r->pattern);
	tail = mark != NULL ? mark + 4 : "";
	if (strncmp(r->pattern, path, fixed) != 0)
		return 0;
	seg = path + fixed;
	seglen = strcspn(seg, "/");
	if (seglen == 0 || strcmp(seg + seglen, tail) != 0)
		return 0;
	*param = seg;
	*paramlen = seglen;
	return 1;
}

int
route_pat(struct ctx *c, int revoked_too)
{
	const char	*token = auth_bearer(c->req->authorization), *why = "";
	enum auth_rc	 rc;

	if (token == NULL) {
		response_unauthenticated(c->res, 0);
		return -1;
	}
	if (c->app->store == NULL) {
		response_storage_error(c->res);
		return -1;
	}
	rc = revoked_too ?
	    auth_pat_revoked_too(c->app->store, c->app->cfg, token, c->now,
	    &c->who, &why) :
	    auth_pat(c->app->store, c->app->cfg, token, c->now, &c->who, &why);
	/*
	 * A revoked token has no bindings left to judge: reuse is judged
	 * instead.
	 */
	if (rc == AUTH_OK && c->who.token.revoked_at == 0)
		rc = auth_pat_bound(&c->who, c->req->remote_addr, &why);
	switch (rc) {
	case AUTH_OK:
		return 0;
	case AUTH_ERROR:
		response_storage_error(c->res);
		return -1;
	case AUTH_BUSY:
		response_busy(c->res);
		return -1;
	default:
		response_unauthenticated(c->res, 1);
		if (strcmp(why, "canary") == 0)
			binding_canary_seen(c->app->store, &c->who.token,
			    c->req, c->req->method, c->req->raw_uri, c->now);
		return -1;
	}
}

/* The PAT itself (the self endpoints), its use recorded once it passes. */
static int
route_authenticate_pat(struct ctx *c)
{
	if (route_pat(c, 0) == -1)
		return -1;
	auth_pat_used(c->app->store, &c->who, c->req->remote_addr, c->now);
	return 0;
}

/*
 * May this request write here (replication: only at the master)?  0, or
 * -1 with the 503 in res.  Judged before credentials: it tells nothing.
 */
static int
route_writable(struct ctx *c)
{
	char		 master[272];
	enum repl_gate	 gate;

	if (!store_repl_on())
		return 0;
	if ((gate = store_repl_may_write(c->app->store, master,
	    sizeof(master))) == REPL_GO)
		return 0;
	response_replication(c->res, gate, master);
	return -1;
}

/* Check the session credential; on refusal res is filled and -1 returned. */
static int
route_authenticate(struct ctx *c)
{
	const char	*token = auth_bearer(c->req->authorization);

	if (token == NULL) {
		response_unauthenticated(c->res, 0);
		return -1;
	}
	if (c->app->store == NULL) {
		response_storage_error(c->res);
		return -1;
	}
	switch (auth_session(c->app->store, c->app->cfg, token, c->now,
	    &c->who)) {
	case AUTH_OK:
		return 0;
	case AUTH_ERROR:
		response_storage_error(c->res);
		return -1;
	case AUTH_BUSY:
		response_busy(c->res);
		return -1;
	default:
		response_unauthenticated(c->res, 1);
		return -1;
	}
}

/*
 * Find path's route for method: 1 with *hit and *param set, or 0 with the
 * methods served on path in allow (empty when no route names the path).
 */
static int
route_find(const char *path, const char *method, const struct route **hit,
    const char **param, size_t *paramlen, char *allow, size_t allowlen)
{
	const char	*p, *at;
	size_t		 i, n, len;

	allow[0] = '\0';
	for (i = 0; i < NROUTES; i++) {
		if (!route_match(&routes[i], path, &p, &n))
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    strcmp(routes[i].method, "*") == 0) {
			*hit = &routes[i];
			*param = p;
			*paramlen = n;
			return 1;
		}
		/*
		 * A method named once, though a self form and {id} both serve
		 * it.
		 */
		len = strlen(routes[i].method);
		for (at = strstr(allow, routes[i].method); at != NULL;
		    at = strstr(at + 1, routes[i].method))
			if ((at == allow || at[-1] == ' ') &&
			    (at[len] == ',' || at[len] == '\0'))
				break;
		if (at == NULL)
			snprintf(allow + strlen(allow),
			    allowlen - strlen(allow), "%s%s",
			    allow[0] != '\0' ? ", " : "", routes[i].method);
	}
	return 0;
}

void
route_each(route_each_fn fn, void *arg)
{
	char	 path[128];
	size_t	 i;

	for (i = 0; i < NROUTES; i++) {
		/*
		 * A trailing {id} is implied by id_follows alone: spell it out.
		 */
		snprintf(path, sizeof(path), "%s%s", routes[i].pattern,
		    routes[i].id_follows &&
		    strstr(routes[i].pattern, "{id}") == NULL ? "{id}" : "");
		fn(routes[i].method, path, arg);
	}
}

static void
route_dispatch_inner(struct app *app, struct request *req,
    struct response *res)
{
	struct ctx	 c;
	const struct route *hit = NULL;
	const char	*param = NULL;
	char		 allow[64] = "", id[UUID_LEN + 2];
	size_t		 paramlen = 0;
	int		 found = 0, writes;

	c.app = app;
	c.req = req;
	c.res = res;
	c.param = NULL;
	c.now = time(NULL);
	principal_reset(&c.who);
	if (!req->path_too_long)
		found = route_find(req->path, req->method, &hit, &param,
		    &paramlen, allow, sizeof(allow));
	/*
	 * A cgi-bin script's own URL heads SCRIPT_NAME + PATH_INFO: try
	 * PATH_INFO.
	 */
	if (!found && allow[0] == '\0' && req->path_info != NULL)
		found = route_find(req->path_info, req->method, &hit, &param,
		    &paramlen, allow, sizeof(allow));
	if (!found && allow[0] != '\0') {
		response_error(res, 405,
		    "The method is not allowed on this path.");
		response_header(res, "Allow", allow);
		return;
	}
	if (!found) {
		response_error(res, 404, "Not found.");
		return;
	}
	/*
	 * An {id} longer than any id names no token: kept short, it matches
	 * none.
	 */
	if (param != NULL) {
		if (paramlen >= sizeof(id))
			paramlen = sizeof(id) - 1;
		memcpy(id, param, paramlen);
		id[paramlen] = '\0';
		c.param = id;
	}
	/* Every route but a GET or the check writes: at the master only. */
	writes = strcmp(hit->method, "GET") != 0 &&
	    strcmp(hit->method, "*") != 0;
	if (writes && route_writable(&c) == -1)
		return;
	if (writes)	/* count this request's commits only */
		(void)store_unacked(app->store);
	/*
	 * Credentials before the body: an anonymous client learns nothing more.
	 */
	if (hit->cred == CRED_SESSION && route_authenticate(&c) == -1)
		return;
	if (hit->cred == CRED_PAT && route_authenticate_pat(&c) == -1)
		return;
	hit->handler(&c);
	/*
	 * A write's 2xx promises that the loss of the master loses nothing
	 * answered: not sent until a quorum of sites holds the change.
	 */
	if (writes && res->status < 300 && store_unacked(app->store) != 0)
		response_unacked(res);
}

void
route_dispatch(struct app *app, struct request *req, struct response *res)
{
	(void)store_role_moved(app->store);
	route_dispatch_inner(app, req, res);
	/*
	 * A store that failed because the group's roles moved under the
	 * request (a write refused at a former master, handles a sync
	 * replaced) changed nothing: the client may try again.
	 */
	if (res->status == 500 && store_role_moved(app->store))
		response_role_moved(res);
}
