/*
 * cli_user.c: the commands about people: user add, passwd and list,
 * session new and revoke, and the reader of a new password.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define PASSWORD_MAX	1024	/* bytes; a longer line is refused, not cut */

/* The signal that came while a password was being typed, if any. */
static volatile sig_atomic_t cli_signo;

/* A plausible address: one @, something either side, no spaces or controls. */
static int
cli_email_ok(const char *e)
{
	const char	*at = strchr(e, '@');
	size_t		 i;

	if (at == NULL || at == e || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strlen(e) > 254)
		return 0;
	for (i = 0; e[i] != '\0'; i++)
		if ((unsigned char)e[i] <= ' ' || e[i] == 0x7f)
			return 0;
	return 1;
}

static void
cli_on_signal(int sig)
{
	cli_signo = sig;
}

/*
 * Read one line from stdin into buf (cap bytes), without its newline,
 * byte by byte so that nothing past the line is consumed or buffered.
 * On a terminal, prompt on stderr and turn echo off; a signal restores
 * the terminal before it takes effect.  Returns the length, or -1 (a
 * message is printed) on a read error, a signal, or a line that is too
 * long.
 */
static long
cli_read_line(const char *prompt, char *buf, size_t cap)
{
	struct termios	 saved, quiet;
	struct sigaction sa, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	size_t		 n = 0;
	ssize_t		 got;
	long		 rc = -1;
	int		 tty, i, toolong = 0;
	char		 ch;

	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		/*
		 * No SA_RESTART: the read must return so that the terminal
		 * is mended.
		 */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = cli_on_signal;
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &sa, &old[i]);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
		fputs(prompt, stderr);
		fflush(stderr);
	}
	for (;;) {
		got = read(STDIN_FILENO, &ch, 1);
		if (got < 0 && errno == EINTR && cli_signo == 0)
			continue;
		if (got < 0) {
			if (cli_signo == 0)
				perror("patgate: stdin");
			goto out;
		}
		if (got == 0 || ch == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = ch;
		else
			toolong = 1;
	}
	buf[n] = '\0';
	if (toolong)
		fprintf(stderr, "patgate: the password is longer than %zu "
		    "bytes\n", cap - 1);
	else
		rc = (long)n;
out:
	explicit_bzero(&ch, sizeof(ch));
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fputc('\n', stderr);
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		if (cli_signo != 0) {
			explicit_bzero(buf, cap);
			raise(cli_signo);
		}
	}
	return rc;
}

/*
 * Read a new password from stdin and hash it at the password cost into
 * hash.  Piped in, it is the first line, taken as it is; on a terminal it
 * is asked for twice.  It never comes from the command line, where any
 * user could read it in ps.  0, or -1 with a message.
 */
static int
cli_new_password(const struct config *cfg, char hash[HASH_ENCODED_MAX])
{
	char		 pw[PASSWORD_MAX + 1], again[PASSWORD_MAX + 1];
	long		 len, len2;
	int		 rc = -1;

	if ((len = cli_read_line("New password: ", pw, sizeof(pw))) == -1)
		goto out;
	if (isatty(STDIN_FILENO)) {
		len2 = cli_read_line("Again: ", again, sizeof(again));
		if (len2 == -1)
			goto out;
		if (len2 != len || memcmp(pw, again, (size_t)len) != 0) {
			fprintf(stderr, "patgate: the passwords differ; "
			    "nothing was changed\n");
			goto out;
		}
	}
	if (len == 0) {
		fprintf(stderr, "patgate: no password given\n");
		goto out;
	}
	/* A login body is UTF-8 JSON: no other password could be sent. */
	if (!valid_utf8(pw, (size_t)len)) {
		fprintf(stderr, "patgate: the password must be UTF-8 text\n");
		goto out;
	}
	if (hash_make(pw, (size_t)len, cfg->pw_argon2_m, cfg->pw_argon2_t,
	    cfg->pw_argon2_p, hash) == -1) {
		fprintf(stderr, "patgate: the password could not be hashed\n");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	return rc;
}

int
cmd_user_add(struct cli *c)
{
	struct user_rec	 u;
	const char	*name = cli_opt(c, "--name");
	int		 with_password = cli_opt(c, "--password-stdin") != NULL;
	enum store_rc	 rc;

	if (!cli_email_ok(c->argv[0])) {
		fprintf(stderr,
		    "patgate: %s is not an email address\n", c->argv[0]);
		return 1;
	}
	if (name == NULL)
		name = c->argv[0];
	if (strlen(name) >= sizeof(u.name) || !valid_utf8(name, strlen(name))) {
		fprintf(stderr, "patgate: the name must be UTF-8 of at most "
		    "255 characters\n");
		return 1;
	}
	memset(&u, 0, sizeof(u));
	if (token_uuid_new(u.id) == -1) {
		perror("patgate: getrandom");
		return 1;
	}
	snprintf(u.email, sizeof(u.email), "%s", c->argv[0]);
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.created_at = time(NULL);
	if (with_password && cli_new_password(&c->cfg, u.password) == -1)
		return 1;
	if (cli_open(c, 0) == -1)
		return 1;
	rc = store_user_add(c->store, &u);
	if (rc == STORE_EXISTS) {
		fprintf(stderr, "patgate: a user with the email %s exists "
		    "already\n", u.email);
		return 1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "patgate: the user could not be stored\n");
		return 1;
	}
	puts(u.id);
	/* Guesses at the address before it was a user's do not carry over. */
	if (store_login_clear(c->store, u.email) != STORE_OK)
		fprintf(stderr,
		    "patgate: the failed-login count could not be cleared\n");
	log_audit(NULL, "user.add", "user", u.id, "email", u.email,
	    "password", with_password ? "set" : "none", NULL);
	return 0;
}

