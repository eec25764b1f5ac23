/* cli.c: patgate, the administrator's command line. */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "patgate.h"

#define EXIT_USAGE	2
#define PASSWORD_MAX	1024	/* bytes; a longer line is refused, not cut */

static const char usage_text[] =
    "usage: patgate [--db DIR] COMMAND [ARGS]\n"
    "\n"
    "  init                              create the database environment\n"
    "  user add EMAIL [--name NAME] [--password-stdin]\n"
    "                                    add a user; prints the user's id\n"
    "  user passwd EMAIL                 set the user's password, read from stdin\n"
    "  user list                         one JSON object per user\n"
    "  session new EMAIL [--ttl SECONDS] prints a new session token\n"
    "  session revoke TOKEN              end a session\n"
    "  token list EMAIL                  one JSON object per token (no secrets)\n"
    "  token revoke TOKEN_ID             revoke a token by its id\n"
    "  token get TOKEN_ID                the token's JSON object (no secret)\n"
    "  token rotate TOKEN_ID             replace a live token: prints the new one\n"
    "  token bulk EMAIL COUNT [--name NAME] [--revoked]\n"
    "                                    store COUNT tokens at once (for load tests),\n"
    "                                    revoked already with --revoked (a history);\n"
    "                                    prints the last one, the only one usable\n"
    "  token bulk EMAIL... COUNT --each [--name NAME]\n"
    "                                    COUNT creates, one transaction each through\n"
    "                                    the API's create (the cap applies, no fsync),\n"
    "                                    the users taking turns; prints the first and\n"
    "                                    the last, the only ones usable\n"
    "  verify TOKEN                      check a PAT; prints its user and abilities\n"
    "  prune [--days N]                  remove tokens revoked or expired N days ago (30),\n"
    "                                    sessions expired or ended, and login counters\n"
    "                                    whose window has ended\n"
    "  prune --unused-days N             revoke the live tokens unused for N days\n"
    "  backup DIR                        a consistent copy of the database, while it serves\n"
    "  check                             verify the database files and their indexes\n"
    "  notify [--follow] [--dry-run]     queue expiry notices, then run PATGATE_NOTIFY_CMD\n"
    "                                    once per queued event (JSON on its stdin);\n"
    "                                    --follow keeps taking them, --dry-run prints them\n"
    "\n"
    "The database is PATGATE_DB (default /var/lib/patgate) unless --db is given.\n"
    "Exit status: 0 done, 1 failed, 2 usage.\n";

struct cli {
	struct config	 cfg;
	struct store	*store;
	int		 argc;
	char		**argv;		/* the command's own arguments */
};

/* The signal that came while a password was being typed, if any. */
static volatile sig_atomic_t cli_signo;

