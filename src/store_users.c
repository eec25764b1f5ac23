/* store_users.c: users (with their email index) and sessions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_private.h"

/* ------------------------------------------------------------ users */

void
store_lower(const char *s, char *out, size_t cap)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] =
		    (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[i] = '\0';
}

static int
store_user_add_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_rec	*u = arg;
	char		 email[256], *enc;
	size_t		 len;
	DBT		 key, val;
	int		 rc;

	store_lower(u->email, email, sizeof(email));
	store_dbt(&key, email, strlen(email));
	store_dbt(&val, u->id, UUID_LEN);
	rc = st->db[DB_EMAILS]->put(st->db[DB_EMAILS], txn, &key, &val,
	    DB_NOOVERWRITE);
	if (rc == DB_KEYEXIST) {
		*verdict = STORE_EXISTS;
		return 0;
	}
	if (rc != 0)
		return rc;
	if ((enc = store_codec_user(u, &len)) == NULL)
		return ENOMEM;
	store_dbt(&key, u->id, UUID_LEN);
	store_dbt(&val, enc, len);
	rc = st->db[DB_USERS]->put(st->db[DB_USERS], txn, &key, &val, 0);
	free(enc);
	return rc;
}

enum store_rc
store_user_add(struct store *st, struct user_rec *u)
{
	return store_txn(st, 0, 0, store_user_add_txn, u);
}

/* Read the user whose id is key into u. */
static int
store_user_read(struct store *st, DB_TXN *txn, const char *id,
    struct user_rec *u, u_int32_t flags, enum store_rc *verdict)
{
	DBT	 key, val;
	int	 rc;

	store_dbt(&key, id, strlen(id));
	store_dbt_out(&val);
	rc = st->db[DB_USERS]->get(st->db[DB_USERS], txn, &key, &val, flags);
	if (rc == DB_NOTFOUND) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = store_uncodec_user(val.data, val.size, u);
	free(val.data);
	if (rc == -1) {
		fprintf(stderr, "patgate: db: damaged user record %s\n", id);
		return EINVAL;
	}
	return 0;
}

struct user_lookup {
	const char	*key;
	struct user_rec	*u;
};

static int
store_user_by_email_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_lookup *q = arg;
	char		 email[256], id[UUID_LEN + 1];
	DBT		 key, val;
	int		 rc;

	store_lower(q->key, email, sizeof(email));
	store_dbt(&key, email, strlen(email));
	memset(&val, 0, sizeof(val));
	val.data = id;
	val.ulen = UUID_LEN;
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_EMAILS]->get(st->db[DB_EMAILS], txn, &key, &val, 0);
	if (rc == DB_NOTFOUND || (rc == 0 && val.size != UUID_LEN)) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	id[UUID_LEN] = '\0';
	return store_user_read(st, txn, id, q->u, 0, verdict);
}

enum store_rc
store_user_by_email(struct store *st, const char *email, struct user_rec *u)
{
	struct user_lookup q = { email, u };

	if (strlen(email) >= sizeof(u->email))
		return STORE_NOTFOUND;
	return store_txn(st, 0, 0, store_user_by_email_txn, &q);
}

static int
store_user_get_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_lookup *q = arg;

	return store_user_read(st, txn, q->key, q->u, 0, verdict);
}

enum store_rc
store_user_get(struct store *st, const char *id, struct user_rec *u)
{
	struct user_lookup q = { id, u };

	return store_txn(st, 0, 0, store_user_get_txn, &q);
}

struct user_password {
	const char	*id, *hash;
	time_t		 from;		/* sessions made before then end */
};

/*
 * The time before which user_id's sessions ended (a password change), or
 * 0, into *from.
 */
static int
store_sessions_from(struct store *st, DB_TXN *txn, const char *user_id,
    time_t *from)
{
	unsigned char	 v[8];
	DBT		 key, val;
	int		 rc;

	*from = 0;
	store_dbt(&key, user_id, strlen(user_id));
	memset(&val, 0, sizeof(val));
	val.data = v;
	val.ulen = sizeof(v);
	val.flags = DB_DBT_USERMEM;
	rc = st->db[DB_SESSIONS_FROM]->get(st->db[DB_SESSIONS_FROM], txn, &key,
	    &val, 0);
	if (rc == DB_NOTFOUND || rc == DB_BUFFER_SMALL)
		return 0;
	if (rc == 0 && val.size == sizeof(v))
		*from = (time_t)store_from_be64(v);
	return rc;
}

