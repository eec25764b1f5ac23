/*
 * cli_admin.c: the commands about the database as a whole: init, prune,
 * backup, check, and notify (whose work is cli_notify.c's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cmd_init(struct cli *c)
{
	if (cli_open(c, 1) == -1)
		return 1;
	fprintf(stderr, "patgate: database ready in %s\n", c->cfg.db_dir);
	return 0;
}

/* One token revoked for want of use: an audit line (no secret). */
static void
cli_unused_row(const struct token_rec *t, void *arg)
{
	char	 num[24];

	(void)arg;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->number);
	log_audit(NULL, "token.revoke.unused", "token", num, "id", t->id,
	    "user", t->user_id, "addr", "cli", NULL);
}

/* prune --unused-days N: revoke the live tokens nobody used for N days. */
static int
cli_prune_unused(struct cli *c, const char *days_s)
{
	unsigned long	 revoked;
	long long	 days;
	time_t		 now = time(NULL);
	enum store_rc	 rc;

	if (cli_number(days_s, 1, 100000,
	    "--unused-days takes a whole number of days, at least 1",
	    &days) == -1)
		return EXIT_USAGE;
	if (cli_open(c, 0) == -1)
		return 1;
	if ((rc = store_token_revoke_unused(c->store, now - days * 86400, now,
	    cli_unused_row, NULL, &revoked)) != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return 1;
	}
	printf("%lu\n", revoked);
	return 0;
}

int
cmd_prune(struct cli *c)
{
	const char	*unused_s = cli_opt(c, "--unused-days");
	const char	*days_s = cli_opt(c, "--days");
	unsigned long	 removed;
	long long	 days = 30;
	enum store_rc	 rc;

	if (unused_s != NULL && days_s != NULL)
		return cli_usage(c);
	if (unused_s != NULL)
		return cli_prune_unused(c, unused_s);
	if (days_s != NULL && cli_number(days_s, 0, 100000,
	    "--days takes a whole number of days", &days) == -1)
		return EXIT_USAGE;
	if (cli_open(c, 0) == -1)
		return 1;
	if ((rc = store_prune(c->store, time(NULL) - days * 86400,
	    &removed)) != STORE_OK)
		goto failed;
	printf("%lu\n", removed);
	/* Every login leaves a session behind; the ended ones go here. */
	if ((rc = store_session_prune(c->store, time(NULL),
	    &removed)) != STORE_OK)
		goto failed;
	/* Guesses at made-up addresses leave counters; they expire here. */
	if ((rc = store_login_prune(c->store, c->cfg.login_window, time(NULL),
	    &removed)) != STORE_OK)
		goto failed;
	if ((rc = store_event_prune(c->store, &removed)) != STORE_OK)
		goto failed;
	return 0;
failed:
	fprintf(stderr, "patgate: %s\n", store_strerror(rc));
	return 1;
}

int
cmd_backup(struct cli *c)
{
	char	 err[512];

	if (cli_open(c, 0) == -1)
		return 1;
	if (store_backup(c->store, c->argv[0], err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", err);
		return 1;
	}
	fprintf(stderr, "patgate: backup written to %s\n", c->argv[0]);
	return 0;
}

int
cmd_site_remove(struct cli *c)
{
	char	 err[512];

	if (cli_open(c, 0) == -1)
		return 1;
	if (store_repl_remove(c->store, c->argv[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "patgate: %s\n", err);
		return 1;
	}
	fprintf(stderr, "patgate: %s is no longer in the group\n",
	    c->argv[0]);
	return 0;
}

static void
cli_problem(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

int
cmd_check(struct cli *c)
{
	unsigned long	 tokens, pats, sessions;

	if (cli_open(c, 0) == -1)
		return 1;
	switch (store_check(c->store, cli_problem, NULL, &tokens)) {
	case STORE_OK:
		printf("ok: %lu tokens, every database verified\n", tokens);
		break;
	case STORE_EXISTS:
		return 1;
	default:
		fprintf(stderr, "patgate: the check could not run\n");
		return 1;
	}
	/* Told, not a fault: each moves to the current cost on its next use. */
	if (store_count_other_cost(c->store, c->cfg.argon2_m, c->cfg.argon2_t,
	    c->cfg.argon2_p, time(NULL), &pats, &sessions) != STORE_OK) {
		fprintf(stderr, "patgate: the hashes could not be counted\n");
		return 1;
	}
	printf("cost: %lu PAT and %lu session hashes of another cost than %s\n",
	    pats, sessions, c->cfg.argon2);
	return 0;
}

int
cmd_notify(struct cli *c)
{
	int	 follow = cli_opt(c, "--follow") != NULL;
	int	 dry = cli_opt(c, "--dry-run") != NULL;

	if (!dry && c->cfg.notify_cmd == NULL) {
		fprintf(stderr, "patgate: PATGATE_NOTIFY_CMD is not set\n");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		return 1;
	return cli_notify(&c->cfg, c->store, follow, dry);
}
