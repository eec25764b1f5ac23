/*
 * store_lifecycle.c: a token's life after its create: read by id,
 * rotated (the old revoked and the new made in one transaction), its
 * rotated-away ancestors' reuse answered by revoking its family, and the
 * tokens nobody uses revoked in bulk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "store_private.h"

/* rotations followed; a cycle cannot be */
#define STORE_FAMILY_MAX	100000

/* The number token id is stored under; *verdict STORE_NOTFOUND if none. */
static int
store_token_number(struct store *st, DB_TXN *txn, const char *id,
    u_int32_t flags, uint64_t *n, enum store_rc *verdict)
{
	unsigned char	 num[8];
	DBT		 key, val;
	int		 rc;

	store_dbt(&key, id, strlen(id));
	memset(&val, 0, sizeof(val));
	val.data = num;
	val.ulen = sizeof(num);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_TOKEN_IDS]->get(st->db[DB_TOKEN_IDS], txn, &key, &val,
	    flags);
	if (rc == DB_NOTFOUND || (rc == 0 && val.size != sizeof(num))) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc == 0)
		*n = store_from_be64(num);
	return rc;
}

struct token_by_id {
	const char	*user_id, *id;
	struct token_rec *t;
};

static int
store_token_by_id_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_by_id *q = arg;
	uint64_t	 n = 0;
	int		 rc;

	if ((rc = store_token_number(st, txn, q->id, 0, &n, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	if ((rc = store_token_read(st, txn, n, q->t, 0, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	/* Another user's token looks exactly like an unknown one. */
	if (q->t->revoked_at != 0 ||
	    (q->user_id != NULL && strcmp(q->t->user_id, q->user_id) != 0))
		*verdict = STORE_NOTFOUND;
	return 0;
}

enum store_rc
store_token_by_id(struct store *st, const char *user_id, const char *id,
    struct token_rec *t)
{
	struct token_by_id q = { user_id, id, t };

	if (!token_uuid_valid(id))
		return STORE_NOTFOUND;
	store_pending_settle(st);	/* its uses as last seen */
	return store_read(st, store_token_by_id_txn, &q);
}

struct token_rotate {
	const char	*user_id, *id;
	uint64_t	 number;
	time_t		 now;
	struct token_rec *nw, *old;
};

/* Index nw (just numbered) by id, by user and among the live tokens. */
static int
store_token_index_new(struct store *st, DB_TXN *txn, const struct token_rec *nw)
{
	unsigned char	 k[8];
	DBT		 key, val;
	int		 rc;

	store_be64(nw->number, k);
	store_dbt(&key, nw->id, UUID_LEN);
	store_dbt(&val, k, sizeof(k));
	if ((rc = st->db[DB_TOKEN_IDS]->put(st->db[DB_TOKEN_IDS], txn, &key,
	    &val, DB_NOOVERWRITE)) != 0)
		return rc;
	store_dbt(&key, nw->user_id, UUID_LEN);
	if ((rc = st->db[DB_USER_TOKENS]->put(st->db[DB_USER_TOKENS], txn, &key,
	    &val, 0)) != 0)
		return rc;
	return store_live_add(st, txn, nw);
}

static int
store_token_rotate_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_rotate *q = arg;
	struct token_rec *old = q->old;
	db_seq_t	 n;
	uint64_t	 num = q->number;
	int		 rc;

	/*
	 * Both rotations of one token lock its record first: one waits, then
	 * finds it revoked.
	 */
	if (q->id != NULL &&
	    ((rc = store_token_number(st, txn, q->id, DB_RMW, &num,
	    verdict)) != 0 ||
	        *verdict != STORE_OK))
		return rc;
	if ((rc = store_token_read(st, txn, num, old, DB_RMW,
	    verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	if (!store_token_live(old, q->now) ||
	    (q->user_id != NULL && strcmp(old->user_id, q->user_id) != 0)) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if ((rc = st->seq->get(st->seq, txn, 1, &n, 0)) != 0)
		return rc;
	q->nw->number = (uint64_t)n;
	memcpy(q->nw->user_id, old->user_id, sizeof(old->user_id));
	memcpy(q->nw->rotated_from, old->id, sizeof(old->id));
	/* The old record is written changed; the caller gets it as it was. */
	if ((rc = store_live_del(st, txn, old)) != 0)
		return rc;
	old->revoked_at = q->now;
	old->rotated_to = q->nw->number;
	rc = store_token_write(st, txn, old);
	old->revoked_at = 0;
	old->rotated_to = 0;
	if (rc != 0 || (rc = store_token_write(st, txn, q->nw)) != 0)
		return rc;
	if ((rc = store_token_index_new(st, txn, q->nw)) != 0)
		return rc;
	if (st->stall_ms > 0)		/* tests race a second rotation here */
		usleep(st->stall_ms * 1000);
	return 0;
}

enum store_rc
store_token_rotate(struct store *st, const char *user_id, const char *id,
    uint64_t number, time_t now, struct token_rec *nw, struct token_rec *old)
{
	struct token_rotate q = { user_id, id, number, now, nw, old };
	enum store_rc	 rc;

	if (id != NULL && !token_uuid_valid(id))
		return STORE_NOTFOUND;
	/*
	 * Synchronous, as a create: the 201 carries the only copy of the new
	 * secret.
	 */
	rc = store_txn(st, 0, st->nosync ? DB_TXN_NOSYNC : DB_TXN_SYNC,
	    store_token_rotate_txn, &q);
	/* The old token is revoked: no process goes on trusting an old read. */
	store_epoch_bump(st);
	return rc;
}

struct token_family {
	uint64_t	 number;
	time_t		 now;
	unsigned long	 revoked;
};

static int
store_token_family_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct token_family *q = arg;
	struct token_rec t, reused;
	struct json_object *details;
	enum store_rc	 v = STORE_OK;
	uint64_t	 n;
	unsigned	 hops;
	int		 rc;

	(void)verdict;
	q->revoked = 0;
	if ((rc = store_token_read(st, txn, q->number, &reused, 0,
	    &v)) != 0 ||
	    v != STORE_OK)
		return rc;
	/* Rotation makes a chain: each token replaced once, by one. */
	for (hops = 0,
	    n = reused.rotated_to; n != 0 && hops < STORE_FAMILY_MAX; hops++) {
		if ((rc = store_token_read(st, txn, n, &t, DB_RMW,
		    &v)) != 0)
			return rc;
		if (v != STORE_OK)
			break;		/* pruned */
		if (t.revoked_at == 0) {
			if ((rc = store_live_del(st, txn, &t)) != 0)
				return rc;
			t.revoked_at = q->now;
			if ((rc = store_token_write(st, txn, &t)) != 0)
				return rc;
			q->revoked++;
		}
		n = t.rotated_to;
	}
	/* The owner hears of it, in the transaction that revoked the family. */
	if ((details = json_object_new_object()) == NULL)
		return ENOMEM;
	json_object_object_add(details, "revoked",
	    json_object_new_int64((int64_t)q->revoked));
	rc = store_event_append(st, txn, "token.reuse", &reused, q->now,
	    details);
	json_object_put(details);
	return rc;
}

enum store_rc
store_token_revoke_family(struct store *st, uint64_t number, time_t now,
    unsigned long *revoked)
{
	struct token_family q = { number, now, 0 };
	enum store_rc	 rc;

	rc = store_txn(st, 0, DB_TXN_SYNC, store_token_family_txn, &q);
	store_epoch_bump(st);
	*revoked = rc == STORE_OK ? q.revoked : 0;
	return rc;
}

#define UNUSED_BATCH_MAX	200 /* the sweep's batch: see store_sweep.c */

struct token_unused {
	time_t		 cutoff, now;
	struct token_rec done[UNUSED_BATCH_MAX + 1]; /* revoked in this batch */
	size_t		 ndone;
	void		(*fn)(const struct token_rec *, void *);
	void		*arg;
	unsigned long	 revoked;
};

/*
 * A sweep's step: revoke the token if it is live and unused since the cutoff.
 */
static int
store_unused_one(struct store *st, DB_TXN *txn, const DBT *key, const DBT *val,
    void *arg, int *remove)
{
	struct token_unused *q = arg;
	struct token_rec *t =
	    &q->done[q->ndone < UNUSED_BATCH_MAX ? q->ndone : UNUSED_BATCH_MAX];
	int		 rc;

	*remove = 0;
	if (key->size != 8 ||
	    (rc = store_uncodec_token(val->data, val->size, t)) == -1)
		return 0;
	t->number = store_from_be64(key->data);
	if ((rc = store_token_uses_onto(st, txn, t->number, t)) != 0)
		return rc;
	if (!store_token_live(t, q->now) ||
	    (t->last_used_at != 0 ? t->last_used_at : t->created_at) >=
	    q->cutoff)
		return 0;
	if ((rc = store_live_del(st, txn, t)) != 0)
		return rc;
	t->revoked_at = q->now;
	if ((rc = store_token_write(st, txn, t)) != 0)
		return rc;
	if (q->ndone < UNUSED_BATCH_MAX)
		q->ndone++;
	return 0;
}

/* A batch begins (its revokes so far forgotten) or committed (told). */
static void
store_unused_batch(void *arg, int committed)
{
	struct token_unused *q = arg;
	size_t		 i;

	if (committed)
		for (i = 0; i < q->ndone; i++) {
			q->revoked++;
			if (q->fn != NULL)
				q->fn(&q->done[i], q->arg);
		}
	q->ndone = 0;
}

enum store_rc
store_token_revoke_unused(struct store *st, time_t cutoff, time_t now,
    void (*fn)(const struct token_rec *, void *), void *arg,
    unsigned long *revoked)
{
	struct token_unused *q;
	unsigned long	 removed;
	enum store_rc	 rc;

	*revoked = 0;
	/* A use still waiting to be written is a use. */
	store_pending_settle(st);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return STORE_ERROR;
	q->cutoff = cutoff;
	q->now = now;
	q->fn = fn;
	q->arg = arg;
	rc = store_sweep_batched(st, DB_TOKENS, store_unused_one,
	    store_unused_batch, q, &removed);
	store_epoch_bump(st);
	*revoked = q->revoked;
	free(q);
	return rc;
}
