/* store.c: the Berkeley DB environment, its databases and transactions. */
#include <sys/file.h>
#include <sys/stat.h>

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "patgate.h"

#define STORE_RETRIES	100		/* deadlock retries of one transaction */
#define STORE_LOCK_TIMEOUT_US	1000000	/* then look for a dead lock holder */
#define STORE_LOG_FILE_MAX	(1024 * 1024)
#define STORE_CHECKPOINT_COMMITS 1000
#define STORE_CHECKPOINT_SECONDS 30
#define STORE_CHECKPOINT_KBYTES	1024	/* of log by anyone since the last one */
#define STORE_THREADS		1024	/* slots before dead ones are reused */
#define STORE_LOCK_FILE		"patgate.lock"
#define STORE_LOCK_WAIT_MS	3000
#define STORE_OPENING_FILE	"patgate.opening"
#define STORE_FILE_MODE	0600
#define STORE_TOUCH_SLOTS	256	/* tokens this process remembers touching */
#define STORE_VERIFY_CACHE	(16 * 1024 * 1024)

enum store_db {
	DB_USERS,		/* user id -> user record */
	DB_EMAILS,		/* lowercased email -> user id */
	DB_SESSIONS,		/* session id -> session record */
	DB_TOKENS,		/* number (8 bytes, big-endian) -> token record */
	DB_TOKEN_IDS,		/* token id -> number */
	DB_USER_TOKENS,		/* user id -> numbers (sorted duplicates) */
	DB_TOKEN_USED,		/* number -> last use of a JSON-form token; read only */
	DB_SEQ,			/* the token number sequence */
	DB_LOGINS,		/* "email:..." or "addr:..." -> failed-login counter */
	DB__MAX
};

static const char *const store_db_files[DB__MAX] = {
	"users.db", "emails.db", "sessions.db", "tokens.db", "token_ids.db",
	"user_tokens.db", "token_used.db", "sequences.db", "login_failures.db",
};

struct store {
	DB_ENV		*env;
	DB		*db[DB__MAX];
	DB_SEQUENCE	*seq;
	int		 failed;	/* panic or DB_RUNRECOVERY seen */
	char		 dir[4096];
	dev_t		 dir_dev;	/* the directory opened, to notice it gone */
	ino_t		 dir_ino;
	unsigned	 commits;	/* since the last checkpoint */
	time_t		 checkpointed;
	unsigned	 stall_ms;	/* test hook: pause inside a create */
	int		 nosync;	/* creates commit without an fsync */
	int		 lockfd;	/* STORE_LOCK_FILE, for store_exclusive */
	struct {			/* tokens whose last use is known fresh */
		uint64_t	 n;
		time_t		 when;
	}		 touched[STORE_TOUCH_SLOTS];
};

/* A transaction body: returns a Berkeley DB code; a verdict aborts it. */
typedef int (*store_txn_fn)(struct store *, DB_TXN *, void *arg,
    enum store_rc *verdict);

static int	store_reopen(struct store *);
static void	store_exclusive(struct store *, int);
static int	store_failchk(struct store *);
static void	store_maintain(struct store *);

static void
store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	fprintf(stderr, "patgate: db: %s\n", msg);
}

static void
store_event(DB_ENV *env, u_int32_t event, void *info)
{
	struct store *st = env->app_private;

	(void)info;
	if (event == DB_EVENT_PANIC && st != NULL)
		st->failed = 1;
}

/* For failure checking: is the process that held a lock or mutex alive? */
static int
store_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void
store_be64(uint64_t v, unsigned char out[8])
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
store_from_be64(const void *p)
{
	const unsigned char *b = p;
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

static void
store_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)data;
	d->size = (u_int32_t)len;
}

/* A DBT whose memory Berkeley DB allocates and the caller frees. */
static void
store_dbt_out(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_MALLOC;
}

/*
 * Run fn in a transaction (or, when transactional is 0, outside one: each
 * of its reads then takes and drops its own lock), retrying the whole of
 * it on deadlock.  A verdict other than STORE_OK aborts and is returned;
 * a database error aborts and gives STORE_ERROR.
 */
static enum store_rc
store_run(struct store *st, int transactional, u_int32_t begin_flags,
    u_int32_t commit_flags, store_txn_fn fn, void *arg)
{
	DB_TXN		*txn = NULL;
	enum store_rc	 verdict;
	int		 rc = 0, try, reopened = 0, committing;

	for (try = 0; try < STORE_RETRIES; try++) {
		committing = 0;
		if (st->env == NULL)
			rc = DB_RUNRECOVERY;
		else if (!transactional) {
			verdict = STORE_OK;
			if ((rc = fn(st, NULL, arg, &verdict)) == 0)
				return verdict;
		} else if ((rc = st->env->txn_begin(st->env, NULL, &txn, begin_flags)) == 0) {
			verdict = STORE_OK;
			rc = fn(st, txn, arg, &verdict);
			if (rc == 0 && verdict == STORE_OK) {
				committing = 1;
				if ((rc = txn->commit(txn, commit_flags)) == 0) {
					store_maintain(st);
					return STORE_OK;
				}
			} else
				(void)txn->abort(txn);
			if (rc == 0)
				return verdict;
		}
		if (rc == DB_RUNRECOVERY) {
			/*
			 * Another process ran recovery (a worker died): our
			 * handles are stale.  Open afresh once and try again.
			 */
			if (reopened++ || store_reopen(st) != 0)
				break;
			continue;
		}
		if (committing)
			break;		/* a failed commit is not retried blindly */
		if (rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED)
			break;
		if (begin_flags & DB_TXN_NOWAIT)
			return STORE_ERROR;	/* the caller chose not to wait */
		/*
		 * A lock wait timed out: perhaps its holder died.  failchk
		 * aborts a dead process's transaction and frees its locks.
		 */
		if (rc == DB_LOCK_NOTGRANTED && store_failchk(st) == DB_RUNRECOVERY) {
			if (reopened++ || store_reopen(st) != 0)
				break;
			continue;
		}
		/* Back off a little, more each time, so the winner can finish. */
		usleep((useconds_t)(1000 * (try < 20 ? try : 20) + (rand() % 1000)));
	}
	if (rc == DB_RUNRECOVERY)
		st->failed = 1;
	fprintf(stderr, "patgate: db: transaction failed: %s\n", db_strerror(rc));
	return STORE_ERROR;
}

