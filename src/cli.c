/*
 * cli.c: patgate, the administrator's command line: main, the table of
 * commands (their words, usage, argument counts and handlers) and the
 * helpers every command uses.  The commands live in cli_user.c,
 * cli_token.c and cli_admin.c.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CLI_HELP_COLUMN	36	/* where the description begins */

static const struct cli_command commands[] = {
	{ { "init", NULL }, { "" },
	  { "create the database environment" },
	  { NULL }, 0, 0, cmd_init },
	{ { "user", "add" }, { "EMAIL [--name NAME] [--password-stdin]" },
	  { "add a user; prints the user's id" },
	  { "--name=", "--password-stdin" }, 1, 1, cmd_user_add },
	{ { "user", "passwd" }, { "EMAIL" },
	  { "set the user's password, read from stdin" },
	  { NULL }, 1, 1, cmd_user_passwd },
	{ { "user", "list" }, { "" },
	  { "one JSON object per user" },
	  { NULL }, 0, 0, cmd_user_list },
	{ { "session", "new" }, { "EMAIL [--ttl SECONDS]" },
	  { "prints a new session token" },
	  { "--ttl=" }, 1, 1, cmd_session_new },
	{ { "session", "revoke" }, { "TOKEN" },
	  { "end a session" },
	  { NULL }, 1, 1, cmd_session_revoke },
	{ { "token", "list" }, { "EMAIL" },
	  { "one JSON object per token (no secrets)" },
	  { NULL }, 1, 1, cmd_token_list },
	{ { "token", "revoke" }, { "TOKEN_ID" },
	  { "revoke a token by its id" },
	  { NULL }, 1, 1, cmd_token_revoke },
	{ { "token", "get" }, { "TOKEN_ID" },
	  { "the token's JSON object (no secret)" },
	  { NULL }, 1, 1, cmd_token_get },
	{ { "token", "rotate" }, { "TOKEN_ID" },
	  { "replace a live token: prints the new one" },
	  { NULL }, 1, 1, cmd_token_rotate },
	{ { "token", "bulk" },
	  { "EMAIL COUNT [--name NAME] [--revoked]",
	    "EMAIL... COUNT --each [--name NAME]" },
	  { "store COUNT tokens at once (for load tests),\n"
	    "revoked already with --revoked (a history);\n"
	    "prints the last one, the only one usable",
	    "COUNT creates, one transaction each through\n"
	    "the API's create (the cap applies, no fsync),\n"
	    "the users taking turns; prints the first and\n"
	    "the last, the only ones usable" },
	  { "--name=", "--each", "--revoked" }, 2, -1, cmd_token_bulk },
	{ { "verify", NULL }, { "TOKEN" },
	  { "check a PAT; prints its user and abilities" },
	  { NULL }, 1, 1, cmd_verify },
	{ { "prune", NULL }, { "[--days N]", "--unused-days N" },
	  { "remove tokens revoked or expired N days ago (30),\n"
	    "sessions expired or ended, and login counters\n"
	    "whose window has ended",
	    "revoke the live tokens unused for N days" },
	  { "--unused-days=", "--days=" }, 0, 0, cmd_prune },
	{ { "backup", NULL }, { "DIR" },
	  { "a consistent copy of the database, while it serves" },
	  { NULL }, 1, 1, cmd_backup },
	{ { "site", "remove" }, { "HOST:PORT" },
	  { "take a site out of the replication group\n"
	    "(run at a site of the group that stays)" },
	  { NULL }, 1, 1, cmd_site_remove },
	{ { "check", NULL }, { "" },
	  { "verify the database files and their indexes" },
	  { NULL }, 0, 0, cmd_check },
	{ { "notify", NULL }, { "[--follow] [--dry-run]" },
	  { "queue expiry notices, then run PATGATE_NOTIFY_CMD\n"
	    "once per queued event (JSON on its stdin);\n"
	    "--follow keeps taking them, --dry-run prints them" },
	  { "--follow", "--dry-run" }, 0, 0, cmd_notify },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* "WORD [WORD] [FORM]" of a command's form i into buf. */
static void
cli_synopsis(const struct cli_command *cmd, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", cmd->words[0],
	    cmd->words[1] != NULL ? " " : "",
	    cmd->words[1] != NULL ? cmd->words[1] : "",
	    cmd->forms[i][0] != '\0' ? " " : "", cmd->forms[i]);
}

