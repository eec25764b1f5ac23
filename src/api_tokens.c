/*
 * api_tokens.c: create, list, get and revoke a user's personal access tokens.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/* Fill t from valid input: a fresh id and secret, its hash.  0 or -1. */
int
api_token_mint(const struct config *cfg, const struct token_input *in,
    const char *user_id, time_t now, struct token_rec *t,
    char core[TOKEN_CORE_LEN + 1])
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
	t->bind = in->bind;
	memcpy(t->prefix, cfg->token_prefix, sizeof(t->prefix)); /* same size */
	t->prefix_known = 1;
	return hash_make(core, TOKEN_CORE_LEN, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p, t->hash);
}

/*
 * The 201 of a create or a rotation: t with its token, made of the
 * prefix and core, shown this once; core and the token are wiped.
 */
void
api_token_answer_new(struct ctx *c, const struct token_rec *t,
    char core[TOKEN_CORE_LEN + 1])
{
	char	 token[128];		/* "<n>|" and the longest secret */

	(void)token_pat_format(token, sizeof(token), t->number,
	    c->app->cfg->token_prefix, core);
	explicit_bzero(core, TOKEN_CORE_LEN + 1);
	c->res->status = 201;
	JSON_OUT_LIT(&c->res->text, "{\"data\":{");
	token_object_write(&c->res->text, t, token, TOKEN_OBJ_NEW);
	JSON_OUT_LIT(&c->res->text, "}}");
	explicit_bzero(token, sizeof(token));
}

