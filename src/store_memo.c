/*
 * store_memo.c: token records this process has read lately, kept for the
 * checks that follow, and the shared epoch that says when they are stale.
 *
 * A check reads its token's record on every request, so that a revoke
 * bites at once; that read was the largest part of a warm check.  Every
 * process that can revoke or delete a token (workers, the CLI) increments
 * the epoch, a counter in a small file of the environment that all of
 * them map, after the change commits and before it answers.  A record read
 * under an epoch is used again only while the epoch stands, and never past
 * the second it was read in: a process that died between its commit and
 * the increment (and so answered nobody) leaves records stale for at most
 * that second.  Opening the environment increments it too, since a
 * restored or recovered store may hold anything.  Without the file (no
 * permission, no space) nothing is kept and every check reads the store.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_private.h"

#define STORE_EPOCH_FILE	"tokens.epoch"
/*
 * Two tables: many slots for records of the usual size, so that a gateway
 * cycling over a few thousand tokens finds most of them, and a few large
 * slots for records with long bindings (five IPv6 addresses take some 250
 * bytes, bindings up to some 5,600).  A record longer still is not kept.
 */
#define STORE_MEMO_SLOTS	2048	/* a power of two; about 1.1 MiB */
#define STORE_MEMO_BYTES	512
#define STORE_MEMO_BIG_SLOTS	64
#define STORE_MEMO_BIG_BYTES	8192

struct store_memo_head {
	uint64_t	 n;		/* token number; 0: empty */
	uint64_t	 epoch;		/* the epoch read before the record */
	time_t		 at;		/* the second it was read in */
	size_t		 len;
};

struct store_memo_small {
	struct store_memo_head h;
	unsigned char	 buf[STORE_MEMO_BYTES];
};

struct store_memo_big {
	struct store_memo_head h;
	unsigned char	 buf[STORE_MEMO_BIG_BYTES];
};

struct store_memo {
	struct store_memo_small	 small[STORE_MEMO_SLOTS];
	struct store_memo_big	 big[STORE_MEMO_BIG_SLOTS];
};

void
store_epoch_open(struct store *st)
{
	void		*p;

	if ((p = store_map_file(st->dir, STORE_EPOCH_FILE, sizeof(uint64_t),
	    STORE_MAP_CREATE)) == NULL)
		return;
	st->epoch = p;
	store_epoch_bump(st);
}

void
store_epoch_close(struct store *st)
{
	if (st->epoch != NULL)
		(void)munmap((void *)st->epoch, sizeof(uint64_t));
	st->epoch = NULL;
	free(st->memo);
	st->memo = NULL;
}

void
store_epoch_bump(struct store *st)
{
	if (st->epoch != NULL)
		(void)__atomic_add_fetch(st->epoch, 1, __ATOMIC_SEQ_CST);
}

/* Where token n's record is kept: its head and buffer (max bytes). */
static struct store_memo_head *
store_memo_slot(struct store_memo *memo, uint64_t n, int big,
    unsigned char **buf)
{
	if (big) {
		*buf = memo->big[n % STORE_MEMO_BIG_SLOTS].buf;
		return &memo->big[n % STORE_MEMO_BIG_SLOTS].h;
	}
	*buf = memo->small[n % STORE_MEMO_SLOTS].buf;
	return &memo->small[n % STORE_MEMO_SLOTS].h;
}

int
store_memo_get(struct store *st, uint64_t n, time_t now, struct token_rec *t,
    uint64_t *epoch)
{
	struct store_memo_head *m;
	unsigned char	*buf;
	int		 big;

	*epoch = 0;
	if (st->epoch == NULL)
		return 0;
	/* Read before the record, so that a later increment undoes it. */
	*epoch = __atomic_load_n(st->epoch, __ATOMIC_ACQUIRE);
	if (st->memo == NULL || !store_repl_memo_ok(st))
		return 0;
	for (big = 0; big < 2; big++) {
		m = store_memo_slot(st->memo, n, big, &buf);
		if (m->n != n || m->epoch != *epoch || m->at != now)
			continue;
		if (store_uncodec_token(buf, m->len, t) != 0) {
			m->n = 0;
			return 0;
		}
		t->number = n;
		return 1;
	}
	return 0;
}

void
store_memo_forget(struct store *st, uint64_t n)
{
	struct store_memo_head *m;
	unsigned char	*buf;
	int		 big;

	if (st->memo == NULL)
		return;
	for (big = 0; big < 2; big++)
		if ((m = store_memo_slot(st->memo, n, big, &buf))->n == n)
			m->n = 0;
}

void
store_memo_put(struct store *st, uint64_t n, uint64_t epoch, time_t now,
    const void *buf, size_t len)
{
	struct store_memo_head *m;
	unsigned char	*to;
	int		 big = len > STORE_MEMO_BYTES;

	if (st->epoch == NULL || len > STORE_MEMO_BIG_BYTES || n == 0 ||
	    !store_repl_memo_ok(st))
		return;
	if (st->memo == NULL &&
	    (st->memo = calloc(1, sizeof(*st->memo))) == NULL)
		return;
	/* A record that grew leaves no older copy in the other table. */
	store_memo_forget(st, n);
	m = store_memo_slot(st->memo, n, big, &to);
	m->n = n;
	m->epoch = epoch;
	m->at = now;
	m->len = len;
	memcpy(to, buf, len);
}