static enum store_rc
store_txn(struct store *st, u_int32_t begin_flags, u_int32_t commit_flags,
    store_txn_fn fn, void *arg)
{
	return store_run(st, 1, begin_flags, commit_flags, fn, arg);
}

/* A single read needs no transaction: it costs a third less without one. */
static enum store_rc
store_read(struct store *st, store_txn_fn fn, void *arg)
{
	return store_run(st, 0, 0, 0, fn, arg);
}

/* Open database i, creating it when create is set. */
static int
store_open_db(struct store *st, enum store_db i, int create)
{
	DB		*db;
	int		 rc;

	if ((rc = db_create(&db, st->env, 0)) != 0)
		return rc;
	/* Counters may start empty: an environment made before them gains the file. */
	if (i == DB_LOGINS)
		create = 1;
	if (i == DB_USER_TOKENS && (rc = db->set_flags(db, DB_DUP | DB_DUPSORT)) != 0) {
		db->close(db, 0);
		return rc;
	}
	rc = db->open(db, NULL, store_db_files[i], NULL, DB_BTREE,
	    DB_AUTO_COMMIT | (create ? DB_CREATE : 0), STORE_FILE_MODE);
	if (rc != 0) {
		db->close(db, 0);
		return rc;
	}
	st->db[i] = db;
	return 0;
}

static int
store_open_seq(struct store *st, int create)
{
	static const char name[] = "token_number";
	DBT		 key;
	int		 rc;

	if ((rc = db_sequence_create(&st->seq, st->db[DB_SEQ], 0)) != 0)
		return rc;
	if ((rc = st->seq->initial_value(st->seq, 1)) != 0)
		return rc;
	store_dbt(&key, name, sizeof(name) - 1);
	return st->seq->open(st->seq, NULL, &key, create ? DB_CREATE : 0);
}

/*
 * Take (on) or drop (off) the environment's own file lock.  Opening the
 * environment and failchk hold it: failchk reads the thread table while a
 * process that is opening may be reusing a dead process's slot in it,
 * and would take that slot for a thread that died in the library.  A lock
 * not had within STORE_LOCK_WAIT_MS is done without: better than hanging.
 */
static void
store_exclusive(struct store *st, int on)
{
	char	 path[4200];
	int	 waited;

	if (!on) {
		if (st->lockfd >= 0)
			(void)flock(st->lockfd, LOCK_UN);
		return;
	}
	if (st->lockfd < 0) {
		snprintf(path, sizeof(path), "%s/%s", st->dir, STORE_LOCK_FILE);
		st->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, STORE_FILE_MODE);
		if (st->lockfd < 0)
			return;
	}
	for (waited = 0; waited < STORE_LOCK_WAIT_MS; waited += 5) {
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
			return;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return;
		usleep(5000);
	}
}

static int
store_failchk(struct store *st)
{
	int	 rc;

	store_exclusive(st, 1);
	rc = st->env->failchk(st->env, 0);
	store_exclusive(st, 0);
	return rc;
}

/*
 * The region files are shared memory mapped from the environment's
 * directory.  On a full file system, touching a page of a sparse one kills
 * the process with SIGBUS, likely holding a mutex; so every page of them
 * is allocated at open, while there is room.
 */
static void
store_regions_allocate(struct store *st)
{
	char		 path[4200];
	struct stat	 sb;
	int		 i, fd;

	for (i = 1; i < 100; i++) {
		snprintf(path, sizeof(path), "%s/__db.%03d", st->dir, i);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			break;
		if (fstat(fd, &sb) == 0 && sb.st_size > 0)
			(void)posix_fallocate(fd, 0, sb.st_size);
		(void)close(fd);
	}
}

/*
 * Open the environment and every database of st->dir into st.  Returns 0
 * or a Berkeley DB error; on error the handles opened so far stay in st
 * for store_detach.
 */
