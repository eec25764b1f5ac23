/*
 * watchdog.c: end a process whose work stopped moving.
 *
 * Work that makes no progress for `limit` ticks of a second is stuck, most
 * likely on a mutex a killed process held: the process leaves (through
 * the caller's fire function), so that the next one to open the
 * environment recovers it.  Progress is this process's CPU time moving or
 * the store taking a step (a deadlock broken, a commit, a page of a list),
 * not the clock: slow work that moves is left alone.  A transaction that
 * stopped while another process recovered the environment is not waited
 * for as long: it waits on a mutex or condition variable in the old
 * regions, which no one will ever release.  And ticks are
 * counted, not seconds: a process that stood still (SIGSTOP, a suspended
 * or paused machine) wakes to one tick however long the pause, so a pause
 * is not taken for a hang.
 *
 * The ticks are a thread's sleeps, not a signal: a signal interrupts
 * whatever system call the process is in, and libfcgi drops a new
 * connection whose first read is cut short that way (its wait for a unix
 * socket to become readable is not restarted).  Watching costs the
 * watched no system call.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "patgate.h"

#define WATCH_CPU_NS	1000000L	/* CPU time that counts as moving */
#define WATCH_STALE_TICKS 2	/* stuck, with the regions made afresh */

static atomic_int	 watch_busy;	/* watched work is under way */
static atomic_uint	 watch_serial;	/* pieces of work begun */
static unsigned		 watch_limit;
static void		(*watch_fire)(unsigned);

/* This process's CPU time, all threads, in nanoseconds. */
static long long
watch_cpu(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *
watch_run(void *arg)
{
	struct timespec	 tick = { 1, 0 };
	unsigned long	 steps, seen_steps = 0;
	long long	 cpu, seen_cpu = 0;
	unsigned	 serial, seen_serial = 0, stalled = 0;

	(void)arg;
	for (;;) {
		/* Relative: a long pause ends in one tick, not many. */
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &tick,
		    NULL) == EINTR)
			continue;
		if (!atomic_load(&watch_busy)) {
			stalled = 0;
			continue;
		}
		serial = atomic_load(&watch_serial);
		steps = store_steps();
		cpu = watch_cpu();
		if (serial != seen_serial || steps != seen_steps ||
		    cpu - seen_cpu >= WATCH_CPU_NS) {
			seen_serial = serial;
			seen_steps = steps;
			seen_cpu = cpu;
			stalled = 0;
		} else if (++stalled >= watch_limit ||
		    (stalled >= WATCH_STALE_TICKS && store_recovered_under()))
			watch_fire(stalled);
	}
	return NULL;
}

/*
 * Start the watching thread with every signal blocked in it, so that
 * they all go to the process's own thread as before.  0 or -1.
 */
int
watchdog_start(unsigned limit, void (*fire)(unsigned ticks))
{
	pthread_t	 t;
	sigset_t	 all, old;
	int		 rc;

	watch_limit = limit;
	watch_fire = fire;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&t, NULL, watch_run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	(void)pthread_detach(t);
	return 0;
}

void
watchdog_begin(void)
{
	atomic_fetch_add(&watch_serial, 1);
	atomic_store(&watch_busy, 1);
}

void
watchdog_end(void)
{
	atomic_store(&watch_busy, 0);
}
