/*
 * store_tokens.c: tokens and their indexes (by id, by user, last use):
 * create, bulk load, get, the walk of a user's tokens, revoke,
 * touch and prune.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fnv.h"
#include "store_private.h"

#define STORE_BULK_BATCH	250	/* tokens a bulk transaction stores */

/* ------------------------------------------------------------ tokens */

/*
 * Get key's value from db into buf of size cap, or into a malloc'd copy if
 * it is larger; *data is set to whichever holds it.
 */
static int
store_get_into(DB *db, DB_TXN *txn, DBT *key, u_int32_t flags, void *buf,
    size_t cap, void **data, size_t *size)
{
	DBT	 val;
	int	 rc;

	memset(&val, 0, sizeof(val));
	val.data = buf;
	val.ulen = (u_int32_t)cap;
	val.flags = DB_DBT_USERMEM;
	if ((rc = db->get(db, txn, key, &val, flags)) == DB_BUFFER_SMALL) {
		store_dbt_out(&val);
		rc = db->get(db, txn, key, &val, flags);
	}
	if (rc == 0) {
		*data = val.data;
		*size = val.size;
	}
	return rc;
}

/*
 * Token n's uses (last use, recent addresses) onto t, from token_used,
 * where a use is written apart from the record: at a million tokens the
 * records a gateway checks lie a few to a page among the others, so that
 * rewriting a record wrote a page of the store back to disk for nearly
 * every use, while the uses of the tokens in use lie packed together,
 * some fifty to a page, and stay in the cache.  A record stored before
 * keeps what it held, and the later of the two is kept.  *found, when
 * asked, says whether token_used held any.  A damaged value is ignored.
 */
static int
store_token_uses_read(struct store *st, DB_TXN *txn, uint64_t n,
    struct token_rec *t, u_int32_t flags, int *found)
{
	unsigned char	 k[8], buf[512];
	void		*data;
	size_t		 size;
	DBT		 key;
	int		 rc;

	store_be64(n, k);
	store_dbt(&key, k, sizeof(k));
	rc = store_get_into(st->db[DB_TOKEN_USED], txn, &key, flags, buf,
	    sizeof(buf), &data, &size);
	if (found != NULL)
		*found = rc == 0;
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (store_uncodec_uses(data, size, t) == -1)
		fprintf(stderr, "patgate: db: damaged use record %llu\n",
		    (unsigned long long)n);
	if (data != buf)
		free(data);
	return 0;
}

int
store_token_uses_onto(struct store *st, DB_TXN *txn, uint64_t n,
    struct token_rec *t)
{
	return store_token_uses_read(st, txn, n, t, 0, NULL);
}

/* enc (len bytes, malloc'd or NULL, freed here) into db under number n. */
static int
store_put_by_number(DB *db, DB_TXN *txn, uint64_t n, char *enc, size_t len)
{
	unsigned char	 k[8];
	DBT		 key, val;
	int		 rc;

	if (enc == NULL)
		return ENOMEM;
	store_be64(n, k);
	store_dbt(&key, k, sizeof(k));
	store_dbt(&val, enc, len);
	rc = db->put(db, txn, &key, &val, 0);
	free(enc);
	return rc;
}

/* Token n's uses from t into token_used. */
static int
store_token_uses_write(struct store *st, DB_TXN *txn, uint64_t n,
    const struct token_rec *t)
{
	size_t	 len = 0;
	char	*enc = store_codec_uses(t, &len);

	return store_put_by_number(st->db[DB_TOKEN_USED], txn, n, enc, len);
}

/* Read token number n's record alone into t; keep it if asked. */
static int
store_token_read_record(struct store *st, DB_TXN *txn, uint64_t n,
    struct token_rec *t, u_int32_t flags, const struct token_keep *keep,
    enum store_rc *verdict)
{
	unsigned char	 k[8], buf[1024];
	void		*data;
	size_t		 size;
	DBT		 key;
	int		 rc;

	store_be64(n, k);
	store_dbt(&key, k, sizeof(k));
	rc = store_get_into(st->db[DB_TOKENS], txn, &key, flags, buf,
	    sizeof(buf), &data, &size);
	if (rc == DB_NOTFOUND) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = store_uncodec_token(data, size, t);
	if (rc == 0 && keep != NULL)
		store_memo_put(st, n, keep->epoch, keep->now, data, size);
	if (data != buf)
		free(data);
	if (rc == -1) {
		fprintf(stderr, "patgate: db: damaged token record %llu\n",
		    (unsigned long long)n);
		return EINVAL;
	}
	t->number = n;
	return 0;
}

/* Read token number n into t, its uses included. */
int
store_token_read(struct store *st, DB_TXN *txn, uint64_t n, struct token_rec *t,
    u_int32_t flags, enum store_rc *verdict)
{
	int	 rc;

	rc = store_token_read_record(st, txn, n, t, flags, NULL, verdict);
	if (rc != 0 || *verdict != STORE_OK)
		return rc;
	return store_token_uses_read(st, txn, n, t, 0, NULL);
}