static int
store_attach(struct store *st, int create)
{
	u_int32_t	 flags;
	char		 marker[4200];
	int		 rc, i, fd;

	if ((rc = db_env_create(&st->env, 0)) != 0) {
		st->env = NULL;
		return rc;
	}
	st->env->app_private = st;
	st->env->set_errcall(st->env, store_errcall);
	(void)st->env->set_event_notify(st->env, store_event);
	if ((rc = st->env->set_lk_detect(st->env, DB_LOCK_DEFAULT)) != 0 ||
	    /* A lock held by a dead process times out; failchk then frees it. */
	    (rc = st->env->set_timeout(st->env, STORE_LOCK_TIMEOUT_US,
	    DB_SET_LOCK_TIMEOUT)) != 0 ||
	    (rc = st->env->set_lg_filemode(st->env, STORE_FILE_MODE)) != 0 ||
	    (rc = st->env->set_lg_max(st->env, STORE_LOG_FILE_MAX)) != 0 ||
	    (rc = st->env->set_cachesize(st->env, 0, 8 * 1024 * 1024, 1)) != 0 ||
	    (rc = st->env->set_thread_count(st->env, STORE_THREADS)) != 0 ||
	    (rc = st->env->set_isalive(st->env, store_isalive)) != 0 ||
	    (rc = st->env->set_flags(st->env, DB_AUTO_COMMIT, 1)) != 0 ||
	    (rc = st->env->log_set_config(st->env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		return rc;
	/*
	 * DB_REGISTER notices a process that died with the environment open;
	 * DB_FAILCHK then cleans up after it without disturbing the living,
	 * and only when that cannot be done does DB_RECOVER run recovery.
	 */
	flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER | DB_FAILCHK;
	store_exclusive(st, 1);
	/*
	 * failchk itself can crash on the lock table of a process killed in
	 * the middle of changing it.  The marker outlives such a crash (the
	 * file lock does not), and the next opener then runs full recovery.
	 */
	snprintf(marker, sizeof(marker), "%s/%s", st->dir, STORE_OPENING_FILE);
	if (access(marker, F_OK) == 0) {
		fprintf(stderr, "patgate: db: an earlier open died; running recovery\n");
		flags &= ~(u_int32_t)DB_FAILCHK;
	}
	if ((fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, STORE_FILE_MODE)) >= 0)
		(void)close(fd);
	rc = st->env->open(st->env, st->dir, flags, STORE_FILE_MODE);
	(void)unlink(marker);
	if (rc == 0)
		store_regions_allocate(st);
	store_exclusive(st, 0);
	if (rc != 0)
		return rc;
	for (i = 0; i < DB__MAX; i++)
		if ((rc = store_open_db(st, (enum store_db)i, create)) != 0)
			return rc;
	if ((rc = store_open_seq(st, create)) != 0)
		return rc;
	st->checkpointed = time(NULL);
	return 0;
}

/* Close every handle in st, ignoring errors: they may be stale. */
static void
store_detach(struct store *st)
{
	int	 i;

	if (st->seq != NULL)
		(void)st->seq->close(st->seq, 0);
	st->seq = NULL;
	for (i = 0; i < DB__MAX; i++) {
		if (st->db[i] != NULL)
			(void)st->db[i]->close(st->db[i], 0);
		st->db[i] = NULL;
	}
	if (st->env != NULL)
		(void)st->env->close(st->env, 0);
	st->env = NULL;
}

static int
store_reopen(struct store *st)
{
	int	 rc;

	store_detach(st);
	st->failed = 0;
	if ((rc = store_attach(st, 0)) != 0) {
		fprintf(stderr, "patgate: db: reopen failed: %s\n", db_strerror(rc));
		store_detach(st);
		st->failed = 1;
	}
	return rc;
}

/*
 * Checkpoint now and then so that log files no longer needed are removed
 * (DB_LOG_AUTO_REMOVE) and the log directory stays bounded.  The counts
 * are this process's; one that commits a little and exits (the CLI, a
 * plain-CGI request) never reaches them, so the log written since the
 * environment's last checkpoint, by any process, decides too: Berkeley
 * DB checkpoints only when it exceeds STORE_CHECKPOINT_KBYTES, and the
 * question costs no I/O.
 */
static void
store_maintain(struct store *st)
{
	time_t	 now;

	if (++st->commits < STORE_CHECKPOINT_COMMITS &&
	    (now = time(NULL)) - st->checkpointed < STORE_CHECKPOINT_SECONDS) {
		(void)st->env->txn_checkpoint(st->env, STORE_CHECKPOINT_KBYTES, 0, 0);
		return;
	}
	st->commits = 0;
	st->checkpointed = time(NULL);
	(void)st->env->txn_checkpoint(st->env, 0, 0, 0);
}

enum store_rc
store_open(const char *dir, int create, struct store **out, char *err, size_t errlen)
{
	struct store	*st;
	struct stat	 sb;
	char		 path[4200];
	int		 rc;

	*out = NULL;
	/* Every file the environment makes is for this user only. */
	umask(077);
	if (strlen(dir) >= sizeof(st->dir)) {
		snprintf(err, errlen, "the database path is too long");
		return STORE_ERROR;
	}
	if (create) {
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return STORE_ERROR;
		}
		(void)chmod(dir, 0700);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, store_db_files[DB_TOKENS]);
		if (stat(path, &sb) == -1) {
			snprintf(err, errlen, "no patgate database in %s (run patgate init)", dir);
			return STORE_NOTFOUND;
		}
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->lockfd = -1;
	if ((rc = store_attach(st, create)) != 0) {
		snprintf(err, errlen, "cannot open the database in %s: %s", dir, db_strerror(rc));
		store_close(st);
		return rc == ENOENT ? STORE_NOTFOUND : STORE_ERROR;
	}
	if (stat(dir, &sb) == 0) {
		st->dir_dev = sb.st_dev;
		st->dir_ino = sb.st_ino;
	}
	*out = st;
	return STORE_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_detach(st);
	if (st->lockfd >= 0)
		(void)close(st->lockfd);
	free(st);
}

void
store_set_stall(struct store *st, unsigned ms)
{
	st->stall_ms = ms;
}

void
store_set_nosync(struct store *st, int on)
{
	st->nosync = on;
}

int
store_must_exit(const struct store *st)
{
	return st->failed;
}

static int
store_ping_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	DBT	 key, val;
	int	 rc;

	(void)arg;
	(void)verdict;
	store_dbt(&key, "", 0);
	store_dbt_out(&val);
	rc = st->db[DB_USERS]->get(st->db[DB_USERS], txn, &key, &val, 0);
	free(val.data);
	return rc == DB_NOTFOUND ? 0 : rc;
}

enum store_rc
store_ping(struct store *st)
{
	struct stat	 sb;
	char		 path[4200];

	/* Cached pages would answer even with the directory gone: look at it. */
	if (stat(st->dir, &sb) == -1 || sb.st_dev != st->dir_dev ||
	    sb.st_ino != st->dir_ino || !S_ISDIR(sb.st_mode))
		return STORE_ERROR;
	snprintf(path, sizeof(path), "%s/%s", st->dir, store_db_files[DB_TOKENS]);
	if (access(path, R_OK | W_OK) == -1)
		return STORE_ERROR;
	return store_txn(st, 0, 0, store_ping_txn, NULL);
}

/* ------------------------------------------------------------ users */

static void
store_lower(const char *s, char *out, size_t cap)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[i] = '\0';
}

