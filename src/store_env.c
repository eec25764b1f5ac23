/*
 * store_env.c: the Berkeley DB environment and the transactions run in it:
 * opening (with recovery, under the environment's file lock),
 * closing, reopening after DB_RUNRECOVERY, checkpoints, the health ping,
 * the create stall test hook, and the helpers the other store_*.c files
 * are written with.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_private.h"

#define STORE_RETRIES	100	/* deadlock retries of one transaction */
#define STORE_OPEN_TRIES	20	/* of one database's open */
/* The most, in ms, one pause between deadlock retries grows to */
#define STORE_RETRY_BACKOFF_MS	20	/* a transaction's */
#define STORE_OPEN_BACKOFF_MS	3	/* an open's */
/* store_attach's own code, outside Berkeley DB's range */
#define STORE_ENV_REPLICATED	(-31900)
#define STORE_LOCK_TIMEOUT_US	1000000	/* then look for a dead lock holder */
#define STORE_LOG_FILE_MAX	(1024 * 1024)
#define STORE_CHECKPOINT_COMMITS 1000
#define STORE_CHECKPOINT_SECONDS 30
#define STORE_CHECKPOINT_KBYTES	1024 /* of log by anyone since the last one */
#define STORE_CHECKPOINT_SPREAD	10	/* seconds by which processes differ */
#define STORE_CHECKPOINT_FILE	"patgate.checkpoint"
#define STORE_THREADS		1024	/* slots before dead ones are reused */
#define STORE_LOCK_FILE		"patgate.lock"
#define STORE_LOCK_WAIT_MS	3000
#define STORE_OPENING_FILE	"patgate.opening"
/* The environment's first region file: made afresh by each recovery. */
#define STORE_REGION_FILE	"__db.001"
/*
 * The lock table lives in the environment's main region beside the log's
 * list of open files.  Left to grow, one transaction of 150,000 tokens
 * took the whole region for locks and every later open failed for want
 * of log region.  Now a transaction is bounded (prunes and loads go in
 * batches of a few hundred records, a few locks each) and the table is
 * made whole at open, for 1024 threads with room to spare.
 */
#define STORE_LOCKS		10000
#define STORE_LOCK_OBJECTS	10000
#define STORE_LOCKERS		4000
#define STORE_LOG_REGION	(2 * 1024 * 1024)

const char *const store_db_files[DB__MAX] = {
	"users.db", "emails.db", "sessions.db", "tokens.db", "token_ids.db",
	"user_tokens.db", "token_used.db", "sequences.db", "login_failures.db",
	"user_live.db", "sessions_from.db", "events.db",
};

/* Steps the store has taken (see store_steps); read by a signal handler. */
static volatile sig_atomic_t store_step_count;

static int	store_reopen(struct store *, u_int32_t);
static int	store_failchk(struct store *);
static void	store_maintain_now(struct store *);

int
store_cursor_done(DBC *c, int rc)
{
	int	 crc = c->close(c);

	if (rc == DB_NOTFOUND)
		rc = 0;
	return rc != 0 ? rc : crc;
}

/* Berkeley DB's messages go where the request's log lines go. */
void
store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	log_error("patgate: db: %s", msg);
}

void
store_step(void)
{
	store_step_count = (store_step_count + 1) & 0x3fffffff;
}

unsigned long
store_steps(void)
{
	return (unsigned long)store_step_count;
}

/*
 * For store_recovered_under, read by the watchdog's thread: the first
 * region file of the environment this process has open, its device and
 * inode (0 while none is open), and whether the process's thread is in a
 * transaction (where a wait in old regions would be).  The path is
 * written only when it changes, which a worker's never does after its
 * first open; a process with two stores open watches the last opened.
 */
static char		 region_path[4200];
static atomic_ulong	 region_ino;
static atomic_ulong	 region_dev;
static atomic_int	 store_inside;