int
store_token_write(struct store *st, DB_TXN *txn, const struct token_rec *t)
{
	size_t	 len = 0;
	char	*enc = store_codec_token(t, &len);

	store_lists_mark(st, t->user_id);
	return store_put_by_number(st->db[DB_TOKENS], txn, t->number, enc,
	    len);
}

/* Is t live (neither revoked nor expired) at now? */
int
store_token_live(const struct token_rec *t, time_t now)
{
	return t->revoked_at == 0 &&
	    (t->expires_at == 0 || t->expires_at > now);
}

/*
 * db's records from number from on, as many as a page of cap bytes holds,
 * into val (over buf: aligned, as bulk reads ask), through a cursor of its
 * own closed at once: a cursor kept positioned holds its page while its
 * next search descends from the root, and a create that holds the root
 * while it waits for that page then waits for good, on latches no
 * deadlock detector or lock timeout sees.
 */
static int
store_bulk_from(DB *db, DB_TXN *txn, uint64_t from, void *buf, u_int32_t cap,
    DBT *val)
{
	DBC		*c;
	DBT		 key;
	unsigned char	 k[8];
	int		 rc, crc;

	store_be64(from, k);
	memset(&key, 0, sizeof(key));
	key.data = k;
	key.size = key.ulen = sizeof(k);
	key.flags = DB_DBT_USERMEM;
	memset(val, 0, sizeof(*val));
	val->data = buf;
	val->ulen = cap;
	val->flags = DB_DBT_USERMEM;
	if ((rc = db->cursor(db, txn, &c, 0)) != 0)
		return rc;
	rc = c->get(c, &key, val, DB_SET_RANGE | DB_MULTIPLE_KEY);
	if ((crc = c->close(c)) != 0 && rc == 0)
		rc = crc;
	return rc;
}

/* token_used read a pageful at a time beside a walk of the records. */
struct uses_run {
	DBT		 val;
	void		*p;	/* the next entry in val; NULL: none left */
	int		 end;	/* no entry past the last page */
	int		 have;	/* key and data hold the current entry */
	u_int32_t	 pagesize; /* token_used's, asked once; 0: not yet */
	uint64_t	 key;
	void		*data;
	size_t		 len;
};

/* Token num's uses onto t, num greater than any asked of run before. */
static int
store_uses_run_onto(struct store *st, DB_TXN *txn, struct uses_run *run,
    uint64_t num, struct token_rec *t)
{
	static uint32_t	 page[65536 / sizeof(uint32_t)];
	void		*kp;
	size_t		 klen;
	int		 rc;

	while (!run->have || run->key < num) {
		if (run->p != NULL) {
			DB_MULTIPLE_KEY_NEXT(run->p, &run->val, kp, klen,
			    run->data, run->len);
			if ((run->have = run->p != NULL && klen == 8))
				run->key = store_from_be64(kp);
			continue;
		}
		if (run->end)
			return 0;
		if (run->pagesize == 0 &&
		    (rc = st->db[DB_TOKEN_USED]->get_pagesize(
		    st->db[DB_TOKEN_USED], &run->pagesize)) != 0)
			return rc;
		rc = store_bulk_from(st->db[DB_TOKEN_USED], txn, num, page,
		    run->pagesize < sizeof(page) ? run->pagesize :
		    sizeof(page), &run->val);
		if (rc == DB_NOTFOUND) {
			run->end = 1;
			return 0;
		}
		if (rc == DB_BUFFER_SMALL)	/* never, at their size */
			return store_token_uses_onto(st, txn, num, t);
		if (rc != 0)
			return rc;
		DB_MULTIPLE_INIT(run->p, &run->val);
	}
	if (run->key == num &&
	    store_uncodec_uses(run->data, run->len, t) == -1)
		fprintf(stderr, "patgate: db: damaged use record %llu\n",
		    (unsigned long long)num);
	return 0;
}

/*
 * Records for the ascending token numbers nums[0..n), read a pageful at a
 * time (a user's tokens made close together sit side by side), their uses
 * beside them likewise; fn(t, arg) for each found, *stop set when fn asks
 * to stop.
 */
