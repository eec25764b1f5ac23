/*
 * store_uses.c: a token's last use, seen at a replica, carried to the
 * master, which alone may write it.
 *
 * A worker at a replica cannot write, and a check must not wait on the
 * network, so the worker leaves the use (token number, second, address)
 * in STORE_USES_FILE, a table of the environment that every process maps:
 * one slot per token number modulo its size, each under a sequence count
 * (odd while a writer is in it), so that writing is a few stores and never
 * waits.  patgate-repd reads the slots that changed since its last look,
 * every poll, and sends them to the master over a Replication Manager
 * channel; the master's repd applies them in one transaction, keeping the
 * later of what the record holds and what was seen.  The write then comes
 * back to every replica as any other does.
 *
 * It is lazy and may lose a use: two tokens that share a slot within one
 * poll keep the later, a master lost while they go drops them (one not
 * heard from is not sent to: they wait in the table).  A use lost costs
 * the record that use's precision, never a check.
 *
 * The moving is a thread of its own, never repd's main loop: a commit of
 * uses at the master waits for the replicas' acknowledgements, and a
 * channel to a master just cut off waits on connect(2), for tens of
 * seconds; the loop, waiting with them, published no new role, and a
 * replica elected master stayed a replica to its workers until the old
 * master came back.
 */
#include <sys/mman.h>

#include <db.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_private.h"

#define STORE_USES_FILE		"repl.uses"
#define STORE_USES_SLOTS	8192	/* about 720 KiB */
#define STORE_USES_MAGIC	0x70677531u	/* "pgu1" */
/* Uses in one message, and waiting at the master at most. */
#define STORE_USES_PER_MSG	512
#define STORE_USES_PENDING	16384
/* A use on the wire: number, second, address length, address. */
#define STORE_USES_WIRE_MAX	(8 + 8 + 1 + TOKEN_IP_MAX)
#define STORE_USES_POLL_MS	200	/* the thread looks this often */

struct store_uses_slot {
	uint32_t	 seq;		/* odd while a worker writes */
	uint32_t	 unused;
	uint64_t	 n;
	int64_t		 at;
	char		 addr[TOKEN_IP_MAX + 1];
};

struct store_uses {
	struct store_uses_slot	 slot[STORE_USES_SLOTS];
};

/* Map dir's table, made when create is set: the map or NULL. */
static struct store_uses *
store_uses_map(const char *dir, int create)
{
	return store_map_file(dir, STORE_USES_FILE, sizeof(struct store_uses),
	    create ? STORE_MAP_CREATE : STORE_MAP_WRITE);
}

void
store_uses_close(struct store *st)
{
	if (st->uses != NULL)
		(void)munmap(st->uses, sizeof(struct store_uses));
	st->uses = NULL;
}