/* Every command with its help, from the table, to f. */
static void
cli_help(FILE *f)
{
	const struct cli_command *cmd;
	const char	*line, *nl;
	char		 syn[128];
	int		 i, col;

	fputs("usage: patgate [--db DIR] COMMAND [ARGS]\n\n", f);
	for (cmd = commands; cmd < commands + NCOMMANDS; cmd++)
		for (i = 0; i < CLI_FORMS && cmd->forms[i] != NULL; i++) {
			cli_synopsis(cmd, i, syn, sizeof(syn));
			col = fprintf(f, "  %s", syn);
			for (line = cmd->help[i]; ; line = nl + 1) {
				if (col >= CLI_HELP_COLUMN) {
					fputc('\n', f);
					col = 0;
				}
				fprintf(f, "%*s", CLI_HELP_COLUMN - col, "");
				nl = strchr(line, '\n');
				fprintf(f, "%.*s\n", nl != NULL ?
				    (int)(nl - line) : (int)strlen(line), line);
				col = 0;
				if (nl == NULL)
					break;
			}
		}
	fputs("\nThe database is PATGATE_DB (default /var/lib/patgate) "
	    "unless --db is given.\n"
	    "Exit status: 0 done, 1 failed, 2 usage, 75 the database did not "
	    "open\nwithin PATGATE_REQUEST_TIMEOUT seconds (run the command "
	    "again: that run\nrecovers it).\n", f);
}

int
cli_usage(const struct cli *c)
{
	char	 syn[128];
	int	 i;

	for (i = 0; i < CLI_FORMS && c->cmd->forms[i] != NULL; i++) {
		cli_synopsis(c->cmd, i, syn, sizeof(syn));
		fprintf(stderr, "%s patgate [--db DIR] %s\n",
		    i == 0 ? "usage:" : "      ", syn);
	}
	return EXIT_USAGE;
}

/* Take "--flag VALUE" out of c's arguments.  Returns the value or NULL. */
static const char *
cli_option(struct cli *c, const char *flag)
{
	const char	*v;
	int		 i;

	for (i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], flag) == 0) {
			v = c->argv[i + 1];
			memmove(c->argv + i, c->argv + i + 2,
			    (size_t)(c->argc - i - 2) * sizeof(char *));
			c->argc -= 2;
			return v;
		}
	return NULL;
}

/* Take a bare "--flag" out of c's arguments.  Returns 1 if it was there. */
static int
cli_flag(struct cli *c, const char *flag)
{
	int	 i;

	for (i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], flag) == 0) {
			memmove(c->argv + i, c->argv + i + 1,
			    (size_t)(c->argc - i - 1) * sizeof(char *));
			c->argc--;
			return 1;
		}
	return 0;
}

/*
 * Take c->cmd's options out of its arguments, in the table's order, into
 * c->opt.  Returns 0, or -1 when the arguments left are too few or too
 * many.
 */
static int
cli_args(struct cli *c)
{
	const char	*o;
	char		 name[32];
	size_t		 n;
	int		 i;

	for (i = 0; i < CLI_OPTS && (o = c->cmd->opts[i]) != NULL; i++) {
		n = strlen(o);
		if (n > 0 && o[n - 1] == '=') {
			snprintf(name, sizeof(name), "%.*s", (int)(n - 1), o);
			c->opt[i] = cli_option(c, name);
		} else
			c->opt[i] = cli_flag(c, o) ? "" : NULL;
	}
	if (c->argc < c->cmd->min ||
	    (c->cmd->max != -1 && c->argc > c->cmd->max))
		return -1;
	return 0;
}

