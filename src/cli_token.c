/*
 * cli_token.c: the commands about PATs: token list, revoke, get, rotate
 * and bulk, and verify.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
cli_token_row(const struct token_rec *t, void *arg)
{
	struct json_out	*w = arg;
	char		 num[24];

	if (t == NULL) {		/* the walk starts over */
		w->len = 0;
		return;
	}
	JSON_OUT_LIT(w, "{");
	token_object_write(w, t, NULL, 0);
	JSON_OUT_LIT(w, ",\"number\":");
	json_out_raw(w, num, (size_t)snprintf(num, sizeof(num), "%llu",
	    (unsigned long long)t->number));
	JSON_OUT_LIT(w, ",\"revoked_at\":");
	json_out_time(w, t->revoked_at);
	JSON_OUT_LIT(w, "}\n");
}

int
cmd_token_list(struct cli *c)
{
	struct user_rec	 u;
	struct json_out	 rows = { NULL, 0, 0, 0 };

	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	/* One line a token, printed once the walk is done. */
	if (store_token_each(c->store, u.id, cli_token_row, &rows) !=
	    STORE_OK || rows.failed) {
		json_out_free(&rows);
		return 1;
	}
	if (rows.len > 0)
		fwrite(rows.buf, 1, rows.len, stdout);
	json_out_free(&rows);
	return 0;
}

/* 0 when a lookup of the token with this id found it; else say why, -1. */
static int
cli_token_found(enum store_rc rc, const char *id)
{
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_NOTFOUND)
		fprintf(stderr, "patgate: no live token with the id %s\n", id);
	else
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
	return -1;
}

int
cmd_token_revoke(struct cli *c)
{
	struct token_rec t;
	char		 num[24];
	enum store_rc	 rc;

	if (cli_open(c, 0) == -1)
		return 1;
	rc = store_token_revoke(c->store, NULL, c->argv[0], time(NULL), &t);
	if (cli_token_found(rc, c->argv[0]) == -1)
		return 1;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
	log_audit(NULL, "token.revoke", "token", num, "id", t.id,
	    "user", t.user_id, "addr", "cli", NULL);
	return 0;
}

int
cmd_token_get(struct cli *c)
{
	struct token_rec t;
	struct json_out	 w = { NULL, 0, 0, 0 };
	enum store_rc	 rc;

	if (cli_open(c, 0) == -1)
		return 1;
	rc = store_token_by_id(c->store, NULL, c->argv[0], &t);
	if (cli_token_found(rc, c->argv[0]) == -1)
		return 1;
	JSON_OUT_LIT(&w, "{");
	token_object_write(&w, &t, NULL, 0);
	JSON_OUT_LIT(&w, "}\n");
	if (!w.failed)
		fwrite(w.buf, 1, w.len, stdout);
	json_out_free(&w);
	return 0;
}

/* A rotation from the console: as the API's, the lifetime kept. */
int
cmd_token_rotate(struct cli *c)
{
	struct token_rec old, nw, was;
	struct token_input in;
	char		 core[TOKEN_CORE_LEN + 1], token[128];
	char		 num[24], from[24];
	time_t		 now = time(NULL);
	enum store_rc	 rc;
	int		 status = 1;

	core[0] = token[0] = '\0';
	if (cli_open(c, 0) == -1)
		goto out;
	rc = store_token_by_id(c->store, NULL, c->argv[0], &old);
	if (rc == STORE_OK && old.expires_at != 0 && old.expires_at <= now)
		rc = STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		fprintf(stderr,
		    "patgate: no live token with the id %s\n", c->argv[0]);
		goto out;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		goto out;
	}
	memset(&in, 0, sizeof(in));
	if (api_rotate_lifetime(&c->cfg, &old, now, &in.expires_at) == -1) {
		fprintf(stderr, "patgate: the token never expires and "
		    "PATGATE_REQUIRE_EXPIRY=1: "
		    "rotate it through the API with an expires_at\n");
		goto out;
	}
	memcpy(in.name, old.name, sizeof(in.name));
	memcpy(in.abilities, old.abilities, sizeof(in.abilities));
	in.nabilities = old.nabilities;
	in.bind = old.bind;	/* a decoy's successor is a decoy too */
	if (api_token_mint(&c->cfg, &in, old.user_id, now, &nw, core) == -1 ||
	    (rc = store_token_rotate(c->store, NULL, old.id, 0, now, &nw,
	    &was)) != STORE_OK) {
		fprintf(stderr, "patgate: the token could not be rotated\n");
		goto out;
	}
	(void)token_pat_format(token, sizeof(token), nw.number,
	    c->cfg.token_prefix, core);
	puts(token);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)nw.number);
	snprintf(from, sizeof(from), "%llu", (unsigned long long)was.number);
	log_audit(NULL, "token.rotate", "token", num, "id", nw.id, "from", from,
	    "from_id", was.id, "user", nw.user_id, "addr", "cli", NULL);
	status = 0;
