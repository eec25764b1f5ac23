/* test_throttle.c: the budget for Argon2 at a dearer cost than the current one. */
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
budget_is_half_a_second_per_second(void)
{
	throttle_clear();
	CHECK(throttle_allow());		/* starts the second */
	throttle_record(300);
	CHECK(throttle_allow());
	throttle_record(250);
	CHECK(!throttle_allow());		/* saturated: 503 */
	CHECK(!throttle_allow());
	usleep(1100 * 1000);
	CHECK(throttle_allow());		/* a new second */
}

static void
every_check_counts_at_least_a_millisecond(void)
{
	int	 i;

	throttle_clear();
	CHECK(throttle_allow());
	for (i = 0; i < 499; i++)
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
	RUN(every_check_counts_at_least_a_millisecond);
	return tap_done();
}