static int
usage(void)
{
	fputs(usage_text, stderr);
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

static int
cli_open(struct cli *c, int create)
{
	char	 err[512];

	if (store_open(c->cfg.db_dir, create, &c->store, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", err);
		return -1;
	}
	return 0;
}

static void
cli_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int
cmd_init(struct cli *c)
{
	if (c->argc != 0)
		return usage();
	if (cli_open(c, 1) == -1)
		return 1;
	fprintf(stderr, "patgate: database ready in %s\n", c->cfg.db_dir);
	return 0;
}

/* A plausible address: one @, something either side, no spaces or controls. */
static int
cli_email_ok(const char *e)
{
	const char	*at = strchr(e, '@');
	size_t		 i;

	if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strlen(e) > 254)
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
		/* No SA_RESTART: the read must return so the terminal is mended. */
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
		fprintf(stderr, "patgate: the password is longer than %zu bytes\n", cap - 1);
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
		if ((len2 = cli_read_line("Again: ", again, sizeof(again))) == -1)
			goto out;
		if (len2 != len || memcmp(pw, again, (size_t)len) != 0) {
			fprintf(stderr, "patgate: the passwords differ; nothing was changed\n");
			goto out;
		}
	}
	if (len == 0) {
		fprintf(stderr, "patgate: no password given\n");
		goto out;
	}
	/* A login body is UTF-8 JSON: any other password could never be sent. */
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

static int
cmd_user_add(struct cli *c)
{
	struct user_rec	 u;
	const char	*name = cli_option(c, "--name");
	int		 with_password = cli_flag(c, "--password-stdin");
	enum store_rc	 rc;

	if (c->argc != 1)
		return usage();
	if (!cli_email_ok(c->argv[0])) {
		fprintf(stderr, "patgate: %s is not an email address\n", c->argv[0]);
		return 1;
	}
	if (name == NULL)
		name = c->argv[0];
	if (strlen(name) >= sizeof(u.name) || !valid_utf8(name, strlen(name))) {
		fprintf(stderr, "patgate: the name must be UTF-8 of at most 255 characters\n");
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
		fprintf(stderr, "patgate: a user with the email %s exists already\n", u.email);
		return 1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "patgate: the user could not be stored\n");
		return 1;
	}
	puts(u.id);
	/* Guesses made at the address before it was a user's do not carry over. */
	if (store_login_clear(c->store, u.email) != STORE_OK)
		fprintf(stderr, "patgate: the failed-login count could not be cleared\n");
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

static int
cmd_user_list(struct cli *c)
{
	if (c->argc != 0)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	return store_user_each(c->store, cli_user_row, NULL) == STORE_OK ? 0 : 1;
}

/* Look up a user by email, with a message when there is none. */
static int
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

static int
cmd_user_passwd(struct cli *c)
{
	struct user_rec	 u;
	char		 hash[HASH_ENCODED_MAX];

	if (c->argc != 1)
		return usage();
	/* Look the user up first: nobody types a password for a typo. */
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	if (cli_new_password(&c->cfg, hash) == -1)
		return 1;
	if (store_user_set_password(c->store, u.id, hash) != STORE_OK) {
		fprintf(stderr, "patgate: the password could not be stored\n");
		return 1;
	}
	/* An administrator who sets a password also lifts the email's lockout. */
	if (store_login_clear(c->store, u.email) != STORE_OK)
		fprintf(stderr, "patgate: the failed-login count could not be cleared\n");
	log_audit(NULL, "user.passwd", "user", u.id, "email", u.email, NULL);
	return 0;
}

static int
cmd_session_new(struct cli *c)
{
	struct user_rec	 u;
	struct session_rec s;
	const char	*ttl_s = cli_option(c, "--ttl");
	char		 token[SESSION_TOKEN_LEN + 1];
	char		*end;
	long		 ttl = c->cfg.session_ttl;

	if (c->argc != 1)
		return usage();
	if (ttl_s != NULL) {
		ttl = strtol(ttl_s, &end, 10);
		if (*ttl_s == '\0' || *end != '\0' || ttl <= 0 || ttl > 10L * 366 * 86400) {
			fprintf(stderr, "patgate: --ttl takes a number of seconds\n");
			return EXIT_USAGE;
		}
	}
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	if (auth_session_new(c->store, &c->cfg, u.id, ttl, time(NULL), token, &s) != AUTH_OK) {
		fprintf(stderr, "patgate: the session could not be made or stored\n");
		return 1;
	}
	puts(token);
	explicit_bzero(token, sizeof(token));
	log_audit(NULL, "session.new", "session", s.id, "user", u.id, NULL);
	return 0;
}

static int
cmd_session_revoke(struct cli *c)
{
	struct session_token parsed;
	enum store_rc	 rc;

	if (c->argc != 1)
		return usage();
	if (token_session_parse(c->argv[0], &parsed) == -1) {
		fprintf(stderr, "patgate: that is not a session token\n");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		return 1;
	/* Ending a session needs only its id: whoever holds the token may end it. */
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

static void
cli_token_row(const struct token_rec *t, void *arg)
{
	struct json_out	*w = arg;
	char		 num[24];

	if (t == NULL) {		/* the walk starts over */
		w->len = 0;
		return;
	}
	JSON_OUT_LIT(w, "{");
	token_object_write(w, t, NULL, 0);
	JSON_OUT_LIT(w, ",\"number\":");
	json_out_raw(w, num, (size_t)snprintf(num, sizeof(num), "%llu",
	    (unsigned long long)t->number));
	JSON_OUT_LIT(w, ",\"revoked_at\":");
	json_out_time(w, t->revoked_at);
	JSON_OUT_LIT(w, "}\n");
}

static int
cmd_token_list(struct cli *c)
{
	struct user_rec	 u;
	struct json_out	 rows = { NULL, 0, 0, 0 };

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	/* One line a token, printed once the walk is done. */
	if (store_token_each(c->store, u.id, cli_token_row, &rows) != STORE_OK || rows.failed) {
		json_out_free(&rows);
		return 1;
	}
	if (rows.len > 0)
		fwrite(rows.buf, 1, rows.len, stdout);
	json_out_free(&rows);
	return 0;
}

static int
cmd_token_revoke(struct cli *c)
{
	struct token_rec t;
	char		 num[24];
	enum store_rc	 rc;

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	switch ((rc = store_token_revoke(c->store, NULL, c->argv[0], time(NULL),
	    &t))) {
	case STORE_OK:
		snprintf(num, sizeof(num), "%llu", (unsigned long long)t.number);
		log_audit(NULL, "token.revoke", "token", num, "id", t.id, "user", t.user_id,
		    "addr", "cli", NULL);
		return 0;
	case STORE_NOTFOUND:
		fprintf(stderr, "patgate: no live token with the id %s\n", c->argv[0]);
		return 1;
	default:
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return 1;
	}
}

static int
cmd_token_get(struct cli *c)
{
	struct token_rec t;
	struct json_out	 w = { NULL, 0, 0, 0 };
	enum store_rc	 rc;

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	switch ((rc = store_token_by_id(c->store, NULL, c->argv[0], &t))) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		fprintf(stderr, "patgate: no live token with the id %s\n", c->argv[0]);
		return 1;
	default:
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return 1;
	}
	JSON_OUT_LIT(&w, "{");
	token_object_write(&w, &t, NULL, 0);
	JSON_OUT_LIT(&w, "}\n");
	if (!w.failed)
		fwrite(w.buf, 1, w.len, stdout);
	json_out_free(&w);
	return 0;
}

/* A rotation from the console: as the API's, the lifetime kept. */
static int
cmd_token_rotate(struct cli *c)
{
	struct token_rec old, nw, was;
	struct token_input in;
	char		 core[TOKEN_CORE_LEN + 1], token[128], num[24], from[24];
	time_t		 now = time(NULL);
	enum store_rc	 rc;

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	rc = store_token_by_id(c->store, NULL, c->argv[0], &old);
	if (rc == STORE_OK && old.expires_at != 0 && old.expires_at <= now)
		rc = STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		fprintf(stderr, "patgate: no live token with the id %s\n", c->argv[0]);
		return 1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", store_strerror(rc));
		return 1;
	}
	memset(&in, 0, sizeof(in));
	if (api_rotate_lifetime(&c->cfg, &old, now, &in.expires_at) == -1) {
		fprintf(stderr, "patgate: the token never expires and PATGATE_REQUIRE_EXPIRY=1: "
		    "rotate it through the API with an expires_at\n");
		return 1;
	}
	memcpy(in.name, old.name, sizeof(in.name));
	memcpy(in.abilities, old.abilities, sizeof(in.abilities));
	in.nabilities = old.nabilities;
	if (api_token_mint(&c->cfg, &in, old.user_id, now, &nw, core) == -1 ||
	    (rc = store_token_rotate(c->store, NULL, old.id, 0, now, &nw, &was)) != STORE_OK) {
		explicit_bzero(core, sizeof(core));
		fprintf(stderr, "patgate: the token could not be rotated\n");
		return 1;
	}
	(void)token_pat_format(token, sizeof(token), nw.number, c->cfg.token_prefix, core);
	explicit_bzero(core, sizeof(core));
	puts(token);
	explicit_bzero(token, sizeof(token));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)nw.number);
	snprintf(from, sizeof(from), "%llu", (unsigned long long)was.number);
	log_audit(NULL, "token.rotate", "token", num, "id", nw.id, "from", from,
	    "from_id", was.id, "user", nw.user_id, "addr", "cli", NULL);
	return 0;
}

