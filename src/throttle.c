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

#define THROTTLE_BUDGET_US	500000 /* of dear Argon2 a second, a worker */

static long long budget_since;		/* start of the current second */
static long	 budget_used;		/* us of Argon2 in it */

/*
 * Microseconds: an older token cost's hash takes tens of them, and counted
 * in whole milliseconds each would be charged 1 ms, twenty times its cost,
 * turning a deployment's move to a cheaper cost into 503s under load.
 */
long long
throttle_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
throttle_allow(void)
{
	long long	 now = throttle_now_us();

	if (now - budget_since >= 1000000) {
		budget_since = now;
		budget_used = 0;
	}
	return budget_used < THROTTLE_BUDGET_US;
}

void
throttle_record(long us)
{
	budget_used += us > 0 ? us : 1;
}

void
throttle_clear(void)
{
	budget_since = 0;
	budget_used = 0;
}
