/* store_admin.c: operations on the whole store: flush, backup and check. */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* for verifying a file alone */
#define STORE_VERIFY_CACHE	(16 * 1024 * 1024)

enum store_rc
store_flush(struct store *st)
{
	int	 rc;

	if (st->env == NULL)
		return STORE_ERROR;
	/*
	 * A checkpoint writes the log and the dirty pages, and drops old logs.
	 */
	if ((rc = st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE)) != 0) {
		fprintf(stderr, "patgate: db: checkpoint failed: %s\n",
		    db_strerror(rc));
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_rc
store_sync(struct store *st)
{
	int	 rc;

	if (st->env == NULL)
		return STORE_ERROR;
	if ((rc = st->env->log_flush(st->env, NULL)) != 0) {
		fprintf(stderr, "patgate: db: log flush failed: %s\n",
		    db_strerror(rc));
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * Copy the environment into target while others work on it, then run
 * catastrophic recovery on the copy so that it opens as it stands.
 */
enum store_rc
store_backup(struct store *st, const char *target, char *err, size_t errlen)
{
	DB_ENV	*copy = NULL;
	int	 rc;

	store_pending_settle(st);	/* the uses checks saw, copied too */
	if ((rc = st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE)) != 0 ||
	    (rc = st->env->backup(st->env, target,
	    DB_CREATE | DB_BACKUP_CLEAN)) != 0) {
		snprintf(err, errlen, "backup into %s failed: %s", target,
		    db_strerror(rc));
		return STORE_ERROR;
	}
	if ((rc = db_env_create(&copy, 0)) != 0 ||
	    (rc = copy->set_lg_filemode(copy, STORE_FILE_MODE)) != 0 ||
	    (rc = copy->open(copy, target,
	    DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_RECOVER_FATAL | DB_PRIVATE,
	    STORE_FILE_MODE)) != 0) {
		snprintf(err, errlen, "recovery of the copy in %s failed: %s",
		    target, db_strerror(rc));
		if (copy != NULL)
			(void)copy->close(copy, 0);
		return STORE_ERROR;
	}
	(void)copy->txn_checkpoint(copy, 0, 0, DB_FORCE);
	(void)copy->close(copy, 0);
	(void)chmod(target, 0700);
	return STORE_OK;
}

struct check {
	void		(*problem)(const char *, void *);
	void		*arg;
	unsigned long	 tokens, problems;
};

static void __attribute__((format(printf, 2, 3)))
store_check_say(struct check *q, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[256];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	q->problems++;
	q->problem(line, q->arg);
}

/*
 * Every entry of index i (whose values are token numbers) names a stored
 * token; each that does not is reported as "token N: " and what.
 */
static int
store_check_index(struct store *st, DB_TXN *txn, struct check *q,
    enum store_db i, const char *what)
{
	DBC		*c;
	DBT		 key, val, k2, v2;
	int		 rc;

	if ((rc = st->db[i]->cursor(st->db[i], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		store_dbt(&k2, val.data, val.size);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &k2, &v2,
		    0);
		free(v2.data);
		if (rc == DB_NOTFOUND)
			store_check_say(q, "token %llu: %s", val.size == 8 ?
			    (unsigned long long)store_from_be64(val.data) : 0,
			    what);
		else if (rc != 0)
			break;
	}
	return store_cursor_done(c, rc);
}

static void
store_check_live_stray(uint64_t n, void *arg)
{
	store_check_say(arg,
	    "token %llu: counted live but not stored or revoked%s",
	    (unsigned long long)n, "");
}

/* The cap would count wrong: a create refused, or one too many let in. */
static void
store_check_live_miscount(const char *user, long counted, long entries,
    void *arg)
{
	store_check_say(arg, "user %s: its live count says %ld, its index "
	    "holds %ld", user, counted, entries);
}

/*
 * Every token is indexed by its id and under its user, each unrevoked one
 * among its user's live tokens, and nothing else is.
 */
static int
store_check_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct check	*q = arg;
	struct token_rec t;
	DBC		*c;
	DBT		 key, val, k2, v2;
	unsigned char	 num[8];
	int		 rc;

	(void)verdict;
	q->tokens = q->problems = 0;
	if ((rc = st->db[DB_TOKENS]->cursor(st->db[DB_TOKENS], txn, &c,
	    0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		uint64_t n = key.size == 8 ? store_from_be64(key.data) : 0;

		q->tokens++;
		if (key.size != 8 ||
		    store_uncodec_token(val.data, val.size, &t) == -1) {
			store_check_say(q, "token %llu: damaged record%s",
			    (unsigned long long)n, "");
			continue;
		}
		memcpy(num, key.data, 8);
		store_dbt(&k2, t.id, UUID_LEN);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKEN_IDS]->get(st->db[DB_TOKEN_IDS], txn, &k2,
		    &v2, 0);
		if (rc == 0 && (v2.size != 8 || memcmp(v2.data, num, 8) != 0))
			store_check_say(q,
			    "token %llu: its id %s points elsewhere",
			    (unsigned long long)n, t.id);
		else if (rc == DB_NOTFOUND)
			store_check_say(q,
			    "token %llu: its id %s is not indexed",
			    (unsigned long long)n, t.id);
		free(v2.data);
		if (rc != 0 && rc != DB_NOTFOUND)
			break;
		store_dbt(&k2, t.user_id, UUID_LEN);
		store_dbt(&v2, num, 8);
		rc = st->db[DB_USER_TOKENS]->get(st->db[DB_USER_TOKENS], txn,
		    &k2, &v2, DB_GET_BOTH);
		if (rc == DB_NOTFOUND)
			store_check_say(q,
			    "token %llu: not listed under its user %s",
			    (unsigned long long)n, t.user_id);
		else if (rc != 0)
			break;
		t.number = n;
		/* An expired token leaves the index when a count meets it. */
		rc = t.revoked_at == 0 && st->live_ready &&
		    (t.expires_at == 0 || t.expires_at > time(NULL)) ?
		    store_live_has(st, txn, &t) : 0;
		if (rc == DB_NOTFOUND)
			store_check_say(q,
			    "token %llu: not counted among its user's live "
			    "tokens%s", (unsigned long long)n, "");
		else if (rc != 0)
			break;
		rc = 0;
	}
	if ((rc = store_cursor_done(c, rc)) != 0)
		return rc;
	/* The other way round: every index entry names a stored token. */
	if ((rc = store_check_index(st, txn, q, DB_USER_TOKENS,
	    "listed for a user but not stored")) != 0)
		return rc;
	if ((rc = store_live_check(st, txn, store_check_live_stray,
	    store_check_live_miscount, q)) != 0)
		return rc;
	return store_check_index(st, txn, q, DB_TOKEN_IDS,
	    "an id points at no stored token");
}

/*
 * Verify one database file in a private environment of its own.  In the
 * shared one, verifying a file of some 100,000 tokens ran the mutex region
 * out (its scratch pages need a mutex each) and crashed inside Berkeley
 * DB; here it takes nothing the workers need, and its pages come from the
 * file, which the checkpoint before has brought up to date.
 */
static int
store_verify(struct store *st, const char *file)
{
	DB_ENV		*env;
	DB		*db;
	int		 rc;

	if ((rc = db_env_create(&env, 0)) != 0)
		return rc;
	env->set_errcall(env, store_errcall);
	if ((rc = env->set_cachesize(env, 0, STORE_VERIFY_CACHE, 1)) == 0 &&
	    (rc = env->open(env, st->dir,
	    DB_CREATE | DB_PRIVATE | DB_INIT_MPOOL, STORE_FILE_MODE)) == 0 &&
	    (rc = db_create(&db, env, 0)) == 0)
		rc = db->verify(db, file, NULL, NULL, 0);
	(void)env->close(env, 0);
	return rc;
}

enum store_rc
store_check(struct store *st, void (*problem)(const char *, void *), void *arg,
    unsigned long *tokens)
{
	struct check	 q = { problem, arg, 0, 0 };
	enum store_rc	 rc;
	char		 line[256];
	int		 i, vrc, damaged = 0;

	*tokens = 0;
	/* Structure first: each file, after a checkpoint has written it out. */
	(void)st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE);
	for (i = 0; i < DB__MAX; i++) {
		if ((vrc = store_verify(st, store_db_files[i])) != 0) {
			snprintf(line, sizeof(line), "%s: %s",
			    store_db_files[i], db_strerror(vrc));
			problem(line, arg);
			damaged++;
		}
	}
	/*
	 * The walk below reads every file's pages through cursors, and on a
	 * page the verify found damaged Berkeley DB may read garbage as a
	 * pointer and crash: it walks only a store that verified whole.
	 */
	if (damaged > 0)
		return STORE_EXISTS;
	/*
	 * Read committed: each read lock goes when the read is done.  Held to
	 * the end, one a page, some 100,000 tokens ran the lock table out, and
	 * every create would wait for the check.  A prune or revoke that
	 * commits between a record and its index may be reported once.
	 */
	rc = store_read_txn(st, store_check_txn, &q);
	*tokens = q.tokens;
	if (rc != STORE_OK)
		return rc;
	return q.problems == 0 ? STORE_OK : STORE_EXISTS;
}

struct other_cost {
	uint32_t	 m, t, p;
	time_t		 now;
	unsigned long	 pats, sessions;
};

/* Count the live hashes in db that another cost made. */
static int
store_other_cost_walk(struct store *st, DB_TXN *txn, struct other_cost *q,
    enum store_db which)
{
	struct token_rec t;
	struct session_rec s;
	DBC		*c;
	DBT		 key, val;
	int		 rc;

	if ((rc = st->db[which]->cursor(st->db[which], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		if (which == DB_TOKENS) {
			if (store_uncodec_token(val.data, val.size, &t) != -1 &&
			    t.revoked_at == 0 &&
			    (t.expires_at == 0 || t.expires_at > q->now) &&
			    !hash_same_cost(t.hash, q->m, q->t, q->p))
				q->pats++;
		} else if (store_uncodec_session(val.data, val.size, &s) == 0 &&
		    s.revoked_at == 0 && s.expires_at > q->now &&
		    !hash_same_cost(s.hash, q->m, q->t, q->p))
			q->sessions++;
	}
	return store_cursor_done(c, rc);
}

static int
store_other_cost_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct other_cost *q = arg;
	int		 rc;

	(void)verdict;
	q->pats = q->sessions = 0;
	if ((rc = store_other_cost_walk(st, txn, q, DB_TOKENS)) != 0)
		return rc;
	return store_other_cost_walk(st, txn, q, DB_SESSIONS);
}

enum store_rc
store_count_other_cost(struct store *st, uint32_t m, uint32_t t, uint32_t p,
    time_t now, unsigned long *pats, unsigned long *sessions)
{
	struct other_cost q = { m, t, p, now, 0, 0 };
	enum store_rc	 rc;

	/* Read committed, as store_check: no lock is held past its read. */
	rc = store_read_txn(st, store_other_cost_txn, &q);
	*pats = q.pats;
	*sessions = q.sessions;
	return rc;
}
