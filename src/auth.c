/* auth.c: bearer credentials into a principal, or a refusal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "patgate.h"

const char *
auth_bearer(const char *authorization)
{
	const char	*t;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	for (t = authorization + 7; *t == ' '; t++)
		continue;
	return *t != '\0' ? t : NULL;
}

/*
 * Judge a secret against the stored hash: a secret that passed within the
 * minute (known, from cache_secret_known) is accepted if the record is the
 * one it passed against; otherwise Argon2 runs if the throttle allows.
 * AUTH_OK, AUTH_INVALID, or AUTH_BUSY (throttled).
 */
static enum auth_rc
auth_secret(int kind, uint64_t id, const char *core, int known,
    const char *stored_hash, time_t now)
{
	long long	 t0;
	int		 ok;

	if (known && cache_hash_bound(kind, id, stored_hash))
		return AUTH_OK;
	if (!throttle_allow(kind, id))
		return AUTH_BUSY;
	t0 = throttle_now_ms();
	ok = hash_check(stored_hash, core, TOKEN_CORE_LEN);
	throttle_record(kind, id, (long)(throttle_now_ms() - t0), ok);
	if (!ok)
		return AUTH_INVALID;	/* the holder's cached entry stays */
	cache_remember(kind, id, core, TOKEN_CORE_LEN, stored_hash, now);
	return AUTH_OK;
}

enum auth_rc
auth_session(struct store *st, const char *token, time_t now, struct principal *who)
{
	struct session_token	 parsed;
	struct session_rec	 s;
	enum store_rc		 rc;
	enum auth_rc		 arc;
	uint64_t		 sid;
	int			 known;

	/* The form is checked first: a PAT or garbage costs no lookup. */
	if (token_session_parse(token, &parsed) == -1)
		return AUTH_INVALID;
	sid = strtoull(parsed.id, NULL, 16);
	/* A check the throttle would refuse anyway costs no read. */
	known = cache_secret_known(CACHE_SESSION, sid, parsed.core, TOKEN_CORE_LEN, now);
	if (!known && !throttle_allow(CACHE_SESSION, sid))
		return AUTH_BUSY;
	rc = store_session_get(st, parsed.id, &s);
	if (rc == STORE_NOTFOUND)
		return AUTH_INVALID;
	if (rc != STORE_OK)
		return AUTH_ERROR;
	if (s.revoked_at != 0 || s.expires_at <= now)
		return AUTH_INVALID;
	if ((arc = auth_secret(CACHE_SESSION, sid, parsed.core, known, s.hash, now)) != AUTH_OK)
		return arc;
	principal_reset(who);
	snprintf(who->user_id, sizeof(who->user_id), "%s", s.user_id);
	snprintf(who->session_id, sizeof(who->session_id), "%s", s.id);
	return AUTH_OK;
}

enum auth_rc
auth_session_new(struct store *st, const struct config *cfg, const char *user_id,
    long ttl, time_t now, char token[SESSION_TOKEN_LEN + 1], struct session_rec *s)
{
	char		 core[TOKEN_CORE_LEN + 1];
	enum auth_rc	 rc = AUTH_ERROR;

	memset(s, 0, sizeof(*s));
	if (token_session_new(token, s->id, core) == -1 ||
	    hash_make(core, TOKEN_CORE_LEN, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p, s->hash) == -1)
		goto out;
	snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
	s->created_at = now;
	s->expires_at = now + ttl;
	if (store_session_put(st, s) != STORE_OK)
		goto out;
	rc = AUTH_OK;
out:
	explicit_bzero(core, sizeof(core));
	if (rc != AUTH_OK)
		explicit_bzero(token, SESSION_TOKEN_LEN + 1);
	return rc;
}

/*
 * An empty principal.  Only the heads are cleared: the token record is some
 * kilobytes of fixed arrays, and zeroing it all on each request showed up in
 * the profile of a check; every field is written before it is read.
 */
void
principal_reset(struct principal *who)
{
	who->user_id[0] = '\0';
	who->session_id[0] = '\0';
	who->token.number = 0;
	who->token.id[0] = '\0';
	who->token.user_id[0] = '\0';
	who->token.name[0] = '\0';
	who->token.hash[0] = '\0';
	who->token.nabilities = 0;
	who->token.created_at = who->token.expires_at = 0;
	who->token.revoked_at = who->token.last_used_at = 0;
}

enum auth_rc
auth_pat(struct store *st, const char *token, time_t now, struct principal *who,
    const char **why)
{
	struct pat	 parsed;
	enum store_rc	 rc;
	enum auth_rc	 arc;
	int		 known;

	principal_reset(who);
	if (token_pat_parse(token, &parsed) == -1) {
		*why = "malformed";
		return AUTH_INVALID;
	}
	who->token.number = parsed.number;
	known = cache_secret_known(CACHE_PAT, parsed.number, parsed.core, TOKEN_CORE_LEN, now);
	if (!known && !throttle_allow(CACHE_PAT, parsed.number)) {
		*why = "throttled";
		return AUTH_BUSY;
	}
	/* The record is read every time: a revoke or an expiry bites at once. */
	rc = store_token_get(st, parsed.number, &who->token);
	if (rc == STORE_NOTFOUND) {
		*why = "unknown";
		return AUTH_INVALID;
	}
	if (rc != STORE_OK) {
		*why = "storage";
		return AUTH_ERROR;
	}
	if (who->token.revoked_at != 0) {
		*why = "revoked";
		return AUTH_INVALID;
	}
	if (who->token.expires_at != 0 && who->token.expires_at <= now) {
		*why = "expired";
		return AUTH_INVALID;
	}
	arc = auth_secret(CACHE_PAT, parsed.number, parsed.core, known, who->token.hash, now);
	if (arc != AUTH_OK) {
		*why = arc == AUTH_BUSY ? "throttled" : "wrong-secret";
		return arc;
	}
	memcpy(who->user_id, who->token.user_id, sizeof(who->user_id));	/* same size */
	store_token_touch(st, &who->token, now);
	return AUTH_OK;
}