static int
store_token_fetch_many(struct store *st, DB_TXN *txn,
    const unsigned char *nums, size_t n,
    int (*fn)(struct token_rec *, void *), void *arg, int *stop)
{
	static uint32_t	 page[65536 / sizeof(uint32_t)];
	struct uses_run	 run;
	struct token_rec t;
	enum store_rc	 verdict;
	DBT		 val;
	void		*p, *kp, *dp;
	size_t		 i = 0, klen, dlen;
	u_int32_t	 pagesize;
	uint64_t	 num;
	int		 rc;

	memset(&run, 0, sizeof(run));
	if ((rc = st->db[DB_TOKENS]->get_pagesize(st->db[DB_TOKENS],
	    &pagesize)) != 0)
		return rc;
	if (pagesize > sizeof(page))
		pagesize = sizeof(page);
	while (i < n && !*stop) {
		rc = store_bulk_from(st->db[DB_TOKENS], txn,
		    store_from_be64(nums + 8 * i), page, pagesize, &val);
		if (rc == DB_NOTFOUND)
			return 0;	/* the rest were pruned */
		if (rc == DB_BUFFER_SMALL) {
			/* One record larger than a page: read it alone. */
			verdict = STORE_OK;
			rc = store_token_read(st, txn,
			    store_from_be64(nums + 8 * i), &t, 0,
			    &verdict);
			if (rc != 0)
				return rc;
			if (verdict == STORE_OK && fn(&t, arg) != 0)
				*stop = 1;
			i++;
			continue;
		}
		if (rc != 0)
			return rc;
		DB_MULTIPLE_INIT(p, &val);
		while (i < n && !*stop) {
			DB_MULTIPLE_KEY_NEXT(p, &val, kp, klen, dp, dlen);
			if (p == NULL)
				break;
			if (klen != 8)
				continue;
			num = store_from_be64(kp);
			while (i < n && store_from_be64(nums + 8 * i) < num)
				i++;		/* listed, but pruned since */
			if (i == n || store_from_be64(nums + 8 * i) != num)
				continue;	/* another user's token */
			if ((rc = store_uncodec_token(dp, dlen, &t)) == -1) {
				fprintf(stderr,
				    "patgate: db: damaged token record %llu\n",
				    (unsigned long long)num);
				return EINVAL;
			}
			t.number = num;
			if ((rc = store_uses_run_onto(st, txn, &run, num,
			    &t)) != 0)
				return rc;
			if (fn(&t, arg) != 0)
				*stop = 1;
			i++;
		}
	}
	return 0;
}

/*
 * Call fn(t, arg) for user_id's tokens numbered *next and up, one
 * bufferful of their numbers (some hundreds), in number order; set *next
 * past the last one, and *stop when there are no more or fn returned
 * non-zero.  The numbers come through a cursor of their own (see
 * store_token_fetch_many on cursors kept open).
 */
static int
store_token_walk_page(struct store *st, DB_TXN *txn, const char *user_id,
    uint64_t *next, int (*fn)(struct token_rec *, void *), void *arg,
    int *stop)
{
	DBC		*c;
	DBT		 key, val;
	unsigned char	 bulk[16 * 1024], nums[16 * 1024];
	void		*p, *item;
	size_t		 itemlen, n;
	int		 rc, crc;

	store_step();		/* a long list is slow, not stuck */
	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS],
	    txn, &c, 0)) != 0)
		return rc;
	store_dbt(&key, user_id, strlen(user_id));
	memset(&val, 0, sizeof(val));
	val.data = bulk;
	val.ulen = sizeof(bulk);
	val.flags = DB_DBT_USERMEM;
	store_be64(*next, bulk);
	val.size = 8;
	rc = c->get(c, &key, &val, DB_GET_BOTH_RANGE | DB_MULTIPLE);
	if ((crc = c->close(c)) != 0 && rc == 0)
		rc = crc;
	if (rc != 0) {
		*stop = 1;
		return rc == DB_NOTFOUND ? 0 : rc;
	}
	n = 0;
	DB_MULTIPLE_INIT(p, &val);
	for (;;) {
		DB_MULTIPLE_NEXT(p, &val, item, itemlen);
		if (p == NULL)
			break;
		if (itemlen == 8 && 8 * (n + 1) <= sizeof(nums))
			memcpy(nums + 8 * n++, item, 8);
	}
	if (n == 0) {
		*stop = 1;
		return 0;
	}
	*next = store_from_be64(nums + 8 * (n - 1)) + 1;
	if ((rc = store_token_fetch_many(st, txn, nums, n, fn, arg,
	    stop)) != 0 || *stop)
		return rc;
	/* Are there more?  Looked at here, a caller needs no empty page. */
	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS],
	    txn, &c, 0)) != 0)
		return rc;
	val.ulen = 8;
	store_be64(*next, bulk);
	val.size = 8;
	rc = c->get(c, &key, &val, DB_GET_BOTH_RANGE);
	if ((crc = c->close(c)) != 0 && rc == 0)
		rc = crc;
	if (rc == DB_NOTFOUND)
		*stop = 1;
	return rc == DB_NOTFOUND ? 0 : rc;
}

/*
 * Call fn(t, arg) for each token of user_id in number order; stop early
 * when fn returns non-zero.
 */
static int
store_token_walk(struct store *st, DB_TXN *txn, const char *user_id,
    int (*fn)(struct token_rec *, void *), void *arg)
{
	uint64_t	 next = 0;
	int		 rc, stop = 0;

	while (!stop)
		if ((rc = store_token_walk_page(st, txn, user_id, &next, fn,
		    arg, &stop)) != 0)
			return rc;
	return 0;
}

struct token_create {
	struct token_rec *t;
	long		 max_live, live;
	time_t		 now;
};

static int
store_token_count_live(struct token_rec *t, void *arg)
{
	struct token_create *q = arg;

	if (store_token_live(t, q->now))
		q->live++;
	return q->live >= q->max_live;
}

