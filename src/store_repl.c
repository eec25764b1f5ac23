/*
 * store_repl.c: replication (PATGATE_REPL_*).  patgate-repd, one a site,
 * opens the environment with Berkeley DB's Replication Manager, is its
 * listener (elections, messages, events), and publishes what it knows in
 * STORE_REPL_FILE, a small file of the environment that the workers map:
 * the site's role, the master's host:port, and when the master was last
 * heard from.  Workers join the environment without recovery and judge
 * writes and checks by what repd published and by the environment's own
 * role (a recovered environment has none, and would write unreplicated).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_private.h"

#define STORE_REPL_FILE		"repl.state"
#define STORE_REPL_MAGIC	0x70677231u	/* "pgr1" */
#define STORE_REPL_POLL_MS	200	/* repd looks at the group this often */
/* repd silent this long: role unknown */
#define STORE_REPL_DEAD_MS	3000
/* ... and a repd found alive is not asked after again for this long */
#define STORE_REPL_ALIVE_MS	50
#define STORE_REPL_ACK_US	1000000
#define STORE_REPL_RETRY_US	1000000	/* connection and join retries */
#define STORE_REPL_ELECT_RETRY_US 2000000
#define STORE_REPL_THREADS	3	/* repd's message threads */
#define STORE_REPL_HALT_MS	2000	/* the uses thread, at exit */
#define STORE_REPL_ADDR		272
#define STORE_REPL_REMOVE_TRIES	40	/* a removal asked of the master */
#define STORE_REPL_REMOVE_PAUSE_MS 250

/* The published state: written by repd alone, read by every worker. */
struct store_repl_pub {
	uint32_t	 magic;
	uint32_t	 seq;		/* odd while repd writes */
	int32_t		 pid;		/* repd's */
	int32_t		 role;		/* enum repl_role */
	/* CLOCK_MONOTONIC of repd's last look */
	int64_t		 beat_ms;
	int64_t		 heard_ms;	/* ... when the master was last heard */
	char		 master[STORE_REPL_ADDR];
};

/* This process's configuration; self NULL: replication is off. */
static struct {
	const char	*self;
	const char	*peers;
	long		 priority;
	long		 stale;
	/* a silent connection is broken after it */
	int64_t		 monitor_ms;
} repl;

void
store_repl_configure(const struct config *cfg)
{
	repl.self = cfg->repl_self;
	repl.peers = cfg->repl_peers;
	repl.priority = cfg->repl_priority;
	repl.stale = cfg->repl_stale;
}

int
store_repl_on(void)
{
	return repl.self != NULL;
}

static int64_t
store_repl_now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Map dir's STORE_REPL_FILE, made (by repd) when create is set. */
static struct store_repl_pub *
store_repl_map(const char *dir, int create)
{
	return store_map_file(dir, STORE_REPL_FILE,
	    sizeof(struct store_repl_pub), create ? STORE_MAP_CREATE : 0);
}

void
store_repl_close(struct store *st)
{
	if (st->repl != NULL)
		(void)munmap(st->repl, sizeof(struct store_repl_pub));
	st->repl = NULL;
}

/*
 * A consistent copy of what repd published: 0, or -1 when there is none.
 * On a busy machine repd may be descheduled in the middle of a write: a
 * reader that finds it so, try after try, takes the last copy it read (its
 * beat says how old it is, and the caller judges by that).
 */
static int
store_repl_read(struct store *st, struct store_repl_pub *out)
{
	static struct store_repl_pub last;
	static int	 have_last;
	uint32_t	 s1, s2;
	int		 i;

	if (st->repl == NULL && (st->repl = store_repl_map(st->dir, 0)) == NULL)
		return -1;
	for (i = 0; i < 100; i++) {
		if (i >= 10)
			(void)sched_yield();
		s1 = __atomic_load_n(&st->repl->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, st->repl, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&st->repl->seq, __ATOMIC_RELAXED);
		if (s1 == s2 && out->magic == STORE_REPL_MAGIC) {
			out->master[sizeof(out->master) - 1] = '\0';
			last = *out;
			have_last = 1;
			return 0;
		}
	}
	if (!have_last)
		return -1;
	*out = last;
	return 0;
}