#define BULK_BATCH	1000	/* tokens handed to the store at once */

/* Fill t as a bulk token of u named name, created at now, holding hash.  0 or -1. */
static int
cli_bulk_rec(struct token_rec *t, const struct user_rec *u, const char *name,
    const char *hash, const char *prefix, time_t now)
{
	memset(t, 0, sizeof(*t));
	if (token_uuid_new(t->id) == -1) {
		perror("patgate: getrandom");
		return -1;
	}
	memcpy(t->user_id, u->id, sizeof(t->user_id));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->abilities[0], sizeof(t->abilities[0]), "*");
	t->nabilities = 1;
	t->created_at = now;
	snprintf(t->hash, sizeof(t->hash), "%s", hash);
	snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
	t->prefix_known = 1;
	return 0;
}

/*
 * token bulk --each: count creates, each its own transaction through
 * store_token_create as the API's create makes them (the per-user cap
 * applies, checkpoints come as they come in a worker), to see what a long
 * run of creates does to the environment, its log directory above all.
 * The users take turns.  Commits skip the fsync, which would take most
 * of the time and changes nothing in the log; the log is written out at
 * the end instead.  Argon2 for each would take most of the time too: as
 * in a batch, every token but the first and the last holds the dummy
 * hash.  Those two get real secrets and are printed, the first, then the
 * last.
 */
