/*
 * authorizer.c: a PAT checked for another service, as a FastCGI
 * Authorizer (lighttpd, Apache mod_authnz_fcgi) or as the responder
 * endpoint GET /api/v1/auth/check (nginx auth_request).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

enum authz_style {
	AUTHZ_FASTCGI,		/* Variable-PATGATE_* headers */
	AUTHZ_NGINX,		/* X-Patgate-* headers */
	AUTHZ_STYLE__MAX
};

static const char *const authz_headers[AUTHZ_STYLE__MAX][4] = {
	{ "Variable-PATGATE_USER_ID", "Variable-PATGATE_TOKEN_ID",
	  "Variable-PATGATE_ABILITIES", "Variable-PATGATE_TOKEN_EXPIRES_AT" },
	{ "X-Patgate-User-Id", "X-Patgate-Token-Id", "X-Patgate-Abilities",
	  "X-Patgate-Token-Expires-At" },
};

static int
authz_holds(const struct token_rec *t, const char *ability)
{
	size_t	 i;

	for (i = 0; i < t->nabilities; i++)
		if (strcmp(t->abilities[i], "*") == 0 ||
		    strcmp(t->abilities[i], ability) == 0)
			return 1;
	return 0;
}

/* Append s to buf (of size cap, kept NUL-terminated) at at; the new end. */
static size_t
authz_append(char *buf, size_t at, size_t cap, const char *s)
{
	size_t	 n = strlen(s);

	if (n > cap - 1 - at)
		n = cap - 1 - at;
	memcpy(buf + at, s, n);
	buf[at + n] = '\0';
	return at + n;
}

/*
 * One audit line a second for refusals alike in reason, token and address,
 * and a few a second in all (the client picks the number); the repeats are
 * counted into the next.  A flood of bad tokens would otherwise cost a log
 * write each, in the worker and in the web server.
 */
static void
authz_log_failure(struct ctx *c, const char *why)
{
	char		 num[24], kind[256], skipped[24];
	unsigned long	 n;
	size_t		 at = 0;

	if (c->who.token.number != 0)
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)c->who.token.number);
	else
		memcpy(num, "-", 2);
	/*
	 * The kind: reason, token and address; cut short if need be, no matter.
	 */
	at = authz_append(kind, at, sizeof(kind), why);
	at = authz_append(kind, at, sizeof(kind), " ");
	at = authz_append(kind, at, sizeof(kind), num);
	at = authz_append(kind, at, sizeof(kind), " ");
	(void)authz_append(kind, at, sizeof(kind), c->req->remote_addr);
	if (!log_repeat(kind, c->now, &n))
		return;
	if (n == 0) {
		log_audit(&c->req->log, "token.check.failed", "token", num,
		    "reason", why, "addr", c->req->remote_addr, NULL);
		return;
	}
	snprintf(skipped, sizeof(skipped), "%lu", n);
	log_audit(&c->req->log, "token.check.failed", "token", num, "reason",
	    why, "addr", c->req->remote_addr, "repeated", skipped, NULL);
}

/*
 * 403, naming the ability that was missing (RFC 6750 section 3) when one was.
 */
static void
authz_forbid(struct ctx *c, const char *message, const char *need)
{
	char	 value[ABILITY_MAX_LEN + 64];

	response_error(c->res, 403, message);
	if (need != NULL)
		snprintf(value, sizeof(value),
		    "Bearer error=\"insufficient_scope\", scope=\"%s\"", need);
	else
		snprintf(value, sizeof(value),
		    "Bearer error=\"insufficient_scope\"");
	response_header(c->res, "WWW-Authenticate", value);
}

static void
authz_log_denied(struct ctx *c, const char *need, const char *method,
    const char *path)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long
	    long)c->who.token.number);
	log_audit(&c->req->log, "token.check.denied", "token", num,
	    "id", c->who.token.id, "user", c->who.user_id, "need", need,
	    "method", method, "path", path, "addr", c->req->remote_addr, NULL);
}

/*
 * Count the request against the token's rate_limit, across the host's
 * workers: 1 to go on, or 0 with a 429 and Retry-After in the response.
 * The refusals are told once a second per token, not one line each.
 */
static int
authz_rate_take(struct ctx *c)
{
	const struct token_rec *t = &c->who.token;
	char		 num[24], retry[24], kind[48], count[24];
	unsigned long	 skipped;
	long		 after;

	if (store_rate_take(c->app->store, t->number, t->bind.rate_limit,
	    c->now, &after))
		return 1;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->number);
	snprintf(retry, sizeof(retry), "%ld", after);
	response_error(c->res, 429,
	    "The token's rate limit is reached; retry later.");
	response_header(c->res, "Retry-After", retry);
	snprintf(kind, sizeof(kind), "rate %s", num);
	if (log_repeat(kind, c->now, &skipped)) {
		snprintf(count, sizeof(count), "%lu", skipped);
		log_audit(&c->req->log, "token.check.limited", "token", num,
		    "id", t->id, "user", t->user_id, "addr",
		    c->req->remote_addr, "repeated", count, NULL);
	}
	return 0;
}