/*
 * Is repd (pid) alive?  Asked of the kernel at most every
 * STORE_REPL_ALIVE_MS for one pid: a check need not pay a system call to
 * learn what the last one learned a moment ago.
 */
static int
store_repl_alive(pid_t pid, int64_t now)
{
	static pid_t	 seen;
	static int64_t	 seen_at;

	if (pid == seen && now - seen_at < STORE_REPL_ALIVE_MS)
		return 1;
	if (kill(pid, 0) == -1 && errno != EPERM)
		return 0;
	seen = pid;
	seen_at = now;
	return 1;
}

void
store_repl_state(struct store *st, struct repl_state *rs)
{
	struct store_repl_pub pub;
	int64_t		 now = store_repl_now_ms();

	memset(rs, 0, sizeof(*rs));
	rs->role = REPL_SINGLE;
	rs->heard_age_ms = -1;
	if (!store_repl_on())
		return;
	rs->role = REPL_UNKNOWN;
	if (st == NULL || store_repl_read(st, &pub) == -1 ||
	    now - pub.beat_ms > STORE_REPL_DEAD_MS ||
	    !store_repl_alive(pub.pid, now))
		return;
	if (pub.role == REPL_MASTER || pub.role == REPL_REPLICA)
		rs->role = (enum repl_role)pub.role;
	snprintf(rs->master, sizeof(rs->master), "%s", pub.master);
	if (pub.heard_ms > 0)
		rs->heard_age_ms = now - pub.heard_ms;
}

/* Is this process's environment the group's master by its own account? */
static int
store_repl_env_master(struct store *st)
{
	DB_REP_STAT	*sp;
	int		 master;

	if (st->env == NULL || st->env->rep_stat(st->env, &sp, 0) != 0)
		return 0;
	master = sp->st_status == DB_REP_MASTER;
	free(sp);
	return master;
}

enum repl_gate
store_repl_may_write(struct store *st, char *master, size_t masterlen)
{
	struct repl_state rs;

	store_repl_state(st, &rs);
	snprintf(master, masterlen, "%s", rs.master);
	if (rs.role == REPL_SINGLE)
		return REPL_GO;
	/* After a recovery the environment has no role and writes locally. */
	if (rs.role == REPL_MASTER && store_repl_env_master(st))
		return REPL_GO;
	if (rs.role == REPL_REPLICA && rs.master[0] != '\0')
		return REPL_NOT_MASTER;
	return REPL_NO_GROUP;
}

enum repl_gate
store_repl_may_check(struct store *st)
{
	struct repl_state rs;

	store_repl_state(st, &rs);
	switch (rs.role) {
	case REPL_SINGLE:
		return REPL_GO;
	case REPL_MASTER:
	case REPL_REPLICA:
		if (rs.heard_age_ms >= 0 &&
		    rs.heard_age_ms <= repl.stale * 1000)
			return REPL_GO;
		return REPL_STALE;
	default:
		return REPL_NO_GROUP;
	}
}

unsigned
store_unacked(struct store *st)
{
	unsigned	 n;

	if (st == NULL)
		return 0;
	n = st->unacked;
	st->unacked = 0;
	return n;
}

/*
 * Berkeley DB 5.3 leaves Nagle's algorithm on for the replication
 * connections.  A site that sends a second small message (a commit's log
 * record, an acknowledgement) before the first is acknowledged then holds
 * it until the peer's delayed acknowledgement, 40 ms on Linux: every
 * quorum write after the first in a burst waited for it.  The library
 * makes its sockets on its own threads and says nothing of them, so this
 * process's descriptors are looked over and every TCP socket among them
 * gets TCP_NODELAY (again, on those that have it: it is idempotent).
 */
void
store_repl_nodelay(int now)
{
	static int64_t	 last;
	struct dirent	*de;
	DIR		*d;
	socklen_t	 len;
	int		 fd, type, family, on = 1;
	int64_t		 t = store_repl_now_ms();

	if (!now && t - last < 1000)
		return;
	last = t;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if ((fd = atoi(de->d_name)) <= 2 || fd == dirfd(d))
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(family);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family,
		    &len) == -1 || (family != AF_INET && family != AF_INET6))
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
	}
	(void)closedir(d);
}

