/*
 * store_private.h: what the store_*.c files share and nothing else sees:
 * the store handle, its databases, and the helpers every part of the
 * store is written with.  The store's public face is in patgate.h.
 */
#ifndef PATGATE_STORE_PRIVATE_H
#define PATGATE_STORE_PRIVATE_H

#include <sys/types.h>

#include <db.h>
#include <stdint.h>
#include <time.h>

#include "patgate.h"

#define STORE_FILE_MODE	0600
/*
 * Tokens this process remembers touching: as many as a gateway cycles
 * over (100,000 at scale), so that their checks skip the touch's
 * transaction within the minute.  16 bytes each, 2 MiB allocated when
 * first needed; only the pages of slots in use are ever resident.
 */
#define STORE_TOUCH_SLOTS	131072	/* a power of two */

enum store_db {
	DB_USERS,		/* user id -> user record */
	DB_EMAILS,		/* lowercased email -> user id */
	DB_SESSIONS,		/* session id -> session record */
	DB_TOKENS,	/* number (8 bytes, big-endian) -> token record */
	DB_TOKEN_IDS,		/* token id -> number */
	DB_USER_TOKENS,		/* user id -> numbers (sorted duplicates) */
	DB_TOKEN_USED,	/* number -> a token's uses (store_codec_uses) */
	DB_SEQ,			/* the token number sequence */
	DB_LOGINS,	/* "email:..." or "addr:..." -> failed-login counter */
	DB_USER_LIVE,	/* user id -> expiry + number of each unrevoked token */
	DB_SESSIONS_FROM, /* user id -> time before which its sessions ended */
	DB_EVENTS,	/* the queue of events for owners (store_events.c) */
	DB__MAX
};

extern const char *const store_db_files[DB__MAX];

struct store_memo;
/* Users a transaction may mark before it marks everyone (store_lists.c). */
#define STORE_LISTS_MARKS	8
struct store_repl_pub;
struct store_uses;
struct store_pending;

/* A token's use seen at the master, waiting to be written (store_pending.c). */
struct store_pending_use {
	uint64_t	 n;
	time_t		 at;
	char		 user_id[UUID_LEN + 1];	/* whose list shows it */
	char		 addr[TOKEN_IP_MAX + 1];	/* or "" */
};

/* A token's use seen at a replica, on its way to the master (store_uses.c). */
struct store_use {
	uint64_t	 n;
	time_t		 at;
	char		 addr[TOKEN_IP_MAX + 1];
};

struct store {
	DB_ENV		*env;
	DB		*db[DB__MAX];
	DB_SEQUENCE	*seq;
	int		 failed;	/* panic or DB_RUNRECOVERY seen */
	char		 dir[4096];
	dev_t		 dir_dev; /* the directory opened, to notice it gone */
	ino_t		 dir_ino;
	/* its first region file as opened, to notice a recovery under us */
	dev_t		 region_dev;
	ino_t		 region_ino;
	unsigned	 commits;	/* since the last checkpoint */
	unsigned	 unlooked;	/* since the log's size was looked at */
	time_t		 checkpointed;
	unsigned	 stall_ms;	/* test hook: pause inside a create */
	int		 nosync;	/* creates commit without an fsync */
	int		 lockfd; /* STORE_LOCK_FILE, for store_exclusive */
	int		 ckpfd;	/* STORE_CHECKPOINT_FILE, for store_maintain */
	/* store_maintain runs between requests */
	int		 maintained_apart;
	struct store_touched {	/* tokens whose last use is known fresh */
		uint64_t	 n;
		time_t		 when;
		uint32_t	 newest; /* its newest address's hash */
	}		*touched;	/* STORE_TOUCH_SLOTS, or NULL */
	uint64_t	*epoch;	/* shared: see store_memo.c; NULL: none */
	struct store_memo *memo;	/* token records read lately */
	int		 live_ready;	/* DB_USER_LIVE is known complete */
	/* shared: see store_rate.c; NULL: not yet */
	struct store_rate_slot *rates;
	/* bytes mapped, or 0 for a table of our own */
	size_t		 rates_len;
	/* shared: see store_repl.c; NULL: not yet */
	struct store_repl_pub *repl;
	/* a commit's quorum acknowledgement failed (store_event) */
	int		 perm_failed;
	/* commits without their acknowledgements since store_unacked */
	unsigned	 unacked;
	/* a transaction failed as roles moved, since store_role_moved */
	int		 role_moved;
	/* shared: see store_uses.c; NULL: not yet */
	struct store_uses *uses;
	/* shared: see store_pending.c; NULL: none */
	struct store_pending *pending;
	/* shared: see store_lists.c; NULL: none */
	uint64_t	*lists;
	/* the users this transaction changed the tokens of (their slots) */
	uint32_t	 lists_marked[STORE_LISTS_MARKS];
	unsigned	 lists_nmarked;
	int		 lists_all;	/* more than that: everyone's */
};

