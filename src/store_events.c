/*
 * store_events.c: the queue of events for token owners (events.db).
 * Store code appends an event inside the transaction of the change it
 * describes, so the two commit or abort together; patgate notify takes
 * them oldest first and deletes each once delivered.  An event holds
 * names, ids and times, never a secret or a hash.
 *
 * Keys: "e" + 8-byte big-endian sequence number -> the event (JSON);
 * "n" -> the next sequence number; "x" + token number -> the expiry of a
 * token whose token.expiring is queued already (once per token).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

#define EVENT_KEY_NEXT	'n'
#define EVENT_KEY_EVENT	'e'
#define EVENT_KEY_MARK	'x'
#define EVENT_EXPIRING_BATCH	1000	/* tokens queued a pass, at most */

static void
store_event_key(char kind, uint64_t n, unsigned char out[9])
{
	out[0] = (unsigned char)kind;
	store_be64(n, out + 1);
}

/* Take the next sequence number in txn (write-locked till it ends). */
static int
store_event_seq(struct store *st, DB_TXN *txn, uint64_t *seq)
{
	unsigned char	 buf[8], k = EVENT_KEY_NEXT;
	DBT		 key, val;
	int		 rc;

	store_dbt(&key, &k, 1);
	memset(&val, 0, sizeof(val));
	val.data = buf;
	val.ulen = sizeof(buf);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_EVENTS]->get(st->db[DB_EVENTS], txn, &key, &val, DB_RMW);
	if (rc == DB_NOTFOUND || (rc == 0 && val.size != sizeof(buf)))
		*seq = 1;
	else if (rc != 0)
		return rc;
	else
		*seq = store_from_be64(buf);
	store_be64(*seq + 1, buf);
	store_dbt(&val, buf, sizeof(buf));
	return st->db[DB_EVENTS]->put(st->db[DB_EVENTS], txn, &key, &val, 0);
}

int
store_event_append(struct store *st, DB_TXN *txn, const char *event,
    const struct token_rec *t, time_t at, struct json_object *details)
{
	struct json_object *o;
	unsigned char	 k[9];
	const char	*text;
	uint64_t	 seq;
	DBT		 key, val;
	int		 rc;

	if ((rc = store_event_seq(st, txn, &seq)) != 0)
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return ENOMEM;
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "at", json_object_new_int64((int64_t)at));
	json_object_object_add(o, "user", json_object_new_string(t->user_id));
	json_object_object_add(o, "token", json_object_new_string(t->id));
	json_object_object_add(o, "number",
	    json_object_new_int64((int64_t)t->number));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "expires_at",
	    json_object_new_int64((int64_t)t->expires_at));
	json_object_object_add(o, "details", details != NULL ?
	    json_object_get(details) : json_object_new_object());
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	store_event_key(EVENT_KEY_EVENT, seq, k);
	store_dbt(&key, k, sizeof(k));
	store_dbt(&val, text, strlen(text));
	rc = st->db[DB_EVENTS]->put(st->db[DB_EVENTS], txn, &key, &val, 0);
	json_object_put(o);
	return rc;
}

void
store_event_release(struct event_rec *e)
{
	json_object_put(e->details);
	e->details = NULL;
}