int
store_role_moved(struct store *st)
{
	int	 moved;

	if (st == NULL)
		return 0;
	moved = st->role_moved;
	st->role_moved = 0;
	return moved;
}

int
store_repl_memo_ok(struct store *st)
{
	if (!store_repl_on())
		return 1;
	if (st->repl == NULL && (st->repl = store_repl_map(st->dir, 0)) == NULL)
		return 0;
	return __atomic_load_n(&st->repl->role, __ATOMIC_ACQUIRE) ==
	    REPL_MASTER;
}

/* ------------------------------------------------------------ patgate-repd */

static volatile sig_atomic_t repd_panic;

static void
store_repl_event(DB_ENV *env, u_int32_t event, void *info)
{
	(void)env;
	(void)info;
	/*
	 * Missing the register panic, repd stayed on in the dead regions, its
	 * message thread failing, and the site never voted again.
	 */
	if (store_event_panic(event))
		repd_panic = 1;
}

/* Publish role, master and heard (0: unchanged) for the workers. */
static void
store_repl_publish(struct store_repl_pub *pub, enum repl_role role,
    const char *master, int64_t heard)
{
	struct store_repl_pub next;

	/* Made aside, so that the odd count covers a copy and no more. */
	memcpy(&next, pub, sizeof(next));
	next.magic = STORE_REPL_MAGIC;
	next.pid = (int32_t)getpid();
	next.role = (int32_t)role;
	next.beat_ms = store_repl_now_ms();
	if (heard != 0)
		next.heard_ms = heard;
	snprintf(next.master, sizeof(next.master), "%s", master);
	next.seq = __atomic_add_fetch(&pub->seq, 1, __ATOMIC_ACQ_REL);
	memcpy(pub, &next, sizeof(next));
	__atomic_add_fetch(&pub->seq, 1, __ATOMIC_RELEASE);
}

/*
 * Name the site host:port (len characters at s) to env with flags.  0 or
 * a code.
 */
static int
store_repl_site(DB_ENV *env, const char *s, size_t len, u_int32_t which,
    int creator)
{
	DB_SITE		*site;
	char		 host[STORE_REPL_ADDR];
	size_t		 hostlen;
	unsigned	 port;
	int		 rc;

	if (config_hostport(s, len, &hostlen, &port) == -1 ||
	    hostlen >= sizeof(host))
		return EINVAL;
	memcpy(host, s, hostlen);
	host[hostlen] = '\0';
	if ((rc = env->repmgr_site(env, host, port, &site, 0)) != 0)
		return rc;
	rc = site->set_config(site, which, 1);
	if (rc == 0 && creator)
		rc = site->set_config(site, DB_GROUP_CREATOR, 1);
	(void)site->close(site);
	return rc;
}