/* A transaction body: returns a Berkeley DB code; a verdict aborts it. */
typedef int (*store_txn_fn)(struct store *, DB_TXN *, void *arg,
    enum store_rc *verdict);

/* ------------------------------------------------------------ store_env.c */

/* v as 8 big-endian bytes, which sort as the numbers do. */
void	 store_be64(uint64_t v, unsigned char out[8]);
uint64_t store_from_be64(const void *);
/* A DBT over len bytes at data, which the caller owns. */
void	 store_dbt(DBT *, const void *data, size_t len);
/* A DBT whose memory Berkeley DB allocates and the caller frees. */
void	 store_dbt_out(DBT *);
/*
 * Run fn in a transaction begun with begin_flags and committed with
 * commit_flags, retrying it on deadlock.  A verdict other than STORE_OK
 * aborts and is returned; a database error aborts and gives STORE_ERROR.
 */
enum store_rc store_txn(struct store *, u_int32_t begin_flags,
	    u_int32_t commit_flags, store_txn_fn fn, void *arg);
/* Run fn outside a transaction: each of its reads takes its own lock. */
enum store_rc store_read(struct store *, store_txn_fn fn, void *arg);
/*
 * Run fn, which only reads, in a read-committed transaction (each read
 * lock goes when its read is done).  It writes no log, so it is not
 * counted among the commits that call for a checkpoint.
 */
enum store_rc store_read_txn(struct store *, store_txn_fn fn, void *arg);

/* ------------------------------------------------------- store_mapfile.c */

#define STORE_MAP_CREATE	0x1	/* make and size it; implies write */
#define STORE_MAP_WRITE		0x2
/* Map size bytes of dir/name, shared: the map, or NULL (errno says). */
void	*store_map_file(const char *dir, const char *name, size_t size,
	    int flags);

/* -------------------------------------------------------- store_resident.c */

/* Grow the cache region to (nearly) its full size; under the open lock. */
void	 store_cache_fill(struct store *);
/*
 * Does a Berkeley DB event say the environment failed?  DB_EVENT_REG_PANIC
 * is what every other process hears when an open panics it (one that
 * finds a registered process dead and cannot run failchk).
 */
static inline int
store_event_panic(u_int32_t event)
{
	return event == DB_EVENT_PANIC || event == DB_EVENT_REG_PANIC;
}
/*
 * Have the regions this process opened been made afresh by another's
 * recovery since?  store_recovered_under asks it inside transactions.
 */
int	 store_regions_replaced(void);
/* Allocate the region files' pages on disk (room 0) or room past them. */
void	 store_regions_allocate(const struct store *, off_t);
/*
 * Touch every page of the environment's regions, so that they count from
 * the start: only in a process that asked (store_want_resident).
 */
void	 store_regions_resident(const struct store *);

/* Open database i of an existing store into st->db[i]: 0 or a code. */
int	 store_db_open(struct store *, enum store_db i);

/* ----------------------------------------------------------- store_uses.c */

/* A worker at a replica: leave token n's use at at from addr for repd. */
void	 store_uses_note(struct store *, uint64_t n, time_t at,
	    const char *addr);
void	 store_uses_close(struct store *);
/* patgate-repd: map the environment's uses table in dir: 0 or -1. */
int	 store_uses_start(const char *dir);
/* patgate-repd: the uses channel's message handler (the master's). */
void	 store_uses_dispatch(DB_ENV *, DB_CHANNEL *, DBT *msg, u_int32_t nmsg,
	    u_int32_t flags);