static int
store_user_add_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct user_rec	*u = arg;
	char		 email[256], *enc;
	size_t		 len;
	DBT		 key, val;
	int		 rc;

	store_lower(u->email, email, sizeof(email));
	store_dbt(&key, email, strlen(email));
	store_dbt(&val, u->id, UUID_LEN);
	rc = st->db[DB_EMAILS]->put(st->db[DB_EMAILS], txn, &key, &val, DB_NOOVERWRITE);
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
store_user_read(struct store *st, DB_TXN *txn, const char *id, struct user_rec *u,
    u_int32_t flags, enum store_rc *verdict)
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
store_user_by_email_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
store_user_get_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
};

static int
store_user_set_password_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct user_password *q = arg;
	struct user_rec	 u;
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
	return rc;
}

enum store_rc
store_user_set_password(struct store *st, const char *id, const char *hash)
{
	struct user_password q = { id, hash };

	if (strlen(hash) >= HASH_ENCODED_MAX)
		return STORE_ERROR;
	return store_txn(st, 0, 0, store_user_set_password_txn, &q);
}

struct user_walk {
	void	(*fn)(const struct user_rec *, void *);
	void	*arg;
};

static int
store_user_each_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct user_walk *w = arg;
	struct user_rec	 u;
	DBC		*c;
	DBT		 key, val;
	int		 rc, crc;

	(void)verdict;
	if ((rc = st->db[DB_USERS]->cursor(st->db[DB_USERS], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0)
		if (store_uncodec_user(val.data, val.size, &u) == 0)
			w->fn(&u, w->arg);
	crc = c->close(c);
	return rc == DB_NOTFOUND ? crc : rc;
}

enum store_rc
store_user_each(struct store *st, void (*fn)(const struct user_rec *, void *), void *arg)
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
store_session_put_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	(void)verdict;
	return store_session_write(st, txn, arg);
}

enum store_rc
store_session_put(struct store *st, const struct session_rec *s)
{
	return store_txn(st, 0, 0, store_session_put_txn, (void *)s);
}

static int
store_session_read(struct store *st, DB_TXN *txn, struct session_rec *s,
    u_int32_t flags, enum store_rc *verdict)
{
	DBT	 key, val;
	int	 rc;

	store_dbt(&key, s->id, SESSION_ID_LEN);
	store_dbt_out(&val);
	rc = st->db[DB_SESSIONS]->get(st->db[DB_SESSIONS], txn, &key, &val, flags);
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
store_session_get_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	return store_session_read(st, txn, arg, 0, verdict);
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
store_session_revoke_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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

enum store_rc
store_session_revoke(struct store *st, const char *id, time_t now)
{
	struct session_revoke q;

	memset(&q, 0, sizeof(q));
	snprintf(q.s.id, sizeof(q.s.id), "%s", id);
	q.now = now;
	return store_txn(st, 0, 0, store_session_revoke_txn, &q);
}

/* ------------------------------------------------------------ tokens */

/*
 * Get key's value from db (through cursor c when not NULL, which saves
 * making one per read in a walk) into buf of size cap, or into a malloc'd
 * copy if it is larger; *data is set to whichever holds it.
 */
static int
store_get_into(DB *db, DBC *c, DB_TXN *txn, DBT *key, u_int32_t flags,
    void *buf, size_t cap, void **data, size_t *size)
{
	DBT	 val;
	int	 rc;

	memset(&val, 0, sizeof(val));
	val.data = buf;
	val.ulen = (u_int32_t)cap;
	val.flags = DB_DBT_USERMEM;
	rc = c != NULL ? c->get(c, key, &val, flags | DB_SET) : db->get(db, txn, key, &val, flags);
	if (rc == DB_BUFFER_SMALL) {
		store_dbt_out(&val);
		rc = c != NULL ? c->get(c, key, &val, flags | DB_SET) :
		    db->get(db, txn, key, &val, flags);
	}
	if (rc == 0) {
		*data = val.data;
		*size = val.size;
	}
	return rc;
}

/*
 * Read token number n into t, through the cursors ct (tokens) and cu
 * (token_used) when given.  used: look up the last use of a token still
 * in the JSON form (a packed one holds it).
 */
static int
store_token_fetch(struct store *st, DB_TXN *txn, DBC *ct, DBC *cu, uint64_t n,
    struct token_rec *t, u_int32_t flags, int used, enum store_rc *verdict)
{
	unsigned char	 k[8], when[8], buf[1024];
	void		*data;
	size_t		 size;
	DBT		 key;
	int		 rc;

	store_be64(n, k);
	store_dbt(&key, k, sizeof(k));
	rc = store_get_into(st->db[DB_TOKENS], ct, txn, &key, flags, buf, sizeof(buf),
	    &data, &size);
	if (rc == DB_NOTFOUND) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = store_uncodec_token(data, size, t);
	if (data != buf)
		free(data);
	if (rc == -1) {
		fprintf(stderr, "patgate: db: damaged token record %llu\n", (unsigned long long)n);
		return EINVAL;
	}
	t->number = n;
	/* A packed record holds its last use; one of the JSON form kept it apart. */
	if (rc == 0 || !used)
		return 0;
	rc = store_get_into(st->db[DB_TOKEN_USED], cu, txn, &key, 0, when, sizeof(when),
	    &data, &size);
	if (rc == 0 && data != when)
		free(data);	/* not a stored time: ignored */
	else if (rc == 0 && size == sizeof(when))
		t->last_used_at = (time_t)store_from_be64(when);
	else if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	return 0;
}

static int
store_token_read(struct store *st, DB_TXN *txn, uint64_t n, struct token_rec *t,
    u_int32_t flags, int used, enum store_rc *verdict)
{
	return store_token_fetch(st, txn, NULL, NULL, n, t, flags, used, verdict);
}

static int
store_token_write(struct store *st, DB_TXN *txn, const struct token_rec *t)
{
	unsigned char	 k[8];
	char		*enc;
	size_t		 len;
	DBT		 key, val;
	int		 rc;

	if ((enc = store_codec_token(t, &len)) == NULL)
		return ENOMEM;
	store_be64(t->number, k);
	store_dbt(&key, k, sizeof(k));
	store_dbt(&val, enc, len);
	rc = st->db[DB_TOKENS]->put(st->db[DB_TOKENS], txn, &key, &val, 0);
	free(enc);
	return rc;
}

/* Is t live (neither revoked nor expired) at now? */
static int
store_token_live(const struct token_rec *t, time_t now)
{
	return t->revoked_at == 0 && (t->expires_at == 0 || t->expires_at > now);
}

/*
 * Records for the ascending token numbers nums[0..n), read a pageful at a
 * time through cursor ct (a user's tokens made close together sit side by
 * side); fn(t, arg) for each found, *stop set when fn asks to stop.
 */
static int
store_token_fetch_many(struct store *st, DB_TXN *txn, DBC *ct, DBC *cu,
    const unsigned char *nums, size_t n, int used,
    int (*fn)(struct token_rec *, void *), void *arg, int *stop)
{
	static uint32_t	 page[65536 / sizeof(uint32_t)];	/* aligned, as bulk reads ask */
	struct token_rec t;
	enum store_rc	 verdict;
	DBT		 key, val;
	unsigned char	 k[8];
	void		*p, *kp, *dp;
	size_t		 i = 0, klen, dlen;
	u_int32_t	 pagesize;
	uint64_t	 num;
	int		 rc;

	if ((rc = st->db[DB_TOKENS]->get_pagesize(st->db[DB_TOKENS], &pagesize)) != 0)
		return rc;
	if (pagesize > sizeof(page))
		pagesize = sizeof(page);
	while (i < n && !*stop) {
		memcpy(k, nums + 8 * i, 8);
		memset(&key, 0, sizeof(key));
		key.data = k;
		key.size = key.ulen = sizeof(k);
		key.flags = DB_DBT_USERMEM;
		memset(&val, 0, sizeof(val));
		val.data = page;
		val.ulen = pagesize;
		val.flags = DB_DBT_USERMEM;
		rc = ct->get(ct, &key, &val, DB_SET_RANGE | DB_MULTIPLE_KEY);
		if (rc == DB_NOTFOUND)
			return 0;	/* the rest were pruned */
		if (rc == DB_BUFFER_SMALL) {
			/* One record larger than a page: read it alone. */
			verdict = STORE_OK;
			rc = store_token_fetch(st, txn, NULL, cu, store_from_be64(nums + 8 * i),
			    &t, 0, used, &verdict);
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
				fprintf(stderr, "patgate: db: damaged token record %llu\n",
				    (unsigned long long)num);
				return EINVAL;
			}
			t.number = num;
			if (rc == 1 && used) {
				/* The JSON form kept its last use apart. */
				verdict = STORE_OK;
				if ((rc = store_token_fetch(st, txn, NULL, cu, num, &t, 0, 1,
				    &verdict)) != 0)
					return rc;
			}
			if (fn(&t, arg) != 0)
				*stop = 1;
			i++;
		}
	}
	return 0;
}

