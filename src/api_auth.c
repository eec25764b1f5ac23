/* api_auth.c: log in with an email and a password, and log out. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/* 429 for a held email or address; no Argon2 has run for it. */
static void
api_login_held(struct ctx *c, const char *email, long retry_after, int by_addr)
{
	char	 secs[24];

	snprintf(secs, sizeof(secs), "%ld", retry_after);
	response_error(c->res, 429, "Too many failed logins. Try again later.");
	response_header(c->res, "Retry-After", secs);
	log_audit(&c->req->log, "login.lockout", "email", email,
	    "addr", c->req->remote_addr, "held", by_addr ? "addr" : "email",
	    "retry_after", secs, NULL);
}

/*
 * Is password the user's?  Every answer costs one Argon2 run at the
 * password cost, whether or not the email is a user's or has a password,
 * so that neither the answer nor its time tells which.  1 yes, 0 no,
 * -1 storage failure (no Argon2 run then); why receives a reason for the
 * audit line.
 */
static int
api_login_check(struct ctx *c, const struct login_input *in, struct user_rec *u,
    const char **why)
{
	char		 dummy[HASH_ENCODED_MAX];
	const char	*hash;
	enum store_rc	 rc;
	int		 ok;

	rc = store_user_by_email(c->app->store, in->email, u);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return -1;
	if (rc == STORE_OK && u->password[0] != '\0') {
		hash = u->password;
		*why = "wrong-password";
	} else {
		hash_dummy(c->app->cfg->pw_argon2_m, c->app->cfg->pw_argon2_t,
		    c->app->cfg->pw_argon2_p, dummy);
		hash = dummy;
		*why = rc == STORE_OK ? "no-password" : "unknown-email";
	}
	ok = hash_check(hash, in->password, in->password_len);
	return ok && hash != dummy;
}

/*
 * The password passed against a hash made at another cost than
 * PATGATE_PASSWORD_ARGON2: store it at the current one.  The stand-in hash
 * for an email without a password is made at the current cost, so stored
 * hashes converge on it and a wrong password takes as long as an unknown
 * email.  A failure here costs the login nothing; the next one retries.
 */
static void
api_login_rehash(struct ctx *c, const struct user_rec *u,
    const struct login_input *in)
{
	const struct config *cfg = c->app->cfg;
	char		 hash[HASH_ENCODED_MAX];

	if (hash_same_cost(u->password, cfg->pw_argon2_m, cfg->pw_argon2_t,
	    cfg->pw_argon2_p))
		return;
	if (hash_make(in->password, in->password_len, cfg->pw_argon2_m,
	    cfg->pw_argon2_t, cfg->pw_argon2_p, hash) == 0 &&
	    store_user_rehash_password(c->app->store, u->id, u->password,
	    hash) == STORE_OK)
		log_audit(&c->req->log, "password.rehashed", "user", u->id,
		    "cost", cfg->pw_argon2, NULL);
	explicit_bzero(hash, sizeof(hash));
}

void
api_auth_login(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	const struct login_limits lim = { LOGIN_MAX_PER_EMAIL,
	    cfg->login_max_per_addr, cfg->login_window };
	struct json_object *body, *data;
	struct field_errors errs = { NULL };
	struct login_input in;
	struct user_rec	 u;
	struct session_rec s;
	const char	*why = "";
	char		 token[SESSION_TOKEN_LEN + 1], when[21];
	long		 retry_after = 0;
	int		 by_addr = 0;

	if ((body = api_json_body(c)) == NULL)
		return;
	if (valid_login_input(body, &in, &errs) == -1) {
		response_invalid(c->res, &errs);
		goto out;
	}
	if (c->app->store == NULL) {
		response_storage_error(c->res);
		goto out;
	}
	/* The brake comes first: a held email or address costs no Argon2. */
	switch (store_login_reserve(c->app->store, in.email,
	    c->req->remote_addr, &lim, c->now, &retry_after, &by_addr)) {
	case STORE_OK:
		break;
	case STORE_LIMIT:
		api_login_held(c, in.email, retry_after, by_addr);
		goto out;
	default:
		response_storage_error(c->res);
		goto out;
	}
	switch (api_login_check(c, &in, &u, &why)) {
	case 1:
		break;
	case 0:
		response_error(c->res, 401, "Invalid credentials.");
		log_audit(&c->req->log, "login.failure", "email", in.email,
		    "addr", c->req->remote_addr, "reason", why, NULL);
		goto out;
	default:
		response_storage_error(c->res);
		goto out;
	}
	if (store_login_succeeded(c->app->store, in.email, c->req->remote_addr,
	    cfg->login_window, c->now) != STORE_OK ||
	    auth_session_new(c->app->store, cfg, u.id, cfg->session_ttl, c->now,
	    token, &s) != AUTH_OK) {
		response_storage_error(c->res);
		goto out;
	}
	api_login_rehash(c, &u, &in);
	valid_time_format(s.expires_at, when);
	data = json_object_new_object();
	json_object_object_add(data, "token", json_object_new_string(token));
	json_object_object_add(data, "expires_at",
	    json_object_new_string(when));
	c->res->status = 200;
	c->res->body = json_object_new_object();
	json_object_object_add(c->res->body, "data", data);
	log_audit(&c->req->log, "login.success", "email", u.email, "user", u.id,
	    "session", s.id, "addr", c->req->remote_addr, NULL);
out:
	explicit_bzero(token, sizeof(token));
	json_object_put(body);
}

void
api_auth_logout(struct ctx *c)
{
	struct user_rec	 u;

	switch (store_session_revoke(c->app->store, c->who.session_id,
	    c->now)) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		/* Ended by another request since it was checked. */
		response_unauthenticated(c->res, 1);
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	/*
	 * Every check reads the record first; this only drops the digest
	 * sooner.
	 */
	cache_forget(CACHE_SESSION, strtoull(c->who.session_id, NULL, 16));
	response_error(c->res, 200, "Logged out");
	if (store_user_get(c->app->store, c->who.user_id, &u) != STORE_OK)
		snprintf(u.email, sizeof(u.email), "-");
	log_audit(&c->req->log, "logout", "email", u.email, "user",
	    c->who.user_id, "session", c->who.session_id, "addr",
	    c->req->remote_addr, NULL);
}
