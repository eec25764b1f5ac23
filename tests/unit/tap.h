/* tap.h: a small Test Anything Protocol emitter for the unit tests. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;
static int tap_case_failed;

/* Record one check inside a case; print where it failed. */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		tap_case_failed = 1;					\
	}								\
} while (0)

/* Run one test case, a function of no arguments, as one TAP line. */
#define RUN(fn) do {							\
	tap_case_failed = 0;						\
	fn();								\
	tap_n++;							\
	if (tap_case_failed)						\
		tap_failed++;						\
	printf("%sok %d - %s\n", tap_case_failed ? "not " : "", tap_n, #fn); \
	fflush(stdout);							\
} while (0)

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