int
store_repl_remove(struct store *st, const char *hostport, char *err,
    size_t errlen)
{
	struct repl_state rs;
	DB_SITE		*site;
	char		 host[STORE_REPL_ADDR];
	size_t		 hostlen;
	unsigned	 port;
	int		 rc, try;

	if (!store_repl_on()) {
		snprintf(err, errlen, "PATGATE_REPL_SELF is not set");
		return -1;
	}
	if (config_hostport(hostport, strlen(hostport), &hostlen,
	    &port) == -1 || hostlen >= sizeof(host)) {
		snprintf(err, errlen, "%s is not HOST:PORT", hostport);
		return -1;
	}
	memcpy(host, hostport, hostlen);
	host[hostlen] = '\0';
	/*
	 * The membership is replicated state, changed by the master alone;
	 * Replication Manager must run in this process to reach it.  With
	 * repd the listener, starting it makes this process a subordinate.
	 */
	rc = st->env->repmgr_start(st->env, 1, DB_REP_CLIENT);
	if (rc != 0 && rc != DB_REP_IGNORE) {
		snprintf(err, errlen, "cannot start replication here: %s",
		    db_strerror(rc));
		return -1;
	}
	store_repl_state(st, &rs);
	if (strcmp(rs.master, hostport) == 0) {
		snprintf(err, errlen, "%s is the master: it cannot be removed "
		    "(stop its patgate-repd, and the others elect another)",
		    hostport);
		return -1;
	}
	/*
	 * A replica asks the master over a connection this process has only
	 * begun to make: unavailable at first, so asked again for a while.
	 */
	for (try = 0; try < STORE_REPL_REMOVE_TRIES; try++) {
		if ((rc = st->env->repmgr_site(st->env, host, port, &site,
		    0)) != 0)
			break;
		/* remove closes site, whatever it returns */
		if ((rc = site->remove(site)) != DB_REP_UNAVAIL)
			break;
		usleep(STORE_REPL_REMOVE_PAUSE_MS * 1000);
	}
	if (rc == DB_REP_UNAVAIL) {
		snprintf(err, errlen, "%s was not removed: no master answered, "
		    "or too few sites acknowledged the change", hostport);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s was not removed: %s", hostport,
		    db_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * The group's shape on repd's handle: this site, the others as helpers to
 * join by, priority, the acknowledgement policy and the timeouts.  A commit
 * waits (up to the ack timeout) for every site it reached to apply it, and
 * is durable once a quorum has: so a revoke's 200 comes after each
 * reachable replica holds the revoke, and a write that no quorum holds
 * raises DB_EVENT_REP_PERM_FAILED (503, route.c).  The site
 * whose host:port sorts first among all of them creates the group on its
 * first start.  Heartbeats every quarter of PATGATE_REPL_STALE (a second
 * at most), and a connection silent for two of them is broken: one still
 * up proves the master heard from within that half of it.  No checkpoint
 * delay: Berkeley DB's default has a master's checkpoint sleep 30 s before
 * it logs its record, and the worker that runs it sleeps with it, inside
 * the library, where it also holds off the site's step-down to replica.
 */
static int
store_repl_setup(DB_ENV *env)
{
	const char	*p, *end;
	db_timeout_t	 beat;
	int		 rc, creator = 1;

	for (p = repl.peers; p != NULL && *p != '\0';
	    p = *end ? end + 1 : end) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if (strncmp(p, repl.self, (size_t)(end - p)) < 0 ||
		    (strncmp(p, repl.self, (size_t)(end - p)) == 0 &&
		    strlen(repl.self) > (size_t)(end - p)))
			creator = 0;
		if ((rc = store_repl_site(env, p, (size_t)(end - p),
		    DB_BOOTSTRAP_HELPER, 0)) != 0)
			return rc;
	}
	if ((rc = store_repl_site(env, repl.self, strlen(repl.self),
	    DB_LOCAL_SITE, creator)) != 0)
		return rc;
	beat = (db_timeout_t)(repl.stale * 1000000 / 4);
	if (beat > 1000000)
		beat = 1000000;
	repl.monitor_ms = 2 * (int64_t)beat / 1000;
	if ((rc = env->rep_set_priority(env, (u_int32_t)repl.priority)) != 0 ||
	    (rc = env->repmgr_set_ack_policy(env,
	    DB_REPMGR_ACKS_ALL_AVAILABLE)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT,
	    STORE_REPL_ACK_US)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY,
	    STORE_REPL_RETRY_US)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY,
	    STORE_REPL_ELECT_RETRY_US)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND,
	    beat)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR,
	    2 * beat)) != 0 ||
	    (rc = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0)) != 0)
		return rc;
	return 0;
}

/*
 * Whether a master is connected to a majority of its group (itself
 * counted).  One that is not may have been replaced, or have won its
 * election with the vote of a site dying as it voted; a revoke made
 * elsewhere would not reach it, so its checks fail closed as a cut-off
 * replica's do.
 */