out:
	explicit_bzero(core, sizeof(core));
	explicit_bzero(token, sizeof(token));
	return status;
}

#define BULK_BATCH	1000	/* tokens handed to the store at once */

/*
 * Fill t as a bulk token of u named name, created at now, holding hash.
 * 0 or -1.
 */
static int
cli_bulk_rec(struct token_rec *t, const struct user_rec *u, const char *name,
    const char *hash, const char *prefix, time_t now)
{
	memset(t, 0, sizeof(*t));
	if (token_uuid_new(t->id) == -1) {
		perror("patgate: getrandom");
		return -1;
	}
	memcpy(t->user_id, u->id, sizeof(t->user_id));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->abilities[0], sizeof(t->abilities[0]), "*");
	t->nabilities = 1;
	t->created_at = now;
	snprintf(t->hash, sizeof(t->hash), "%s", hash);
	snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
	t->prefix_known = 1;
	return 0;
}

/*
 * token bulk --each: count creates, each its own transaction through
 * store_token_create as the API's create makes them (the per-user cap
 * applies, checkpoints come as they come in a worker), to see what a long
 * run of creates does to the environment, its log directory above all.
 * The users take turns.  Commits skip the fsync, which would take most
 * of the time and changes nothing in the log; the log is written out at
 * the end instead.  Argon2 for each would take most of the time too: as
 * in a batch, every token but the first and the last holds the dummy
 * hash.  Those two get real secrets and are printed, the first, then the
 * last.
 */
static int
cli_bulk_each(struct cli *c, const struct user_rec *users, size_t nusers,
    const char *name, unsigned long count)
{
	const struct user_rec *u;
	struct token_rec t;
	char		 core[TOKEN_CORE_LEN + 1], dummy[HASH_ENCODED_MAX];
	char		 first[128], last[128], num[24], nu[24];
	unsigned long	 done = 0;
	enum store_rc	 src;
	int		 real, rc = 1;

	hash_dummy(c->cfg.argon2_m, c->cfg.argon2_t, c->cfg.argon2_p, dummy);
	store_set_nosync(c->store, 1);
	first[0] = last[0] = '\0';
	for (; done < count; done++) {
		u = &users[done % nusers];
		real = done == 0 || done + 1 == count;
		if (cli_bulk_rec(&t, u, name, dummy, c->cfg.token_prefix,
		    time(NULL)) == -1)
			goto out;
		if (real && (token_core_new(core) == -1 ||
		    hash_make(core, TOKEN_CORE_LEN, c->cfg.argon2_m,
		    c->cfg.argon2_t, c->cfg.argon2_p, t.hash) == -1)) {
			fprintf(stderr, "patgate: a token could not be made\n");
			goto out;
		}
		switch ((src = store_token_create(c->store, &t,
		    c->cfg.max_tokens_per_user, t.created_at))) {
		case STORE_OK:
			break;
		case STORE_LIMIT:
			fprintf(stderr, "patgate: %s holds %ld live tokens, "
			    "the cap (PATGATE_MAX_TOKENS_PER_USER), after %lu "
			    "creates\n", u->email, c->cfg.max_tokens_per_user,
			    done);
			goto out;
		default:
			fprintf(stderr, "patgate: %s after %lu tokens\n",
			    store_strerror(src), done);
			goto out;
		}
		if (real)
			(void)token_pat_format(done == 0 ? first : last,
			    sizeof(first), t.number, c->cfg.token_prefix,
			    core);
	}
	rc = 0;
out:
	/*
	 * What was made, all of it or up to a failure, is made durable: the
	 * log is written out, as the creates' own fsyncs would have, and the
	 * checkpoints are left to come as they came.
	 */
	if (done > 0 && store_sync(c->store) != STORE_OK) {
		fprintf(stderr,
		    "patgate: the tokens could not be flushed to disk\n");
		rc = 1;
	}
	if (rc == 0) {
		puts(first);
		if (count > 1)
			puts(last);
	}
	snprintf(num, sizeof(num), "%lu", done);
	snprintf(nu, sizeof(nu), "%zu", nusers);
	if (done > 0)
		log_audit(NULL, "token.bulk", "count", num, "users", nu,
		    "each", "yes", NULL);
	explicit_bzero(core, sizeof(core));
	explicit_bzero(first, sizeof(first));
	explicit_bzero(last, sizeof(last));
	explicit_bzero(&t, sizeof(t));
	return rc;
}

