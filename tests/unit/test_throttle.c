/* test_throttle.c: the Argon2 budget and the per-credential failure throttle. */
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
failing_credential_gets_one_try_a_second(void)
{
	int	 i;

	throttle_clear();
	for (i = 0; i < 5; i++) {
		CHECK(throttle_allow(CACHE_PAT, 42));
		throttle_record(CACHE_PAT, 42, 1, 0);
	}
	CHECK(!throttle_allow(CACHE_PAT, 42));
	CHECK(throttle_allow(CACHE_PAT, 43));		/* others unaffected */
	CHECK(throttle_allow(CACHE_SESSION, 42));
	usleep(1100 * 1000);
	CHECK(throttle_allow(CACHE_PAT, 42));		/* one try after a second */
	throttle_record(CACHE_PAT, 42, 1, 0);
	usleep(1100 * 1000);
	CHECK(!throttle_allow(CACHE_PAT, 42));		/* then after two */
	usleep(1000 * 1000);
	CHECK(throttle_allow(CACHE_PAT, 42));
}

static void
success_clears_the_count(void)
{
	int	 i;

	throttle_clear();
	for (i = 0; i < 5; i++)
		throttle_record(CACHE_PAT, 7, 1, 0);
	CHECK(!throttle_allow(CACHE_PAT, 7));
	throttle_record(CACHE_PAT, 7, 1, 1);
	CHECK(throttle_allow(CACHE_PAT, 7));
}

static void
budget_is_half_a_second_per_second(void)
{
	throttle_clear();
	CHECK(throttle_allow(CACHE_PAT, 1));		/* starts the second */
	throttle_record(CACHE_PAT, 1, 300, 1);
	CHECK(throttle_allow(CACHE_PAT, 2));
	throttle_record(CACHE_PAT, 2, 250, 1);
	CHECK(!throttle_allow(CACHE_PAT, 3));		/* saturated: 503 */
	usleep(1100 * 1000);
	CHECK(throttle_allow(CACHE_PAT, 3));
}

int
main(void)
{
	RUN(failing_credential_gets_one_try_a_second);
	RUN(success_clears_the_count);
	RUN(budget_is_half_a_second_per_second);
	return tap_done();
}