static int
store_repl_majority_up(DB_ENV *env)
{
	DB_REPMGR_SITE	*list = NULL;
	u_int32_t	 nsites;
	u_int		 n = 0, i, up = 1;

	if (env->rep_get_nsites(env, &nsites) != 0 ||
	    env->repmgr_site_list(env, &n, &list) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (list[i].status == DB_REPMGR_CONNECTED)
			up++;
	free(list);
	return 2 * up > nsites;
}

/*
 * What the group looks like from here: role, the master's host:port in
 * master, and whether the master is heard (connected, and this replica
 * caught up).
 */
static enum repl_role
store_repl_look(DB_ENV *env, char *master, size_t masterlen, int *heard)
{
	DB_REP_STAT	*sp;
	DB_REPMGR_SITE	*list = NULL;
	DB_SITE		*site;
	const char	*host;
	u_int		 port, n = 0, i;
	enum repl_role	 role = REPL_UNKNOWN;
	int		 eid, rc;

	master[0] = '\0';
	*heard = 0;
	if ((rc = env->rep_stat(env, &sp, 0)) != 0) {
		if (rc == DB_RUNRECOVERY)	/* however it was raised */
			repd_panic = 1;
		return REPL_UNKNOWN;
	}
	eid = (int)sp->st_master;
	if (sp->st_status == DB_REP_MASTER) {
		role = REPL_MASTER;
		snprintf(master, masterlen, "%s", repl.self);
		*heard = store_repl_majority_up(env);
	} else if (sp->st_status == DB_REP_CLIENT && eid != DB_EID_INVALID) {
		role = REPL_REPLICA;
		if (env->repmgr_site_by_eid(env, eid, &site) == 0) {
			if (site->get_address(site, &host, &port) == 0)
				snprintf(master, masterlen, "%s:%u", host,
				    port);
			(void)site->close(site);
		}
		if (sp->st_startup_complete &&
		    env->repmgr_site_list(env, &n, &list) == 0) {
			for (i = 0; i < n; i++)
				if (list[i].eid == eid &&
				    list[i].status == DB_REPMGR_CONNECTED)
					*heard = 1;
			free(list);
		}
	}
	free(sp);
	return role;
}

/* A change of role or master, with the time, for the operator's log. */
static void
store_repl_log_role(enum repl_role role, const char *master)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "patgate-repd: %s.%03ldZ %s: role %s, master %s\n",
	    when, ts.tv_nsec / 1000000, repl.self,
	    role == REPL_MASTER ? "master" :
	    role == REPL_REPLICA ? "replica" : "unknown",
	    master[0] != '\0' ? master : "unknown");
}

