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
	{ "POST",   "/api/v1/credentials/revoke", 0, CRED_NONE,  api_credentials_revoke },
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

/*
 * Find path's route for method: 1 with *hit and *param set, or 0 with the
 * methods served on path in allow (empty when no route names the path).
 */
static int
route_find(const char *path, const char *method, const struct route **hit,
    const char **param, char *allow, size_t allowlen)
{
	const char	*p;
	size_t		 i;

	allow[0] = '\0';
	for (i = 0; i < NROUTES; i++) {
		if (!route_match(&routes[i], path, &p))
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    strcmp(routes[i].method, "*") == 0) {
			*hit = &routes[i];
			*param = p;
			return 1;
		}
		snprintf(allow + strlen(allow), allowlen - strlen(allow), "%s%s",
		    allow[0] != '\0' ? ", " : "", routes[i].method);
	}
	return 0;
}

void
route_dispatch(struct app *app, struct request *req, struct response *res)
{
	struct ctx	 c;
	const struct route *hit = NULL;
	const char	*param = NULL;
	char		 allow[64] = "";
	int		 found = 0;

	c.app = app;
	c.req = req;
	c.res = res;
	c.param = NULL;
	c.now = time(NULL);
	principal_reset(&c.who);
	if (!req->path_too_long)
		found = route_find(req->path, req->method, &hit, &param, allow, sizeof(allow));
	/* A cgi-bin script's own URL heads SCRIPT_NAME + PATH_INFO: try PATH_INFO. */
	if (!found && allow[0] == '\0' && req->path_info != NULL)
		found = route_find(req->path_info, req->method, &hit, &param, allow,
		    sizeof(allow));
	if (!found && allow[0] != '\0') {
		response_error(res, 405, "The method is not allowed on this path.");
		response_header(res, "Allow", allow);
		return;
	}
	if (!found) {
		response_error(res, 404, "Not found.");
		return;
	}
	c.param = param;
	/* Credentials before the body: an anonymous client learns nothing more. */
	if (hit->cred == CRED_SESSION && route_authenticate(&c) == -1)
		return;
	hit->handler(&c);
}