static int
store_token_create_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_create *q = arg;
	db_seq_t	 n;
	unsigned char	 k[8];
	DBT		 key, val;
	int		 rc, ready;

	if ((rc = store_live_count(st, txn, q->t->user_id, q->now, q->max_live,
	    &q->live, &ready)) != 0)
		return rc;
	/*
	 * An index still being built: every token the user has, as before it.
	 */
	if (!ready &&
	    (q->live = 0, rc = store_token_walk(st, txn, q->t->user_id,
	    store_token_count_live, q)) != 0)
		return rc;
	if (q->live >= q->max_live) {
		*verdict = STORE_LIMIT;
		return 0;
	}
	/*
	 * The number comes from a transactional sequence: an abort gives it
	 * back.
	 */
	if ((rc = st->seq->get(st->seq, txn, 1, &n, 0)) != 0)
		return rc;
	q->t->number = (uint64_t)n;
	if ((rc = store_token_write(st, txn, q->t)) != 0)
		return rc;
	store_be64(q->t->number, k);
	store_dbt(&key, q->t->id, UUID_LEN);
	store_dbt(&val, k, sizeof(k));
	if ((rc = st->db[DB_TOKEN_IDS]->put(st->db[DB_TOKEN_IDS], txn, &key,
	    &val, DB_NOOVERWRITE)) != 0)
		return rc;
	store_dbt(&key, q->t->user_id, UUID_LEN);
	if ((rc = st->db[DB_USER_TOKENS]->put(st->db[DB_USER_TOKENS], txn, &key,
	    &val, 0)) != 0)
		return rc;
	if ((rc = store_live_add(st, txn, q->t)) != 0)
		return rc;
	store_stall(st);	/* tests kill a worker here, locks held */
	return 0;
}

enum store_rc
store_token_create(struct store *st, struct token_rec *t, long max_live,
    time_t now)
{
	struct token_create q = { t, max_live, 0, now };

	/* The default commit is synchronous: the 201 follows the fsync. */
	return store_txn(st, 0, st->nosync ? DB_TXN_NOSYNC : DB_TXN_SYNC,
	    store_token_create_txn, &q);
}

struct token_bulk {
	struct token_rec *recs;
	size_t		 n;
};

static int
store_token_bulk_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_bulk *q = arg;
	db_seq_t	 first;
	unsigned char	 k[8];
	DBT		 key, val;
	size_t		 i;
	int		 rc;

	(void)verdict;
	if ((rc = st->seq->get(st->seq, txn, (u_int32_t)q->n, &first, 0)) != 0)
		return rc;
	for (i = 0; i < q->n; i++) {
		q->recs[i].number = (uint64_t)first + i;
		if ((rc = store_token_write(st, txn, &q->recs[i])) != 0)
			return rc;
		store_be64(q->recs[i].number, k);
		store_dbt(&key, q->recs[i].id, UUID_LEN);
		store_dbt(&val, k, sizeof(k));
		if ((rc = st->db[DB_TOKEN_IDS]->put(st->db[DB_TOKEN_IDS], txn,
		    &key, &val, DB_NOOVERWRITE)) != 0)
			return rc;
		store_dbt(&key, q->recs[i].user_id, UUID_LEN);
		if ((rc = st->db[DB_USER_TOKENS]->put(st->db[DB_USER_TOKENS],
		    txn, &key, &val, 0)) != 0)
			return rc;
		if (q->recs[i].revoked_at == 0 &&
		    (rc = store_live_add(st, txn, &q->recs[i])) != 0)
			return rc;
	}
	return 0;
}

enum store_rc
store_token_bulk(struct store *st, struct token_rec *recs, size_t n)
{
	struct token_bulk q;
	enum store_rc	 rc = STORE_OK;
	size_t		 i;

	/*
	 * Many at once, without an fsync each: store_flush makes them
	 * durable.  A transaction takes STORE_BULK_BATCH of them, whose
	 * locks (a page of each index each) stay well inside the table.
	 */
	for (i = 0; i < n && rc == STORE_OK; i += q.n) {
		q.recs = recs + i;
		q.n = n - i < STORE_BULK_BATCH ? n - i : STORE_BULK_BATCH;
		rc = store_txn(st, 0, DB_TXN_NOSYNC, store_token_bulk_txn, &q);
	}
	return rc;
}

struct token_get {
	uint64_t	 n;
	struct token_rec *t;
	struct token_keep keep;
};

static int
store_token_get_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_get *q = arg;

	/* A check decides nothing by the uses; its touch reads them. */
	return store_token_read_record(st, txn, q->n, q->t, 0, &q->keep,
	    verdict);
}

/*
 * One record, one read: no transaction is needed around it.  A record read
 * in this second and not revoked since (store_memo.c) is not read again;
 * its last use may then trail another process's touch by that second.
 */
enum store_rc
store_token_get(struct store *st, uint64_t number, struct token_rec *t)
{
	struct token_get q = { number, t, { 0, time(NULL) } };

	if (store_memo_get(st, number, q.keep.now, t, &q.keep.epoch))
		return STORE_OK;
	return store_read(st, store_token_get_txn, &q);
}

struct token_each {
	const char	*user_id;
	void		(*fn)(const struct token_rec *, void *);
	void		*arg;
	int		 tries;
};

