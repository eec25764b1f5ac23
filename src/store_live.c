/*
 * store_live.c: each user's unrevoked tokens, ordered by expiry, and how
 * many there are, so that the per-user cap costs the same with 10 tokens
 * behind the user or 100,000, live, revoked or pruned: the count is one
 * record, less the entries that have expired since they were put, which
 * the count takes out as it meets them (each once).  A create adds its
 * token, a revoke and a prune take theirs out, in the same transaction.  An
 * environment made before the index gains it on open (store_live_upgrade);
 * until then the count says it is not ready and the caller walks the tokens
 * instead.
 */
#include <sys/file.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_private.h"

#define LIVE_READY_KEY		"ready"		/* no user id is this short */
#define LIVE_UPGRADE_FILE	"patgate.upgrade"

static int	store_live_ready(struct store *, DB_TXN *, int *ready);

#define LIVE_COUNT_TAG		"n:"		/* "n:" + user id: the count */

/*
 * Add delta to user_id's count of entries and give the new count in *out
 * (if not NULL).  The count is an 8-byte value under its own key, which
 * no entry (16 bytes, under the bare user id) is taken for.
 */
static int
store_live_tally(struct store *st, DB_TXN *txn, const char *user_id, long delta,
    long *out)
{
	char		 k[sizeof(LIVE_COUNT_TAG) + UUID_LEN + 1];
	unsigned char	 v[8];
	DB		*db = st->db[DB_USER_LIVE];
	DBT		 key, val;
	int64_t		 n = 0;
	int		 rc;

	snprintf(k, sizeof(k), "%s%s", LIVE_COUNT_TAG, user_id);
	store_dbt(&key, k, strlen(k));
	memset(&val, 0, sizeof(val));
	val.data = v;
	val.ulen = sizeof(v);
	val.flags = DB_DBT_USERMEM;
	rc = db->get(db, txn, &key, &val, txn != NULL ? DB_RMW : 0);
	if (rc == 0 && val.size == sizeof(v))
		n = (int64_t)store_from_be64(v);
	else if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	if (delta != 0) {
		n += delta;
		if (n < 0)
			n = 0;
		/* Sorted duplicates cannot be overwritten in place: replace. */
		if (rc == 0 && (rc = db->del(db, txn, &key, 0)) != 0)
			return rc;
		store_be64((uint64_t)n, v);
		store_dbt(&val, v, sizeof(v));
		if ((rc = db->put(db, txn, &key, &val, 0)) != 0)
			return rc;
	}
	if (out != NULL)
		*out = (long)n;
	return 0;
}

/* An entry: the expiry (never: the largest) then the number, big-endian. */
static void
store_live_entry(const struct token_rec *t, unsigned char out[16])
{
	store_be64(t->expires_at == 0 ? UINT64_MAX : (uint64_t)t->expires_at,
	    out);
	store_be64(t->number, out + 8);
}

int
store_live_add(struct store *st, DB_TXN *txn, const struct token_rec *t)
{
	unsigned char	 e[16];
	DBT		 key, val;
	int		 rc;

	store_live_entry(t, e);
	store_dbt(&key, t->user_id, strlen(t->user_id));
	store_dbt(&val, e, sizeof(e));
	rc = st->db[DB_USER_LIVE]->put(st->db[DB_USER_LIVE], txn, &key, &val,
	    DB_NODUPDATA);
	if (rc == DB_KEYEXIST)
		return 0;	/* there already: counted then */
	return rc != 0 ? rc : store_live_tally(st, txn, t->user_id, 1, NULL);
}

int
store_live_del(struct store *st, DB_TXN *txn, const struct token_rec *t)
{
	unsigned char	 e[16];
	DBC		*c;
	DBT		 key, val;
	int		 rc;

	store_live_entry(t, e);
	if ((rc = st->db[DB_USER_LIVE]->cursor(st->db[DB_USER_LIVE], txn, &c,
	    0)) != 0)
		return rc;
	store_dbt(&key, t->user_id, strlen(t->user_id));
	store_dbt(&val, e, sizeof(e));
	if ((rc = c->get(c, &key, &val, DB_GET_BOTH | DB_RMW)) == 0 &&
	    (rc = c->del(c, 0)) == 0)
		rc = store_live_tally(st, txn, t->user_id, -1, NULL);
	return store_cursor_done(c, rc);
}