/* Copy string key of o into dst of size cap; 0, or -1 if absent or too long. */
static int
store_event_str(struct json_object *o, const char *k, char *dst, size_t cap)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= cap)
		return -1;
	memcpy(dst, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

static int64_t
store_event_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

/* Decode a stored event into e (details taken).  0, or -1 if damaged. */
static int
store_event_decode(const void *data, size_t len, struct event_rec *e)
{
	struct json_object *o, *d;
	struct json_tokener *tok;
	int		 rc = -1;

	if ((tok = json_tokener_new()) == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, data, (int)len);
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    store_event_int(o, "v") != 1 ||
	    store_event_str(o, "event", e->event, sizeof(e->event)) == -1 ||
	    store_event_str(o, "user", e->user_id, sizeof(e->user_id)) == -1 ||
	    store_event_str(o, "token", e->token_id,
	    sizeof(e->token_id)) == -1 ||
	    store_event_str(o, "name", e->token_name,
	    sizeof(e->token_name)) == -1)
		goto out;
	e->at = (time_t)store_event_int(o, "at");
	e->token_number = (uint64_t)store_event_int(o, "number");
	e->token_expires_at = (time_t)store_event_int(o, "expires_at");
	if (!json_object_object_get_ex(o, "details", &d) ||
	    !json_object_is_type(d, json_type_object))
		goto out;
	e->details = json_object_get(d);
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

struct event_next {
	uint64_t	 after;
	struct event_rec *e;
};

static int
store_event_next_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct event_next *q = arg;
	unsigned char	 k[9];
	DBC		*c;
	DBT		 key, val;
	int		 rc;

	if ((rc = st->db[DB_EVENTS]->cursor(st->db[DB_EVENTS], txn, &c,
	    0)) != 0)
		return rc;
	store_event_key(EVENT_KEY_EVENT, q->after + 1, k);
	memset(&key, 0, sizeof(key));
	key.data = k;
	key.size = key.ulen = sizeof(k);
	key.flags = DB_DBT_USERMEM;
	memset(&val, 0, sizeof(val));
	/*
	 * Damaged events are stepped over: they would block the queue for ever.
	 */
	for (rc = c->get(c, &key, &val, DB_SET_RANGE); rc == 0;
	    rc = c->get(c, &key, &val, DB_NEXT)) {
		if (key.size != sizeof(k) || k[0] != EVENT_KEY_EVENT) {
			rc = DB_NOTFOUND;
			break;
		}
		memset(q->e, 0, sizeof(*q->e));
		q->e->seq = store_from_be64(k + 1);
		if (store_event_decode(val.data, val.size, q->e) == 0)
			break;
		fprintf(stderr, "patgate: db: damaged event %llu skipped\n",
		    (unsigned long long)q->e->seq);
	}
	if (rc == DB_NOTFOUND)
		*verdict = STORE_NOTFOUND;
	return store_cursor_done(c, rc);
}

enum store_rc
store_event_next(struct store *st, uint64_t after, struct event_rec *e)
{
	struct event_next q = { after, e };

	memset(e, 0, sizeof(*e));
	return store_read(st, store_event_next_txn, &q);
}

static int
store_event_delete_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	unsigned char	 k[9];
	DBT		 key;
	int		 rc;

	store_event_key(EVENT_KEY_EVENT, *(const uint64_t *)arg, k);
	store_dbt(&key, k, sizeof(k));
	rc = st->db[DB_EVENTS]->del(st->db[DB_EVENTS], txn, &key, 0);
	if (rc == DB_NOTFOUND) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	return rc;
}

enum store_rc
store_event_delete(struct store *st, uint64_t seq)
{
	/* Synchronous: a delivered event that came back would be sent twice. */
	return store_txn(st, 0, DB_TXN_SYNC, store_event_delete_txn, &seq);
}

struct event_put {
	const char	*event;
	const struct token_rec *t;
	time_t		 at;
	struct json_object *details;
};

static int
store_event_queue_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	const struct event_put *q = arg;

	(void)verdict;
	return store_event_append(st, txn, q->event, q->t, q->at, q->details);
}

enum store_rc
store_event_queue(struct store *st, const char *event,
    const struct token_rec *t, time_t at, struct json_object *details)
{
	struct event_put q = { event, t, at, details };

	return store_txn(st, 0, DB_TXN_SYNC, store_event_queue_txn, &q);
}

/* ----------------------------------------------------------- token.expiring */

struct expiring {
	time_t		 now, horizon;
	uint64_t	*nums;		/* candidates found by the walk */
	size_t		 n, cap;
	uint64_t	 number;	/* the one being queued */
	unsigned long	 queued;
};

/* Walk every token (a read each, no lock kept) for live ones expiring soon. */
static int
store_expiring_walk_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct expiring	*q = arg;
	struct token_rec *t;
	unsigned char	 mk[9];
	DBC		*c;
	DBT		 key, val, mkey, mval;
	int		 rc;

	(void)verdict;
	q->n = 0;
	if ((t = malloc(sizeof(*t))) == NULL)
		return ENOMEM;
	if ((rc = st->db[DB_TOKENS]->cursor(st->db[DB_TOKENS], txn, &c,
	    0)) != 0) {
		free(t);
		return rc;
	}
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while (q->n < q->cap && (rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		if (key.size != 8 ||
		    store_uncodec_token(val.data, val.size, t) == -1)
			continue;
		if (t->revoked_at != 0 || t->expires_at == 0 ||
		    t->expires_at <= q->now || t->expires_at > q->horizon)
			continue;
		/*
		 * Marked already: not a candidate, so a pass always moves on.
		 */
		store_event_key(EVENT_KEY_MARK, store_from_be64(key.data), mk);
		store_dbt(&mkey, mk, sizeof(mk));
		memset(&mval, 0, sizeof(mval));
		mval.flags = DB_DBT_PARTIAL; /* whether it is there, no more */
		rc = st->db[DB_EVENTS]->get(st->db[DB_EVENTS], txn, &mkey,
		    &mval, 0);
		if (rc == 0)
			continue;
		if (rc != DB_NOTFOUND)
			break;
		rc = 0;
		q->nums[q->n++] = store_from_be64(key.data);
	}
	free(t);
	return store_cursor_done(c, rc);
}

