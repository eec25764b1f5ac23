/*
 * throttle.c: Argon2 as a weapon.  Hashes made at a dearer cost than the
 * current PATGATE_ARGON2 (a password cost, or an older token cost, until
 * their next successful use rewrites them) take milliseconds each: a
 * worker spends at most half of any second on such checks and answers the
 * rest 503 at once.  Checks at the current cost are cheap and never pass
 * through here.  Nothing is kept per credential: whatever a forged secret
 * did before, the holder's next check is judged like any other.
 */
#include <string.h>

#include "patgate.h"

#define THROTTLE_BUDGET_MS	500 /* of dear Argon2 per second per worker */

static long long budget_since;		/* start of the current second */
static long	 budget_used;		/* ms of Argon2 in it */

long long
throttle_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
throttle_allow(void)
{
	long long	 now = throttle_now_ms();

	if (now - budget_since >= 1000) {
		budget_since = now;
		budget_used = 0;
	}
	return budget_used < THROTTLE_BUDGET_MS;
}

void
throttle_record(long ms)
{
	budget_used += ms > 0 ? ms : 1;
}

void
throttle_clear(void)
{
	budget_since = 0;
	budget_used = 0;
}
