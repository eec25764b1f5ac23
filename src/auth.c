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

	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	for (t = authorization + 7; *t == ' '; t++)
		continue;
	return *t != '\0' ? t : NULL;
}

/*
 * Judge a secret against the stored hash: a secret that passed against
 * this stored hash lately (the cache) is accepted, and one that failed
 * against it within the minute is refused again; otherwise Argon2 runs,
 * at once when the hash is at the current token cost (cfg), else if the
 * throttle allows.  When it passes at another cost, rehash receives the
 * secret's hash at the current cost ("" otherwise).  AUTH_OK,
 * AUTH_INVALID, AUTH_BUSY (throttled) or AUTH_ERROR (the new hash could
 * not be made).
 */
static enum auth_rc
auth_secret(const struct config *cfg, enum cache_kind kind, uint64_t id,
    const char *core, const char *stored_hash, time_t now,
    char rehash[HASH_ENCODED_MAX])
{
	long long	 t0;
	int		 ok, cheap;

	rehash[0] = '\0';
	cheap = hash_same_cost(stored_hash, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p);
	if (cache_hit(kind, id, core, TOKEN_CORE_LEN, stored_hash, now))
		ok = 1;
	else if (cache_refused(kind, id, core, TOKEN_CORE_LEN, stored_hash,
	    now))
		return AUTH_INVALID;
	else if (cheap)
		ok = hash_check(stored_hash, core, TOKEN_CORE_LEN);
	else {
		if (!throttle_allow())
			return AUTH_BUSY;
		t0 = throttle_now_us();
		ok = hash_check(stored_hash, core, TOKEN_CORE_LEN);
		throttle_record((long)(throttle_now_us() - t0));
	}
	if (!ok) {
		/*
		 * The holder's cached entry stays; this secret is told apart.
		 */
		cache_remember_refusal(kind, id, core, TOKEN_CORE_LEN,
		    stored_hash, now);
		return AUTH_INVALID;
	}
	if (!cheap &&
	    hash_make(core, TOKEN_CORE_LEN, cfg->argon2_m, cfg->argon2_t,
	    cfg->argon2_p, rehash) == -1)
		return AUTH_ERROR;
	cache_remember(kind, id, core, TOKEN_CORE_LEN, stored_hash, now);
	return AUTH_OK;
}

enum auth_rc
auth_session(struct store *st, const struct config *cfg, const char *token,
    time_t now, struct principal *who)
{
	struct session_token	 parsed;
	struct session_rec	 s;
	enum store_rc		 rc;
	enum auth_rc		 arc;
	char			 rehash[HASH_ENCODED_MAX];
	uint64_t		 sid;

	/* The form is checked first: a PAT or garbage costs no lookup. */
	if (token_session_parse(token, &parsed) == -1)
		return AUTH_INVALID;
	sid = strtoull(parsed.id, NULL, 16);
	rc = store_session_get(st, parsed.id, &s);
	if (rc == STORE_NOTFOUND)
		return AUTH_INVALID;
	if (rc != STORE_OK)
		return AUTH_ERROR;
	if (s.revoked_at != 0 || s.expires_at <= now)
		return AUTH_INVALID;
	arc = auth_secret(cfg, CACHE_SESSION, sid, parsed.core, s.hash, now,
	    rehash);
	if (arc != AUTH_OK)
		return arc;
	/* Once: from then on the session's hash is at the current cost. */
	if (rehash[0] != '\0' &&
	    store_session_rehash(st, s.id, s.hash, rehash) == STORE_ERROR)
		return AUTH_ERROR;
	principal_reset(who);
	snprintf(who->user_id, sizeof(who->user_id), "%s", s.user_id);
	snprintf(who->session_id, sizeof(who->session_id), "%s", s.id);
	return AUTH_OK;
}

enum auth_rc
auth_session_new(struct store *st, const struct config *cfg,
    const char *user_id, long ttl, time_t now,
    char token[SESSION_TOKEN_LEN + 1], struct session_rec *s)
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
	who->token.prefix[0] = '\0';
	who->token.prefix_known = 0;
	who->token.rotated_from[0] = '\0';
	who->token.rotated_to = 0;
	who->token.nips = 0;
	who->token.bind.nips = 0;
	who->token.bind.npaths = 0;
	who->token.bind.rate_limit = 0;
	who->token.bind.canary = 0;
	who->rehash[0] = '\0';
	who->pin_prefix = 0;
}

