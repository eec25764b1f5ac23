/*
 * store_rate.c: counts every worker of the host shares, in a file of the
 * environment (tokens.rates) that each maps: a PAT's requests in the
 * current minute, for its rate_limit, and a canary's uses since its last
 * event, so that a flood of uses queues one event a second.
 *
 * The table is open addressing over token numbers, each slot two 64-bit
 * words changed only by atomic compare-and-swap: a key (the number, with
 * the top bit for a canary's slot) and a state (a second in the high 32
 * bits, a count in the low).  No lock is held, so a worker killed
 * mid-count loses nothing but the request it was answering.  A slot whose
 * second is over two minutes old belongs to nobody and is taken over.
 * Without the file (no permission, no space) each process counts alone.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_private.h"

#define STORE_RATE_FILE		"tokens.rates"
#define STORE_RATE_SLOTS	65536	/* 1 MiB: tokens counted in a minute */
#define STORE_RATE_PROBES	64
#define STORE_RATE_STALE	120	/* seconds after which a slot is free */
#define RATE_CANARY_BIT		(1ULL << 63)

struct store_rate_slot {
	uint64_t	 key;		/* 0: free */
	uint64_t	 state;		/* second << 32 | count */
};

/* Map the shared table, or make one of our own.  0, or -1 without either. */
static int
store_rate_open(struct store *st)
{
	size_t		 len = STORE_RATE_SLOTS *
	    sizeof(struct store_rate_slot);
	void		*p;

	if ((p = store_map_file(st->dir, STORE_RATE_FILE, len,
	    STORE_MAP_CREATE)) != NULL) {
		st->rates = p;
		st->rates_len = len;
		return 0;
	}
	log_error("patgate: %s/%s cannot be mapped; rate limits are counted "
	    "per process", st->dir, STORE_RATE_FILE);
	if ((st->rates = calloc(STORE_RATE_SLOTS, sizeof(*st->rates))) == NULL)
		return -1;
	st->rates_len = 0;
	return 0;
}

void
store_rate_close(struct store *st)
{
	if (st->rates != NULL && st->rates_len > 0)
		(void)munmap(st->rates, st->rates_len);
	else
		free(st->rates);
	st->rates = NULL;
	st->rates_len = 0;
}

/* The slot of key, claimed if need be; NULL when the table is full. */
static struct store_rate_slot *
store_rate_slot(struct store *st, uint64_t key, time_t now)
{
	struct store_rate_slot *s;
	uint64_t	 seen, state, h;
	int		 i;

	if (st->rates == NULL && store_rate_open(st) == -1)
		return NULL;
	/*
	 * Numbers are sequential: spread them (a 64-bit multiplicative hash).
	 */
	h = key * 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < STORE_RATE_PROBES; i++) {
		s = &st->rates[(h >> 40) % STORE_RATE_SLOTS];
		h += 0x9e3779b97f4a7c15ULL;
		seen = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (seen == key)
			return s;
		state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (seen != 0 && (time_t)(state >> 32) + STORE_RATE_STALE > now)
			continue;
		/*
		 * Free, or stale: take it; whoever loses the race looks again.
		 */
		if (__atomic_compare_exchange_n(&s->key, &seen, key, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* The count left behind was another token's. */
			(void)__atomic_compare_exchange_n(&s->state, &state, 0,
			    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
			return s;
		}
		if (seen == key)
			return s;
	}
	return NULL;
}

int
store_rate_take(struct store *st, uint64_t number, long limit, time_t now,
    long *retry_after)
{
	struct store_rate_slot *s;
	uint64_t	 old, nw, minute = (uint64_t)(now - now % 60);
	unsigned long	 skipped;

	*retry_after = 60 - (long)(now % 60);
	if ((s = store_rate_slot(st, number & ~RATE_CANARY_BIT, now)) == NULL) {
		/* A full table must not lock every bound token out. */
		if (log_repeat("rate.table.full", now, &skipped))
			log_error("patgate: the rate table is full; a limit "
			    "goes uncounted");
		return 1;
	}
	old = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	do {
		if ((old >> 32) != minute)
			nw = minute << 32 | 1;
		else if ((long)(old & 0xffffffffULL) >= limit)
			return 0;
		else
			nw = old + 1;
	} while (!__atomic_compare_exchange_n(&s->state, &old, nw, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 1;
}

int
store_canary_due(struct store *st, uint64_t number, time_t now,
    unsigned long *uses)
{
	struct store_rate_slot *s;
	uint64_t	 old, nw, second = (uint64_t)now;

	*uses = 1;
	if ((s = store_rate_slot(st, number | RATE_CANARY_BIT, now)) == NULL)
		return 1;
	old = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	do {
		if ((old >> 32) == second)
			nw = old + 1;	/* told with the next event */
		else
			nw = second << 32;
	} while (!__atomic_compare_exchange_n(&s->state, &old, nw, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if ((old >> 32) == second)
		return 0;
	*uses = 1 + (unsigned long)(old & 0xffffffffULL);
	return 1;
}