static int
store_token_each_cb(struct token_rec *t, void *arg)
{
	struct token_each *q = arg;

	q->fn(t, q->arg);
	return 0;
}

static int
store_token_each_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_each *q = arg;

	(void)verdict;
	if (q->tries++ > 0)
		q->fn(NULL, q->arg);	/* a retried walk starts over */
	return store_token_walk(st, txn, q->user_id, store_token_each_cb, q);
}

struct token_page {
	struct token_each each;
	uint64_t	*next;
	int		*done;
};

static int
store_token_page_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_page *q = arg;
	uint64_t	 next = *q->next;
	int		 rc;

	(void)verdict;
	if (q->each.tries++ > 0)
		q->each.fn(NULL, q->each.arg);	/* the page starts over */
	*q->done = 0;
	rc = store_token_walk_page(st, txn, q->each.user_id, &next,
	    store_token_each_cb, &q->each, q->done);
	if (rc == 0)
		*q->next = next;
	return rc;
}

enum store_rc
store_token_page(struct store *st, const char *user_id, uint64_t *next,
    void (*fn)(const struct token_rec *, void *), void *arg, int *done)
{
	struct token_page q = { { user_id, fn, arg, 0 }, next, done };

	/* Read committed and read-only, as store_token_each. */
	return store_read_txn(st, store_token_page_txn, &q);
}

enum store_rc
store_token_each(struct store *st, const char *user_id,
    void (*fn)(const struct token_rec *, void *), void *arg)
{
	struct token_each q = { user_id, fn, arg, 0 };

	store_pending_settle(st);	/* the uses as last seen */

	/*
	 * Rows go to fn as they are read, not copied first.  In a
	 * transaction, though a read-only one: outside one, each cursor would
	 * be a locker of its own, and a create holding a page the second
	 * wants while waiting for a page the first holds would wait with it
	 * for good (the deadlock detector sees no cycle through two lockers
	 * of one thread, and a lock timeout is only noticed when someone
	 * else asks for a lock).  Read committed: a page's lock goes when the
	 * cursor leaves it, so a long list holds up no create.
	 */
	return store_read_txn(st, store_token_each_txn, &q);
}

struct token_revoke {
	const char	*user_id, *id;
	time_t		 now;
	struct token_rec *t;
};

/*
 * Revoke token n in txn, read for update, and take it out of the live
 * index: unless it is revoked already, or not user_id's (NULL: anyone's),
 * when *verdict is STORE_NOTFOUND and nothing changes.  t receives the
 * token.  Both revokes, by id and by a leaked secret, come here:
 * whichever commits first wins, the other finds it revoked.
 */
static int
store_token_revoke_number(struct store *st, DB_TXN *txn, uint64_t n,
    const char *user_id, time_t now, struct token_rec *t,
    enum store_rc *verdict)
{
	int	 rc;

	if ((rc = store_token_read(st, txn, n, t, DB_RMW,
	    verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	/* Another user's token looks exactly like an unknown one. */
	if (t->revoked_at != 0 ||
	    (user_id != NULL && strcmp(t->user_id, user_id) != 0)) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	t->revoked_at = now;
	if ((rc = store_live_del(st, txn, t)) != 0)
		return rc;
	return store_token_write(st, txn, t);
}

static int
store_token_revoke_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_revoke *q = arg;
	unsigned char	 num[8];
	DBT		 key, val;
	int		 rc;

	store_dbt(&key, q->id, strlen(q->id));
	memset(&val, 0, sizeof(val));
	val.data = num;
	val.ulen = sizeof(num);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_TOKEN_IDS]->get(st->db[DB_TOKEN_IDS], txn, &key, &val,
	    DB_RMW);
	if (rc == DB_NOTFOUND || (rc == 0 && val.size != sizeof(num))) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	return store_token_revoke_number(st, txn, store_from_be64(num),
	    q->user_id, q->now, q->t, verdict);
}

enum store_rc
store_token_revoke(struct store *st, const char *user_id, const char *id,
    time_t now, struct token_rec *t)
{
	struct token_revoke q = { user_id, id, now, t };

	enum store_rc	 rc;

	if (!token_uuid_valid(id))
		return STORE_NOTFOUND;
	rc = store_txn(st, 0, DB_TXN_SYNC, store_token_revoke_txn, &q);
	/*
	 * Before the answer, whatever it is: nobody goes on trusting an old
	 * read.
	 */
	store_epoch_bump(st);
	return rc;
}

#define STORE_LEAK_BATCH	50 /* leaked tokens a transaction revokes */

struct token_revoke_leaked {
	struct token_leak *leaks;
	size_t		 n;
	time_t		 now;
	struct json_object *details;
	struct token_rec *t;		/* room for one record */
};

static int
store_token_revoke_leaked_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_revoke_leaked *q = arg;
	enum store_rc	 one;
	size_t		 i;
	int		 rc;

