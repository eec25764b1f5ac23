/* test_config.c: the replication variables, read and refused. */
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
repl_clear(void)
{
	unsetenv("PATGATE_REPL_SELF");
	unsetenv("PATGATE_REPL_PEERS");
	unsetenv("PATGATE_REPL_PRIORITY");
	unsetenv("PATGATE_REPL_STALE");
}

/* Did config_load refuse the environment as it stands? */
static int
refused(void)
{
	struct config	 cfg;
	char		 err[256];

	return config_load(&cfg, err, sizeof(err)) == -1;
}

static void
unset_is_a_single_site(void)
{
	struct config	 cfg;
	char		 err[256];

	repl_clear();
	CHECK(config_load(&cfg, err, sizeof(err)) == 0);
	CHECK(cfg.repl_self == NULL);
	CHECK(cfg.repl_peers == NULL);
	CHECK(cfg.repl_priority == 100);
	CHECK(cfg.repl_stale == 5);
}

static void
a_group_is_read(void)
{
	struct config	 cfg;
	char		 err[256];

	repl_clear();
	setenv("PATGATE_REPL_SELF", "10.0.0.1:7001", 1);
	setenv("PATGATE_REPL_PEERS", "10.0.0.2:7001,db3.example:7002", 1);
	setenv("PATGATE_REPL_PRIORITY", "0", 1);
	setenv("PATGATE_REPL_STALE", "12", 1);
	CHECK(config_load(&cfg, err, sizeof(err)) == 0);
	CHECK(cfg.repl_self != NULL && strcmp(cfg.repl_self, "10.0.0.1:7001") == 0);
	CHECK(cfg.repl_priority == 0);
	CHECK(cfg.repl_stale == 12);
	repl_clear();
}

static void
bad_addresses_are_refused(void)
{
	static const char *const bad[] = { "host", "host:", ":7001", "h:0",
	    "h:65536", "h:70x", "a:b:1", "h :1", "h:1,h:2" };
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		repl_clear();
		setenv("PATGATE_REPL_SELF", bad[i], 1);
		CHECK(refused());
	}
	repl_clear();
	setenv("PATGATE_REPL_SELF", "h:1", 1);
	setenv("PATGATE_REPL_PEERS", "h:2,", 1);
	CHECK(refused());
	setenv("PATGATE_REPL_PEERS", "h:2,h:1", 1);	/* names itself */
	CHECK(refused());
	setenv("PATGATE_REPL_PEERS", "h:2,,h:3", 1);
	CHECK(refused());
	setenv("PATGATE_REPL_PEERS", "h:2,h:3", 1);
	CHECK(!refused());
	setenv("PATGATE_REPL_STALE", "0", 1);
	CHECK(refused());
	repl_clear();
	setenv("PATGATE_REPL_PEERS", "h:2", 1);	/* peers without self */
	CHECK(refused());
	repl_clear();
}

int
main(void)
{
	RUN(unset_is_a_single_site);
	RUN(a_group_is_read);
	RUN(bad_addresses_are_refused);
	return tap_done();
}