int
store_repl_run(const char *dir, volatile sig_atomic_t *stop, char *err,
    size_t errlen)
{
	struct store	*st;
	struct store_repl_pub *pub = NULL;
	char		 master[STORE_REPL_ADDR];
	char		 was_master[STORE_REPL_ADDR] = "";
	enum repl_role	 role, was = REPL_UNKNOWN;
	u_int32_t	 flags;
	int		 rc, heard, started = 0, held = 0, i;

	if (!store_repl_on()) {
		snprintf(err, errlen, "PATGATE_REPL_SELF is not set");
		return -1;
	}
	umask(077);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->lockfd = -1;
	st->ckpfd = -1;
	if ((pub = store_repl_map(dir, 1)) == NULL) {
		snprintf(err, errlen, "cannot map %s/%s: %s", dir,
		    STORE_REPL_FILE, strerror(errno));
		rc = -1;
		goto out;
	}
	store_repl_publish(pub, REPL_UNKNOWN, "", 0);
	if ((rc = store_env_new(st)) != 0 ||
	    (rc = st->env->set_event_notify(st->env, store_repl_event)) != 0 ||
	    (rc = store_repl_setup(st->env)) != 0 ||
	    (rc = st->env->repmgr_msg_dispatch(st->env, store_uses_dispatch,
	    0)) != 0) {
		snprintf(err, errlen, "cannot set up replication: %s",
		    db_strerror(rc));
		rc = -1;
		goto out;
	}
	/*
	 * Registered as the workers are: the first process registered, or
	 * one that finds a registered process dead, recovers, making the
	 * regions afresh with this site's address and the group's settings
	 * (which a joining process inherits and may not change) and with no
	 * listener but this one.  Not failchk: after a repd killed with -9,
	 * Berkeley DB's failchk crashed in __dbreg_close_file in about one
	 * restart of three.  Workers attached to the old regions reopen.
	 */
	flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_REP | DB_THREAD | DB_REGISTER | DB_RECOVER;
	store_exclusive(st, 1);
	rc = st->env->open(st->env, dir, flags, STORE_FILE_MODE);
	store_exclusive(st, 0);
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the environment in %s: %s",
		    dir, db_strerror(rc));
		rc = -1;
		goto out;
	}
	/*
	 * Recovering after a panic, the open met the failed regions before it
	 * replaced them, and was told of that panic: not this environment's.
	 */
	repd_panic = 0;
	/* The uses it applies at the master move their users' lists. */
	store_lists_open(st);
	/* Without the table a master still applies what replicas send. */
	if (store_uses_start(dir) == -1)
		fprintf(stderr, "patgate-repd: cannot map %s's uses table: "
		    "uses seen here will not reach the master\n", dir);
	if (store_uses_run(st) == -1)
		fprintf(stderr, "patgate-repd: cannot start the uses thread: "
		    "uses will not reach the master\n");
	rc = 0;
	while (!*stop && !repd_panic) {
		if (!started) {
			/* Joining waits for a master that can take us in. */
			rc = st->env->repmgr_start(st->env, STORE_REPL_THREADS,
			    DB_REP_ELECTION);
			if (rc == 0)
				started = 1;
			else if (rc == DB_REP_IGNORE) {
				snprintf(err, errlen, "another process is the "
				    "environment's replication listener");
				rc = -1;
				goto out;
			} else if (rc != DB_REP_UNAVAIL) {
				snprintf(err, errlen,
				    "cannot start replication: %s",
				    db_strerror(rc));
				rc = -1;
				goto out;
			}
			rc = 0;
		}
		role = started ? store_repl_look(st->env, master,
		    sizeof(master), &heard) : REPL_UNKNOWN;
		if (!started)
			master[0] = '\0', heard = 0;
		/*
		 * A replica's connection vouches only for the monitor's span.
		 */
		store_repl_publish(pub, role, master, !heard ? 0 :
		    store_repl_now_ms() -
		    (role == REPL_REPLICA ? repl.monitor_ms : 0));
		/* A new master is news even to a replica that stays one. */
		if (role != was || strcmp(master, was_master) != 0)
			store_repl_log_role(role, master);
		store_repl_nodelay(1);
		/*
		 * A replica sends to a master it hears from: a channel to one
		 * cut off waits in connect(2) until the kernel gives up.
		 */
		store_uses_role(role == REPL_MASTER ? STORE_USES_MASTER :
		    role == REPL_REPLICA && heard ? STORE_USES_REPLICA :
		    STORE_USES_IDLE);
		was = role;
		snprintf(was_master, sizeof(was_master), "%s", master);
		usleep(STORE_REPL_POLL_MS * 1000);
	}
	if (repd_panic) {
		snprintf(err, errlen, "the environment failed (panic); "
		    "the next patgate-repd started recovers it");
		rc = -1;
	}
out:
	/* The uses thread first: it works with the handles closed below. */
	if (store_uses_halt(STORE_REPL_HALT_MS) == -1) {
		fprintf(stderr, "patgate-repd: the uses thread is still in "
		    "the library; the next patgate-repd recovers the "
		    "environment\n");
		held = 1;
	}
	store_uses_stop();
	if (pub != NULL) {
		store_repl_publish(pub, REPL_UNKNOWN, "", 0);
		(void)munmap(pub, sizeof(*pub));
	}
	/*
	 * A failed environment is left open: a close would take this process
	 * off its registry, and the next repd, finding no dead process there,
	 * would join the failed regions and fail as well.  Exiting registered,
	 * this one reads as a process that died, so the next recovers, as
	 * after a kill.  So is an environment a thread of this process is
	 * still inside.
	 */
	if (repd_panic || held)
		return rc;
	for (i = 0; i < DB__MAX; i++)	/* opened to apply replicas' uses */
		if (st->db[i] != NULL)
			(void)st->db[i]->close(st->db[i], 0);
	if (st->env != NULL)
		(void)st->env->close(st->env, 0);
	if (st->lockfd >= 0)
		(void)close(st->lockfd);
	store_lists_close(st);
	free(st);
	return rc;
}