static void
cli_user_row(const struct user_rec *u, void *arg)
{
	struct json_object *o = json_object_new_object();
	char		 when[21];

	(void)arg;
	valid_time_format(u->created_at, when);
	json_object_object_add(o, "id", json_object_new_string(u->id));
	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "created_at", json_object_new_string(when));
	cli_print_json(o);
}

int
cmd_user_list(struct cli *c)
{
	if (cli_open(c, 0) == -1)
		return 1;
	if (store_user_each(c->store, cli_user_row, NULL) != STORE_OK)
		return 1;
	return 0;
}

int
cmd_user_passwd(struct cli *c)
{
	struct user_rec	 u;
	char		 hash[HASH_ENCODED_MAX];

	/* Look the user up first: nobody types a password for a typo. */
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	if (cli_new_password(&c->cfg, hash) == -1)
		return 1;
	if (store_user_set_password(c->store, u.id, hash) != STORE_OK) {
		fprintf(stderr, "patgate: the password could not be stored\n");
		return 1;
	}
	/* An administrator who sets a password lifts the email's lockout. */
	if (store_login_clear(c->store, u.email) != STORE_OK)
		fprintf(stderr,
		    "patgate: the failed-login count could not be cleared\n");
	log_audit(NULL, "user.passwd", "user", u.id, "email", u.email, NULL);
	return 0;
}

int
cmd_session_new(struct cli *c)
{
	struct user_rec	 u;
	struct session_rec s;
	const char	*ttl_s = cli_opt(c, "--ttl");
	char		 token[SESSION_TOKEN_LEN + 1];
	long long	 ttl = c->cfg.session_ttl;
	int		 rc = 1;

	token[0] = '\0';
	if (ttl_s != NULL && cli_number(ttl_s, 1, 10LL * 366 * 86400,
	    "--ttl takes a number of seconds", &ttl) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		goto out;
	if (auth_session_new(c->store, &c->cfg, u.id, (long)ttl, time(NULL),
	    token, &s) != AUTH_OK) {
		fprintf(stderr,
		    "patgate: the session could not be made or stored\n");
		goto out;
	}
	puts(token);
	log_audit(NULL, "session.new", "session", s.id, "user", u.id, NULL);
	rc = 0;
out:
	explicit_bzero(token, sizeof(token));
	return rc;
}

int
cmd_session_revoke(struct cli *c)
{
	struct session_token parsed;
	enum store_rc	 rc;

	if (token_session_parse(c->argv[0], &parsed) == -1) {
		fprintf(stderr, "patgate: that is not a session token\n");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		return 1;
	/* Ending a session needs only its id: its holder may end it. */
	switch ((rc = store_session_revoke(c->store, parsed.id, time(NULL)))) {
	case STORE_OK:
		log_audit(NULL, "session.revoke", "session", parsed.id, NULL);
		return 0;
	case STORE_NOTFOUND:
		fprintf(stderr, "patgate: no such live session\n");
		return 1;
	default:
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return 1;
	}
}