/*
 * patgate-repd: a thread that, every poll, has a replica send its workers'
 * uses to the master, and the master apply what it received (st: repd's
 * own store, free-threaded).  0 or -1.
 */
int	 store_uses_run(struct store *);
/* What the main loop saw: no master to send to, a replica, the master. */
enum store_uses_role {
	STORE_USES_IDLE,
	STORE_USES_REPLICA,
	STORE_USES_MASTER
};
void	 store_uses_role(enum store_uses_role);
/*
 * Stop the thread, waiting up to wait_ms: 0, or -1 when it is still inside
 * the library (the environment must then be left open).
 */
int	 store_uses_halt(int wait_ms);
void	 store_uses_stop(void);

/* A new environment handle in st->env, set up as every open wants it. */
int	 store_env_new(struct store *);
/* Take (on) or drop (off) the environment's own file lock. */
void	 store_exclusive(struct store *, int on);

/* ------------------------------------------------------------ store_repl.c */

/* Let go of the published state's map. */
void	 store_repl_close(struct store *);
/*
 * TCP_NODELAY on this process's TCP sockets (Berkeley DB's replication
 * connections), looked for at most once a second unless now is set.
 */
void	 store_repl_nodelay(int now);

/* ------------------------------------------------------------ store_memo.c */

/* Map the environment's epoch and increment it; without it, keep nothing. */
void	 store_epoch_open(struct store *);
void	 store_epoch_close(struct store *);
/* After a revoke or a delete commits, before anyone is told. */
void	 store_epoch_bump(struct store *);
/*
 * Token n as read earlier in this second under the current epoch: 1 and
 * *t filled, or 0.  *epoch receives the epoch to file a fresh read under.
 */
int	 store_memo_get(struct store *, uint64_t n, time_t now,
	    struct token_rec *t, uint64_t *epoch);
/* Drop token n's record, changed by this process. */
void	 store_memo_forget(struct store *, uint64_t n);
/* Keep token n's packed record, read under epoch in second now. */
void	 store_memo_put(struct store *, uint64_t n, uint64_t epoch, time_t now,
	    const void *buf, size_t len);

/* ------------------------------------------------------------ store_lists.c */

/* Map the environment's per-user change counts; without them, keep no list. */
void	 store_lists_open(struct store *);
void	 store_lists_close(struct store *);
/* Inside a write: user_id's tokens change (a record, its uses, the index). */
void	 store_lists_mark(struct store *, const char *user_id);
/* After the transaction ends, committed or not: count the marked changes. */
void	 store_lists_flush(struct store *);

/* ---------------------------------------------------------- store_pending.c */

/* Map the environment's table of uses waiting; without it, none waits. */
void	 store_pending_open(struct store *);
void	 store_pending_close(struct store *);
/* Leave use u to be written later: 0, or -1 when the caller must write it. */
int	 store_pending_note(struct store *, const struct store_pending_use *u);
/*
 * Write the uses waiting, in one transaction: all of them, or (all unset,
 * after an answer) when enough wait or they waited a second.
 */
void	 store_pending_apply(struct store *, time_t now, int all);
/* In the batch's transaction: use u written if it is due (store_tokens.c). */
int	 store_token_use_pending(struct store *, DB_TXN *,
	    const struct store_pending_use *u);

/* ------------------------------------------------------------ store_rate.c */

/* Let go of the shared counters. */
void	 store_rate_close(struct store *);

/* ------------------------------------------------------------ store_live.c */

/* Token t (unrevoked) joins, or leaves, its user's index of live tokens. */
int	 store_live_add(struct store *, DB_TXN *, const struct token_rec *t);
int	 store_live_del(struct store *, DB_TXN *, const struct token_rec *t);
/*
 * How many of user_id's tokens are live at now, in *live, at the cost of
 * one record and the entries expired since the last count (taken out
 * when txn is not NULL; without a transaction they are only counted).  max is
 * not needed and kept for the callers.  *ready is 0 when the index is still
 * being built: the count is then not to be trusted.
 */
int	 store_live_count(struct store *, DB_TXN *, const char *user_id,
	    time_t now, long max, long *live, int *ready);
