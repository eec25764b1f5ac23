/* store_logins.c: the failed-login counters, by email and by address. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* ----------------------------------------------------------- login failures */

/*
 * The counter key for an email (lowercased, as the users index has it) or an
 * address.
 */
static void
store_login_key(char *out, size_t cap, const char *kind, const char *v)
{
	char	 lower[256];

	store_lower(v, lower, sizeof(lower));
	snprintf(out, cap, "%s:%s", kind, lower);
}

/*
 * Read the counter under key for update.  One that is absent, damaged or
 * whose window ended by now reads as a fresh window starting now with no
 * count; *found says whether a live record was there.
 */
static int
store_login_read(struct store *st, DB_TXN *txn, const char *key,
    struct login_rec *r, long window, time_t now, int *found)
{
	DBT	 k, val;
	int	 rc;

	*found = 0;
	r->since = now;
	r->count = 0;
	store_dbt(&k, key, strlen(key));
	store_dbt_out(&val);
	rc = st->db[DB_LOGINS]->get(st->db[DB_LOGINS], txn, &k, &val, DB_RMW);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = store_uncodec_login(val.data, val.size, r);
	free(val.data);
	/* A damaged counter is only a counter: start it again. */
	if (rc == -1 || r->since > now || now - r->since >= window) {
		r->since = now;
		r->count = 0;
		return 0;
	}
	*found = 1;
	return 0;
}

static int
store_login_write(struct store *st, DB_TXN *txn, const char *key,
    const struct login_rec *r)
{
	char	*enc;
	size_t	 len;
	DBT	 k, val;
	int	 rc;

	if ((enc = store_codec_login(r, &len)) == NULL)
		return ENOMEM;
	store_dbt(&k, key, strlen(key));
	store_dbt(&val, enc, len);
	rc = st->db[DB_LOGINS]->put(st->db[DB_LOGINS], txn, &k, &val, 0);
	free(enc);
	return rc;
}

struct login_reserve {
	char		 email[300], addr[300];
	const struct login_limits *lim;
	time_t		 now;
	long		 retry_after;
	int		 by_addr;
};

/* Is r at limit max?  Then fill in how long until its window ends. */
static int
store_login_held(const struct login_rec *r, long max, long window, time_t now,
    long *retry_after)
{
	if (r->count < max)
		return 0;
	*retry_after = (long)(r->since + window - now);
	if (*retry_after < 1)
		*retry_after = 1;
	return 1;
}

static int
store_login_reserve_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct login_reserve *q = arg;
	struct login_rec e, a;
	long		 window = q->lim->window;
	int		 rc, found;

	/*
	 * Always the email first, then the address: one order, fewer deadlocks.
	 */
	if ((rc = store_login_read(st, txn, q->email, &e, window, q->now,
	    &found)) != 0 ||
	    (rc = store_login_read(st, txn, q->addr, &a, window, q->now,
	    &found)) != 0)
		return rc;
	/* A refused attempt is not counted: the lockout does not grow. */
	if (store_login_held(&e, q->lim->max_email, window, q->now,
	    &q->retry_after)) {
		q->by_addr = 0;
		*verdict = STORE_LIMIT;
		return 0;
	}
	if (store_login_held(&a, q->lim->max_addr, window, q->now,
	    &q->retry_after)) {
		q->by_addr = 1;
		*verdict = STORE_LIMIT;
		return 0;
	}
	/* The attempt that reaches a limit starts the lockout's full window. */
	if (++e.count == q->lim->max_email)
		e.since = q->now;
	if (++a.count == q->lim->max_addr)
		a.since = q->now;
	if ((rc = store_login_write(st, txn, q->email, &e)) != 0)
		return rc;
	return store_login_write(st, txn, q->addr, &a);
}

enum store_rc
store_login_reserve(struct store *st, const char *email, const char *addr,
    const struct login_limits *lim, time_t now, long *retry_after, int *by_addr)
{
	struct login_reserve q;
	enum store_rc	 rc;

	memset(&q, 0, sizeof(q));
	store_login_key(q.email, sizeof(q.email), "email", email);
	store_login_key(q.addr, sizeof(q.addr), "addr", addr);
	q.lim = lim;
	q.now = now;
	/*
	 * No fsync: a counter lost in a machine crash costs a few guesses,
	 * while a synchronous write would make every guess cost a disk flush.
	 */
	rc = store_txn(st, 0, DB_TXN_NOSYNC, store_login_reserve_txn, &q);
	if (rc == STORE_LIMIT) {
		*retry_after = q.retry_after;
		*by_addr = q.by_addr;
	}
	return rc;
}