/* Is unrevoked token t in the index?  0, DB_NOTFOUND or an error. */
int
store_live_has(struct store *st, DB_TXN *txn, const struct token_rec *t)
{
	unsigned char	 e[16];
	DBT		 key, val;

	store_live_entry(t, e);
	store_dbt(&key, t->user_id, strlen(t->user_id));
	store_dbt(&val, e, sizeof(e));
	return st->db[DB_USER_LIVE]->get(st->db[DB_USER_LIVE], txn, &key, &val,
	    DB_GET_BOTH);
}

/* How many entries user_id (len bytes) has in the index, into *n. */
static int
store_live_entries(struct store *st, DB_TXN *txn, const void *user_id,
    size_t len, long *n)
{
	DBC		*c;
	DBT		 key, val;
	db_recno_t	 count = 0;
	int		 rc;

	*n = 0;
	if ((rc = st->db[DB_USER_LIVE]->cursor(st->db[DB_USER_LIVE], txn, &c,
	    0)) != 0)
		return rc;
	store_dbt(&key, user_id, len);
	memset(&val, 0, sizeof(val));
	val.flags = DB_DBT_PARTIAL;	/* only where it is, not what */
	if ((rc = c->get(c, &key, &val, DB_SET)) == 0 &&
	    (rc = c->count(c, &count, 0)) == 0)
		*n = (long)count;
	return store_cursor_done(c, rc == DB_NOTFOUND ? 0 : rc);
}

/*
 * fn(number, arg) for each entry of the index whose token is not stored
 * or is revoked, and miscount(user, counted, entries, arg) for each user
 * whose count is not the number of its entries.  The index being built
 * is not looked at.
 */
int
store_live_check(struct store *st, DB_TXN *txn, void (*fn)(uint64_t, void *),
    void (*miscount)(const char *, long, long, void *), void *arg)
{
	struct token_rec t;
	enum store_rc	 verdict;
	DBC		*c;
	DBT		 key, val, k2, v2;
	char		 user[UUID_LEN + 1], prev[UUID_LEN + 1] = "";
	db_recno_t	 dups;
	long		 counted, entries;
	int		 rc, ready, tag = (int)strlen(LIVE_COUNT_TAG);

	if ((rc = store_live_ready(st, txn, &ready)) != 0 || !ready)
		return rc;
	if ((rc = st->db[DB_USER_LIVE]->cursor(st->db[DB_USER_LIVE], txn, &c,
	    0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		if (val.size == 8 && key.size > (u_int32_t)tag &&
		    key.size - (u_int32_t)tag <= UUID_LEN &&
		    memcmp(key.data, LIVE_COUNT_TAG, (size_t)tag) == 0) {
			/* A count: as many entries under its user. */
			memcpy(user, (char *)key.data + tag,
			    key.size - (u_int32_t)tag);
			user[key.size - (u_int32_t)tag] = '\0';
			counted = (long)store_from_be64(val.data);
			if ((rc = store_live_entries(st, txn, user,
			    strlen(user), &entries)) != 0)
				break;
			if (counted > 0 && counted != entries)
				miscount(user, counted, entries, arg);
			continue;
		}
		if (val.size != 16)
			continue;	/* the mark */
		if (key.size <= UUID_LEN && (key.size != strlen(prev) ||
		    memcmp(key.data, prev, key.size) != 0)) {
			/* A user's first entry: a count of none is wrong. */
			memcpy(prev, key.data, key.size);
			prev[key.size] = '\0';
			if ((rc = c->count(c, &dups, 0)) != 0 ||
			    (rc = store_live_tally(st, txn, prev, 0,
			    &counted)) != 0)
				break;
			if (counted == 0)
				miscount(prev, 0, (long)dups, arg);
		}
		store_dbt(&k2, (unsigned char *)val.data + 8, 8);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &k2, &v2,
		    0);
		verdict = STORE_OK;
		if (rc == 0 &&
		    (store_uncodec_token(v2.data, v2.size, &t) == -1 ||
		    t.revoked_at != 0))
			verdict = STORE_NOTFOUND;
		free(v2.data);
		if (rc == DB_NOTFOUND || verdict != STORE_OK)
			fn(store_from_be64((unsigned char *)val.data + 8), arg);
		else if (rc != 0)
			break;
		rc = 0;
	}
	return store_cursor_done(c, rc);
}

/* Is the index complete?  Once it is, it stays so: the answer is kept. */
static int
store_live_ready(struct store *st, DB_TXN *txn, int *ready)
{
	unsigned char	 v[8];
	DBT		 key, val;
	int		 rc;

	*ready = st->live_ready;
	if (*ready)
		return 0;
	store_dbt(&key, LIVE_READY_KEY, sizeof(LIVE_READY_KEY) - 1);
	memset(&val, 0, sizeof(val));
	val.data = v;
	val.ulen = sizeof(v);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_USER_LIVE]->get(st->db[DB_USER_LIVE], txn, &key, &val,
	    0);
	if (rc == DB_NOTFOUND || rc == DB_BUFFER_SMALL)
		return 0;
	if (rc != 0)
		return rc;
	*ready = st->live_ready = 1;
	return 0;
}