/*
 * Call fn(t, arg) for each token of user_id in number order; stop early
 * when fn returns non-zero.
 */
static int
store_token_walk(struct store *st, DB_TXN *txn, const char *user_id, int used,
    int (*fn)(struct token_rec *, void *), void *arg)
{
	DBC		*c, *ct = NULL, *cu = NULL;
	DBT		 key, val;
	unsigned char	 bulk[16 * 1024], nums[16 * 1024];
	void		*p, *item;
	size_t		 itemlen, n;
	int		 rc, crc, stop = 0;
	u_int32_t	 op = DB_SET | DB_MULTIPLE;

	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS], txn, &c, 0)) != 0)
		return rc;
	/* One cursor a database for the walk, rather than one a read. */
	if ((rc = st->db[DB_TOKENS]->cursor(st->db[DB_TOKENS], txn, &ct, 0)) != 0 ||
	    (used && (rc = st->db[DB_TOKEN_USED]->cursor(st->db[DB_TOKEN_USED], txn, &cu, 0)) != 0))
		goto out;
	store_dbt(&key, user_id, strlen(user_id));
	memset(&val, 0, sizeof(val));
	val.data = bulk;
	val.ulen = sizeof(bulk);
	val.flags = DB_DBT_USERMEM;
	/* The user's token numbers come a bufferful at a time, not one a call. */
	while (!stop && (rc = c->get(c, &key, &val, op)) == 0) {
		op = DB_NEXT_DUP | DB_MULTIPLE;
		n = 0;
		DB_MULTIPLE_INIT(p, &val);
		for (;;) {
			DB_MULTIPLE_NEXT(p, &val, item, itemlen);
			if (p == NULL)
				break;
			if (itemlen == 8 && 8 * (n + 1) <= sizeof(nums))
				memcpy(nums + 8 * n++, item, 8);
		}
		if ((rc = store_token_fetch_many(st, txn, ct, cu, nums, n, used, fn, arg,
		    &stop)) != 0)
			break;
	}
