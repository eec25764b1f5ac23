/*
 * throttle.c: Argon2 as a weapon.  Each worker spends at most half of any
 * second on checks the cache cannot answer, and a credential that keeps
 * failing gets one Argon2 try a second, then every 2, 4 ... 64 seconds;
 * the rest are answered 503 at once.
 * Cache hits are never throttled, so a holder whose token is warm goes on.
 */
#include <string.h>

#include "patgate.h"

#define THROTTLE_SLOTS		1024
#define THROTTLE_WINDOW_MS	60000	/* failures counted over a minute */
#define THROTTLE_FAILURES	5	/* then one try a second */
#define THROTTLE_RETRY_MS	1000
#define THROTTLE_BUDGET_MS	500	/* of Argon2 per second per worker */

struct throttle_slot {
	uint64_t	 id;
	unsigned char	 kind;
	unsigned	 failures;
	long long	 since;		/* start of the failure window */
	long long	 last_try;
};

static struct throttle_slot failing[THROTTLE_SLOTS];
static long long budget_since;		/* start of the current second */
static long	 budget_used;		/* ms of Argon2 in it */

long long
throttle_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct throttle_slot *
throttle_slot_for(int kind, uint64_t id)
{
	uint64_t h = (id ^ ((uint64_t)kind << 61)) * 0x9e3779b97f4a7c15ULL;

	return &failing[h >> (64 - 10)];
}

int
throttle_allow(int kind, uint64_t id)
{
	struct throttle_slot *s = throttle_slot_for(kind, id);
	long long	 now = throttle_now_ms();

	if (now - budget_since >= 1000) {
		budget_since = now;
		budget_used = 0;
	}
	if (budget_used >= THROTTLE_BUDGET_MS)
		return 0;
	/* Past the fifth failure, the wait between tries doubles each time. */
	if (s->kind == kind && s->id == id && now - s->since < THROTTLE_WINDOW_MS &&
	    s->failures >= THROTTLE_FAILURES &&
	    now - s->last_try < (THROTTLE_RETRY_MS << (s->failures - THROTTLE_FAILURES < 6 ?
	    s->failures - THROTTLE_FAILURES : 6)))
		return 0;
	return 1;
}

void
throttle_record(int kind, uint64_t id, long ms, int passed)
{
	struct throttle_slot *s = throttle_slot_for(kind, id);
	long long	 now = throttle_now_ms();

	budget_used += ms > 0 ? ms : 1;
	if (passed) {
		if (s->kind == kind && s->id == id)
			s->kind = 0;
		return;
	}
	if (s->kind != kind || s->id != id || now - s->since >= THROTTLE_WINDOW_MS) {
		s->kind = (unsigned char)kind;
		s->id = id;
		s->failures = 0;
		s->since = now;
	}
	s->failures++;
	s->last_try = now;
}

void
throttle_clear(void)
{
	memset(failing, 0, sizeof(failing));
	budget_since = 0;
	budget_used = 0;
}
