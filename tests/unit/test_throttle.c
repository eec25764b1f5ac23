/* test_throttle.c: the budget for Argon2 at a dearer cost than the current one. */
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
budget_is_half_a_second_per_second(void)
{
	throttle_clear();
	CHECK(throttle_allow());		/* starts the second */
	throttle_record(300000);		/* 300 ms */
	CHECK(throttle_allow());
	throttle_record(250000);
	CHECK(!throttle_allow());		/* saturated: 503 */
	CHECK(!throttle_allow());
	usleep(1100 * 1000);
	CHECK(throttle_allow());		/* a new second */
}

/*
 * From a fresh second, n checks of us each leave room, and one more fills
 * the half second.
 */
static void
fills_after(int n, long us)
{
	int	 i;

	throttle_clear();
	CHECK(throttle_allow());
	for (i = 0; i < n; i++)
		throttle_record(us);
	CHECK(throttle_allow());
	throttle_record(us);
	CHECK(!throttle_allow());
}

static void
tens_of_microseconds_count_as_such(void)
{
	fills_after(12499, 40);
	/* A check the clock saw take no time still counts. */
	fills_after(499999, 0);
	throttle_clear();
	CHECK(throttle_allow());
}

int
main(void)
{
	RUN(budget_is_half_a_second_per_second);
	RUN(tens_of_microseconds_count_as_such);
	return tap_done();
}
