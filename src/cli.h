/*
 * cli.h: what the files of patgate, the administrator's command line,
 * share: the command table's entry, the state a command runs with, and
 * the helpers and handlers of cli.c, cli_user.c, cli_token.c and
 * cli_admin.c.
 */
#ifndef CLI_H
#define CLI_H

#include "patgate.h"

#define EXIT_USAGE	2
#define EXIT_TEMPFAIL	75	/* try again: the database is recovering */
#define CLI_FORMS	2	/* usage lines of one command */
#define CLI_OPTS	3	/* options of one command */

struct cli;

/*
 * One command of the table (cli.c).  main() takes the command's options
 * out of its arguments, checks the count of those left against min and
 * max, and only then calls fn; --help and usage errors are printed from
 * words, forms and help.
 */
struct cli_command {
	const char	*words[2];	/* words[1] is NULL for one word */
	const char	*forms[CLI_FORMS];	/* the arguments of each form */
	const char	*help[CLI_FORMS];	/* for each form; '\n' apart */
	const char	*opts[CLI_OPTS];	/* "--x=" takes a value */
	int		 min, max;	/* arguments left; max -1: any */
	int		(*fn)(struct cli *);
};

struct cli {
	struct config	 cfg;
	struct store	*store;
	const struct cli_command *cmd;	/* the command running */
	const char	*opt[CLI_OPTS];	/* cmd->opts given: value, "" or NULL */
	int		 argc;
	char		**argv;		/* the command's own arguments */
};

/* ------------------------------------------------------------ cli.c */

/* The value of the option (or "" for a flag) given, or NULL. */
const char	*cli_opt(const struct cli *, const char *name);
/* Print the running command's usage on stderr; returns EXIT_USAGE. */
int		 cli_usage(const struct cli *);
/* Open (create: make) the database.  0, or -1 with a message. */
int		 cli_open(struct cli *, int create);
/* Print o as one line of JSON and drop it. */
void		 cli_print_json(struct json_object *o);
/* Look a user up by email.  0, or -1 with a message. */
int		 cli_user(struct cli *, const char *email, struct user_rec *);
/*
 * Parse s, a whole number from min to max, into *out with config_number.
 * 0, or -1 with "patgate: " and usage on stderr.
 */
int		 cli_number(const char *s, long long min, long long max,
		    const char *usage, long long *out);

/* ------------------------------------------------------------ cli_user.c */

int	 cmd_user_add(struct cli *);
int	 cmd_user_passwd(struct cli *);
int	 cmd_user_list(struct cli *);
int	 cmd_session_new(struct cli *);
int	 cmd_session_revoke(struct cli *);

/* ------------------------------------------------------------ cli_token.c */

int	 cmd_token_list(struct cli *);
int	 cmd_token_revoke(struct cli *);
int	 cmd_token_get(struct cli *);
int	 cmd_token_rotate(struct cli *);
int	 cmd_token_bulk(struct cli *);
int	 cmd_verify(struct cli *);

/* ------------------------------------------------------------ cli_admin.c */

int	 cmd_init(struct cli *);
int	 cmd_prune(struct cli *);
int	 cmd_backup(struct cli *);
int	 cmd_site_remove(struct cli *);
int	 cmd_check(struct cli *);
int	 cmd_notify(struct cli *);

#endif /* CLI_H */