static int
cli_bulk_each(struct cli *c, const struct user_rec *users, size_t nusers,
    const char *name, unsigned long count)
{
	const struct user_rec *u;
	struct token_rec t;
	char		 core[TOKEN_CORE_LEN + 1], dummy[HASH_ENCODED_MAX];
	char		 first[128], last[128], num[24], nu[24];
	unsigned long	 done = 0;
	enum store_rc	 src;
	int		 real, rc = 1;

	hash_dummy(c->cfg.argon2_m, c->cfg.argon2_t, c->cfg.argon2_p, dummy);
	store_set_nosync(c->store, 1);
	first[0] = last[0] = '\0';
	for (; done < count; done++) {
		u = &users[done % nusers];
		real = done == 0 || done + 1 == count;
		if (cli_bulk_rec(&t, u, name, dummy, c->cfg.token_prefix, time(NULL)) == -1)
			goto out;
		if (real && (token_core_new(core) == -1 ||
		    hash_make(core, TOKEN_CORE_LEN, c->cfg.argon2_m, c->cfg.argon2_t,
		    c->cfg.argon2_p, t.hash) == -1)) {
			fprintf(stderr, "patgate: a token could not be made\n");
			goto out;
		}
		switch ((src = store_token_create(c->store, &t,
		    c->cfg.max_tokens_per_user, t.created_at))) {
		case STORE_OK:
			break;
		case STORE_LIMIT:
			fprintf(stderr, "patgate: %s holds %ld live tokens, the cap "
			    "(PATGATE_MAX_TOKENS_PER_USER), after %lu creates\n",
			    u->email, c->cfg.max_tokens_per_user, done);
			goto out;
		default:
			fprintf(stderr, "patgate: %s after %lu tokens\n",
			    store_strerror(src), done);
			goto out;
		}
		if (real)
			(void)token_pat_format(done == 0 ? first : last, sizeof(first),
			    t.number, c->cfg.token_prefix, core);
	}
	rc = 0;
out:
	/*
	 * What was made, all of it or up to a failure, is made durable: the
	 * log is written out, as the creates' own fsyncs would have, and the
	 * checkpoints are left to come as they came.
	 */
	if (done > 0 && store_sync(c->store) != STORE_OK) {
		fprintf(stderr, "patgate: the tokens could not be flushed to disk\n");
		rc = 1;
	}
	if (rc == 0) {
		puts(first);
		if (count > 1)
			puts(last);
	}
	snprintf(num, sizeof(num), "%lu", done);
	snprintf(nu, sizeof(nu), "%zu", nusers);
	if (done > 0)
		log_audit(NULL, "token.bulk", "count", num, "users", nu, "each", "yes", NULL);
	explicit_bzero(core, sizeof(core));
	explicit_bzero(first, sizeof(first));
	explicit_bzero(last, sizeof(last));
	explicit_bzero(&t, sizeof(t));
	return rc;
}