static void
store_region_note(struct store *st)
{
	char		 path[sizeof(region_path)];
	struct stat	 sb;

	snprintf(path, sizeof(path), "%s/" STORE_REGION_FILE, st->dir);
	if (strcmp(path, region_path) != 0)
		memcpy(region_path, path, sizeof(region_path));
	st->region_ino = 0;
	if (stat(region_path, &sb) == 0) {
		st->region_dev = sb.st_dev;
		st->region_ino = sb.st_ino;
		atomic_store(&region_dev, (unsigned long)sb.st_dev);
		atomic_store(&region_ino, (unsigned long)sb.st_ino);
	}
}

/* Is the region file at path gone, or another than the one (dev, ino)? */
static int
store_region_other(const char *path, unsigned long dev, unsigned long ino)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1)
		return errno == ENOENT;
	return (unsigned long)sb.st_ino != ino ||
	    (unsigned long)sb.st_dev != dev;
}

/*
 * Did a recovery replace st's regions after it opened them?  Another
 * process's open that finds a dead one marks the old regions panicked,
 * removes them, makes new ones and only then reads the log.  A commit
 * that passed the library's panic check just before the mark can write
 * its record after that read and still return 0: the record is then
 * lost and its token number given again (seen under a kill storm: an
 * acknowledged token refused afterwards).  Regions still in place once the
 * commit has returned mean that any recovery reads the log after the
 * commit's write.  Asked after each commit that wrote: one stat.
 */