out:
	if (cu != NULL)
		(void)cu->close(cu);
	if (ct != NULL)
		(void)ct->close(ct);
	crc = c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	return rc != 0 ? rc : crc;
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
store_token_create_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct token_create *q = arg;
	db_seq_t	 n;
	unsigned char	 k[8];
	DBT		 key, val;
	int		 rc;

	q->live = 0;
	if ((rc = store_token_walk(st, txn, q->t->user_id, 0,
	    store_token_count_live, q)) != 0)
		return rc;
	if (q->live >= q->max_live) {
		*verdict = STORE_LIMIT;
		return 0;
	}
	/* The number comes from a transactional sequence: an abort gives it back. */
	if ((rc = st->seq->get(st->seq, txn, 1, &n, 0)) != 0)
		return rc;
	q->t->number = (uint64_t)n;
	if ((rc = store_token_write(st, txn, q->t)) != 0)
		return rc;
	store_be64(q->t->number, k);
	store_dbt(&key, q->t->id, UUID_LEN);
	store_dbt(&val, k, sizeof(k));
	if ((rc = st->db[DB_TOKEN_IDS]->put(st->db[DB_TOKEN_IDS], txn, &key, &val,
	    DB_NOOVERWRITE)) != 0)
		return rc;
	store_dbt(&key, q->t->user_id, UUID_LEN);
	if ((rc = st->db[DB_USER_TOKENS]->put(st->db[DB_USER_TOKENS], txn, &key, &val, 0)) != 0)
		return rc;
	if (st->stall_ms > 0)		/* tests kill a worker here, locks held */
		usleep(st->stall_ms * 1000);
	return 0;
}

enum store_rc
store_token_create(struct store *st, struct token_rec *t, long max_live, time_t now)
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
store_token_bulk_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
		if ((rc = st->db[DB_TOKEN_IDS]->put(st->db[DB_TOKEN_IDS], txn, &key,
		    &val, DB_NOOVERWRITE)) != 0)
			return rc;
		store_dbt(&key, q->recs[i].user_id, UUID_LEN);
		if ((rc = st->db[DB_USER_TOKENS]->put(st->db[DB_USER_TOKENS], txn,
		    &key, &val, 0)) != 0)
			return rc;
	}
	return 0;
}

enum store_rc
store_token_bulk(struct store *st, struct token_rec *recs, size_t n)
{
	struct token_bulk q = { recs, n };

	if (n == 0)
		return STORE_OK;
	/* Many at once, without an fsync each: store_flush makes them durable. */
	return store_txn(st, 0, DB_TXN_NOSYNC, store_token_bulk_txn, &q);
}

enum store_rc
store_flush(struct store *st)
{
	int	 rc;

	if (st->env == NULL)
		return STORE_ERROR;
	/* A checkpoint writes the log and the dirty pages, and drops old logs. */
	if ((rc = st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE)) != 0) {
		fprintf(stderr, "patgate: db: checkpoint failed: %s\n", db_strerror(rc));
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
		fprintf(stderr, "patgate: db: log flush failed: %s\n", db_strerror(rc));
		return STORE_ERROR;
	}
	return STORE_OK;
}

struct token_get {
	uint64_t	 n;
	struct token_rec *t;
};

static int
store_token_get_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct token_get *q = arg;

	return store_token_read(st, txn, q->n, q->t, 0, 1, verdict);
}

enum store_rc
store_token_get(struct store *st, uint64_t number, struct token_rec *t)
{
	struct token_get q = { number, t };

	return store_txn(st, 0, 0, store_token_get_txn, &q);
}

static int
store_token_lookup_one(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct token_get *q = arg;

	return store_token_read(st, txn, q->n, q->t, 0, 0, verdict);
}

enum store_rc
store_token_lookup(struct store *st, uint64_t number, struct token_rec *t)
{
	struct token_get q = { number, t };

	return store_read(st, store_token_lookup_one, &q);
}

struct token_each {
	const char	*user_id;
	struct token_rec *recs;		/* gathered in the transaction */
	size_t		 n, cap;
	int		 oom;
};

static int
store_token_each_cb(struct token_rec *t, void *arg)
{
	struct token_each *q = arg;
	struct token_rec *grown;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		if ((grown = realloc(q->recs, q->cap * sizeof(*grown))) == NULL) {
			q->oom = 1;
			return 1;
		}
		q->recs = grown;
	}
	q->recs[q->n++] = *t;
	return 0;
}

static int
store_token_each_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct token_each *q = arg;
	int		 rc;

	q->n = 0;		/* a retried attempt starts over */
	rc = store_token_walk(st, txn, q->user_id, 1, store_token_each_cb, q);
	if (rc == 0 && q->oom)
		rc = ENOMEM;
	(void)verdict;
	return rc;
}

enum store_rc
store_token_each(struct store *st, const char *user_id,
    void (*fn)(const struct token_rec *, void *), void *arg)
{
	struct token_each q = { user_id, NULL, 0, 0, 0 };
	enum store_rc	 rc;
	size_t		 i;

	/*
	 * fn runs after the walk, so a retried walk never shows a row twice.
	 * No transaction: each read sees committed data, and a token pruned
	 * between its listing and its record is simply not shown.
	 */
	rc = store_read(st, store_token_each_txn, &q);
	if (rc == STORE_OK)
		for (i = 0; i < q.n; i++)
			fn(&q.recs[i], arg);
	free(q.recs);
	return rc;
}

struct token_revoke {
	const char	*user_id, *id;
	time_t		 now;
	struct token_rec *t;
};

static int
store_token_revoke_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
	rc = st->db[DB_TOKEN_IDS]->get(st->db[DB_TOKEN_IDS], txn, &key, &val, DB_RMW);
	if (rc == DB_NOTFOUND || (rc == 0 && val.size != sizeof(num))) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	if (rc != 0)
		return rc;
	if ((rc = store_token_read(st, txn, store_from_be64(num), q->t, DB_RMW, 1,
	    verdict)) != 0 || *verdict != STORE_OK)
		return rc;
	/* Another user's token looks exactly like an unknown one. */
	if (q->t->revoked_at != 0 ||
	    (q->user_id != NULL && strcmp(q->t->user_id, q->user_id) != 0)) {
		*verdict = STORE_NOTFOUND;
		return 0;
	}
	q->t->revoked_at = q->now;
	return store_token_write(st, txn, q->t);
}

enum store_rc
store_token_revoke(struct store *st, const char *user_id, const char *id,
    time_t now, struct token_rec *t)
{
	struct token_revoke q = { user_id, id, now, t };

	if (!token_uuid_valid(id))
		return STORE_NOTFOUND;
	return store_txn(st, 0, DB_TXN_SYNC, store_token_revoke_txn, &q);
}

