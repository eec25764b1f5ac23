/* api_tokens.c: create, list and revoke a user's personal access tokens. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

void
api_token_fields(struct json_out *w, const struct token_rec *t, const char *token,
    int with_last_used)
{
	size_t		 i;

	JSON_OUT_LIT(w, "\"id\":");
	json_out_str(w, t->id);
	JSON_OUT_LIT(w, ",\"name\":");
	json_out_str(w, t->name);
	JSON_OUT_LIT(w, ",\"abilities\":[");
	for (i = 0; i < t->nabilities; i++) {
		if (i > 0)
			JSON_OUT_LIT(w, ",");
		json_out_str(w, t->abilities[i]);
	}
	JSON_OUT_LIT(w, "]");
	if (token != NULL) {
		JSON_OUT_LIT(w, ",\"token\":");
		json_out_str(w, token);
	}
	if (with_last_used) {
		JSON_OUT_LIT(w, ",\"last_used_at\":");
		json_out_time(w, t->last_used_at);
	}
	JSON_OUT_LIT(w, ",\"created_at\":");
	json_out_time(w, t->created_at);
	JSON_OUT_LIT(w, ",\"expires_at\":");
	json_out_time(w, t->expires_at);
}

/* Fill t from valid input: a fresh id and secret, its hash.  0 or -1. */
static int
api_token_mint(const struct config *cfg, const struct token_input *in,
    const char *user_id, time_t now, struct token_rec *t, char core[TOKEN_CORE_LEN + 1])
{
	memset(t, 0, sizeof(*t));
	if (token_uuid_new(t->id) == -1 || token_core_new(core) == -1)
		return -1;
	snprintf(t->user_id, sizeof(t->user_id), "%s", user_id);
	memcpy(t->name, in->name, sizeof(t->name));
	memcpy(t->abilities, in->abilities, sizeof(t->abilities));
	t->nabilities = in->nabilities;
	t->created_at = now;
	t->expires_at = in->expires_at;
	memcpy(t->prefix, cfg->token_prefix, sizeof(t->prefix));	/* same size */
	t->prefix_known = 1;
	return hash_make(core, TOKEN_CORE_LEN, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p, t->hash);
}

void
api_tokens_create(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	struct json_object *body;
	struct field_errors errs = { NULL };
	struct token_input in;
	struct token_rec t;
	char		 core[TOKEN_CORE_LEN + 1], token[128], num[24], msg[128];
	enum store_rc	 rc;

	if ((body = api_json_body(c)) == NULL)
		return;
	if (valid_token_input(body, c->now, cfg->max_token_days, &in, &errs) == -1) {
		json_object_put(body);
		response_invalid(c->res, &errs);
		return;
	}
	json_object_put(body);
	if (api_token_mint(cfg, &in, c->who.user_id, c->now, &t, core) == -1) {
		explicit_bzero(core, sizeof(core));
		response_error(c->res, 500, "The token could not be made.");
		return;
	}
	rc = store_token_create(c->app->store, &t, cfg->max_tokens_per_user, c->now);
	if (rc == STORE_LIMIT) {
		explicit_bzero(core, sizeof(core));
		snprintf(msg, sizeof(msg), "You already hold the maximum of %ld live tokens.",
		    cfg->max_tokens_per_user);
		response_error(c->res, 409, msg);
		log_audit(&c->req->log, "token.create.refused", "reason", "limit",
		    "user", c->who.user_id, "addr", c->req->remote_addr, NULL);
		return;
	}
	if (rc != STORE_OK) {
		explicit_bzero(core, sizeof(core));
		response_storage_error(c->res);
		return;
	}
	(void)token_pat_format(token, sizeof(token), t.number, cfg->token_prefix, core);
	explicit_bzero(core, sizeof(core));
	c->res->status = 201;
	JSON_OUT_LIT(&c->res->text, "{\"data\":{");
	api_token_fields(&c->res->text, &t, token, 0);
	JSON_OUT_LIT(&c->res->text, "}}");
	explicit_bzero(token, sizeof(token));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
	log_audit(&c->req->log, "token.create", "token", num, "id", t.id,
	    "user", t.user_id, "addr", c->req->remote_addr, NULL);
}

struct list_rows {
	struct json_out	*w;
	size_t		 start;		/* where the rows begin */
	size_t		 n;
};

static void
api_tokens_list_one(const struct token_rec *t, void *arg)
{
	struct list_rows *rows = arg;

	if (t == NULL) {		/* the walk starts over */
		rows->w->len = rows->start;
		rows->n = 0;
		return;
	}
	if (t->revoked_at != 0)
		return;
	if (rows->n++ > 0)
		JSON_OUT_LIT(rows->w, ",");
	JSON_OUT_LIT(rows->w, "{");
	api_token_fields(rows->w, t, NULL, 1);
	JSON_OUT_LIT(rows->w, "}");
}

void
api_tokens_list(struct ctx *c)
{
	struct list_rows rows = { &c->res->text, 0, 0 };

	JSON_OUT_LIT(rows.w, "{\"data\":[");
	rows.start = rows.w->len;
	if (store_token_each(c->app->store, c->who.user_id, api_tokens_list_one,
	    &rows) != STORE_OK) {
		response_storage_error(c->res);	/* drops the rows written */
		return;
	}
	JSON_OUT_LIT(rows.w, "]}");
	c->res->status = 200;
}

void
api_tokens_revoke(struct ctx *c)
{
	struct token_rec t;
	char		 num[24];

	switch (store_token_revoke(c->app->store, c->who.user_id, c->param, c->now, &t)) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		response_error(c->res, 404, "Token not found.");
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	response_error(c->res, 200, "Token revoked");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
	log_audit(&c->req->log, "token.revoke", "token", num, "id", t.id,
	    "user", t.user_id, "addr", c->req->remote_addr, NULL);
}
