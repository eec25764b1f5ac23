/*
 * api_leaked.c: POST /api/v1/credentials/revoke, where whoever finds a
 * PAT where it must not be reports it, with no credentials of their own.
 * Each entry that is a live PAT whose secret verifies is revoked and its
 * owner hears of it (token.revoke.leaked, queued with the revoke).
 *
 * The answer is the same 202 whatever the entries were, and so is its
 * cost: a well-formed entry always reads its record and always runs one
 * Argon2 check at the token cost, against a stand-in hash when there is
 * no live record to check it against, so neither the answer nor its time
 * tells whether a number exists.  (A malformed entry costs nothing, as
 * at the gate: its form is no secret.)  A hash stored at an older, dearer
 * cost is checked only while the request has spent less than
 * LEAKED_DEAR_MS on such checks, and within the Argon2 throttle, so no
 * request makes a worker burn seconds; past that such an entry is
 * checked against the stand-in and not revoked (a successful use moves
 * a hash to the current cost, so these fade).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

#define LEAKED_MAX		1000	/* entries a request may hold */
#define LEAKED_WINDOW		900	/* seconds a reporter's count is kept */
#define LEAKED_DEAR_MS		200 /* on checks at another cost, a request */

/*
 * The credentials field: 1 to LEAKED_MAX strings.  The array, or NULL and errs.
 */
static struct json_object *
api_leaked_input(struct json_object *body, struct field_errors *errs)
{
	struct json_object *list;
	size_t		 i, n;

	if (!json_object_object_get_ex(body, "credentials",
	    &list) || list == NULL) {
		field_error_add(errs, "credentials",
		    "The credentials field is required.");
		return NULL;
	}
	if (!json_object_is_type(list, json_type_array)) {
		field_error_add(errs, "credentials",
		    "The credentials field must be an array.");
		return NULL;
	}
	n = json_object_array_length(list);
	if (n < 1 || n > LEAKED_MAX) {
		field_error_add(errs, "credentials",
		    "The credentials field must hold 1 to 1000 entries.");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(list, i),
		    json_type_string)) {
			field_error_add(errs, "credentials",
			    "Each entry of credentials must be a string.");
			return NULL;
		}
	return list;
}

/*
 * Does s name a live PAT whose secret verifies?  1 with leak filled (its
 * number), else 0; *failed is set when its record could not be read.  t is room
 * for the record; dear_us is what is left of the microseconds for checks
 * at another cost.
 */
static int
api_leaked_judge(struct ctx *c, const char *s, const char *stand_in,
    struct token_rec *t, long *dear_us, struct token_leak *leak, int *failed)
{
	const struct config *cfg = c->app->cfg;
	struct pat	 p;
	const char	*use = stand_in;
	enum store_rc	 rc;
	long long	 t0;
	int		 ok, live;

	if (token_pat_parse(s, &p) == -1)
		return 0;
	/*
	 * Read either way: an unknown number takes the time a known one does.
	 */
	if ((rc = store_token_get(c->app->store, p.number, t)) == STORE_ERROR)
		*failed = 1;
	live = rc == STORE_OK && t->revoked_at == 0 &&
	    (t->expires_at == 0 || t->expires_at > c->now) &&
	    (!t->prefix_known ||
	    (strlen(t->prefix) == p.prefix_len &&
	    memcmp(t->prefix, p.prefix, p.prefix_len) == 0));
	if (live &&
	    hash_same_cost(t->hash, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p))
		use = t->hash;
	else if (live && *dear_us > 0 && throttle_allow())
		use = t->hash;
	t0 = throttle_now_us();
	ok = hash_check(use, p.core, TOKEN_CORE_LEN);
	if (use == t->hash &&
	    !hash_same_cost(t->hash, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p)) {
		*dear_us -= (long)(throttle_now_us() - t0);
		throttle_record((long)(throttle_now_us() - t0));
	}
	if (!ok || use == stand_in)
		return 0;
	leak->number = p.number;
	return 1;
}

/* 429 for an address past its reports; nothing else is looked at. */
static void
api_leaked_held(struct ctx *c, long retry_after)
{
	char	 secs[24];

	snprintf(secs, sizeof(secs), "%ld", retry_after);
	response_error(c->res, 429,
	    "Too many reports from this address. Try again later.");
	response_header(c->res, "Retry-After", secs);
	log_audit(&c->req->log, "credentials.report.held", "addr",
	    c->req->remote_addr, "retry_after", secs, NULL);
}

void
api_credentials_revoke(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	struct json_object *body = NULL, *list, *details = NULL;
	struct field_errors errs = { NULL };
	struct token_leak *leaks = NULL;
	struct token_rec *t = NULL;
	char		 stand_in[HASH_ENCODED_MAX], num[24], counts[2][24];
	size_t		 i, n, found = 0, revoked = 0;
	long		 retry_after = 0;
	long		 dear_us = LEAKED_DEAR_MS * 1000L;
	int		 failed = 0;

	if (c->app->store == NULL) {
		response_storage_error(c->res);
		return;
	}
	/* Counted before the body is read: a flood of bad bodies counts too. */
	switch (store_report_reserve(c->app->store, c->req->remote_addr,
	    cfg->revoke_max_per_addr, LEAKED_WINDOW, c->now, &retry_after)) {
	case STORE_OK:
		break;
	case STORE_LIMIT:
		api_leaked_held(c, retry_after);
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	if ((body = api_json_body(c)) == NULL)
		return;
	if ((list = api_leaked_input(body, &errs)) == NULL) {
		response_invalid(c->res, &errs);
		goto out;
	}
	n = json_object_array_length(list);
	if ((leaks = calloc(n, sizeof(*leaks))) == NULL ||
	    (t = malloc(sizeof(*t))) == NULL ||
	    (details = json_object_new_object()) == NULL) {
		response_error(c->res, 500, "Out of memory.");
		goto out;
	}
	hash_dummy(cfg->argon2_m, cfg->argon2_t, cfg->argon2_p, stand_in);
	for (i = 0; i < n; i++)
		found += api_leaked_judge(c,
		    json_object_get_string(json_object_array_get_idx(list, i)),
		    stand_in, t, &dear_us, &leaks[found], &failed);
	json_object_object_add(details, "addr",
	    json_object_new_string(c->req->remote_addr));
	if (store_token_revoke_leaked(c->app->store, leaks, found, c->now,
	    details) != STORE_OK) {
		response_storage_error(c->res);
		goto out;
	}
	for (i = 0; i < found; i++) {
		if (!leaks[i].revoked)
			continue;
		revoked++;
		cache_forget(CACHE_PAT, leaks[i].number);
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)leaks[i].number);
		log_audit(&c->req->log, "token.revoke.leaked", "token", num,
		    "id", leaks[i].id, "user", leaks[i].user_id,
		    "addr", c->req->remote_addr, NULL);
	}
	snprintf(counts[0], sizeof(counts[0]), "%zu", n);
	snprintf(counts[1], sizeof(counts[1]), "%zu", revoked);
	log_audit(&c->req->log, "credentials.report", "entries", counts[0],
	    "revoked", counts[1], "addr", c->req->remote_addr, NULL);
	/*
	 * What verified is revoked; one the store could not read must not look
	 * so.
	 */
	if (failed)
		response_storage_error(c->res);
	else
		response_error(c->res, 202, "Accepted");
out:
	free(leaks);
	free(t);
	json_object_put(details);
	json_object_put(body);
}