/* Queue token.expiring for q->number unless queued before or no longer due. */
static int
store_expiring_one_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct expiring	*q = arg;
	struct token_rec *t;
	unsigned char	 k[9], when[8], tk[8];
	DBT		 key, val, tkey;
	int		 rc;

	store_event_key(EVENT_KEY_MARK, q->number, k);
	store_dbt(&key, k, sizeof(k));
	memset(&val, 0, sizeof(val));
	val.data = when;
	val.ulen = sizeof(when);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_EVENTS]->get(st->db[DB_EVENTS], txn, &key, &val, DB_RMW);
	if (rc == 0 || rc == DB_BUFFER_SMALL) {
		*verdict = STORE_EXISTS;
		return 0;
	}
	if (rc != DB_NOTFOUND)
		return rc;
	if ((t = malloc(sizeof(*t))) == NULL)
		return ENOMEM;
	store_be64(q->number, tk);
	store_dbt(&tkey, tk, sizeof(tk));
	store_dbt_out(&val);
	rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &tkey, &val, 0);
	if (rc == 0 && store_uncodec_token(val.data, val.size, t) != -1 &&
	    t->revoked_at == 0 && t->expires_at > q->now &&
	    t->expires_at <= q->horizon) {
		t->number = q->number;
		store_be64((uint64_t)t->expires_at, when);
		free(val.data);
		store_dbt(&val, when, sizeof(when));
		if ((rc = st->db[DB_EVENTS]->put(st->db[DB_EVENTS], txn, &key,
		    &val, 0)) == 0)
			rc = store_event_append(st, txn, "token.expiring", t,
			    q->now, NULL);
	} else {
		if (rc == 0)
			free(val.data);
		*verdict = STORE_NOTFOUND;
		rc = rc == DB_NOTFOUND ? 0 : rc;
	}
	free(t);
	return rc;
}

enum store_rc
store_event_queue_expiring(struct store *st, time_t now, time_t horizon,
    unsigned long *queued)
{
	struct expiring	 q;
	enum store_rc	 rc;
	size_t		 i;

	memset(&q, 0, sizeof(q));
	q.now = now;
	q.horizon = horizon;
	q.cap = EVENT_EXPIRING_BATCH;
	*queued = 0;
	if ((q.nums = calloc(q.cap, sizeof(*q.nums))) == NULL)
		return STORE_ERROR;
	/*
	 * Found without a transaction, so that no worker waits on the walk;
	 * each is then queued in its own, which checks again and marks it.
	 */
	rc = store_read(st, store_expiring_walk_txn, &q);
	for (i = 0; rc == STORE_OK && i < q.n; i++) {
		q.number = q.nums[i];
		switch (store_txn(st, 0, DB_TXN_SYNC, store_expiring_one_txn,
		    &q)) {
		case STORE_OK:
			(*queued)++;
			break;
		case STORE_EXISTS:
		case STORE_NOTFOUND:
			break;
		default:
			rc = STORE_ERROR;
		}
	}
	free(q.nums);
	return rc;
}

/* A prune's step for one key of the queue: a mark whose token is gone goes. */
static int
store_event_prune_one(struct store *st, DB_TXN *txn, const DBT *key,
    const DBT *val, void *arg, int *remove)
{
	const unsigned char *k = key->data;
	DBT		 tkey, tval;
	int		 rc;

	(void)val;
	(void)arg;
	if (key->size != 9 || k[0] != EVENT_KEY_MARK)
		return 0;
	store_dbt(&tkey, k + 1, 8);
	memset(&tval, 0, sizeof(tval));
	tval.flags = DB_DBT_PARTIAL;	/* whether it is there, no more */
	rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &tkey, &tval, 0);
	if (rc == DB_NOTFOUND) {
		*remove = 1;
		return 0;
	}
	return rc;
}

enum store_rc
store_event_prune(struct store *st, unsigned long *removed)
{
	return store_sweep(st, DB_EVENTS, store_event_prune_one, NULL, removed);
}