const char *
cli_opt(const struct cli *c, const char *name)
{
	const char	*o;
	size_t		 n = strlen(name);
	int		 i;

	for (i = 0; i < CLI_OPTS && (o = c->cmd->opts[i]) != NULL; i++)
		if (strncmp(o, name, n) == 0 &&
		    (o[n] == '\0' || (o[n] == '=' && o[n + 1] == '\0')))
			return c->opt[i];
	return NULL;
}

/*
 * An open that stopped moving waits on a lock a killed process held (the
 * registry's, say): leave, so that this process too is seen dead and the
 * next open recovers the environment.  Only the open is watched: a
 * command may wait on a person or a hook for as long as it likes.
 */
static void
cli_open_stuck(unsigned ticks)
{
	static const char msg[] = "patgate: the database did not open: it made "
	    "no progress (a process that died may have held it); the next "
	    "run recovers it: run the command again\n";

	(void)ticks;
	if (write(2, msg, sizeof(msg) - 1) == -1) {
		/* stderr is gone: the exit status says it alone */
	}
	_exit(EXIT_TEMPFAIL);
}

int
cli_open(struct cli *c, int create)
{
	char		 err[512];
	enum store_rc	 rc;

	watchdog_begin();
	rc = store_open(c->cfg.db_dir, create, &c->store, err, sizeof(err));
	watchdog_end();
	if (rc != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", err);
		return -1;
	}
	return 0;
}

void
cli_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int
cli_user(struct cli *c, const char *email, struct user_rec *u)
{
	enum store_rc	 rc;

	switch ((rc = store_user_by_email(c->store, email, u))) {
	case STORE_OK:
		return 0;
	case STORE_NOTFOUND:
		fprintf(stderr, "patgate: no user with the email %s\n", email);
		return -1;
	default:
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return -1;
	}
}

int
cli_number(const char *s, long long min, long long max, const char *usage,
    long long *out)
{
	const char	*why;

	if (config_number(s, min, max, out, &why) == -1) {
		fprintf(stderr, "patgate: %s\n", usage);
		return -1;
	}
	return 0;
}

/* The command the arguments name, or NULL. */
static const struct cli_command *
cli_find(int argc, char **argv)
{
	const struct cli_command *cmd;

	for (cmd = commands; cmd < commands + NCOMMANDS; cmd++) {
		if (argc < 1 || strcmp(argv[0], cmd->words[0]) != 0)
			continue;
		if (cmd->words[1] != NULL &&
		    (argc < 2 || strcmp(argv[1], cmd->words[1]) != 0))
			continue;
		return cmd;
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct cli	 c;
	const char	*db;
	char		 err[256];
	int		 i, rc;

	harden_no_core();
	memset(&c, 0, sizeof(c));
	c.argc = argc - 1;
	c.argv = argv + 1;
	for (i = 0; i < c.argc; i++)
		if (strcmp(c.argv[i], "--help") == 0 ||
		    strcmp(c.argv[i], "-h") == 0) {
			cli_help(stdout);
			return 0;
		}
	db = cli_option(&c, "--db");
	if (db != NULL)
		setenv("PATGATE_DB", db, 1);
	if (config_load(&c.cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "patgate: %s\n", err);
		return 1;
	}
	log_init(c.cfg.log_syslog);
	store_repl_configure(&c.cfg);
	umask(077);
	if (watchdog_start((unsigned)c.cfg.request_timeout,
	    cli_open_stuck) == -1) {
		fprintf(stderr, "patgate: cannot start the open's watchdog\n");
		return 1;
	}
	if ((c.cmd = cli_find(c.argc, c.argv)) == NULL) {
		cli_help(stderr);
		return EXIT_USAGE;
	}
	i = c.cmd->words[1] != NULL ? 2 : 1;
	c.argc -= i;
	c.argv += i;
	if (cli_args(&c) == -1)
		return cli_usage(&c);
	rc = c.cmd->fn(&c);
	store_close(c.store);
	return rc;
}
