/*
 * store_pending.c: tokens' uses this site's workers saw, waiting to be
 * written together.
 *
 * A check whose use is due (the minute's last use, a new address) would
 * otherwise pay a transaction of its own.  It leaves the use instead in
 * tokens.pending, a table of the environment that every process maps: one
 * slot per token number modulo its size, each under a sequence count (odd
 * while a process is in it), with a bit per slot saying it is full.  After
 * an answer, a worker that finds STORE_PENDING_BATCH uses waiting, or any
 * waiting a second, takes them all and writes them in one transaction,
 * each judged again as the check's own write would have been (a use
 * written meanwhile by another process leaves nothing to write).
 *
 * Whoever reads uses applies what waits first (store_pending_settle):
 * lists, a token read by id, the CLI, the unused-token revoke.  A slot
 * held by another token's use, or by a process that died in it, is no
 * wait: the check then writes its use itself, as before.  The file
 * outlives a killed worker, so a use noted survives it, and a batch's
 * commit is written to the log file before the worker goes on; a power
 * cut may lose what was not yet synced, which costs the uses' precision,
 * never a check.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

#define STORE_PENDING_FILE	"tokens.pending"
#define STORE_PENDING_SLOTS	4096	/* a power of two; 512 KiB */
#define STORE_PENDING_WORDS	(STORE_PENDING_SLOTS / 64)
/* Uses that call for a write before their second is out. */
#define STORE_PENDING_BATCH	64

struct store_pending_slot {
	uint32_t	 seq;		/* odd while a process is in it */
	uint32_t	 full;
	struct store_pending_use use;
};

struct store_pending {
	uint32_t	 count;		/* full slots */
	uint32_t	 unused;
	int64_t		 applied;	/* the second of the last apply */
	uint64_t	 full[STORE_PENDING_WORDS];	/* a bit per slot */
	struct store_pending_slot slot[STORE_PENDING_SLOTS];
};

void
store_pending_open(struct store *st)
{
	st->pending = store_map_file(st->dir, STORE_PENDING_FILE,
	    sizeof(struct store_pending), STORE_MAP_CREATE);
}

void
store_pending_close(struct store *st)
{
	if (st->pending != NULL)
		(void)munmap(st->pending, sizeof(struct store_pending));
	st->pending = NULL;
}

/* Enter slot s: its even count, or 0 when another process is in it. */
static int
store_pending_enter(struct store_pending_slot *s, uint32_t *seq)
{
	*seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	return !(*seq & 1) && __atomic_compare_exchange_n(&s->seq, seq,
	    *seq + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static void
store_pending_leave(struct store_pending_slot *s, uint32_t seq)
{
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

int
store_pending_note(struct store *st, const struct store_pending_use *u)
{
	struct store_pending *p = st->pending;
	struct store_pending_slot *s;
	size_t		 i;
	uint32_t	 seq;

	if (p == NULL)
		return -1;
	i = u->n & (STORE_PENDING_SLOTS - 1);
	s = &p->slot[i];
	if (!store_pending_enter(s, &seq))
		return -1;
	if (s->full && s->use.n != u->n) {
		store_pending_leave(s, seq);
		return -1;	/* another token's use waits here */
	}
	/* The same token's later use: it stands for both. */
	if (!s->full || u->at >= s->use.at)
		s->use = *u;
	if (!s->full) {
		s->full = 1;
		__atomic_fetch_or(&p->full[i / 64], (uint64_t)1 << (i % 64),
		    __ATOMIC_RELAXED);
		__atomic_fetch_add(&p->count, 1, __ATOMIC_RELAXED);
	}
	store_pending_leave(s, seq);
	return 0;
}

/* Up to max waiting uses into out, their slots emptied: how many. */
static size_t
store_pending_take(struct store_pending *p, struct store_pending_use *out,
    size_t max)
{
	struct store_pending_slot *s;
	uint64_t	 word;
	size_t		 w, b, n = 0;
	uint32_t	 seq;

	for (w = 0; w < STORE_PENDING_WORDS && n < max; w++) {
		word = __atomic_load_n(&p->full[w], __ATOMIC_RELAXED);
		for (b = 0; word != 0 && n < max; b++, word >>= 1) {
			if (!(word & 1))
				continue;
			s = &p->slot[w * 64 + b];
			if (!store_pending_enter(s, &seq))
				continue;
			if (s->full) {
				out[n++] = s->use;
				s->full = 0;
				__atomic_fetch_and(&p->full[w],
				    ~((uint64_t)1 << b), __ATOMIC_RELAXED);
				__atomic_fetch_sub(&p->count, 1,
				    __ATOMIC_RELAXED);
			}
			store_pending_leave(s, seq);
		}
	}
	return n;
}

static int
store_pending_cmp(const void *a, const void *b)
{
	const struct store_pending_use *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

struct pending_batch {
	const struct store_pending_use *u;
	size_t		 n;
};

static int
store_pending_txn(struct store *st, DB_TXN *txn, void *arg,
    enum store_rc *verdict)
{
	struct pending_batch *b = arg;
	size_t		 i;
	int		 rc;

	(void)verdict;
	for (i = 0; i < b->n; i++)
		if ((rc = store_token_use_pending(st, txn, &b->u[i])) != 0)
			return rc;
	return 0;
}

void
store_pending_apply(struct store *st, time_t now, int all)
{
	static struct store_pending_use batch[STORE_PENDING_SLOTS];
	struct store_pending *p = st != NULL ? st->pending : NULL;
	struct pending_batch b = { batch, 0 };
	uint32_t	 count;
	size_t		 i;

	if (p == NULL || st->failed ||
	    (count = __atomic_load_n(&p->count, __ATOMIC_RELAXED)) == 0)
		return;
	if (!all && count < STORE_PENDING_BATCH &&
	    now - __atomic_load_n(&p->applied, __ATOMIC_RELAXED) < 1)
		return;
	/* A replica cannot write them; a master, later, will. */
	if (store_repl_on() && store_repl_may_write(st, NULL, 0) != REPL_GO)
		return;
	__atomic_store_n(&p->applied, (int64_t)now, __ATOMIC_RELAXED);
	if ((b.n = store_pending_take(p, batch, STORE_PENDING_SLOTS)) == 0)
		return;
	/* In the order of the pages they lock, so batches meet no cycle. */
	qsort(batch, b.n, sizeof(batch[0]), store_pending_cmp);
	/*
	 * The commit goes to the log file, unsynced: one write for the batch,
	 * and every process killed right after (a recovery) loses none.
	 */
	if (store_txn(st, 0, DB_TXN_WRITE_NOSYNC, store_pending_txn, &b) ==
	    STORE_OK)
		return;
	/* Not written: back to wait for the next try, where room is left. */
	for (i = 0; i < b.n; i++)
		(void)store_pending_note(st, &batch[i]);
}

void
store_pending_settle(struct store *st)
{
	store_pending_apply(st, time(NULL), 1);
}
