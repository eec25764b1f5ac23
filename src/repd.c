/*
 * repd.c: patgate-repd, one a site of a replication group: the
 * environment's replication listener (see store_repl.c).  It reads the
 * PATGATE_* variables as patgate.fcgi does and runs until SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct config	 cfg;
	struct sigaction sa;
	char		 err[512];

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: patgate-repd (configured by PATGATE_* "
		    "variables; see patgate.fcgi(8))\n");
		return 2;
	}
	harden_no_core();
	if (config_load(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "patgate-repd: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1) {
		perror("patgate-repd: sigaction");
		return 1;
	}
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	store_repl_configure(&cfg);
	if (store_repl_run(cfg.db_dir, &stop, err, sizeof(err)) == -1) {
		fprintf(stderr, "patgate-repd: %s\n", err);
		return 1;
	}
	return 0;
}
