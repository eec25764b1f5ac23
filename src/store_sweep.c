/*
 * store_sweep.c: walks over a whole database that delete as they go (the
 * prunes), a bounded batch of records a transaction.  One transaction
 * over 150,000 tokens ran the lock table out, and the environment was
 * left unopenable; a batch holds a few hundred locks whatever the size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

#define STORE_SWEEP_BATCH	200	/* records looked at a transaction */
#define STORE_SWEEP_KEY_MAX	1024

struct sweep {
	enum store_db	 db;
	store_sweep_fn	 fn;
	void		*arg;
	store_batch_fn	 batch;		/* or NULL */
	unsigned char	 from[STORE_SWEEP_KEY_MAX];	/* the last key done */
	size_t		 fromlen;
	int		 started;
	/* What one batch did, kept only once it commits. */
	unsigned char	 last[STORE_SWEEP_KEY_MAX];
	size_t		 lastlen;
	unsigned long	 removed;
	int		 done;
};

/* One batch: up to STORE_SWEEP_BATCH records after the last key done. */
static int
store_sweep_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct sweep	*q = arg;
	DBC		*c;
	DBT		 key, val;
	unsigned	 seen = 0;
	u_int32_t	 op = DB_FIRST;
	int		 rc, remove;

	(void)verdict;
	if (q->batch != NULL)
		q->batch(q->arg, 0);	/* a batch, or its retry, begins */
	q->removed = 0;
	q->done = 0;
	q->lastlen = 0;
	if ((rc = st->db[q->db]->cursor(st->db[q->db], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	if (q->started) {
		key.data = q->from;
		key.size = (u_int32_t)q->fromlen;
		op = DB_SET_RANGE;
	}
	while ((rc = c->get(c, &key, &val, op | DB_RMW)) == 0) {
		op = DB_NEXT;
		/* The last key done, still there: it was kept. */
		if (q->started && seen == 0 && key.size == q->fromlen &&
		    memcmp(key.data, q->from, q->fromlen) == 0)
			continue;
		if (key.size > STORE_SWEEP_KEY_MAX)
			continue;	/* no store key is this long */
		remove = 0;
		if ((rc = q->fn(st, txn, &key, &val, q->arg, &remove)) != 0)
			break;
		if (remove) {
			if ((rc = c->del(c, 0)) != 0)
				break;
			q->removed++;
		}
		memcpy(q->last, key.data, key.size);
		q->lastlen = key.size;
		if (++seen == STORE_SWEEP_BATCH)
			break;
	}
	if (rc == DB_NOTFOUND)
		q->done = 1;
	return store_cursor_done(c, rc);
}

enum store_rc
store_sweep(struct store *st, enum store_db i, store_sweep_fn fn, void *arg,
    unsigned long *removed)
{
	return store_sweep_batched(st, i, fn, NULL, arg, removed);
}

enum store_rc
store_sweep_batched(struct store *st, enum store_db i, store_sweep_fn fn,
    store_batch_fn batch, void *arg, unsigned long *removed)
{
	struct sweep	*q;
	enum store_rc	 rc = STORE_OK;

	*removed = 0;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return STORE_ERROR;
	q->db = i;
	q->fn = fn;
	q->arg = arg;
	q->batch = batch;
	for (;;) {
		if ((rc = store_txn(st, 0, DB_TXN_NOSYNC, store_sweep_txn,
		    q)) != STORE_OK)
			break;
		*removed += q->removed;
		if (batch != NULL)
			batch(arg, 1);	/* it committed */
		if (q->done || q->lastlen == 0)
			break;
		memcpy(q->from, q->last, q->lastlen);
		q->fromlen = q->lastlen;
		q->started = 1;
	}
	free(q);
	/* What was removed is as durable as a synchronous commit makes it. */
	if (rc == STORE_OK && store_sync(st) != STORE_OK)
		rc = STORE_ERROR;
	return rc;
}