	(void)verdict;
	for (i = 0; i < q->n; i++)
		q->leaks[i].revoked = 0; /* a retried batch starts over */
	for (i = 0; i < q->n; i++) {
		one = STORE_OK;
		/*
		 * A number's secret never changes (a rehash keeps it): no hash
		 * to compare.
		 */
		if ((rc = store_token_revoke_number(st, txn, q->leaks[i].number,
		    NULL, q->now, q->t, &one)) != 0)
			return rc;
		/* revoked already, by another or twice listed */
		if (one != STORE_OK)
			continue;
		if ((rc = store_event_append(st, txn, "token.revoke.leaked",
		    q->t, q->now, q->details)) != 0)
			return rc;
		q->leaks[i].revoked = 1;
		memcpy(q->leaks[i].id, q->t->id, sizeof(q->leaks[i].id));
		memcpy(q->leaks[i].user_id, q->t->user_id,
		    sizeof(q->leaks[i].user_id));
	}
	return 0;
}

enum store_rc
store_token_revoke_leaked(struct store *st, struct token_leak *leaks, size_t n,
    time_t now, struct json_object *details)
{
	struct token_revoke_leaked q;
	enum store_rc	 rc = STORE_OK;
	size_t		 i;

	if (n == 0)
		return STORE_OK;
	memset(&q, 0, sizeof(q));
	q.now = now;
	q.details = details;
	if ((q.t = malloc(sizeof(*q.t))) == NULL)
		return STORE_ERROR;
	for (i = 0; i < n && rc == STORE_OK; i += q.n) {
		q.leaks = leaks + i;
		q.n = n - i < STORE_LEAK_BATCH ? n - i : STORE_LEAK_BATCH;
		rc = store_txn(st, 0, DB_TXN_SYNC,
		    store_token_revoke_leaked_txn, &q);
	}
	free(q.t);
	store_epoch_bump(st);
	return rc;
}

struct token_touch {
	uint64_t	 n;
	time_t		 now;
	const char	*read_hash; /* the hash the use was checked against */
	const char	*rehash;	/* or NULL */
	const char	*prefix;	/* or NULL */
	const char	*addr;		/* or NULL */
	const char	*user_id;	/* whose list shows the uses */
	time_t		 when;		/* out: last use as now stored */
	uint32_t	 newest;	/* out: its newest address's hash */
	int		 due;		/* out: a write is due */
	int		 late;		/* applied later: never moves back */
};

/* Is addr one a record keeps (not too long, not the CGI stand-in "-")? */
static int
store_addr_kept(const char *addr)
{
	return addr != NULL && addr[0] != '\0' && strcmp(addr, "-") != 0 &&
	    strlen(addr) <= TOKEN_IP_MAX;
}

/* A short hash of an address (FNV-1a), to know it again; 0 for none. */
static uint32_t
store_addr_hash(const char *addr)
{
	uint32_t	 h;

	if (!store_addr_kept(addr))
		return 0;
	h = fnv1a(addr);
	return h != 0 ? h : 1;
}

/* Put addr first in t's recent addresses, used at now; the oldest falls off. */
static void
store_token_use_from(struct token_rec *t, const char *addr, time_t now)
{
	size_t	 i;

	for (i = 0; i < t->nips && strcmp(t->ips[i].ip, addr) != 0; i++)
		continue;
	if (i == t->nips && t->nips < TOKEN_IPS_MAX)
		t->nips++;
	if (i == TOKEN_IPS_MAX)
		i = TOKEN_IPS_MAX - 1;
	memmove(&t->ips[1], &t->ips[0], i * sizeof(t->ips[0]));
	snprintf(t->ips[0].ip, sizeof(t->ips[0].ip), "%s", addr);
	t->ips[0].at = now;
}

/*
 * Token n's uses into u (flags: DB_RMW for an update): from token_used,
 * or the first time from the token's record (which held them before).
 * A token gone sets *verdict to STORE_NOTFOUND.
 */
static int
store_token_uses_begin(struct store *st, DB_TXN *txn, uint64_t n,
    struct token_rec *u, u_int32_t flags, enum store_rc *verdict)
{
	int	 rc, found;

	u->last_used_at = 0;
	u->nips = 0;
	if ((rc = store_token_uses_read(st, txn, n, u, flags, &found)) != 0 ||
	    found)
		return rc;
	return store_token_read_record(st, txn, n, u, 0, NULL, verdict);
}

/*
 * A new hash or the first prefix into the token's record, unless its hash
 * changed since the use was checked.
 */
static int
store_token_touch_record(struct store *st, DB_TXN *txn,
    const struct token_touch *q, enum store_rc *verdict)
{
	struct token_rec t;
	int		 rc;

	rc = store_token_read_record(st, txn, q->n, &t, DB_RMW, NULL, verdict);
	if (rc != 0 || *verdict != STORE_OK ||
	    strcmp(t.hash, q->read_hash) != 0)
		return rc;
	if (q->rehash != NULL)
		snprintf(t.hash, sizeof(t.hash), "%s", q->rehash);
	if (q->prefix != NULL && !t.prefix_known) {
		snprintf(t.prefix, sizeof(t.prefix), "%s", q->prefix);
		t.prefix_known = 1;
	}
	return store_token_write(st, txn, &t);
}