static int
store_user_set_password_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_password *q = arg;
	struct user_rec	 u;
	unsigned char	 from[8];
	char		*enc;
	size_t		 len;
	DBT		 key, val;
	int		 rc;

	if ((rc = store_user_read(st, txn, q->id, &u, DB_RMW, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	snprintf(u.password, sizeof(u.password), "%s", q->hash);
	if ((enc = store_codec_user(&u, &len)) == NULL)
		return ENOMEM;
	store_dbt(&key, u.id, UUID_LEN);
	store_dbt(&val, enc, len);
	rc = st->db[DB_USERS]->put(st->db[DB_USERS], txn, &key, &val, 0);
	free(enc);
	if (rc != 0)
		return rc;
	store_be64((uint64_t)q->from, from);
	store_dbt(&val, from, sizeof(from));
	return st->db[DB_SESSIONS_FROM]->put(st->db[DB_SESSIONS_FROM], txn,
	    &key, &val, 0);
}

/*
 * A new password ends every session of the user made up to now, as a
 * logout would: a session made in this second or before is reported
 * revoked.  Sessions have whole seconds, so the call returns only once
 * this second is over: a login after it is never taken for an old one.
 */
enum store_rc
store_user_set_password(struct store *st, const char *id, const char *hash)
{
	struct user_password q = { id, hash, time(NULL) + 1 };
	enum store_rc	 rc;
	int		 i;

	if (strlen(hash) >= HASH_ENCODED_MAX)
		return STORE_ERROR;
	if ((rc = store_txn(st, 0, DB_TXN_SYNC, store_user_set_password_txn,
	    &q)) != STORE_OK)
		return rc;
	/*
	 * time(), as sessions are stamped with, not a finer clock ahead of it.
	 */
	for (i = 0; i < 300 && time(NULL) < q.from; i++)
		(void)usleep(10000);
	return STORE_OK;
}

struct user_rehash {
	const char	*id, *was, *hash;
};

/*
 * The same password at another cost: not a password change, so nothing
 * else about the user (its sessions above all) is touched.
 */
static int
store_user_rehash_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_rehash *q = arg;
	struct user_rec	 u;
	char		*enc;
	size_t		 len;
	DBT		 key, val;
	int		 rc;

	if ((rc = store_user_read(st, txn, q->id, &u, DB_RMW, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	if (strcmp(u.password, q->was) != 0) {
		*verdict = STORE_EXISTS; /* changed meanwhile: it stays */
		return 0;
	}
	snprintf(u.password, sizeof(u.password), "%s", q->hash);
	if ((enc = store_codec_user(&u, &len)) == NULL)
		return ENOMEM;
	store_dbt(&key, u.id, UUID_LEN);
	store_dbt(&val, enc, len);
	rc = st->db[DB_USERS]->put(st->db[DB_USERS], txn, &key, &val, 0);
	free(enc);
	return rc;
}

enum store_rc
store_user_rehash_password(struct store *st, const char *id, const char *was,
    const char *hash)
{
	struct user_rehash q = { id, was, hash };

	if (strlen(hash) >= HASH_ENCODED_MAX)
		return STORE_ERROR;
	return store_txn(st, 0, 0, store_user_rehash_txn, &q);
}

struct user_walk {
	void	(*fn)(const struct user_rec *, void *);
	void	*arg;
};

static int
store_user_each_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_walk *w = arg;
	struct user_rec	 u;
	DBC		*c;
	DBT		 key, val;
	int		 rc;

	(void)verdict;
	if ((rc = st->db[DB_USERS]->cursor(st->db[DB_USERS], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0)
		if (store_uncodec_user(val.data, val.size, &u) == 0)
			w->fn(&u, w->arg);
	return store_cursor_done(c, rc);
}

enum store_rc
store_user_each(struct store *st, void (*fn)(const struct user_rec *, void *),
    void *arg)
{
	struct user_walk w = { fn, arg };

	return store_txn(st, 0, 0, store_user_each_txn, &w);
}

/* ------------------------------------------------------------ sessions */

static int
store_session_write(struct store *st, DB_TXN *txn, const struct session_rec *s)
{
	char	*enc;
	size_t	 len;
	DBT	 key, val;
	int	 rc;

	if ((enc = store_codec_session(s, &len)) == NULL)
		return ENOMEM;
	store_dbt(&key, s->id, SESSION_ID_LEN);
	store_dbt(&val, enc, len);
	rc = st->db[DB_SESSIONS]->put(st->db[DB_SESSIONS], txn, &key, &val, 0);
	free(enc);
	return rc;
}

static int
store_session_put_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	(void)verdict;
	return store_session_write(st, txn, arg);
}

enum store_rc
store_session_put(struct store *st, const struct session_rec *s)
{
	return store_txn(st, 0, 0, store_session_put_txn, (void *)(uintptr_t)s);
}

static int
store_session_read(struct store *st, DB_TXN *txn, struct session_rec *s,
    u_int32_t flags, enum store_rc *verdict)
{
	DBT	 key, val;
	int	 rc;

	store_dbt(&key, s->id, SESSION_ID_LEN);
	store_dbt_out(&val);
	rc = st->db[DB_SESSIONS]->get(st->db[DB_SESSIONS], txn, &key, &val,
	    flags);
	if (rc == DB_NOTFOUND) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = store_uncodec_session(val.data, val.size, s);
	free(val.data);
	return rc == -1 ? EINVAL : 0;
}

static int
store_session_get_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct session_rec *s = arg;
	time_t		 from;
	int		 rc;

	if ((rc = store_session_read(st, txn, s, 0, verdict)) != 0 ||
	    *verdict != STORE_OK || s->revoked_at != 0)
		return rc;
	/* Made before the user's password changed: ended by the change. */
	if ((rc = store_sessions_from(st, txn, s->user_id, &from)) != 0)
		return rc;
	if (s->created_at < from)
		s->revoked_at = from;
	return 0;
}

enum store_rc
store_session_get(struct store *st, const char *id, struct session_rec *s)
{
	snprintf(s->id, sizeof(s->id), "%s", id);
	return store_read(st, store_session_get_txn, s);
}

struct session_revoke {
	struct session_rec s;
	time_t		 now;
};

static int
store_session_revoke_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct session_revoke *q = arg;
	int		 rc;

	if ((rc = store_session_read(st, txn, &q->s, DB_RMW, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	if (q->s.revoked_at != 0) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	q->s.revoked_at = q->now;
	return store_session_write(st, txn, &q->s);
}

struct session_rehash {
	struct session_rec s;
	const char	*was, *hash;
};

static int
store_session_rehash_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct session_rehash *q = arg;
	int		 rc;

	if ((rc = store_session_read(st, txn, &q->s, DB_RMW, verdict)) != 0 ||
	    *verdict != STORE_OK)
		return rc;
	if (q->s.revoked_at != 0 || strcmp(q->s.hash, q->was) != 0) {
		*verdict = STORE_EXISTS;
		return 0;
	}
	snprintf(q->s.hash, sizeof(q->s.hash), "%s", q->hash);
	return store_session_write(st, txn, &q->s);
}

enum store_rc
store_session_rehash(struct store *st, const char *id, const char *was,
    const char *hash)
{
	struct session_rehash q;

	memset(&q, 0, sizeof(q));
	snprintf(q.s.id, sizeof(q.s.id), "%s", id);
	q.was = was;
	q.hash = hash;
	return store_txn(st, 0, 0, store_session_rehash_txn, &q);
}

enum store_rc
store_session_revoke(struct store *st, const char *id, time_t now)
{
	struct session_revoke q;

	memset(&q, 0, sizeof(q));
	snprintf(q.s.id, sizeof(q.s.id), "%s", id);
	q.now = now;
	return store_txn(st, 0, 0, store_session_revoke_txn, &q);
}

/* A prune's step for one session: gone once expired or ended by now. */
static int
store_session_prune_one(struct store *st, DB_TXN *txn, const DBT *key,
    const DBT *val, void *arg, int *remove)
{
	const time_t	*now = arg;
	struct session_rec s;
	time_t		 from;
	int		 rc;

	(void)key;
	if (store_uncodec_session(val->data, val->size, &s) == -1)
		return 0;
	if ((s.revoked_at != 0 && s.revoked_at <= *now) ||
	    s.expires_at <= *now) {
		*remove = 1;
		return 0;
	}
	if ((rc = store_sessions_from(st, txn, s.user_id, &from)) != 0)
		return rc;
	*remove = s.created_at < from && from <= *now;
	return 0;
}

enum store_rc
store_session_prune(struct store *st, time_t now, unsigned long *removed)
{
	return store_sweep(st, DB_SESSIONS, store_session_prune_one, &now,
	    removed);
}