struct token_touch {
	uint64_t	 n;
	time_t		 now;
	time_t		 when;		/* out: last use as now stored */
};

/* Set the token's last use to now unless it was set within the minute. */
static int
store_token_touch_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct token_touch *q = arg;
	struct token_rec t;
	int		 rc;

	rc = store_token_read(st, txn, q->n, &t, DB_RMW, 1, verdict);
	if (rc != 0 || *verdict != STORE_OK)
		return rc;
	q->when = t.last_used_at;
	if (q->now >= q->when && q->now - q->when < 60)
		return 0;
	q->when = t.last_used_at = q->now;
	return store_token_write(st, txn, &t);
}

void
store_token_touch(struct store *st, const struct token_rec *t, time_t now)
{
	struct token_touch q = { t->number, now, 0 };
	size_t		 slot = t->number % STORE_TOUCH_SLOTS;

	/*
	 * This process knows of a use within the minute: no read, no write.
	 * Otherwise one transaction reads and, if due, writes; no wait for a
	 * lock and no fsync, since a lost touch costs a minute's precision.
	 */
	if (st->touched[slot].n == t->number && now >= st->touched[slot].when &&
	    now - st->touched[slot].when < 60)
		return;
	if (store_txn(st, DB_TXN_NOWAIT, DB_TXN_NOSYNC, store_token_touch_txn, &q) == STORE_OK) {
		st->touched[slot].n = t->number;
		st->touched[slot].when = q.when;
	}
}

struct prune {
	time_t		 cutoff;
	unsigned long	 removed;
};

/* Delete the index entries of token t (its id and its place in the user's list). */
static int
store_token_unindex(struct store *st, DB_TXN *txn, const struct token_rec *t,
    const unsigned char num[8])
{
	DBC	*c;
	DBT	 key, val;
	int	 rc, crc;

	store_dbt(&key, t->id, UUID_LEN);
	rc = st->db[DB_TOKEN_IDS]->del(st->db[DB_TOKEN_IDS], txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	store_dbt(&key, num, 8);
	rc = st->db[DB_TOKEN_USED]->del(st->db[DB_TOKEN_USED], txn, &key, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS], txn, &c, 0)) != 0)
		return rc;
	store_dbt(&key, t->user_id, UUID_LEN);
	store_dbt(&val, num, 8);
	rc = c->get(c, &key, &val, DB_GET_BOTH);
	if (rc == 0)
		rc = c->del(c, 0);
	crc = c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	return rc != 0 ? rc : crc;
}

static int
store_prune_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct prune	*q = arg;
	struct token_rec t;
	DBC		*c;
	DBT		 key, val;
	unsigned char	 num[8];
	int		 rc, crc;

	(void)verdict;
	q->removed = 0;
	if ((rc = st->db[DB_TOKENS]->cursor(st->db[DB_TOKENS], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT | DB_RMW)) == 0) {
		if (key.size != 8 || store_uncodec_token(val.data, val.size, &t) == -1)
			continue;
		if (!((t.revoked_at != 0 && t.revoked_at <= q->cutoff) ||
		    (t.expires_at != 0 && t.expires_at <= q->cutoff)))
			continue;
		memcpy(num, key.data, 8);
		if ((rc = store_token_unindex(st, txn, &t, num)) != 0 ||
		    (rc = c->del(c, 0)) != 0)
			break;
		q->removed++;
	}
	crc = c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	return rc != 0 ? rc : crc;
}

enum store_rc
store_prune(struct store *st, time_t cutoff, unsigned long *removed)
{
	struct prune	 q = { cutoff, 0 };
	enum store_rc	 rc;

	rc = store_txn(st, 0, DB_TXN_SYNC, store_prune_txn, &q);
	*removed = rc == STORE_OK ? q.removed : 0;
	return rc;
}

/* ------------------------------------------------------------ operations */

/*
 * Copy the environment into target while others work on it, then run
 * catastrophic recovery on the copy so that it opens as it stands.
 */