/* Is a last use at time last a minute or more before now (or after it)? */
static int
store_token_minute_due(time_t now, time_t last)
{
	return !(now >= last && now - last < 60);
}

/* Is the last use in u older than the minute, so that q's use is written? */
static int
store_token_last_use_due(const struct token_touch *q,
    const struct token_rec *u)
{
	return store_token_minute_due(q->now, u->last_used_at);
}

/*
 * Does q's use call for a write of the uses u?  The last use when due; an
 * address that is not the newest at once, unless an address was written
 * in this second already.
 */
static int
store_token_touch_due(const struct token_touch *q, const struct token_rec *u)
{
	int	 addr_due = 0;

	if (store_addr_kept(q->addr))
		addr_due = (u->nips == 0 ||
		    strcmp(u->ips[0].ip, q->addr) != 0) &&
		    !(u->nips > 0 && u->ips[0].at == q->now);
	return store_token_last_use_due(q, u) || addr_due;
}

/* What is stored of the uses u, for the process's table. */
static void
store_token_touch_seen(struct token_touch *q, const struct token_rec *u)
{
	q->when = u->last_used_at;
	q->newest = u->nips > 0 ? store_addr_hash(u->ips[0].ip) : 0;
}

/* A look at the uses outside a transaction: is a write due (q->due)? */
static int
store_token_touch_look(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_touch *q = arg;
	struct token_rec u;
	int		 rc;

	rc = store_token_uses_begin(st, txn, q->n, &u, 0, verdict);
	if (rc != 0 || *verdict != STORE_OK)
		return rc;
	q->due = store_token_touch_due(q, &u);
	store_token_touch_seen(q, &u);
	return 0;
}

/* q's use written in txn when due (a due last use refreshes the address). */
static int
store_token_touch_uses(struct store *st, DB_TXN *txn, struct token_touch *q,
    enum store_rc *verdict)
{
	struct token_rec u;
	int		 rc, due, write;

	rc = store_token_uses_begin(st, txn, q->n, &u, DB_RMW, verdict);
	if (rc != 0 || *verdict != STORE_OK)
		return rc;
	due = store_token_last_use_due(q, &u);
	write = store_token_touch_due(q, &u);
	if (q->late) {
		/* A later use already written stands for this one. */
		due = due && q->now > u.last_used_at;
		write = due || (write && !(u.nips > 0 && u.ips[0].at > q->now));
	}
	if (write) {
		if (store_addr_kept(q->addr))
			store_token_use_from(&u, q->addr, q->now);
		if (due)
			u.last_used_at = q->now;
	}
	store_token_touch_seen(q, &u);
	if (!write)
		return 0;
	store_lists_mark(st, q->user_id);
	return store_token_uses_write(st, txn, q->n, &u);
}

/* A new hash or a first prefix into the record, and the use, together. */
static int
store_token_touch_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_touch *q = arg;
	int		 rc;

	if ((q->rehash != NULL || q->prefix != NULL) &&
	    ((rc = store_token_touch_record(st, txn, q, verdict)) != 0 ||
	    *verdict != STORE_OK))
		return rc;
	return store_token_touch_uses(st, txn, q, verdict);
}

int
store_token_use_pending(struct store *st, DB_TXN *txn,
    const struct store_pending_use *u)
{
	struct token_touch q = { u->n, u->at, NULL, NULL, NULL, u->addr,
	    u->user_id, 0, 0, 0, 1 };
	enum store_rc	 verdict = STORE_OK;

	/* A token deleted since has no use to keep. */
	return store_token_touch_uses(st, txn, &q, &verdict);
}

int
store_token_use_merge(struct store *st, DB_TXN *txn, uint64_t n, time_t at,
    const char *addr)
{
	struct token_rec u, t;
	enum store_rc	 verdict = STORE_OK;
	int		 rc, changed = 0;

	rc = store_token_uses_begin(st, txn, n, &u, DB_RMW, &verdict);
	if (rc != 0 || verdict != STORE_OK)
		return rc;	/* a token deleted since is no matter */
	if (at > u.last_used_at) {
		u.last_used_at = at;
		changed = 1;
	}
	/* An address seen later than the newest the record holds. */
	if (store_addr_kept(addr) && (u.nips == 0 || at > u.ips[0].at ||
	    (at == u.ips[0].at && strcmp(u.ips[0].ip, addr) != 0))) {
		store_token_use_from(&u, addr, at);
		changed = 1;
	}
	if (!changed)
		return 0;
	/* Whose list shows them: the record says (uses read alone do not). */
	if ((rc = store_token_read_record(st, txn, n, &t, 0, NULL,
	    &verdict)) != 0)
		return rc;
	if (verdict == STORE_OK)
		store_lists_mark(st, t.user_id);
	return store_token_uses_write(st, txn, n, &u);
}

/* Note in seen (if any) what token n's uses now hold. */
static void
store_token_remember(struct store_touched *seen, uint64_t n, time_t when,
    uint32_t newest)
{
	if (seen == NULL)
		return;
	seen->n = n;
	seen->when = when;
	seen->newest = newest;
}