static int
store_regions_moved(const struct store *st)
{
	char		 path[sizeof(st->dir) + sizeof(STORE_REGION_FILE) + 1];

	if (st->region_ino == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/" STORE_REGION_FILE, st->dir);
	return store_region_other(path, (unsigned long)st->region_dev,
	    (unsigned long)st->region_ino);
}

int
store_recovered_under(void)
{
	return atomic_load(&store_inside) != 0 && store_regions_replaced();
}

int
store_regions_replaced(void)
{
	unsigned long	 ino = atomic_load(&region_ino);
	int		 gone;

	if (ino == 0)
		return 0;
	gone = store_region_other(region_path, atomic_load(&region_dev), ino);
	/* This process's own reopen meanwhile is not a recovery under it. */
	return gone && atomic_load(&region_ino) == ino;
}

static void
store_event(DB_ENV *env, u_int32_t event, void *info)
{
	struct store *st = env->app_private;

	(void)info;
	if (store_event_panic(event) && st != NULL)
		st->failed = 1;
	/*
	 * Raised in the committing thread, before its commit returns 0: the
	 * quorum did not acknowledge the transaction within the ack timeout.
	 */
	if (event == DB_EVENT_REP_PERM_FAILED && st != NULL)
		st->perm_failed = 1;
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

void
store_be64(uint64_t v, unsigned char out[8])
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
store_from_be64(const void *p)
{
	const unsigned char *b = p;
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

void
store_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)data;	/* Berkeley DB only reads it */
	d->size = (u_int32_t)len;
}

/* A DBT whose memory Berkeley DB allocates and the caller frees. */
void
store_dbt_out(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_MALLOC;
}

/*
 * A pause before another try at what lost a deadlock, so that the winner
 * can finish: ms milliseconds, at most cap, and up to one more at random
 * so that the losers do not all come back at once.
 */
static void
store_backoff(int ms, int cap)
{
	usleep((useconds_t)(1000 * (ms < cap ? ms : cap) + rand() % 1000));
}

/*
 * Run fn in a transaction (or, when how is RUN_PLAIN, outside one: each
 * of its reads then takes and drops its own lock), retrying the whole of
 * it on deadlock.  A verdict other than STORE_OK aborts and is returned;
 * a database error aborts and gives STORE_ERROR.
 */
enum store_how {
	RUN_PLAIN,	/* no transaction */
	RUN_READS,	/* a transaction that only reads: no commit to count */
	RUN_TXN		/* a transaction that may write */
};

static enum store_rc
store_run_inside(struct store *st, enum store_how how, u_int32_t begin_flags,
    u_int32_t commit_flags, store_txn_fn fn, void *arg)
{
	DB_TXN		*txn = NULL;
	enum store_rc	 verdict;
	int		 rc = 0, try, reopened = 0, lock_reopened = 0;
	int		 committing;

	for (try = 0; try < STORE_RETRIES; try++) {
		committing = 0;
		if (st->env == NULL)
			rc = DB_RUNRECOVERY;
		else if (how == RUN_PLAIN) {
			verdict = STORE_OK;
			if ((rc = fn(st, NULL, arg, &verdict)) == 0)
				return verdict;
		} else if ((rc = st->env->txn_begin(st->env, NULL, &txn,
		    begin_flags)) == 0) {
			verdict = STORE_OK;
			rc = fn(st, txn, arg, &verdict);
			if (rc == 0 && verdict == STORE_OK) {
				committing = 1;
				st->perm_failed = 0;
				if ((rc = txn->commit(txn,
				    commit_flags)) == 0) {
					if (st->perm_failed)
						st->unacked++;
					if (how == RUN_READS)
						return STORE_OK;
					/* Not retried: it may be kept. */
					if (store_regions_moved(st)) {
						log_error("patgate: db: a "
						    "recovery ran under a "
						    "commit; it may be lost");
						rc = DB_RUNRECOVERY;
						break;
					}
					st->commits++;
					st->unlooked++;
					/*
					 * Unless the caller does it between
					 * requests.
					 */
					if (!st->maintained_apart)
						store_maintain_now(st);
					return STORE_OK;
				}
			} else
				(void)txn->abort(txn);
			if (rc == 0)
				return verdict;
		}
		/*
		 * Another process ran recovery (a worker died), or (at a
		 * replica) a sync with the master rolled back or replaced
		 * the databases: our handles are stale.  Open afresh once and
		 * try again.
		 */
		if (rc == DB_RUNRECOVERY ||
		    (rc == DB_REP_HANDLE_DEAD && !committing)) {
			if (reopened++ || store_reopen(st, 0) != 0)
				break;
			continue;
		}
		if (committing)
			break;	/* a failed commit is not retried blindly */
		if (rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED)
			break;
		if (begin_flags & DB_TXN_NOWAIT)
			return STORE_ERROR; /* the caller chose not to wait */
		/*
		 * A lock wait timed out: perhaps its holder died.  Opening
		 * afresh, once, finds out: DB_REGISTER sees the dead process,
		 * and the open recovers the environment, which frees its
		 * locks.  Replicated, failchk frees them in place.
		 */
		if (rc == DB_LOCK_NOTGRANTED && store_repl_on()) {
			if (store_failchk(st) == DB_RUNRECOVERY) {
				if (reopened++ || store_reopen(st, 0) != 0)
					break;
				continue;
			}
		} else if (rc == DB_LOCK_NOTGRANTED && !lock_reopened++) {
			if (store_reopen(st, DB_NOSYNC) != 0)
				break;
			continue;
		}
		/*
		 * A deadlock broken is a step; a lock wait that timed out is
		 * not: retrying behind a dead holder for ever is being stuck.
		 */
		if (rc == DB_LOCK_DEADLOCK)
			store_step();
		store_backoff(try, STORE_RETRY_BACKOFF_MS);
	}
	if (rc == DB_RUNRECOVERY)
		st->failed = 1;
	/*
	 * Refused writing at a site that stopped being master, handles a sync
	 * replaced, a site locked out while it syncs: replicated, these come
	 * from a role moving.
	 */
	if (store_repl_on() && (rc == EACCES || rc == DB_REP_HANDLE_DEAD ||
	    rc == DB_REP_LOCKOUT || rc == DB_REP_UNAVAIL))
		st->role_moved = 1;
	log_error("patgate: db: transaction failed: %s", db_strerror(rc));
	return STORE_ERROR;
}

/* store_run_inside, counted in store_inside for the watchdog. */
static enum store_rc
store_run(struct store *st, enum store_how how, u_int32_t begin_flags,
    u_int32_t commit_flags, store_txn_fn fn, void *arg)
{
	enum store_rc	 rc;

	atomic_fetch_add(&store_inside, 1);
	rc = store_run_inside(st, how, begin_flags, commit_flags, fn, arg);
	store_lists_flush(st);
	atomic_fetch_sub(&store_inside, 1);
	return rc;
}

enum store_rc
store_txn(struct store *st, u_int32_t begin_flags, u_int32_t commit_flags,
    store_txn_fn fn, void *arg)
{
	return store_run(st, RUN_TXN, begin_flags, commit_flags, fn, arg);
}

enum store_rc
store_read_txn(struct store *st, store_txn_fn fn, void *arg)
{
	return store_run(st, RUN_READS, DB_READ_COMMITTED, DB_TXN_NOSYNC, fn,
	    arg);
}

/* A single read needs no transaction: it costs a third less without one. */
enum store_rc
store_read(struct store *st, store_txn_fn fn, void *arg)
{
	return store_run(st, RUN_PLAIN, 0, 0, fn, arg);
}

/* Open database i, creating it when create is set: one try. */
static int
store_open_db_once(struct store *st, enum store_db i, int create)
{
	DB		*db;
	int		 rc;

	if ((rc = db_create(&db, st->env, 0)) != 0)
		return rc;
	/*
	 * These may start empty: an environment made before them gains the
	 * file.
	 */
	if (i == DB_LOGINS || i == DB_USER_LIVE || i == DB_SESSIONS_FROM ||
	    i == DB_EVENTS)
		create = 1;
	if ((i == DB_USER_TOKENS || i == DB_USER_LIVE) &&
	    (rc = db->set_flags(db, DB_DUP | DB_DUPSORT)) != 0) {
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

/*
 * An open is a transaction too, and may lose a deadlock (at a master
 * whose role is moving, say): tried again, as any other transaction is.
 * A lock wait that timed out is not: its holder may be dead, and the
 * caller's open reports it.
 */
static int
store_open_db(struct store *st, enum store_db i, int create)
{
	int	 rc, try;

	for (try = 0; try < STORE_OPEN_TRIES; try++) {
		rc = store_open_db_once(st, i, create);
		if (rc != DB_LOCK_DEADLOCK)
			break;
		store_backoff(try + 1, STORE_OPEN_BACKOFF_MS);
	}
	return rc;
}

int
store_db_open(struct store *st, enum store_db i)
{
	return store_open_db(st, i, 0);
}

static int
store_open_seq(struct store *st, int create)
{
	static const char name[] = "token_number";
	DBT		 key;
	int		 rc, try;

	store_dbt(&key, name, sizeof(name) - 1);
	for (try = 0; try < STORE_OPEN_TRIES; try++) {
		if ((rc = db_sequence_create(&st->seq, st->db[DB_SEQ], 0)) != 0)
			return rc;
		if ((rc = st->seq->initial_value(st->seq, 1)) != 0 ||
		    (rc = st->seq->open(st->seq, NULL, &key,
		    create ? DB_CREATE : 0)) == 0)
			return rc;
		/* A sequence that failed to open is closed all the same. */
		(void)st->seq->close(st->seq, 0);
		st->seq = NULL;
		if (rc != DB_LOCK_DEADLOCK)
			break;
		store_backoff(try + 1, STORE_OPEN_BACKOFF_MS);
	}
	return rc;
}

/* The environment's lock file, opened on first use: 0, or -1. */
static int
store_lockfd(struct store *st)
{
	char	 path[4200];

	if (st->lockfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", st->dir, STORE_LOCK_FILE);
	st->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, STORE_FILE_MODE);
	return st->lockfd >= 0 ? 0 : -1;
}

/*
 * Take (on) or drop (off) the environment's own file lock.  Opening the
 * environment holds it, and so does failchk where it runs (replicated):
 * failchk reads the thread table while a process that is opening may be
 * reusing a dead process's slot in it, and would take that slot for a
 * thread that died in the library.  A lock not had within
 * STORE_LOCK_WAIT_MS is done without: better than hanging.
 */
void
store_exclusive(struct store *st, int on)
{
	int	 waited;

	if (!on) {
		if (st->lockfd >= 0)
			(void)flock(st->lockfd, LOCK_UN);
		return;
	}
	if (store_lockfd(st) == -1)
		return;
	for (waited = 0; waited < STORE_LOCK_WAIT_MS; waited += 5) {
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
			return;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return;
		usleep(5000);
	}
}

/*
 * Replicated, failchk after a lock wait timed out.  Only with the file
 * lock, and without waiting for it: whoever holds it is opening the
 * environment (which checks for the dead itself) or running failchk
 * already, so this process goes back to its retry instead of queueing
 * behind them.
 */
static int
store_failchk(struct store *st)
{
	int	 rc;

	if (store_lockfd(st) == -1 ||
	    flock(st->lockfd, LOCK_EX | LOCK_NB) == -1)
		return 0;
	rc = st->env->failchk(st->env, 0);
	store_exclusive(st, 0);
	return rc;
}

/* A new environment handle in st->env, set up as every open wants it. */
int
store_env_new(struct store *st)
{
	int	 rc;

	if ((rc = db_env_create(&st->env, 0)) != 0) {
		st->env = NULL;
		return rc;
	}
	st->env->app_private = st;
	st->env->set_errcall(st->env, store_errcall);
	(void)st->env->set_event_notify(st->env, store_event);
	if ((rc = st->env->set_lk_detect(st->env, DB_LOCK_DEFAULT)) != 0 ||
	    /*
	     * A lock held by a dead process times out; the waiter's
	     * reopen then recovers the environment, which frees it.
	     */
	    (rc = st->env->set_timeout(st->env, STORE_LOCK_TIMEOUT_US,
	    DB_SET_LOCK_TIMEOUT)) != 0 ||
	    (rc = st->env->set_lk_max_locks(st->env, STORE_LOCKS)) != 0 ||
	    (rc = st->env->set_lk_max_objects(st->env,
	    STORE_LOCK_OBJECTS)) != 0 ||
	    /* All of it at once: the region is allocated on disk at open. */
	    (rc = st->env->set_memory_init(st->env, DB_MEM_LOCK,
	    STORE_LOCKS)) != 0 ||
	    (rc = st->env->set_memory_init(st->env, DB_MEM_LOCKOBJECT,
	    STORE_LOCK_OBJECTS)) != 0 ||
	    (rc = st->env->set_lk_max_lockers(st->env, STORE_LOCKERS)) != 0 ||
	    (rc = st->env->set_lg_regionmax(st->env, STORE_LOG_REGION)) != 0 ||
	    (rc = st->env->set_lg_filemode(st->env, STORE_FILE_MODE)) != 0 ||
	    (rc = st->env->set_lg_max(st->env, STORE_LOG_FILE_MAX)) != 0 ||
	    (rc = st->env->set_cachesize(st->env, 0, 8 * 1024 * 1024,
	    1)) != 0 ||
	    (rc = st->env->set_thread_count(st->env, STORE_THREADS)) != 0 ||
	    (rc = st->env->set_isalive(st->env, store_isalive)) != 0 ||
	    (rc = st->env->set_flags(st->env, DB_AUTO_COMMIT, 1)) != 0 ||
	    (rc = st->env->log_set_config(st->env, DB_LOG_AUTO_REMOVE,
	    1)) != 0 ||
	    (rc = st->env->log_set_config(st->env, DB_LOG_ZERO, 1)) != 0)
		return rc;
	return 0;
}

/*
 * Open st->env with flags, after running recovery first when recover is
 * set: without DB_REGISTER, DB_RECOVER always recovers, and makes the
 * regions afresh (processes still attached to the old ones get
 * DB_RUNRECOVERY and reopen).  Called under the file lock.
 */
static int
store_env_open(struct store *st, u_int32_t flags, int recover)
{
	int	 rc;

	if (recover) {
		rc = st->env->open(st->env, st->dir,
		    flags & ~(u_int32_t)(DB_REGISTER | DB_FAILCHK),
		    STORE_FILE_MODE);
		(void)st->env->close(st->env, 0);
		st->env = NULL;
		if (rc != 0)
			return rc;
		if ((rc = store_env_new(st)) != 0)
			return rc;
	}
	return st->env->open(st->env, st->dir, flags, STORE_FILE_MODE);
}

/* Were the environment's regions made with replication? */
static int
store_env_replicated(struct store *st)
{
	u_int32_t	 flags;

	return st->env->get_open_flags(st->env, &flags) == 0 &&
	    (flags & DB_INIT_REP) != 0;
}

/*
 * Open the environment and every database of st->dir into st, running
 * recovery first when recover is set.  Returns 0 or a Berkeley DB error;
 * on error the handles opened so far stay in st for store_detach.
 */
static int
store_attach(struct store *st, int create, int recover)
{
	u_int32_t	 flags;
	char		 marker[4200];
	int		 rc, i, fd;

	if ((rc = store_env_new(st)) != 0)
		return rc;
	/*
	 * DB_REGISTER notices a process that died with the environment open,
	 * and DB_RECOVER then runs recovery: the regions are made afresh and
	 * the living get DB_RUNRECOVERY and reopen.  Not DB_FAILCHK, which
	 * would clean up in place: a process killed while it waited for a
	 * lock leaves a waiter counted in that lock's condition variable,
	 * and failchk's pthread_cond_destroy of it then waits for ever
	 * (glibc 2.25 and later), holding the registry's lock, so that every
	 * later open queued behind it until the request watchdog ended it.
	 */
	flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER;
	/*
	 * Replicated, patgate-repd makes and recovers the environment: a
	 * recovery here would leave it without a role, writing unreplicated,
	 * so failchk is all an open can do.  A process that writes at the
	 * master must be free-threaded.
	 */
	if (store_repl_on()) {
		flags &= ~(u_int32_t)(DB_CREATE | DB_RECOVER);
		flags |= DB_INIT_REP | DB_THREAD | DB_FAILCHK;
		recover = 0;
	}
	store_exclusive(st, 1);
	/*
	 * Replicated, failchk itself can crash on the lock table of a process
	 * killed in the middle of changing it.  The marker outlives such a
	 * crash (the file lock does not), and the next opener then leaves
	 * failchk out (and is refused until patgate-repd recovers).  It stays
	 * through the cache fill too: an opener killed there leaves most of
	 * the cache pinned, which failchk does not see (the pins are held
	 * between calls, outside the library).  Elsewhere DB_REGISTER alone
	 * sees an opener that died, wherever it was, and recovery follows.
	 */
	snprintf(marker, sizeof(marker), "%s/%s", st->dir, STORE_OPENING_FILE);
	if (access(marker, F_OK) == 0) {
		fprintf(stderr, "patgate: db: an earlier open died\n");
		flags &= ~(u_int32_t)DB_FAILCHK;
	}
	if ((fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC,
	    STORE_FILE_MODE)) >= 0)
		(void)close(fd);
	rc = store_env_open(st, flags, recover);
	/*
	 * Joined without replication, regions a replication site made stay
	 * a replica's (or a master's without its repd), and Berkeley DB
	 * refuses every write: said here, once, rather than as a 500 on each.
	 */
	if (rc == 0 && !store_repl_on() && store_env_replicated(st))
		rc = STORE_ENV_REPLICATED;
	if (rc == 0) {
		store_region_note(st);
		store_cache_fill(st);
		store_regions_allocate(st, 0);
	}
	(void)unlink(marker);
	store_exclusive(st, 0);
	if (rc == 0)
		store_regions_resident(st);
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

/*
 * Close every handle in st, ignoring errors: they may be stale.  With
 * DB_NOSYNC a database's dirty pages stay in the shared cache for the
 * next checkpoint (a reopen while others carry on) rather than be written
 * now.
 */
static void
store_detach(struct store *st, u_int32_t close_flags)
{
	int	 i;

	if (st->seq != NULL)
		(void)st->seq->close(st->seq, 0);
	st->seq = NULL;
	for (i = 0; i < DB__MAX; i++) {
		if (st->db[i] != NULL)
			(void)st->db[i]->close(st->db[i], close_flags);
		st->db[i] = NULL;
	}
	if (st->env != NULL)
		(void)st->env->close(st->env, 0);
	st->env = NULL;
	atomic_store(&region_ino, 0);
}

/*
 * store_attach, and if the environment's regions cannot be used, recovery
 * and store_attach again.  A lock table or log region run out leaves them
 * so (opening a database then fails for want of log region), and with
 * no process dead DB_REGISTER never runs recovery by itself: without
 * this every open would fail until someone ran db_recover.
 */
static int
store_attach_any(struct store *st, int create)
{
	int	 rc;

	rc = store_attach(st, create, 0);
	if ((rc != ENOMEM && rc != DB_RUNRECOVERY) || store_repl_on())
		return rc;
	fprintf(stderr, "patgate: db: the environment cannot be opened (%s); "
	    "running recovery\n", db_strerror(rc));
	store_detach(st, 0);
	return store_attach(st, create, 1);
}

static int
store_reopen(struct store *st, u_int32_t close_flags)
{
	int	 rc;

	store_detach(st, close_flags);
	st->failed = 0;
	if ((rc = store_attach_any(st, 0)) != 0) {
		fprintf(stderr, "patgate: db: reopen failed: %s\n",
		    db_strerror(rc));
		store_detach(st, 0);
		st->failed = 1;
	}
	return rc;
}

/*
 * Has the log written since the environment's last checkpoint, by anyone,
 * reached kbytes?  Asked here rather than of txn_checkpoint, which, due
 * or not, runs the log's auto-removal, and that opens and reads the last
 * log file: after every touch of a token, a tenth of a worker's time.
 */
static int
store_log_due(struct store *st, u_int32_t kbytes)
{
	DB_LOG_STAT	*ls;
	int		 due;

	if (st->env->log_stat(st->env, &ls, 0) != 0)
		return 1;	/* let txn_checkpoint judge */
	due = ls->st_wc_mbytes * 1024 + ls->st_wc_bytes / 1024 >= kbytes;
	free(ls);
	return due;
}

/*
 * Checkpoint now and then so that log files no longer needed are removed
 * (DB_LOG_AUTO_REMOVE) and the log directory stays bounded: every
 * STORE_CHECKPOINT_COMMITS commits or STORE_CHECKPOINT_SECONDS (shifted
 * by a few seconds a process, so that workers started together do not
 * all go at once), and otherwise when the log written since the
 * environment's last checkpoint, by anyone, exceeds
 * STORE_CHECKPOINT_KBYTES (the question costs no I/O).  One process at a
 * time: a checkpoint covers the whole environment, so a process that
 * finds another one at it skips its turn instead of queueing behind it.
 */
static void
store_maintain_now(struct store *st)
{
	char	 path[4200];
	time_t	 now = time(NULL);
	u_int32_t kbytes = STORE_CHECKPOINT_KBYTES;

	if (st->env == NULL || st->failed || st->commits == 0)
		return;
	if (st->commits >= STORE_CHECKPOINT_COMMITS ||
	    now - st->checkpointed >= STORE_CHECKPOINT_SECONDS +
	    (time_t)((unsigned)getpid() * 13 % STORE_CHECKPOINT_SPREAD))
		kbytes = 0;
	else if (st->unlooked == 0)
		return;		/* no commit since the log was looked at */
	else if (!store_log_due(st, kbytes)) {
		st->unlooked = 0;
		return;
	}
	if (st->ckpfd < 0) {
		snprintf(path, sizeof(path), "%s/%s", st->dir,
		    STORE_CHECKPOINT_FILE);
		st->ckpfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    STORE_FILE_MODE);
		if (st->ckpfd < 0)
			return;
	}
	if (flock(st->ckpfd, LOCK_EX | LOCK_NB) == -1)
		return;		/* another process is at it */
	st->unlooked = 0;
	if (st->env->txn_checkpoint(st->env, kbytes, 0,
	    0) == 0 && kbytes == 0) {
		st->commits = 0;
		st->checkpointed = now;
	}
	(void)flock(st->ckpfd, LOCK_UN);
}

/*
 * A worker calls this after each answer: from then on its commits leave
 * the checkpoints to it, and no request waits for one.  Others (the CLI,
 * a plain-CGI request) checkpoint after a commit, when due.
 */
void
store_maintain(struct store *st)
{
	if (st == NULL)
		return;
	st->maintained_apart = 1;
	store_pending_apply(st, time(NULL), 0);
	store_maintain_now(st);
	if (store_repl_on())
		store_repl_nodelay(0);
}

enum store_rc
store_open(const char *dir, int create, struct store **out, char *err,
    size_t errlen)
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
			snprintf(err, errlen, "cannot create %s: %s", dir,
			    strerror(errno));
			return STORE_ERROR;
		}
		(void)chmod(dir, 0700);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir,
		    store_db_files[DB_TOKENS]);
		if (stat(path, &sb) == -1) {
			snprintf(err, errlen,
			    "no patgate database in %s (run patgate init)",
			    dir);
			return STORE_NOTFOUND;
		}
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->lockfd = -1;
	st->ckpfd = -1;
	if ((rc = store_attach_any(st, create)) == STORE_ENV_REPLICATED)
		snprintf(err, errlen, "the database in %s is a replication "
		    "site's: set its PATGATE_REPL_* settings, or, to use it "
		    "alone, stop every process of that site and run "
		    "db5.3_recover -h %s", dir, dir);
	else if (rc != 0)
		snprintf(err, errlen, "cannot open the database in %s: %s", dir,
		    db_strerror(rc));
	if (rc != 0) {
		store_close(st);
		return rc == ENOENT ? STORE_NOTFOUND : STORE_ERROR;
	}
	(void)store_live_upgrade(st);
	if (stat(dir, &sb) == 0) {
		st->dir_dev = sb.st_dev;
		st->dir_ino = sb.st_ino;
	}
	store_epoch_open(st);
	store_lists_open(st);
	store_pending_open(st);
	*out = st;
	return STORE_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* A plain-CGI request or a command: what it noted is written now. */
	store_pending_settle(st);
	store_pending_close(st);
	store_detach(st, 0);
	store_epoch_close(st);
	store_lists_close(st);
	free(st->touched);
	store_rate_close(st);
	store_repl_close(st);
	store_uses_close(st);
	if (st->lockfd >= 0)
		(void)close(st->lockfd);
	if (st->ckpfd >= 0)
		(void)close(st->ckpfd);
	free(st);
}

