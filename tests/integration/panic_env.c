/*
 * panic_env DIR: mark the Berkeley DB environment in DIR as failed, as a
 * fault inside the library does (DB_PANIC_ENVIRONMENT): every process
 * attached to it gets DB_RUNRECOVERY from then on.  replication.sh uses it
 * to show that a site comes back from a panic by itself.
 */
#include <db.h>
#include <stdio.h>

/*
 * Never closed: closing a failed environment only reports the failure.
 * Kept reachable, so that a leak checker at exit sees nothing lost.
 */
static DB_ENV	*env;

int
main(int argc, char **argv)
{
	int	 rc;

	if (argc != 2) {
		fprintf(stderr, "usage: panic_env DIR\n");
		return 2;
	}
	/* Joined without DB_REGISTER: this process leaves no trace there. */
	if ((rc = db_env_create(&env, 0)) != 0 ||
	    (rc = env->open(env, argv[1], DB_JOINENV, 0)) != 0 ||
	    (rc = env->set_flags(env, DB_PANIC_ENVIRONMENT, 1)) != 0) {
		fprintf(stderr, "panic_env: %s: %s\n", argv[1],
		    db_strerror(rc));
		return 1;
	}
	return 0;
}