void
store_uses_note(struct store *st, uint64_t n, time_t at, const char *addr)
{
	struct store_uses_slot *s;
	uint32_t	 seq;

	if (st->uses == NULL && (st->uses = store_uses_map(st->dir, 0)) == NULL)
		return;
	s = &st->uses->slot[n % STORE_USES_SLOTS];
	/* Another writer in the slot: this use gives way. */
	seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) || !__atomic_compare_exchange_n(&s->seq, &seq, seq + 1,
	    0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	s->n = n;
	s->at = (int64_t)at;
	snprintf(s->addr, sizeof(s->addr), "%s", addr != NULL ? addr : "");
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------- patgate-repd */

/* repd's view: the table and the count each slot had when last taken. */
static struct {
	struct store_uses *map;
	uint32_t	*taken;
	DB_CHANNEL	*channel;	/* to the master; NULL: not yet */
	pthread_mutex_t	 lock;		/* over pending, filled by messages */
	struct store_use pending[STORE_USES_PENDING];
	size_t		 npending;
	unsigned long	 sent, applied, dropped;
	/* the thread that moves them, and what the main loop last saw */
	pthread_t	 thread;
	int		 started;
	int		 role;		/* enum store_uses_role, atomic */
	int		 stop, done;	/* atomic */
} uses = { .lock = PTHREAD_MUTEX_INITIALIZER };

int
store_uses_start(const char *dir)
{
	uses.map = store_uses_map(dir, 1);
	uses.taken = calloc(STORE_USES_SLOTS, sizeof(*uses.taken));
	return uses.map != NULL && uses.taken != NULL ? 0 : -1;
}

/* Up to max uses from slots that changed since they were last taken. */
static size_t
store_uses_take(struct store_use *out, size_t max)
{
	struct store_uses_slot *s;
	size_t		 i, n = 0;
	uint32_t	 s1, s2;

	if (uses.map == NULL || uses.taken == NULL)
		return 0;
	for (i = 0; i < STORE_USES_SLOTS && n < max; i++) {
		s = &uses.map->slot[i];
		s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if ((s1 & 1) || s1 == uses.taken[i])
			continue;
		out[n].n = s->n;
		out[n].at = (time_t)s->at;
		memcpy(out[n].addr, s->addr, sizeof(out[n].addr));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			continue;	/* taken next time */
		out[n].addr[sizeof(out[n].addr) - 1] = '\0';
		uses.taken[i] = s1;
		if (out[n].n != 0)
			n++;
	}
	return n;
}

/* uses u[0..n) packed for the wire into buf (room for all): its length. */
static size_t
store_uses_pack(const struct store_use *u, size_t n, unsigned char *buf)
{
	size_t		 at = 4, i, len;

	for (i = 0; i < 4; i++)
		buf[i] = (unsigned char)(STORE_USES_MAGIC >> (24 - 8 * i));
	for (i = 0; i < n; i++) {
		store_be64(u[i].n, buf + at);
		store_be64((uint64_t)u[i].at, buf + at + 8);
		len = strlen(u[i].addr);
		buf[at + 16] = (unsigned char)len;
		memcpy(buf + at + 17, u[i].addr, len);
		at += 17 + len;
	}
	return at;
}

/* A message's uses appended to pending: 0, or -1 when it is malformed. */
static int
store_uses_unpack(const unsigned char *p, size_t len)
{
	struct store_use u;
	size_t		 at = 4, alen, i;

	if (len < 4 || ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]) != STORE_USES_MAGIC)
		return -1;
	while (at < len) {
		if (len - at < 17 || (alen = p[at + 16]) > TOKEN_IP_MAX ||
		    len - at - 17 < alen)
			return -1;
		u.n = store_from_be64(p + at);
		u.at = (time_t)store_from_be64(p + at + 8);
		for (i = 0; i < alen; i++)
			if (p[at + 17 + i] <= ' ' || p[at + 17 + i] >= 0x7f)
				return -1;
		memcpy(u.addr, p + at + 17, alen);
		u.addr[alen] = '\0';
		at += 17 + alen;
		if (uses.npending < STORE_USES_PENDING)
			uses.pending[uses.npending++] = u;
		else
			uses.dropped++;
	}
	return 0;
}

void
store_uses_dispatch(DB_ENV *env, DB_CHANNEL *ch, DBT *msg, u_int32_t nmsg,
    u_int32_t flags)
{
	u_int32_t	 i;

	(void)env;
	(void)ch;
	(void)flags;
	(void)pthread_mutex_lock(&uses.lock);
	for (i = 0; i < nmsg; i++)
		if (store_uses_unpack(msg[i].data, msg[i].size) == -1)
			fprintf(stderr, "patgate-repd: a malformed message of "
			    "%lu bytes on the uses channel\n",
			    (unsigned long)msg[i].size);
	(void)pthread_mutex_unlock(&uses.lock);
}