/* Does the PAT come with the prefix its record holds? */
static int
auth_prefix_matches(const struct token_rec *t, const struct pat *parsed)
{
	return strlen(t->prefix) == parsed->prefix_len &&
	    memcmp(t->prefix, parsed->prefix, parsed->prefix_len) == 0;
}

/* auth_pat, with revoked tokens judged on their secret when revoked_ok. */
static enum auth_rc
auth_pat_judge(struct store *st, const struct config *cfg, const char *token,
    time_t now, struct principal *who, const char **why, int revoked_ok)
{
	struct pat	 parsed;
	enum store_rc	 rc;
	enum auth_rc	 arc;

	principal_reset(who);
	if (token_pat_parse(token, &parsed) == -1) {
		*why = "malformed";
		return AUTH_INVALID;
	}
	who->token.number = parsed.number;
	/*
	 * The record is read every time: a revoke or an expiry bites at once.
	 */
	rc = store_token_get(st, parsed.number, &who->token);
	if (rc == STORE_NOTFOUND) {
		*why = "unknown";
		return AUTH_INVALID;
	}
	if (rc != STORE_OK) {
		*why = "storage";
		return AUTH_ERROR;
	}
	if (who->token.revoked_at != 0 && !revoked_ok) {
		*why = "revoked";
		return AUTH_INVALID;
	}
	if (who->token.expires_at != 0 && who->token.expires_at <= now &&
	    !(revoked_ok && who->token.revoked_at != 0)) {
		*why = "expired";
		return AUTH_INVALID;
	}
	/*
	 * The prefix is public, part of the token's name: a plain comparison.
	 */
	if (who->token.prefix_known &&
	    !auth_prefix_matches(&who->token, &parsed)) {
		*why = "prefix";
		return AUTH_INVALID;
	}
	arc = auth_secret(cfg, CACHE_PAT, parsed.number, parsed.core,
	    who->token.hash, now, who->rehash);
	if (arc != AUTH_OK) {
		*why = arc == AUTH_BUSY ? "throttled" :
		    arc == AUTH_ERROR ? "hash" : "wrong-secret";
		return arc;
	}
	/*
	 * A record stored before records held their prefix takes the one its
	 * secret came with on this first successful use.  Only the holder can
	 * present the secret, so the prefix it comes with is the one it was
	 * given; pinning it then costs no extra write (the use is written
	 * anyway) and needs nobody to recall which prefix was configured when.
	 */
	if (!who->token.prefix_known) {
		memcpy(who->token.prefix, parsed.prefix, parsed.prefix_len);
		who->token.prefix[parsed.prefix_len] = '\0';
		who->pin_prefix = 1;
	}
	/* same size */
	memcpy(who->user_id, who->token.user_id, sizeof(who->user_id));
	return AUTH_OK;
}

enum auth_rc
auth_pat(struct store *st, const struct config *cfg, const char *token,
    time_t now, struct principal *who, const char **why)
{
	return auth_pat_judge(st, cfg, token, now, who, why, 0);
}

enum auth_rc
auth_pat_revoked_too(struct store *st, const struct config *cfg,
    const char *token, time_t now, struct principal *who, const char **why)
{
	return auth_pat_judge(st, cfg, token, now, who, why, 1);
}

void
auth_pat_used(struct store *st, const struct principal *who, const char *addr,
    time_t now)
{
	store_token_touch(st, &who->token,
	    who->rehash[0] != '\0' ? who->rehash : NULL,
	    who->pin_prefix ? who->token.prefix : NULL, addr, now);
}

enum auth_rc
auth_pat_bound(const struct principal *who, const char *addr, const char **why)
{
	if (who->token.bind.canary) {
		*why = "canary";
		return AUTH_INVALID;
	}
	if (!binding_addr_ok(&who->token.bind, addr)) {
		*why = "address";
		return AUTH_INVALID;
	}
	return AUTH_OK;
}
