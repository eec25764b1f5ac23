/* api_tokens.c: create, list and revoke a user's personal access tokens. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

static struct json_object *
api_time(time_t t)
{
	char	 buf[21];

	if (t == 0)
		return NULL;	/* json-c's null */
	valid_time_format(t, buf);
	return json_object_new_string(buf);
}

struct json_object *
api_token_json(const struct token_rec *t, const char *token, int with_last_used)
{
	struct json_object *o = json_object_new_object(), *ab;
	size_t		 i;

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	ab = json_object_new_array();
	for (i = 0; i < t->nabilities; i++)
		json_object_array_add(ab, json_object_new_string(t->abilities[i]));
	json_object_object_add(o, "abilities", ab);
	if (token != NULL)
		json_object_object_add(o, "token", json_object_new_string(token));
	if (with_last_used)
		json_object_object_add(o, "last_used_at", api_time(t->last_used_at));
	json_object_object_add(o, "created_at", api_time(t->created_at));
	json_object_object_add(o, "expires_at", api_time(t->expires_at));
	return o;
}

static void
api_wrap_data(struct response *res, int status, struct json_object *data)
{
	res->status = status;
	res->body = json_object_new_object();
	json_object_object_add(res->body, "data", data);
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
	api_wrap_data(c->res, 201, api_token_json(&t, token, 0));
	explicit_bzero(token, sizeof(token));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
	log_audit(&c->req->log, "token.create", "token", num, "id", t.id,
	    "user", t.user_id, "addr", c->req->remote_addr, NULL);
}

static void
api_tokens_list_one(const struct token_rec *t, void *arg)
{
	if (t->revoked_at == 0)
		json_object_array_add(arg, api_token_json(t, NULL, 1));
}

void
api_tokens_list(struct ctx *c)
{
	struct json_object *rows = json_object_new_array();

	if (store_token_each(c->app->store, c->who.user_id, api_tokens_list_one,
	    rows) != STORE_OK) {
		json_object_put(rows);
		response_storage_error(c->res);
		return;
	}
	api_wrap_data(c->res, 200, rows);
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
