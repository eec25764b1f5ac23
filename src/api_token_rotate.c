/*
 * api_token_rotate.c: rotate a token (a new secret, the old one revoked,
 * in one transaction), by id with a session or by the PAT itself, and the
 * answer to a rotated-away PAT presented again: its family is revoked.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/*
 * The optional body: *expires_at as asked for (*given), or nothing.  0,
 * or -1 with res filled (415, 413, 400, 422).
 */
static int
api_rotate_body(struct ctx *c, time_t *expires_at, int *given)
{
	const char	*len = c->req->content_length;
	struct json_object *body;
	struct field_errors errs = { NULL };

	*given = 0;
	*expires_at = 0;
	/*
	 * No body (whatever its announced type) is a rotation that keeps the
	 * lifetime.
	 */
	if (len == NULL || *len == '\0' || strcmp(len, "0") == 0)
		return 0;
	if ((body = api_json_body(c)) == NULL)
		return -1;
	(void)valid_rotate_input(body, c->now, c->app->cfg->max_token_days,
	    expires_at, given, &errs);
	if (*given && c->app->cfg->require_expiry)
		valid_expiry_required(body, &errs);
	json_object_put(body);
	if (errs.obj != NULL) {
		response_invalid(c->res, &errs);
		return -1;
	}
	return 0;
}

int
api_rotate_lifetime(const struct config *cfg, const struct token_rec *old,
    time_t now, time_t *expires_at)
{
	long long	 span, most = (long long)cfg->max_token_days * 86400;

	*expires_at = 0;
	if (old->expires_at == 0)
		return cfg->require_expiry ? -1 : 0;
	span = (long long)old->expires_at - (long long)old->created_at;
	if (span > most)
		span = most;
	if (span < 1)
		span = 1;
	*expires_at = now + (time_t)span;
	return 0;
}

/*
 * The new token's expiry: the one asked for, else api_rotate_lifetime's.
 * 0, or -1 with a 422 in res.
 */
static int
api_rotate_expiry(struct ctx *c, const struct token_rec *old, int given,
    time_t asked, time_t *expires_at)
{
	struct field_errors errs = { NULL };

	*expires_at = asked;
	if (given ||
	    api_rotate_lifetime(c->app->cfg, old, c->now, expires_at) == 0)
		return 0;
	valid_expiry_required(NULL, &errs);
	response_invalid(c->res, &errs);
	return -1;
}

/*
 * Rotate old (as read) for its owner: the new token is made and stored
 * and the 201 written; notfound is the status for a token gone meanwhile.
 */
static void
api_rotate(struct ctx *c, const struct token_rec *old, int given, time_t asked,
    int by_id, int notfound)
{
	const struct config *cfg = c->app->cfg;
	struct token_input in;
	struct token_rec nw, was;
	char		 core[TOKEN_CORE_LEN + 1], from[24], num[24];
	enum store_rc	 rc;

	core[0] = '\0';
	memset(&in, 0, sizeof(in));
	if (api_rotate_expiry(c, old, given, asked, &in.expires_at) == -1)
		goto out;
	memcpy(in.name, old->name, sizeof(in.name));	/* same size */
	memcpy(in.abilities, old->abilities, sizeof(in.abilities));
	in.nabilities = old->nabilities;
	in.bind = old->bind;	/* a decoy's successor is a decoy too */
	if (api_token_mint(cfg, &in, old->user_id, c->now, &nw, core) == -1) {
		response_error(c->res, 500, "The token could not be made.");
		goto out;
	}
	rc = store_token_rotate(c->app->store, old->user_id,
	    by_id ? old->id : NULL, old->number, c->now, &nw, &was);
	if (rc != STORE_OK) {
		if (rc != STORE_NOTFOUND)
			response_storage_error(c->res);
		else if (notfound == 401)
			response_unauthenticated(c->res, 1);
		else
			response_error(c->res, 404, "Token not found.");
		goto out;
	}
	api_token_answer_new(c, &nw, core);
	snprintf(from, sizeof(from), "%llu", (unsigned long long)was.number);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)nw.number);
	log_audit(&c->req->log, "token.rotate", "token", num, "id", nw.id,
	    "from", from, "from_id", was.id, "user", nw.user_id,
	    "addr", c->req->remote_addr, NULL);
out:
	explicit_bzero(core, sizeof(core));
}

void
api_tokens_rotate(struct ctx *c)
{
	struct token_rec old;
	time_t		 asked;
	int		 given;

	if (api_rotate_body(c, &asked, &given) == -1)
		return;
	switch (store_token_by_id(c->app->store, c->who.user_id, c->param,
	    &old)) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		response_error(c->res, 404, "Token not found.");
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	if (old.expires_at != 0 && old.expires_at <= c->now) {
		response_error(c->res, 404, "Token not found.");
		return;
	}
	api_rotate(c, &old, given, asked, 1, 404);
}

/*
 * A PAT that was rotated away came back with its right secret: a leaked
 * copy or a second holder.  Every live token descended from it is revoked,
 * as GitLab does, and the holder of the newest must rotate anew.
 */
static void
api_rotate_reuse(struct ctx *c)
{
	const struct token_rec *t = &c->who.token;
	unsigned long	 n = 0;
	char		 num[24], count[24];

	if (store_token_revoke_family(c->app->store, t->number, c->now,
	    &n) != STORE_OK) {
		response_storage_error(c->res);
		return;
	}
	response_unauthenticated(c->res, 1);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->number);
	snprintf(count, sizeof(count), "%lu", n);
	log_audit(&c->req->log, "token.reuse", "token", num, "id", t->id,
	    "user", t->user_id, "revoked", count, "addr", c->req->remote_addr,
	    NULL);
}

void
api_tokens_self_rotate(struct ctx *c)
{
	time_t		 asked;
	int		 given;

	/*
	 * A revoked token is judged on its secret too: only its holder can
	 * reuse it.
	 */
	if (route_pat(c, 1) == -1)
		return;
	if (c->who.token.revoked_at != 0) {
		if (c->who.token.rotated_to != 0)
			api_rotate_reuse(c);
		else
			response_unauthenticated(c->res, 1);
		return;
	}
	if (api_rotate_body(c, &asked, &given) == -1)
		return;
	api_rotate(c, &c->who.token, given, asked, 0, 401);
}