struct report_reserve {
	char		 key[300];
	long		 max, window, retry_after;
	time_t		 now;
};

/* Count one leaked-credential report from an address, unless it is held. */
static int
store_report_reserve_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct report_reserve *q = arg;
	struct login_rec r;
	int		 rc, found;

	if ((rc = store_login_read(st, txn, q->key, &r, q->window, q->now,
	    &found)) != 0)
		return rc;
	if (store_login_held(&r, q->max, q->window, q->now, &q->retry_after)) {
		*verdict = STORE_LIMIT;
		return 0;
	}
	if (++r.count == q->max)
		r.since = q->now;
	return store_login_write(st, txn, q->key, &r);
}

enum store_rc
store_report_reserve(struct store *st, const char *addr, long max, long window,
    time_t now, long *retry_after)
{
	struct report_reserve q;
	enum store_rc	 rc;

	memset(&q, 0, sizeof(q));
	/* A key space of its own beside the logins': "report:<addr>". */
	store_login_key(q.key, sizeof(q.key), "report", addr);
	q.max = max;
	q.window = window;
	q.now = now;
	rc = store_txn(st, 0, DB_TXN_NOSYNC, store_report_reserve_txn, &q);
	if (rc == STORE_LIMIT)
		*retry_after = q.retry_after;
	return rc;
}

struct login_success {
	char		 email[300], addr[300];
	long		 window;
	time_t		 now;
};

static int
store_login_succeeded_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct login_success *q = arg;
	struct login_rec a;
	DBT		 k;
	int		 rc, found;

	(void)verdict;
	store_dbt(&k, q->email, strlen(q->email));
	rc = st->db[DB_LOGINS]->del(st->db[DB_LOGINS], txn, &k, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	/*
	 * The address keeps its failures: one account an attacker knows
	 * must not wash out the guesses made against the others.
	 */
	if ((rc = store_login_read(st, txn, q->addr, &a, q->window, q->now,
	    &found)) != 0)
		return rc;
	if (!found || a.count == 0)
		return 0;
	a.count--;
	return store_login_write(st, txn, q->addr, &a);
}

enum store_rc
store_login_succeeded(struct store *st, const char *email, const char *addr,
    long window, time_t now)
{
	struct login_success q;

	memset(&q, 0, sizeof(q));
	store_login_key(q.email, sizeof(q.email), "email", email);
	store_login_key(q.addr, sizeof(q.addr), "addr", addr);
	q.window = window;
	q.now = now;
	return store_txn(st, 0, DB_TXN_NOSYNC, store_login_succeeded_txn, &q);
}

static int
store_login_clear_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	DBT	 k;
	int	 rc;

	(void)verdict;
	store_dbt(&k, arg, strlen(arg));
	rc = st->db[DB_LOGINS]->del(st->db[DB_LOGINS], txn, &k, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

enum store_rc
store_login_clear(struct store *st, const char *email)
{
	char	 key[300];

	store_login_key(key, sizeof(key), "email", email);
	return store_txn(st, 0, 0, store_login_clear_txn, key);
}

struct login_prune {
	long		 window;
	time_t		 now;
};

/* A prune's step for one counter: gone once its window has ended. */
static int
store_login_prune_one(struct store *st, DB_TXN *txn, const DBT *key,
    const DBT *val, void *arg, int *remove)
{
	struct login_prune *q = arg;
	struct login_rec r;

	(void)st;
	(void)txn;
	(void)key;
	*remove = !(store_uncodec_login(val->data, val->size, &r) == 0 &&
	    r.since <= q->now && q->now - r.since < q->window);
	return 0;
}

enum store_rc
store_login_prune(struct store *st, long window, time_t now,
    unsigned long *removed)
{
	struct login_prune q = { window, now };

	return store_sweep(st, DB_LOGINS, store_login_prune_one, &q, removed);
}