/* Token t's use at now from addr left in the table: 0, or -1 (write it). */
static int
store_token_touch_note(struct store *st, const struct token_rec *t,
    const char *addr, time_t now)
{
	struct store_pending_use u;

	u.n = t->number;
	u.at = now;
	snprintf(u.user_id, sizeof(u.user_id), "%s", t->user_id);
	snprintf(u.addr, sizeof(u.addr), "%s",
	    store_addr_kept(addr) ? addr : "");
	return store_pending_note(st, &u);
}

void
store_token_touch(struct store *st, const struct token_rec *t,
    const char *rehash, const char *prefix, const char *addr, time_t now)
{
	struct token_touch q = { t->number, now, t->hash, rehash, prefix,
	    addr, t->user_id, 0, 0, 0, 0 };
	struct store_touched *seen = NULL;
	uint32_t	 from = store_addr_hash(addr);
	int		 record = rehash != NULL || prefix != NULL;

	if (st->touched == NULL)
		st->touched = calloc(STORE_TOUCH_SLOTS, sizeof(*st->touched));
	if (st->touched != NULL)
		seen = &st->touched[t->number % STORE_TOUCH_SLOTS];
	/*
	 * This process wrote or read the token's uses within the minute, the
	 * address is their newest and nothing is to be rewritten: no read,
	 * no write.  Otherwise a read of the uses (the check read the record
	 * alone), and a transaction only when a write is due, which reads
	 * them again to write; no wait for a lock and no fsync, since a lost
	 * touch costs a minute's precision and a lost rewrite is made on a
	 * later use.
	 */
	if (!record && seen != NULL && seen->n == t->number &&
	    !store_token_minute_due(now, seen->when) &&
	    (from == 0 || from == seen->newest))
		return;
	/*
	 * A replica cannot write: patgate-repd carries the use to the master
	 * (an old-cost hash or a first prefix waits for a use there).
	 */
	if (store_repl_on() && store_repl_may_write(st, NULL, 0) != REPL_GO) {
		store_uses_note(st, t->number, now, addr);
		store_token_remember(seen, t->number, now, from);
		return;
	}
	/*
	 * A look first, so that a use written lately (by another process)
	 * costs no transaction; unless this process knows the last use it
	 * saw is a minute old, when a write is all but sure.
	 */
	if (!record && !(seen != NULL && seen->n == t->number &&
	    store_token_minute_due(now, seen->when)) &&
	    store_read(st, store_token_touch_look, &q) == STORE_OK && !q.due) {
		store_token_remember(seen, t->number, q.when, q.newest);
		return;
	}
	/* A use alone waits to be written with others (store_pending.c). */
	if (!record && store_token_touch_note(st, t, addr, now) == 0) {
		store_token_remember(seen, t->number, now, from);
		return;
	}
	if (store_txn(st, DB_TXN_NOWAIT, DB_TXN_NOSYNC, store_token_touch_txn,
	    &q) == STORE_OK)
		store_token_remember(seen, t->number, q.when, q.newest);
	/* This process's own reads show the new record; others' may trail. */
	if (record)
		store_memo_forget(st, t->number);
}

/*
 * Delete the index entries of token t (its id and its place in the user's
 * list).
 */
static int
store_token_unindex(struct store *st, DB_TXN *txn, const struct token_rec *t,
    const unsigned char num[8])
{
	DBC	*c;
	DBT	 key, val;
	int	 rc;

	store_lists_mark(st, t->user_id);
	store_dbt(&key, t->id, UUID_LEN);
	rc = st->db[DB_TOKEN_IDS]->del(st->db[DB_TOKEN_IDS], txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	store_dbt(&key, num, 8);
	rc = st->db[DB_TOKEN_USED]->del(st->db[DB_TOKEN_USED], txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	if ((rc = store_live_del(st, txn, t)) != 0)
		return rc;
	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS], txn,
	    &c, 0)) != 0)
		return rc;
	store_dbt(&key, t->user_id, UUID_LEN);
	store_dbt(&val, num, 8);
	rc = c->get(c, &key, &val, DB_GET_BOTH);
	if (rc == 0)
		rc = c->del(c, 0);
	return store_cursor_done(c, rc);
}

/* A prune's step for one token record: does it go? */
static int
store_prune_one(struct store *st, DB_TXN *txn, const DBT *key, const DBT *val,
    void *arg, int *remove)
{
	const time_t	*cutoff = arg;
	struct token_rec t;
	unsigned char	 num[8];

	if (key->size != 8 ||
	    store_uncodec_token(val->data, val->size, &t) == -1)
		return 0;
	if (!((t.revoked_at != 0 && t.revoked_at <= *cutoff) ||
	    (t.expires_at != 0 && t.expires_at <= *cutoff)))
		return 0;
	memcpy(num, key->data, 8);
	t.number = store_from_be64(num);
	*remove = 1;
	return store_token_unindex(st, txn, &t, num);
}

enum store_rc
store_prune(struct store *st, time_t cutoff, unsigned long *removed)
{
	enum store_rc	 rc;

	rc = store_sweep(st, DB_TOKENS, store_prune_one, &cutoff, removed);
	store_epoch_bump(st);
	return rc;
}