/* 200: the principal's identity in headers for the backend, and in the body. */
static void
authz_allow(struct ctx *c, enum authz_style style)
{
	const struct token_rec *t = &c->who.token;
	struct json_out	*w = &c->res->text;
	char		 joined[ABILITIES_MAX * (ABILITY_MAX_LEN + 1) + 1],
			 when[21];
	size_t		 i, n, at = 0;

	/*
	 * Each ability fits ABILITY_MAX_LEN, and joined has room for all of
	 * them.
	 */
	for (i = 0; i < t->nabilities; i++) {
		if (i > 0)
			joined[at++] = ',';
		n = strlen(t->abilities[i]);
		memcpy(joined + at, t->abilities[i], n);
		at += n;
	}
	joined[at] = '\0';
	response_header(c->res, authz_headers[style][0], c->who.user_id);
	response_header(c->res, authz_headers[style][1], t->id);
	response_header(c->res, authz_headers[style][2], joined);
	/* So that the holder can be warned before it stops working. */
	if (t->expires_at != 0) {
		valid_time_format(t->expires_at, when);
		response_header(c->res, authz_headers[style][3], when);
	}
	c->res->status = 200;
	JSON_OUT_LIT(w, "{\"user_id\":");
	json_out_str(w, c->who.user_id);
	JSON_OUT_LIT(w, ",\"token_id\":");
	json_out_str(w, t->id);
	JSON_OUT_LIT(w, ",\"abilities\":[");
	for (i = 0; i < t->nabilities; i++) {
		if (i > 0)
			JSON_OUT_LIT(w, ",");
		json_out_str(w, t->abilities[i]);
	}
	JSON_OUT_LIT(w, "]}");
}

/*
 * Decide whether the bearer PAT of c->req may make the request (method,
 * uri), and fill the response: 200 with the principal's headers, 401,
 * 403, or 500.
 */
static void
authz_decide(struct ctx *c, const char *method, const char *uri,
    enum authz_style style)
{
	const struct config *cfg = c->app->cfg;
	const char	*token, *why = "", *need;
	char		 path[1024], err[512];
	unsigned long	 skipped;
	enum auth_rc	 arc;
	enum repl_gate	 gate;

	if ((token = auth_bearer(c->req->authorization)) == NULL) {
		response_unauthenticated(c->res, 0);
		return;
	}
	if (c->app->store == NULL) {
		response_storage_error(c->res);
		return;
	}
	/* A replica cut off from its master may miss a revoke: fail closed. */
	if (store_repl_on() &&
	    (gate = store_repl_may_check(c->app->store)) != REPL_GO) {
		response_replication(c->res, gate, "");
		return;
	}
	arc = auth_pat(c->app->store, cfg, token, c->now, &c->who, &why);
	/*
	 * A canary or a stranger's address: refused as a bad token is, at once.
	 */
	if (arc == AUTH_OK)
		arc = auth_pat_bound(&c->who, c->req->remote_addr, &why);
	switch (arc) {
	case AUTH_OK:
		break;
	case AUTH_ERROR:
		response_storage_error(c->res);
		return;
	case AUTH_BUSY:
		response_busy(c->res);
		return;
	default:
		authz_log_failure(c, why);
		response_unauthenticated(c->res, 1);
		if (strcmp(why, "canary") == 0)
			binding_canary_seen(c->app->store, &c->who.token,
			    c->req, method, uri, c->now);
		return;
	}
	/* A broken rules file is told once a second, not on every request. */
	if (rules_refresh(cfg->rules_path, err, sizeof(err)) == -1 &&
	    log_repeat("rules.unusable", c->now, &skipped))
		log_audit(&c->req->log, "rules.unusable", "error", err, NULL);
	if (uri == NULL || rules_normalize(uri, path, sizeof(path)) == -1) {
		authz_forbid(c, "The request path cannot be judged.", NULL);
		return;
	}
	need = rules_ability_for(method, path);
	if (need == NULL || !authz_holds(&c->who.token, need)) {
		authz_log_denied(c, need != NULL ? need : "(no rule)", method,
		    path);
		authz_forbid(c, need == NULL ? "No rule allows this request." :
		    "The token lacks the ability this request needs.", need);
		return;
	}
	if (!binding_path_ok(&c->who.token.bind, path)) {
		authz_log_denied(c, "(paths)", method, path);
		/*
		 * No ability is missing: scope would name one the token holds.
		 */
		authz_forbid(c, "The token is not bound to this path.", NULL);
		return;
	}
	if (c->who.token.bind.rate_limit > 0 && !authz_rate_take(c))
		return;
	/* Only an allowed check is a use: a 403 leaves last_used_at alone. */
	auth_pat_used(c->app->store, &c->who, c->req->remote_addr, c->now);
	authz_allow(c, style);
}

void
authorizer_dispatch(struct app *app, struct request *req, struct response *res)
{
	struct ctx	 c;

	c.app = app;
	c.req = req;
	c.res = res;
	c.param = NULL;
	c.now = time(NULL);
	principal_reset(&c.who);
	/* The web server hands over the original request's method and URI. */
	authz_decide(&c, req->method, req->path_too_long ? NULL : req->raw_uri,
	    AUTHZ_FASTCGI);
}

/*
 * The check endpoint judges the request named by X-Original-Method and
 * X-Original-URI; without either it is a 400, never a guess (a GET, say,
 * would let a read-only token through to a write).
 */
void
api_auth_check(struct ctx *c)
{
	const char	*method = c->req->original_method;
	const char	*uri = c->req->original_uri;
	int		 no_method = method == NULL || *method == '\0';
	int		 no_uri = uri == NULL || *uri == '\0';

	if (no_method || no_uri) {
		response_error(c->res, 400, no_method && no_uri ?
		    "X-Original-Method and X-Original-URI are required." :
		    no_method ? "X-Original-Method is required." :
		    "X-Original-URI is required.");
		return;
	}
	authz_decide(c, method, uri, AUTHZ_NGINX);
}