/* token bulk --each: look up every EMAIL given, then make the tokens. */
static int
cli_bulk_users(struct cli *c, const char *name, unsigned long count)
{
	struct user_rec	*users;
	size_t		 i, nusers = (size_t)c->argc - 1;
	int		 rc = 1;

	if ((users = calloc(nusers, sizeof(*users))) == NULL) {
		perror("patgate");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		goto out;
	for (i = 0; i < nusers; i++)
		if (cli_user(c, c->argv[i], &users[i]) == -1)
			goto out;
	rc = cli_bulk_each(c, users, nusers, name, count);
out:
	free(users);
	return rc;
}

/*
 * Fill a store quickly, to see how patgate behaves with many tokens.
 * Argon2 at the configured cost for each would take hours, so every
 * token but the last holds the dummy hash no secret matches: it takes
 * the room of a real one but can never be used.  The last gets a real
 * secret and is printed.  The per-user cap is not applied.
 */
static int
cmd_token_bulk(struct cli *c)
{
	struct user_rec	 u;
	struct token_rec *recs = NULL;
	const char	*name = cli_option(c, "--name");
	int		 each = cli_flag(c, "--each");
	int		 revoked = cli_flag(c, "--revoked");
	char		 core[TOKEN_CORE_LEN + 1], token[128], dummy[HASH_ENCODED_MAX];
	char		 num[24], *end;
	unsigned long	 count, done = 0;
	size_t		 i, n = 0;
	time_t		 now = time(NULL);
	enum store_rc	 src;
	int		 rc = 1;

	if (c->argc < 2 || (!each && c->argc != 2) || (each && revoked))
		return usage();
	count = strtoul(c->argv[c->argc - 1], &end, 10);
	if (c->argv[c->argc - 1][0] < '1' || c->argv[c->argc - 1][0] > '9' ||
	    *end != '\0' || count > 100000000UL) {
		fprintf(stderr, "patgate: COUNT takes a number from 1 to 100000000\n");
		return EXIT_USAGE;
	}
	if (name == NULL)
		name = "bulk token";
	if (strlen(name) >= sizeof(recs->name) || !valid_utf8(name, strlen(name))) {
		fprintf(stderr, "patgate: the name must be UTF-8 of at most 255 characters\n");
		return 1;
	}
	if (each)
		return cli_bulk_users(c, name, count);
	if (cli_open(c, 0) == -1 || cli_user(c, c->argv[0], &u) == -1)
		return 1;
	if ((recs = calloc(BULK_BATCH, sizeof(*recs))) == NULL) {
		perror("patgate");
		return 1;
	}
	hash_dummy(c->cfg.argon2_m, c->cfg.argon2_t, c->cfg.argon2_p, dummy);
	core[0] = '\0';
	while (done < count) {
		n = count - done < BULK_BATCH ? (size_t)(count - done) : BULK_BATCH;
		for (i = 0; i < n; i++) {
			if (cli_bulk_rec(&recs[i], &u, name, dummy,
			    c->cfg.token_prefix, now) == -1)
				goto out;
			if (revoked)
				recs[i].revoked_at = now;
		}
		if (done + n == count && (token_core_new(core) == -1 ||
		    hash_make(core, TOKEN_CORE_LEN, c->cfg.argon2_m, c->cfg.argon2_t,
		    c->cfg.argon2_p, recs[n - 1].hash) == -1)) {
			fprintf(stderr, "patgate: the last token could not be made\n");
			goto out;
		}
		if ((src = store_token_bulk(c->store, recs, n)) != STORE_OK) {
			fprintf(stderr, "patgate: %s after %lu tokens\n",
			    store_strerror(src), done);
			goto out;
		}
		done += n;
	}
	if (store_flush(c->store) != STORE_OK) {
		fprintf(stderr, "patgate: the tokens could not be flushed to disk\n");
		goto out;
	}
	(void)token_pat_format(token, sizeof(token), recs[n - 1].number,
	    c->cfg.token_prefix, core);
	puts(token);
	explicit_bzero(token, sizeof(token));
	snprintf(num, sizeof(num), "%lu", count);
	log_audit(NULL, "token.bulk", "user", u.id, "count", num, NULL);
	rc = 0;
out:
	explicit_bzero(core, sizeof(core));
	free(recs);
	return rc;
}

static int
cmd_verify(struct cli *c)
{
	struct principal who;
	struct json_object *o, *ab;
	const char	*why = "";
	char		 num[24];
	size_t		 i;

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	switch (auth_pat(c->store, &c->cfg, c->argv[0], time(NULL), &who, &why)) {
	case AUTH_OK:
		auth_pat_used(c->store, &who, NULL, time(NULL));
		break;
	case AUTH_ERROR:
		fprintf(stderr, "patgate: %s\n", store_strerror(STORE_ERROR));
		return 1;
	default:
		snprintf(num, sizeof(num), "%llu", (unsigned long long)who.token.number);
		log_audit(NULL, "token.check.failed", "token", who.token.number ? num : "-",
		    "reason", why, "addr", "cli", NULL);
		fprintf(stderr, "patgate: token refused (%s)\n", why);
		return 1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_string(who.user_id));
	json_object_object_add(o, "token_id", json_object_new_string(who.token.id));
	ab = json_object_new_array();
	for (i = 0; i < who.token.nabilities; i++)
		json_object_array_add(ab, json_object_new_string(who.token.abilities[i]));
	json_object_object_add(o, "abilities", ab);
	cli_print_json(o);
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
	char		*end;
	long		 days;
	time_t		 now = time(NULL);
	enum store_rc	 rc;

	days = strtol(days_s, &end, 10);
	if (*days_s == '\0' || *end != '\0' || days < 1 || days > 100000) {
		fprintf(stderr, "patgate: --unused-days takes a whole number of days, at least 1\n");
		return EXIT_USAGE;
	}
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

static int
cmd_prune(struct cli *c)
{
	const char	*unused_s = cli_option(c, "--unused-days");
	const char	*days_s = cli_option(c, "--days");
	unsigned long	 removed;
	char		*end;
	long		 days = 30;
	enum store_rc	 rc;

	if (c->argc != 0 || (unused_s != NULL && days_s != NULL))
		return usage();
	if (unused_s != NULL)
		return cli_prune_unused(c, unused_s);
	if (days_s != NULL) {
		days = strtol(days_s, &end, 10);
		if (*days_s == '\0' || *end != '\0' || days < 0 || days > 100000) {
			fprintf(stderr, "patgate: --days takes a whole number of days\n");
			return EXIT_USAGE;
		}
	}
	if (cli_open(c, 0) == -1)
		return 1;
	if ((rc = store_prune(c->store, time(NULL) - days * 86400,
	    &removed)) != STORE_OK)
		goto failed;
	printf("%lu\n", removed);
	/* Every login leaves a session behind; the ended ones go here. */
	if ((rc = store_session_prune(c->store, time(NULL), &removed)) != STORE_OK)
		goto failed;
	/* Guesses at made-up addresses leave counters behind; they expire here. */
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

static int
cmd_backup(struct cli *c)
{
	char	 err[512];

	if (c->argc != 1)
		return usage();
	if (cli_open(c, 0) == -1)
		return 1;
	if (store_backup(c->store, c->argv[0], err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "patgate: %s\n", err);
		return 1;
	}
	fprintf(stderr, "patgate: backup written to %s\n", c->argv[0]);
	return 0;
}

static void
cli_problem(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

static int
cmd_check(struct cli *c)
{
	unsigned long	 tokens, pats, sessions;

	if (c->argc != 0)
		return usage();
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

static int
cmd_notify(struct cli *c)
{
	int	 follow = cli_flag(c, "--follow"), dry = cli_flag(c, "--dry-run");

	if (c->argc != 0)
		return usage();
	if (!dry && c->cfg.notify_cmd == NULL) {
		fprintf(stderr, "patgate: PATGATE_NOTIFY_CMD is not set\n");
		return 1;
	}
	if (cli_open(c, 0) == -1)
		return 1;
	return cli_notify(&c->cfg, c->store, follow, dry);
}

struct command {
	const char	*word1, *word2;
	int		(*fn)(struct cli *);
};

static const struct command commands[] = {
	{ "init", NULL, cmd_init },
	{ "user", "add", cmd_user_add },
	{ "user", "passwd", cmd_user_passwd },
	{ "user", "list", cmd_user_list },
	{ "session", "new", cmd_session_new },
	{ "session", "revoke", cmd_session_revoke },
	{ "token", "list", cmd_token_list },
	{ "token", "revoke", cmd_token_revoke },
	{ "token", "get", cmd_token_get },
	{ "token", "rotate", cmd_token_rotate },
	{ "token", "bulk", cmd_token_bulk },
	{ "verify", NULL, cmd_verify },
	{ "prune", NULL, cmd_prune },
	{ "backup", NULL, cmd_backup },
	{ "check", NULL, cmd_check },
	{ "notify", NULL, cmd_notify },
};

int
main(int argc, char *argv[])
{
	struct cli	 c;
	const char	*db;
	char		 err[256];
	size_t		 i;
	int		 rc, skip;

	harden_no_core();
	memset(&c, 0, sizeof(c));
	c.argc = argc - 1;
	c.argv = argv + 1;
	for (i = 0; i < (size_t)c.argc; i++)
		if (strcmp(c.argv[i], "--help") == 0 || strcmp(c.argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
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
	umask(077);
	if (c.argc == 0)
		return usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(c.argv[0], commands[i].word1) != 0)
			continue;
		if (commands[i].word2 != NULL &&
		    (c.argc < 2 || strcmp(c.argv[1], commands[i].word2) != 0))
			continue;
		skip = commands[i].word2 != NULL ? 2 : 1;
		c.argc -= skip;
		c.argv += skip;
		rc = commands[i].fn(&c);
		store_close(c.store);
		return rc;
	}
	return usage();
}