/* Send n uses to the master; they are dropped when it cannot be reached. */
static void
store_uses_send(DB_ENV *env, const struct store_use *u, size_t n)
{
	static unsigned char buf[4 + STORE_USES_PER_MSG * STORE_USES_WIRE_MAX];
	DBT		 msg;

	if (uses.channel == NULL &&
	    env->repmgr_channel(env, DB_EID_MASTER, &uses.channel, 0) != 0) {
		uses.channel = NULL;
		uses.dropped += n;
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.data = buf;
	msg.size = (u_int32_t)store_uses_pack(u, n, buf);
	if (uses.channel->send_msg(uses.channel, &msg, 1, 0) == 0)
		uses.sent += n;
	else
		uses.dropped += n;
}

/* Apply n uses at the master, in one transaction: 0 or a code. */
static int
store_uses_apply(struct store *st, const struct store_use *u, size_t n)
{
	DB_TXN		*txn;
	size_t		 i;
	int		 rc, try;

	for (i = 0; i < DB__MAX; i++)
		if (i == DB_TOKENS || i == DB_TOKEN_USED)
			if (st->db[i] == NULL &&
			    (rc = store_db_open(st, (enum store_db)i)) != 0)
				return rc;
	for (try = 0; try < 3; try++) {
		if ((rc = st->env->txn_begin(st->env, NULL, &txn, 0)) != 0)
			return rc;
		for (i = 0, rc = 0; i < n && rc == 0; i++)
			rc = store_token_use_merge(st, txn, u[i].n, u[i].at,
			    u[i].addr);
		if (rc == 0) {
			rc = txn->commit(txn, DB_TXN_NOSYNC);
			store_lists_flush(st);
			return rc;
		}
		(void)txn->abort(txn);
		store_lists_flush(st);
		if (rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED)
			break;
	}
	return rc;
}

static void
store_uses_pump(struct store *st, int master)
{
	static struct store_use batch[STORE_USES_PENDING];
	size_t		 n, i;
	int		 rc;

	if (master) {
		/* Uses left in this site's own table, then the group's. */
		n = store_uses_take(batch, STORE_USES_PENDING / 2);
		(void)pthread_mutex_lock(&uses.lock);
		for (i = 0; i < uses.npending && n < STORE_USES_PENDING; i++)
			batch[n++] = uses.pending[i];
		uses.npending = 0;
		(void)pthread_mutex_unlock(&uses.lock);
		if (n == 0)
			return;
		if ((rc = store_uses_apply(st, batch, n)) == 0) {
			uses.applied += n;
			return;
		}
		/* Handles a role change made stale are opened afresh. */
		fprintf(stderr, "patgate-repd: %zu uses from replicas not "
		    "applied: %s\n", n, db_strerror(rc));
		uses.dropped += n;
		for (i = 0; i < DB__MAX; i++)
			if (st->db[i] != NULL) {
				(void)st->db[i]->close(st->db[i], 0);
				st->db[i] = NULL;
			}
		return;
	}
	/* A replica: what its workers saw goes to the master. */
	while ((n = store_uses_take(batch, STORE_USES_PER_MSG)) > 0) {
		store_uses_send(st->env, batch, n);
		if (n < STORE_USES_PER_MSG)
			break;
	}
}

static void *
store_uses_thread(void *arg)
{
	struct store	*st = arg;
	int		 role;

	while (!__atomic_load_n(&uses.stop, __ATOMIC_ACQUIRE)) {
		role = __atomic_load_n(&uses.role, __ATOMIC_ACQUIRE);
		if (role != STORE_USES_IDLE)
			store_uses_pump(st, role == STORE_USES_MASTER);
		usleep(STORE_USES_POLL_MS * 1000);
	}
	__atomic_store_n(&uses.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
store_uses_run(struct store *st)
{
	if (pthread_create(&uses.thread, NULL, store_uses_thread, st) != 0)
		return -1;
	uses.started = 1;
	return 0;
}

void
store_uses_role(enum store_uses_role role)
{
	__atomic_store_n(&uses.role, (int)role, __ATOMIC_RELEASE);
}

int
store_uses_halt(int wait_ms)
{
	int	 i;

	if (!uses.started)
		return 0;
	__atomic_store_n(&uses.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < wait_ms / 10; i++) {
		if (__atomic_load_n(&uses.done, __ATOMIC_ACQUIRE)) {
			(void)pthread_join(uses.thread, NULL);
			uses.started = 0;
			return 0;
		}
		usleep(10 * 1000);
	}
	/* Still in the library (a connect): left to the exit. */
	(void)pthread_detach(uses.thread);
	return -1;
}

void
store_uses_stop(void)
{
	if (uses.started)	/* halted in vain: the thread holds them */
		return;
	if (uses.channel != NULL)
		(void)uses.channel->close(uses.channel, 0);
	uses.channel = NULL;
	if (uses.sent + uses.applied + uses.dropped > 0)
		fprintf(stderr, "patgate-repd: uses sent %lu, applied %lu, "
		    "dropped %lu\n", uses.sent, uses.applied, uses.dropped);
	if (uses.map != NULL)
		(void)munmap(uses.map, sizeof(*uses.map));
	uses.map = NULL;
	free(uses.taken);
	uses.taken = NULL;
}
