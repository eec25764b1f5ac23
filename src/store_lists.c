/*
 * store_lists.c: a count of changes to each user's tokens that every
 * process of the environment shares, in a small file of it (tokens.lists),
 * so that a worker may answer a list it wrote earlier in the same second
 * while nothing it shows has changed.
 *
 * A write that changes what a list shows (a token's record, its uses, its
 * index entries) marks its user in the transaction; when the transaction
 * ends, committed or not, each marked user's count is incremented, after
 * the commit and before anyone is answered.  A list is filed under the
 * counts read before its store was read, and used again only while they
 * stand, with the epoch (store_memo.c: a store opened afresh, restored or
 * recovered) and the second: as for the record memo, a process that died
 * between its commit and the increment leaves a list stale for at most
 * that second.  Users share a count when their ids meet in the table,
 * which costs a list kept, never a stale one; a transaction that changes
 * more users than it can mark increments the count all lists are under.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <string.h>

#include "fnv.h"
#include "store_private.h"

#define STORE_LISTS_FILE	"tokens.lists"
#define STORE_LISTS_SLOTS	4096	/* 32 KiB; slot 0 is everyone's */

void
store_lists_open(struct store *st)
{
	st->lists = store_map_file(st->dir, STORE_LISTS_FILE,
	    STORE_LISTS_SLOTS * sizeof(uint64_t), STORE_MAP_CREATE);
}

void
store_lists_close(struct store *st)
{
	if (st->lists != NULL)
		(void)munmap((void *)st->lists,
		    STORE_LISTS_SLOTS * sizeof(uint64_t));
	st->lists = NULL;
}

/* The user's slot: FNV-1a of the id, never slot 0. */
static uint32_t
store_lists_slot(const char *user_id)
{
	return 1 + fnv1a(user_id) % (STORE_LISTS_SLOTS - 1);
}

void
store_lists_mark(struct store *st, const char *user_id)
{
	uint32_t	 slot;
	unsigned	 i;

	if (st->lists == NULL || st->lists_all)
		return;
	slot = store_lists_slot(user_id);
	for (i = 0; i < st->lists_nmarked; i++)
		if (st->lists_marked[i] == slot)
			return;
	if (st->lists_nmarked == STORE_LISTS_MARKS) {
		st->lists_all = 1;
		return;
	}
	st->lists_marked[st->lists_nmarked++] = slot;
}

void
store_lists_flush(struct store *st)
{
	unsigned	 i;

	if (st->lists == NULL)
		return;
	if (st->lists_all)
		(void)__atomic_add_fetch(&st->lists[0], 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < st->lists_nmarked && !st->lists_all; i++)
		(void)__atomic_add_fetch(&st->lists[st->lists_marked[i]], 1,
		    __ATOMIC_SEQ_CST);
	st->lists_nmarked = 0;
	st->lists_all = 0;
}

int
store_list_stamp(struct store *st, const char *user_id, time_t now,
    struct store_list_stamp *s)
{
	memset(s, 0, sizeof(*s));
	if (st->lists == NULL || st->epoch == NULL || !store_repl_memo_ok(st))
		return 0;
	/* The epoch last: a store opened afresh in between is seen. */
	s->user = __atomic_load_n(&st->lists[store_lists_slot(user_id)],
	    __ATOMIC_ACQUIRE);
	s->all = __atomic_load_n(&st->lists[0], __ATOMIC_ACQUIRE);
	s->epoch = __atomic_load_n(st->epoch, __ATOMIC_ACQUIRE);
	s->at = now;
	return 1;
}

int
store_list_stamp_same(const struct store_list_stamp *a,
    const struct store_list_stamp *b)
{
	return a->user == b->user && a->all == b->all &&
	    a->epoch == b->epoch && a->at == b->at;
}