/* Is unrevoked token t in the index?  0, DB_NOTFOUND or an error. */
int	 store_live_has(struct store *, DB_TXN *, const struct token_rec *t);
/*
 * fn(number) for each entry naming no stored unrevoked token, and
 * miscount(user, counted, entries) for each user whose count is not the
 * number of its entries; 0 or an error.
 */
int	 store_live_check(struct store *, DB_TXN *,
	    void (*fn)(uint64_t number, void *),
	    void (*miscount)(const char *user, long counted, long entries,
	    void *), void *arg);
/* Build the index of an environment made before it; 0 or a Berkeley DB code. */
int	 store_live_upgrade(struct store *);

/* ----------------------------------------------------------- store_tokens.c */

/*
 * In txn: token n was used at at from addr (a replica saw it): keep the
 * later of that and what its uses hold.  0 or a code; no such token
 * is 0.
 */
int	 store_token_use_merge(struct store *, DB_TXN *, uint64_t n, time_t at,
	    const char *addr);

/* Where a read record is kept for later checks (store_memo.c). */
struct token_keep {
	uint64_t	 epoch;
	time_t		 now;
};

/*
 * Read token number n into t, its uses included (flags, for the record:
 * DB_RMW, say).  A missing record sets *verdict to STORE_NOTFOUND.
 */
int	 store_token_read(struct store *, DB_TXN *, uint64_t n,
	    struct token_rec *t, u_int32_t flags, enum store_rc *verdict);
/* Token n's uses, kept apart in token_used, onto t as read from its record. */
int	 store_token_uses_onto(struct store *, DB_TXN *, uint64_t n,
	    struct token_rec *t);
int	 store_token_write(struct store *, DB_TXN *, const struct token_rec *t);
/* Is t live (neither revoked nor expired) at now? */
int	 store_token_live(const struct token_rec *t, time_t now);

/* ------------------------------------------------------------ store_sweep.c */

/*
 * Called for each record of a sweep, inside its transaction: set *remove
 * to delete the record (fn deletes whatever else goes with it).
 */
typedef int (*store_sweep_fn)(struct store *, DB_TXN *, const DBT *key,
	    const DBT *val, void *arg, int *remove);
/*
 * Walk database i in key order, STORE_SWEEP_BATCH records a transaction,
 * each committed without an fsync (the log is flushed at the end), so
 * that no transaction grows with the database.  *removed counts the
 * records removed, all batches together.
 */
enum store_rc store_sweep(struct store *, enum store_db i, store_sweep_fn fn,
	    void *arg, unsigned long *removed);
/*
 * batch(arg, 0) as each batch (or its retry) begins, batch(arg, 1) once it
 * commits.
 */
typedef void (*store_batch_fn)(void *arg, int committed);
enum store_rc store_sweep_batched(struct store *, enum store_db i,
	    store_sweep_fn fn, store_batch_fn batch, void *arg,
	    unsigned long *removed);

/* ----------------------------------------------------------- store_events.c */

/*
 * Queue event (a name such as "token.revoke.leaked") about token t at
 * time at, with details (an object, borrowed; NULL: none), in txn: it
 * commits or aborts with the change it describes.  Never pass a secret.
 * 0 or a Berkeley DB code.
 */
int	 store_event_append(struct store *, DB_TXN *, const char *event,
	    const struct token_rec *t, time_t at, struct json_object *details);

/* ------------------------------------------------------------ store_users.c */

/* s lowercased (ASCII) into out of size cap, as the emails index keys it. */
void	 store_lower(const char *s, char *out, size_t cap);
/*
 * Close cursor c after a walk that ended with rc (DB_NOTFOUND: it ran to
 * the end); the walk's error, else the close's, else 0.
 */
int	 store_cursor_done(DBC *c, int rc);
/* Sleep the test stall (store_set_stall), if any, in full. */
void	 store_stall(const struct store *);
/* Count a step of progress, for store_steps. */
void	 store_step(void);
/* Berkeley DB's error messages, to the request's log (log_error). */
void	 store_errcall(const DB_ENV *, const char *pfx, const char *msg);

#endif /* !PATGATE_STORE_PRIVATE_H */