/* token bulk --each: look up every EMAIL given, then make the tokens. */
static int
cli_bulk_users(struct cli *c, const char *name, unsigned long count)
{
	struct user_rec	*users;
	size_t		 i, nusers = (size_t)c->argc - 1;
	int		 rc = 1;

	if ((users = calloc(nusers, sizeof(*users))) == NULL) {
		perror("patgate");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		goto out;
	for (i = 0; i < nusers; i++)
		if (cli_user(c, c->argv[i], &users[i]) == -1)
			goto out;
	rc = cli_bulk_each(c, users, nusers, name, count);
out:
	free(users);
	return rc;
}

/*
 * Fill a store quickly, to see how patgate behaves with many tokens.
 * Argon2 at the configured cost for each would take hours, so every
 * token but the last holds the dummy hash no secret matches: it takes
 * the room of a real one but can never be used.  The last gets a real
 * secret and is printed.  The per-user cap is not applied.
 */
int
cmd_token_bulk(struct cli *c)
{
	struct user_rec	 u;
	struct token_rec *recs = NULL;
	const char	*name = cli_opt(c, "--name");
	int		 each = cli_opt(c, "--each") != NULL;
	int		 revoked = cli_opt(c, "--revoked") != NULL;
	char		 core[TOKEN_CORE_LEN + 1], token[128];
	char		 dummy[HASH_ENCODED_MAX];
	char		 num[24];
	long long	 want;
	unsigned long	 count, done = 0;
	size_t		 i, n = 0;
	time_t		 now = time(NULL);
	enum store_rc	 src;
	int		 rc = 1;

	if ((!each && c->argc != 2) || (each && revoked))
		return cli_usage(c);
	if (cli_number(c->argv[c->argc - 1], 1, 100000000,
	    "COUNT takes a number from 1 to 100000000", &want) == -1)
		return EXIT_USAGE;
	count = (unsigned long)want;
	if (name == NULL)
		name = "bulk token";
	if (strlen(name) >= sizeof(recs->name) ||
	    !valid_utf8(name, strlen(name))) {
		fprintf(stderr, "patgate: the name must be UTF-8 of at most "
		    "255 characters\n");
		return 1;
	}
	if (each)
		return cli_bulk_users(c, name, count);
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	if ((recs = calloc(BULK_BATCH, sizeof(*recs))) == NULL) {
		perror("patgate");
		return 1;
	}
	hash_dummy(c->cfg.argon2_m, c->cfg.argon2_t, c->cfg.argon2_p, dummy);
	core[0] = '\0';
	while (done < count) {
		n = count - done < BULK_BATCH ? (size_t)(count - done) :
		    BULK_BATCH;
		for (i = 0; i < n; i++) {
			if (cli_bulk_rec(&recs[i], &u, name, dummy,
			    c->cfg.token_prefix, now) == -1)
				goto out;
			if (revoked)
				recs[i].revoked_at = now;
		}
		if (done + n == count && (token_core_new(core) == -1 ||
		    hash_make(core, TOKEN_CORE_LEN, c->cfg.argon2_m,
		    c->cfg.argon2_t, c->cfg.argon2_p,
		    recs[n - 1].hash) == -1)) {
			fprintf(stderr,
			    "patgate: the last token could not be made\n");
			goto out;
		}
		if ((src = store_token_bulk(c->store, recs, n)) != STORE_OK) {
			fprintf(stderr, "patgate: %s after %lu tokens\n",
			    store_strerror(src), done);
			goto out;
		}
		done += n;
	}
	if (store_flush(c->store) != STORE_OK) {
		fprintf(stderr,
		    "patgate: the tokens could not be flushed to disk\n");
		goto out;
	}
	(void)token_pat_format(token, sizeof(token), recs[n - 1].number,
	    c->cfg.token_prefix, core);
	puts(token);
	snprintf(num, sizeof(num), "%lu", count);
	log_audit(NULL, "token.bulk", "user", u.id, "count", num, NULL);
	rc = 0;
out:
	explicit_bzero(core, sizeof(core));
	explicit_bzero(token, sizeof(token));
	free(recs);
	return rc;
}

int
cmd_verify(struct cli *c)
{
	struct principal who;
	struct json_object *o, *ab;
	const char	*why = "";
	char		 num[24];
	size_t		 i;

	if (cli_open(c, 0) == -1)
		return 1;
	switch (auth_pat(c->store, &c->cfg, c->argv[0], time(NULL), &who,
	    &why)) {
	case AUTH_OK:
		auth_pat_used(c->store, &who, NULL, time(NULL));
		break;
	case AUTH_ERROR:
		fprintf(stderr, "patgate: %s\n", store_strerror(STORE_ERROR));
		return 1;
	default:
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)who.token.number);
		log_audit(NULL, "token.check.failed", "token",
		    who.token.number ? num : "-", "reason", why, "addr", "cli",
		    NULL);
		fprintf(stderr, "patgate: token refused (%s)\n", why);
		return 1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id",
	    json_object_new_string(who.user_id));
	json_object_object_add(o, "token_id",
	    json_object_new_string(who.token.id));
	ab = json_object_new_array();
	for (i = 0; i < who.token.nabilities; i++)
		json_object_array_add(ab,
		    json_object_new_string(who.token.abilities[i]));
	json_object_object_add(o, "abilities", ab);
	cli_print_json(o);
	return 0;
}