enum store_rc
store_backup(struct store *st, const char *target, char *err, size_t errlen)
{
	DB_ENV	*copy = NULL;
	int	 rc;

	if ((rc = st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE)) != 0 ||
	    (rc = st->env->backup(st->env, target, DB_CREATE | DB_BACKUP_CLEAN)) != 0) {
		snprintf(err, errlen, "backup into %s failed: %s", target, db_strerror(rc));
		return STORE_ERROR;
	}
	if ((rc = db_env_create(&copy, 0)) != 0 ||
	    (rc = copy->set_lg_filemode(copy, STORE_FILE_MODE)) != 0 ||
	    (rc = copy->open(copy, target, DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK |
	    DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER_FATAL | DB_PRIVATE,
	    STORE_FILE_MODE)) != 0) {
		snprintf(err, errlen, "recovery of the copy in %s failed: %s", target,
		    db_strerror(rc));
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

static void
store_check_say(struct check *q, const char *fmt, unsigned long long n, const char *s)
{
	char	 line[256];

	snprintf(line, sizeof(line), fmt, n, s);
	q->problems++;
	q->problem(line, q->arg);
}

/* Every token is indexed by its id and under its user, and nothing else is. */
static int
store_check_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct check	*q = arg;
	struct token_rec t;
	DBC		*c;
	DBT		 key, val, k2, v2;
	unsigned char	 num[8];
	int		 rc, crc;

	(void)verdict;
	q->tokens = q->problems = 0;
	if ((rc = st->db[DB_TOKENS]->cursor(st->db[DB_TOKENS], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		uint64_t n = key.size == 8 ? store_from_be64(key.data) : 0;

		q->tokens++;
		if (key.size != 8 || store_uncodec_token(val.data, val.size, &t) == -1) {
			store_check_say(q, "token %llu: damaged record%s", n, "");
			continue;
		}
		memcpy(num, key.data, 8);
		store_dbt(&k2, t.id, UUID_LEN);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKEN_IDS]->get(st->db[DB_TOKEN_IDS], txn, &k2, &v2, 0);
		if (rc == 0 && (v2.size != 8 || memcmp(v2.data, num, 8) != 0))
			store_check_say(q, "token %llu: its id %s points elsewhere", n, t.id);
		else if (rc == DB_NOTFOUND)
			store_check_say(q, "token %llu: its id %s is not indexed", n, t.id);
		free(v2.data);
		if (rc != 0 && rc != DB_NOTFOUND)
			break;
		store_dbt(&k2, t.user_id, UUID_LEN);
		store_dbt(&v2, num, 8);
		rc = st->db[DB_USER_TOKENS]->get(st->db[DB_USER_TOKENS], txn, &k2, &v2, DB_GET_BOTH);
		if (rc == DB_NOTFOUND)
			store_check_say(q, "token %llu: not listed under its user %s", n, t.user_id);
		else if (rc != 0)
			break;
		rc = 0;
	}
	crc = c->close(c);
	if (rc != DB_NOTFOUND && rc != 0)
		return rc;
	if (crc != 0)
		return crc;
	/* The other way round: every index entry names a stored token. */
	if ((rc = st->db[DB_USER_TOKENS]->cursor(st->db[DB_USER_TOKENS], txn, &c, 0)) != 0)
		return rc;
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		store_dbt(&k2, val.data, val.size);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &k2, &v2, 0);
		free(v2.data);
		if (rc == DB_NOTFOUND)
			store_check_say(q, "token %llu: listed for a user but not stored%s",
			    val.size == 8 ? (unsigned long long)store_from_be64(val.data) : 0, "");
		else if (rc != 0)
			break;
	}
	crc = c->close(c);
	if (rc != DB_NOTFOUND && rc != 0)
		return rc;
	if (crc != 0)
		return crc;
	if ((rc = st->db[DB_TOKEN_IDS]->cursor(st->db[DB_TOKEN_IDS], txn, &c, 0)) != 0)
		return rc;
	while ((rc = c->get(c, &key, &val, DB_NEXT)) == 0) {
		store_dbt(&k2, val.data, val.size);
		store_dbt_out(&v2);
		rc = st->db[DB_TOKENS]->get(st->db[DB_TOKENS], txn, &k2, &v2, 0);
		free(v2.data);
		if (rc == DB_NOTFOUND)
			store_check_say(q, "token %llu: an id points at no stored token%s",
			    val.size == 8 ? (unsigned long long)store_from_be64(val.data) : 0, "");
		else if (rc != 0)
			break;
	}
	crc = c->close(c);
	if (rc != DB_NOTFOUND && rc != 0)
		return rc;
	return crc;
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
	    (rc = env->open(env, st->dir, DB_CREATE | DB_PRIVATE | DB_INIT_MPOOL,
	    STORE_FILE_MODE)) == 0 &&
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
			snprintf(line, sizeof(line), "%s: %s", store_db_files[i], db_strerror(vrc));
			problem(line, arg);
			damaged++;	/* apart: store_check_txn starts its count afresh */
		}
	}
	/*
	 * Read committed: each read lock goes when the read is done.  Held to
	 * the end, one a page, some 100,000 tokens ran the lock table out, and
	 * every create would wait for the check.  A prune or revoke that
	 * commits between a record and its index may be reported once.
	 */
	rc = store_txn(st, DB_READ_COMMITTED, 0, store_check_txn, &q);
	*tokens = q.tokens;
	if (rc != STORE_OK)
		return rc;
	return q.problems == 0 && damaged == 0 ? STORE_OK : STORE_EXISTS;
}

/* ------------------------------------------------------------ login failures */

/* The counter key for an email (lowercased, as the users index has it) or an address. */
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
store_login_reserve_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct login_reserve *q = arg;
	struct login_rec e, a;
	long		 window = q->lim->window;
	int		 rc, found;

	/* Always the email first, then the address: one order, fewer deadlocks. */
	if ((rc = store_login_read(st, txn, q->email, &e, window, q->now, &found)) != 0 ||
	    (rc = store_login_read(st, txn, q->addr, &a, window, q->now, &found)) != 0)
		return rc;
	/* A refused attempt is not counted: the lockout does not grow. */
	if (store_login_held(&e, q->lim->max_email, window, q->now, &q->retry_after)) {
		q->by_addr = 0;
		*verdict = STORE_LIMIT;
		return 0;
	}
	if (store_login_held(&a, q->lim->max_addr, window, q->now, &q->retry_after)) {
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

struct login_success {
	char		 email[300], addr[300];
	long		 window;
	time_t		 now;
};

static int
store_login_succeeded_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
	if ((rc = store_login_read(st, txn, q->addr, &a, q->window, q->now, &found)) != 0)
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
store_login_clear_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
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
	unsigned long	 removed;
};

static int
store_login_prune_txn(struct store *st, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	struct login_prune *q = arg;
	struct login_rec r;
	DBC		*c;
	DBT		 key, val;
	int		 rc, crc;

	(void)verdict;
	q->removed = 0;
	if ((rc = st->db[DB_LOGINS]->cursor(st->db[DB_LOGINS], txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	while ((rc = c->get(c, &key, &val, DB_NEXT | DB_RMW)) == 0) {
		if (store_uncodec_login(val.data, val.size, &r) == 0 &&
		    r.since <= q->now && q->now - r.since < q->window)
			continue;
		if ((rc = c->del(c, 0)) != 0)
			break;
		q->removed++;
	}
	crc = c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	return rc != 0 ? rc : crc;
}

enum store_rc
store_login_prune(struct store *st, long window, time_t now, unsigned long *removed)
{
	struct login_prune q = { window, now, 0 };
	enum store_rc	 rc;

	rc = store_txn(st, 0, 0, store_login_prune_txn, &q);
	*removed = rc == STORE_OK ? q.removed : 0;
	return rc;
}
