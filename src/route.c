/* route.c: the route table, and the path from request to handler. */
#include <stdio.h>
#include <string.h>

#include "patgate.h"

struct route {
	const char	*method;
	const char	*pattern;	/* the whole path, or its fixed head */
	int		 id_follows;	/* an {id} segment follows the head */
	enum cred_kind	 cred;
	handler_fn	 handler;
};

/* The check comes first: it is by far the most frequent request. */
static const struct route routes[] = {
	/* nginx's auth_request keeps the original method: serve them all. */
	{ "*",      "/api/v1/auth/check",       0, CRED_NONE,    api_auth_check },
	{ "POST",   "/api/v1/user/api-tokens",  0, CRED_SESSION, api_tokens_create },
	{ "GET",    "/api/v1/user/api-tokens",  0, CRED_SESSION, api_tokens_list },
	{ "DELETE", "/api/v1/user/api-tokens/", 1, CRED_SESSION, api_tokens_revoke },
	{ "GET",    "/api/user",                0, CRED_SESSION, api_user_show },
	{ "GET",    "/api/v1/health",           0, CRED_NONE,    api_health },
	{ "POST",   "/api/v1/auth/login",       0, CRED_NONE,    api_auth_login },
	{ "POST",   "/api/v1/auth/logout",      0, CRED_SESSION, api_auth_logout },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* Does path fit route r?  *param receives the {id} segment, if any. */
static int
route_match(const struct route *r, const char *path, const char **param)
{
	size_t		 fixed;

	*param = NULL;
	if (!r->id_follows)
		return strcmp(r->pattern, path) == 0;
	fixed = strlen(r->pattern);
	if (strncmp(r->pattern, path, fixed) != 0 || path[fixed] == '\0' ||
	    strchr(path + fixed, '/') != NULL)
		return 0;
	*param = path + fixed;
	return 1;
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
	switch (auth_session(c->app->store, c->app->cfg, token, c->now, &c->who)) {
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

void
route_dispatch(struct app *app, struct request *req, struct response *res)
{
	struct ctx	 c;
	const struct route *hit = NULL;
	const char	*param = NULL, *p;
	char		 allow[64] = "";
	size_t		 i;

	c.app = app;
	c.req = req;
	c.res = res;
	c.param = NULL;
	c.now = time(NULL);
	principal_reset(&c.who);
	for (i = 0; i < NROUTES; i++) {
		if (req->path_too_long || !route_match(&routes[i], req->path, &p))
			continue;
		if (strcmp(routes[i].method, req->method) == 0 ||
		    strcmp(routes[i].method, "*") == 0) {
			hit = &routes[i];
			param = p;
			break;
		}
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
		    allow[0] != '\0' ? ", " : "", routes[i].method);
	}
	if (hit == NULL && allow[0] != '\0') {
		response_error(res, 405, "The method is not allowed on this path.");
		response_header(res, "Allow", allow);
		return;
	}
	if (hit == NULL) {
		response_error(res, 404, "Not found.");
		return;
	}
	c.param = param;
	/* Credentials before the body: an anonymous client learns nothing more. */
	if (hit->cred == CRED_SESSION && route_authenticate(&c) == -1)
		return;
	hit->handler(&c);
}