void
store_set_stall(struct store *st, unsigned ms)
{
	st->stall_ms = ms;
}

/* The test stall, whole: the watchdog's ticks must not cut it short. */
void
store_stall(const struct store *st)
{
	struct timespec	 left;

	if (st->stall_ms == 0)
		return;
	left.tv_sec = st->stall_ms / 1000;
	left.tv_nsec = (long)(st->stall_ms % 1000) * 1000000L;
	/* Asleep, not waiting on the environment. */
	atomic_fetch_sub(&store_inside, 1);
	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		continue;
	atomic_fetch_add(&store_inside, 1);
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

	/*
	 * Cached pages would answer even with the directory gone: look at it.
	 */
	if (stat(st->dir, &sb) == -1 || sb.st_dev != st->dir_dev ||
	    sb.st_ino != st->dir_ino || !S_ISDIR(sb.st_mode))
		return STORE_ERROR;
	snprintf(path, sizeof(path), "%s/%s", st->dir,
	    store_db_files[DB_TOKENS]);
	if (access(path, R_OK | W_OK) == -1)
		return STORE_ERROR;
	return store_read_txn(st, store_ping_txn, NULL);
}

/* Indexed by enum store_rc: a phrase an administrator can act on. */
static const char *const store_errors[STORE_RC__MAX] = {
	[STORE_OK] = "done",
	[STORE_NOTFOUND] = "no such record",
	[STORE_EXISTS] = "the record exists already",
	[STORE_LIMIT] = "a limit is reached",
	[STORE_ERROR] = "the database failed",
};

const char *
store_strerror(enum store_rc rc)
{
	if ((unsigned)rc >= STORE_RC__MAX)
		return "the database failed";
	return store_errors[rc];
}
