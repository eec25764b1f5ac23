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

static void
tens_of_microseconds_count_as_such(void)
{
	int	 i;

	/* 12,499 checks of 40 us fit in the half second; the next fills it. */
	throttle_clear();
	CHECK(throttle_allow());
	for (i = 0; i < 12499; i++)
		throttle_record(40);
	CHECK(throttle_allow());
	throttle_record(40);
	CHECK(!throttle_allow());
	/* A check the clock saw take no time still counts. */
	throttle_clear();
	CHECK(throttle_allow());
	for (i = 0; i < 499999; i++)
		throttle_record(0);
	CHECK(throttle_allow());
	throttle_record(0);
	CHECK(!throttle_allow());
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