void
api_tokens_create(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	struct json_object *body;
	struct field_errors errs = { NULL };
	struct token_input in;
	struct token_rec t;
	char		 core[TOKEN_CORE_LEN + 1], num[24], msg[128];
	enum store_rc	 rc;

	if ((body = api_json_body(c)) == NULL)
		return;
	(void)valid_token_input(body, c->now, cfg->max_token_days, &in, &errs);
	if (cfg->require_expiry)
		valid_expiry_required(body, &errs);
	if (errs.obj != NULL) {
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
	rc = store_token_create(c->app->store, &t, cfg->max_tokens_per_user,
	    c->now);
	if (rc == STORE_LIMIT) {
		explicit_bzero(core, sizeof(core));
		snprintf(msg, sizeof(msg),
		    "You already hold the maximum of %ld live tokens.",
		    cfg->max_tokens_per_user);
		response_error(c->res, 409, msg);
		log_audit(&c->req->log, "token.create.refused", "reason",
		    "limit", "user", c->who.user_id, "addr",
		    c->req->remote_addr, NULL);
		return;
	}
	if (rc != STORE_OK) {
		explicit_bzero(core, sizeof(core));
		response_storage_error(c->res);
		return;
	}
	api_token_answer_new(c, &t, core);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
	log_audit(&c->req->log, "token.create", "token", num, "id", t.id,
	    "user", t.user_id, "addr", c->req->remote_addr, NULL);
}

/* Which of a user's tokens a list shows (its query's state). */
enum list_state {
	LIST_DEFAULT,		/* every token not revoked */
	LIST_ACTIVE,		/* neither revoked nor expired */
	LIST_EXPIRED,
	LIST_REVOKED,
	LIST_ALL
};

struct list_rows {
	struct json_out	*w;
	size_t		 start;		/* where this page's rows begin */
	size_t		 n;
	size_t		 n_start;	/* rows before this page */
	enum list_state	 state;
	time_t		 used_before;	/* 0: any */
	time_t		 now;
};

/* Does the list show t? */
static int
api_tokens_list_shows(const struct list_rows *rows, const struct token_rec *t)
{
	int	 expired = t->expires_at != 0 && t->expires_at <= rows->now;

	if (rows->used_before != 0 && t->last_used_at != 0 &&
	    t->last_used_at >= rows->used_before)
		return 0;
	switch (rows->state) {
	case LIST_ACTIVE:
		return t->revoked_at == 0 && !expired;
	case LIST_EXPIRED:
		return t->revoked_at == 0 && expired;
	case LIST_REVOKED:
		return t->revoked_at != 0;
	case LIST_ALL:
		return 1;
	default:
		return t->revoked_at == 0;
	}
}

static void
api_tokens_list_one(const struct token_rec *t, void *arg)
{
	struct list_rows *rows = arg;

	if (t == NULL) {		/* the page starts over */
		rows->w->len = rows->start;
		rows->n = rows->n_start;
		return;
	}
	if (!api_tokens_list_shows(rows, t))
		return;
	if (rows->n++ > 0)
		JSON_OUT_LIT(rows->w, ",");
	JSON_OUT_LIT(rows->w, "{");
	token_object_write(rows->w, t, NULL, TOKEN_OBJ_REVOKED);
	JSON_OUT_LIT(rows->w, "}");
}

/*
 * Decode a query value's percent escapes into out (size cap).  0, or -1 if bad
 * or long.
 */
static int
api_query_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t		 i, o = 0;
	unsigned	 hi, lo;

	for (i = 0; i < len; i++) {
		if (o + 1 >= cap)
			return -1;
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		hi = (unsigned)(s[i + 1] >= 'a' ? s[i + 1] - 'a' + 10 :
		    s[i + 1] >= 'A' ? s[i + 1] - 'A' + 10 : s[i + 1] - '0');
		lo = (unsigned)(s[i + 2] >= 'a' ? s[i + 2] - 'a' + 10 :
		    s[i + 2] >= 'A' ? s[i + 2] - 'A' + 10 : s[i + 2] - '0');
		if (hi > 15 || lo > 15 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

/* The list's query: state and last_used_before.  0, or -1 with errs. */
static int
api_tokens_list_query(const char *query, struct list_rows *rows,
    struct field_errors *errs)
{
	static const char *const states[] = { "", "active", "expired",
	    "revoked", "all" };
	const char	*p, *end, *eq;
	char		 key[32], val[128];
	size_t		 i;

	for (p = query; p != NULL && *p != '\0';
	    p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL ||
		    api_query_decode(p, (size_t)(eq - p), key,
		    sizeof(key)) == -1)
			continue;	/* not a parameter the list reads */
		if (strcmp(key, "state") == 0) {
			rows->state = LIST_DEFAULT;
			for (i = 1; i < sizeof(states) / sizeof(states[0]); i++)
				if ((size_t)(end - eq - 1) ==
				    strlen(states[i]) &&
				    strncmp(eq + 1, states[i],
				    strlen(states[i])) == 0)
					rows->state = (enum list_state)i;
			if (rows->state == LIST_DEFAULT)
				field_error_add(errs, "state",
				    "The state must be active, expired, "
				    "revoked or all.");
		} else if (strcmp(key, "last_used_before") == 0) {
			if (api_query_decode(eq + 1, (size_t)(end - eq - 1),
			    val, sizeof(val)) == -1 ||
			    valid_rfc3339(val, &rows->used_before) == -1 ||
			    rows->used_before <= 0)
				field_error_add(errs, "last_used_before",
				    "The last_used_before must be an RFC 3339 "
				    "time such as 2030-01-15T19:00:00Z.");
		}
	}
	return errs->obj == NULL ? 0 : -1;
}

/*
 * Rows past this many bytes are not held whole: the rest of the list goes
 * out a page at a time after them.  A user of 80,000 tokens would
 * otherwise cost each worker listing them 14 MB and its copies.
 */
#define LIST_HOLD_BYTES	(256 * 1024)

/* The rest of a long list: where it is, and the page being written. */
struct list_stream {
	struct store	*store;
	char		 user_id[UUID_LEN + 1];
	uint64_t	 next;
	struct json_out	 w;
	struct list_rows rows;
};

static void
api_tokens_list_stream_free(void *arg)
{
	struct list_stream *ls = arg;

	json_out_free(&ls->w);
	free(ls);
}

/*
 * Write the rest of a long list through put, a page (one read-only
 * transaction) at a time.  The 200 is sent by then: a storage failure
 * cuts the body short, which no client takes for a whole list.
 */
static int
api_tokens_list_stream(void *arg, int (*put)(const char *, size_t, void *),
    void *out)
{
	struct list_stream *ls = arg;
	int		 done = 0;

	while (!done) {
		ls->w.len = 0;
		ls->rows.start = 0;
		ls->rows.n_start = ls->rows.n;
		if (store_token_page(ls->store, ls->user_id, &ls->next,
		    api_tokens_list_one, &ls->rows, &done) != STORE_OK ||
		    ls->w.failed) {
			log_error("patgate: a list of %zu tokens was cut short "
			    "by a storage failure", ls->rows.n);
			return -1;
		}
		if (ls->w.len > 0 && put(ls->w.buf, ls->w.len, out) < 0)
			return -1;
	}
	return put("]}", 2, out) < 0 ? -1 : 0;
}

void
api_tokens_list(struct ctx *c)
{
	struct list_rows rows = { &c->res->text, 0, 0, 0, LIST_DEFAULT, 0,
	    c->now };
	struct field_errors errs = { NULL };
	struct list_stream *ls;
	struct store_list_stamp stamp;
	const char	*kept;
	size_t		 kept_len;
	uint64_t	 next = 0;
	int		 done = 0, keep;

	if (api_tokens_list_query(c->req->query, &rows, &errs) == -1) {
		response_invalid(c->res, &errs);
		return;
	}
	/* Uses waiting are written first: the stamp counts them. */
	store_pending_settle(c->app->store);
	/* Rows that move with the clock are never kept (list_kept.c). */
	keep = rows.state != LIST_ACTIVE && rows.state != LIST_EXPIRED &&
	    store_list_stamp(c->app->store, c->who.user_id, c->now, &stamp);
	if (keep && (kept = list_kept_get(c->who.user_id, c->req->query,
	    &stamp, &kept_len)) != NULL) {
		json_out_raw(rows.w, kept, kept_len);
		c->res->status = 200;
		return;
	}
	JSON_OUT_LIT(rows.w, "{\"data\":[");
	while (!done && rows.w->len < LIST_HOLD_BYTES) {
		rows.start = rows.w->len;
		rows.n_start = rows.n;
		if (store_token_page(c->app->store, c->who.user_id, &next,
		    api_tokens_list_one, &rows, &done) != STORE_OK) {
			response_storage_error(c->res); /* drops the rows */
			return;
		}
	}
	if (done) {
		JSON_OUT_LIT(rows.w, "]}");
		c->res->status = 200;
		if (keep && !rows.w->failed)
			list_kept_put(c->who.user_id, c->req->query, &stamp,
			    rows.w->buf, rows.w->len);
		return;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		response_storage_error(c->res);
		return;
	}
	ls->store = c->app->store;
	snprintf(ls->user_id, sizeof(ls->user_id), "%s", c->who.user_id);
	ls->next = next;
	ls->rows = rows;
	ls->rows.w = &ls->w;
	c->res->stream = api_tokens_list_stream;
	c->res->stream_arg = ls;
	c->res->stream_free = api_tokens_list_stream_free;
	c->res->status = 200;
}

/* 200 with {"data": t}. */
static void
api_tokens_show(struct ctx *c, const struct token_rec *t)
{
	JSON_OUT_LIT(&c->res->text, "{\"data\":{");
	token_object_write(&c->res->text, t, NULL, 0);
	JSON_OUT_LIT(&c->res->text, "}}");
	c->res->status = 200;
}

void
api_tokens_get(struct ctx *c)
{
	struct token_rec t;

	switch (store_token_by_id(c->app->store, c->who.user_id, c->param,
	    &t)) {
	case STORE_OK:
		api_tokens_show(c, &t);
		return;
	case STORE_NOTFOUND:
		response_error(c->res, 404, "Token not found.");
		return;
	default:
		response_storage_error(c->res);
		return;
	}
}

/* The PAT reads itself: the record as its check read it, this use included. */
void
api_tokens_self_get(struct ctx *c)
{
	struct token_rec t;

	/* Read again: the use just recorded (and its address) shows. */
	switch (store_token_by_id(c->app->store, c->who.user_id,
	    c->who.token.id, &t)) {
	case STORE_OK:
		api_tokens_show(c, &t);
		return;
	case STORE_NOTFOUND:
		/* revoked since its check */
		response_unauthenticated(c->res, 1);
		return;
	default:
		response_storage_error(c->res);
		return;
	}
}

/* A revoke's answer and audit line. */
static void
api_tokens_revoked(struct ctx *c, const struct token_rec *t)
{
	char	 num[24];

	response_error(c->res, 200, "Token revoked");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->number);
	log_audit(&c->req->log, "token.revoke", "token", num, "id", t->id,
	    "user", t->user_id, "addr", c->req->remote_addr, NULL);
}

void
api_tokens_self_revoke(struct ctx *c)
{
	struct token_rec t;

	switch (store_token_revoke(c->app->store, c->who.user_id,
	    c->who.token.id, c->now, &t)) {
	case STORE_OK:
		api_tokens_revoked(c, &t);
		return;
	case STORE_NOTFOUND:
		/* revoked since its check */
		response_unauthenticated(c->res, 1);
		return;
	default:
		response_storage_error(c->res);
		return;
	}
}

void
api_tokens_revoke(struct ctx *c)
{
	struct token_rec t;

	switch (store_token_revoke(c->app->store, c->who.user_id, c->param,
	    c->now, &t)) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		response_error(c->res, 404, "Token not found.");
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	api_tokens_revoked(c, &t);
}