int
store_live_count(struct store *st, DB_TXN *txn, const char *user_id, time_t now,
    long max, long *live, int *ready)
{
	unsigned char	 buf[16];
	DBC		*c;
	DBT		 key, val;
	long		 gone = 0;
	u_int32_t	 rmw;
	int		 rc;

	(void)max;	/* the count is read whole, whatever the cap */
	*live = 0;
	if ((rc = store_live_ready(st, txn, ready)) != 0 || !*ready)
		return rc;
	if ((rc = st->db[DB_USER_LIVE]->cursor(st->db[DB_USER_LIVE], txn, &c,
	    0)) != 0)
		return rc;
	/*
	 * Entries come in expiry order: those expired by now lead.  They
	 * never live again, so each is taken out the first time it is met
	 * and no count walks it twice.
	 */
	store_dbt(&key, user_id, strlen(user_id));
	memset(&val, 0, sizeof(val));
	val.data = buf;
	val.ulen = sizeof(buf);
	val.flags = DB_DBT_USERMEM;
	rmw = txn != NULL ? DB_RMW : 0;
	rc = c->get(c, &key, &val, DB_SET | rmw);
	while (rc == 0 && val.size == sizeof(buf) &&
	    store_from_be64(buf) <= (uint64_t)now) {
		/*
		 * Outside a transaction (a look, not a create): only counted.
		 */
		if (txn != NULL && (rc = c->del(c, 0)) != 0)
			break;
		gone++;
		rc = c->get(c, &key, &val, DB_NEXT_DUP | rmw);
	}
	if ((rc = store_cursor_done(c, rc)) != 0)
		return rc;
	if (txn == NULL) {
		if ((rc = store_live_tally(st, NULL, user_id, 0, live)) == 0)
			*live = *live > gone ? *live - gone : 0;
		return rc;
	}
	return store_live_tally(st, txn, user_id, -gone, live);
}

/* The build's step for one token record: index it unless revoked. */
static int
store_live_build_one(struct store *st, DB_TXN *txn, const DBT *key,
    const DBT *val, void *arg, int *remove)
{
	struct token_rec t;

	(void)arg;
	*remove = 0;
	if (key->size != 8 ||
	    store_uncodec_token(val->data, val->size, &t) == -1)
		return 0;
	t.number = store_from_be64(key->data);
	return t.revoked_at == 0 ? store_live_add(st, txn, &t) : 0;
}

static int
store_live_mark_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	DBT	 key, val;

	(void)arg;
	(void)verdict;
	store_dbt(&key, LIVE_READY_KEY, sizeof(LIVE_READY_KEY) - 1);
	store_dbt(&val, "1", 1);
	return st->db[DB_USER_LIVE]->put(st->db[DB_USER_LIVE], txn, &key, &val,
	    0);
}

/*
 * One process builds (the one that gets the upgrade file's lock); the
 * others go on with the walk until the mark is there.  The build runs
 * while creates, revokes and prunes keep the index as they would: each
 * token is read and indexed in one transaction, so none is missed or
 * indexed after its revoke.
 */
int
store_live_upgrade(struct store *st)
{
	char		 path[4200];
	unsigned long	 n;
	enum store_rc	 rc;
	int		 fd, ready = 0;

	if (store_live_ready(st, NULL, &ready) != 0 || ready)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", st->dir, LIVE_UPGRADE_FILE);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
	    STORE_FILE_MODE)) == -1)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		(void)close(fd);
		return 0;
	}
	/* Another may have finished it while this one was opening. */
	st->live_ready = 0;
	if (store_live_ready(st, NULL, &ready) != 0 || ready) {
		(void)close(fd);
		return 0;
	}
	rc = store_sweep(st, DB_TOKENS, store_live_build_one, NULL, &n);
	if (rc == STORE_OK)
		rc = store_txn(st, 0, DB_TXN_SYNC, store_live_mark_txn, NULL);
	if (rc == STORE_OK)
		st->live_ready = 1;
	else
		fprintf(stderr,
		    "patgate: db: the index of live tokens could not be "
		    "built\n");
	(void)close(fd);
	return 0;
}
