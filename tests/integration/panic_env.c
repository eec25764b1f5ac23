/*
 * panic_env [--register] DIR: mark the Berkeley DB environment in DIR as
 * failed: every process attached to it gets DB_RUNRECOVERY from then on.
 * replication.sh uses it to show that a site comes back from a panic by
 * itself.
 *
 * Plain, as a fault inside the library does (DB_PANIC_ENVIRONMENT): the
 * others hear DB_EVENT_PANIC.  With --register, as an open does that finds
 * a registered process dead and may not recover (a worker's, at a
 * replicated site, when failchk cannot run): the others hear
 * DB_EVENT_REG_PANIC.  A child registers and dies, and this process's open
 * then finds it so.
 */
#include <sys/wait.h>

#include <db.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Never closed: closing a failed environment only reports the failure.
 * Kept reachable, so that a leak checker at exit sees nothing lost.
 */
static DB_ENV	*env;

/* The flags of a process that joins the regions and registers there. */
#define JOIN_REGISTERED	(DB_JOINENV | DB_REGISTER)

static int
panic_plain(const char *dir)
{
	int	 rc;

	/* Joined without DB_REGISTER: this process leaves no trace there. */
	if ((rc = db_env_create(&env, 0)) != 0 ||
	    (rc = env->open(env, dir, DB_JOINENV, 0)) != 0 ||
	    (rc = env->set_flags(env, DB_PANIC_ENVIRONMENT, 1)) != 0) {
		fprintf(stderr, "panic_env: %s: %s\n", dir, db_strerror(rc));
		return 1;
	}
	return 0;
}

static int
panic_register(const char *dir)
{
	pid_t	 pid;
	int	 rc, status;

	if ((pid = fork()) == -1) {
		perror("panic_env: fork");
		return 1;
	}
	if (pid == 0) {
		/* Registered, then gone without a close: a dead process. */
		if (db_env_create(&env, 0) != 0 ||
		    env->open(env, dir, JOIN_REGISTERED, 0) != 0)
			_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "panic_env: %s: the child could not join\n",
		    dir);
		return 1;
	}
	/* Finding it dead, without DB_RECOVER: the register panic. */
	if ((rc = db_env_create(&env, 0)) != 0 ||
	    (rc = env->open(env, dir, JOIN_REGISTERED, 0)) != DB_RUNRECOVERY) {
		fprintf(stderr, "panic_env: %s: the open said %s, not "
		    "DB_RUNRECOVERY\n", dir, db_strerror(rc));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2)
		return panic_plain(argv[1]);
	if (argc == 3 && strcmp(argv[1], "--register") == 0)
		return panic_register(argv[2]);
	fprintf(stderr, "usage: panic_env [--register] DIR\n");
	return 2;
}
