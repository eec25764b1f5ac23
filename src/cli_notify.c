/*
 * cli_notify.c: patgate notify.  Queues token.expiring for live tokens
 * near their expiry, then takes the queued events oldest first and runs
 * PATGATE_NOTIFY_CMD (through /bin/sh -c) once per event with the event
 * as one JSON object on its stdin.  An event leaves the queue only when
 * the command exits 0; one that fails stays, the rest are still tried,
 * and notify then exits 1 (with --follow it tries again later).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "patgate.h"

#define NOTIFY_POLL_MS		1000 /* --follow: between looks at the queue */
#define NOTIFY_RETRY_S		30	/* --follow: after a failed delivery */
#define NOTIFY_EXPIRING_S	60	/* --follow: between expiry scans */
#define NOTIFY_CMD_TIMEOUT_S	60 /* a command still running then is killed */

static volatile sig_atomic_t notify_stop;

static void
notify_on_signal(int sig)
{
	(void)sig;
	notify_stop = 1;
}

/* Sleep ms milliseconds, or less if told to stop. */
static void
notify_sleep(long ms)
{
	struct timespec	 ts = { 0, 50 * 1000000L };

	for (; ms > 0 && !notify_stop; ms -= 50)
		(void)nanosleep(&ts, NULL);
}

/* The event as the command receives it (malloc'd JSON text), or NULL. */
static char *
notify_json(struct store *st, const struct event_rec *e)
{
	struct json_object *o, *u, *t;
	struct user_rec	 user;
	char		 when[21], *text;
	int		 known;

	known = store_user_get(st, e->user_id, &user) == STORE_OK;
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	valid_time_format(e->at, when);
	json_object_object_add(o, "event", json_object_new_string(e->event));
	json_object_object_add(o, "at", json_object_new_string(when));
	u = json_object_new_object();
	json_object_object_add(u, "id", json_object_new_string(e->user_id));
	json_object_object_add(u, "email",
	    known ? json_object_new_string(user.email) : NULL);
	json_object_object_add(u, "name",
	    known ? json_object_new_string(user.name) : NULL);
	json_object_object_add(o, "user", u);
	t = json_object_new_object();
	json_object_object_add(t, "id", json_object_new_string(e->token_id));
	json_object_object_add(t, "name",
	    json_object_new_string(e->token_name));
	if (e->token_expires_at != 0) {
		valid_time_format(e->token_expires_at, when);
		json_object_object_add(t, "expires_at",
		    json_object_new_string(when));
	} else
		json_object_object_add(t, "expires_at", NULL);
	json_object_object_add(o, "token", t);
	/* The event's own details beside these; they never replace one. */
	json_object_object_foreach(e->details, k, v)
		if (!json_object_object_get_ex(o, k, NULL))
			json_object_object_add(o, k, json_object_get(v));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/*
 * Run cmd through /bin/sh -c with text on its stdin, for at most
 * NOTIFY_CMD_TIMEOUT_S seconds.  0 when it exits 0, else -1.
 */
static int
notify_run(const char *cmd, const char *text)
{
	size_t		 len = strlen(text), off = 0;
	ssize_t		 w;
	pid_t		 pid, got = 0;
	long		 waited;
	int		 fds[2], status = 0;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);	/* so a timeout ends all it started */
		(void)signal(SIGPIPE, SIG_DFL);
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGINT, SIG_DFL);
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)close(fds[0]);
	/* One event is a few kilobytes, well within a pipe's buffer. */
	while (off < len && ((w = write(fds[1], text + off, len - off)) > 0 ||
	    (w == -1 && errno == EINTR)))
		if (w > 0)
			off += (size_t)w;
	(void)close(fds[1]);
	for (waited = 0; waited < NOTIFY_CMD_TIMEOUT_S * 1000L; waited += 20) {
		if ((got = waitpid(pid, &status, WNOHANG)) != 0 &&
		    !(got == -1 && errno == EINTR))
			break;
		(void)usleep(20000);
	}
	if (got == 0) {
		fprintf(stderr,
		    "patgate: notify: the command ran over %d seconds; "
		    "killed\n", NOTIFY_CMD_TIMEOUT_S);
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			continue;
		return -1;
	}
	return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 :
	    -1;
}

/*
 * One pass over the queue: each event to the command (or, dry, to
 * stdout).  The count of events kept by a failure goes to *failed.
 * 0, or -1 when the store failed.
 */
static int
notify_pass(const struct config *cfg, struct store *st, int dry,
    unsigned long *failed)
{
	struct event_rec e;
	uint64_t	 after = 0;
	enum store_rc	 rc;
	char		*text;

	*failed = 0;
	while (!notify_stop &&
	    (rc = store_event_next(st, after, &e)) == STORE_OK) {
		after = e.seq;
		text = notify_json(st, &e);
		store_event_release(&e);
		if (text == NULL) {
			(*failed)++;
			continue;
		}
		if (dry) {
			puts(text);
			(void)fflush(stdout);
		} else if (notify_run(cfg->notify_cmd, text) == 0) {
			if (store_event_delete(st, e.seq) == STORE_ERROR) {
				free(text);
				return -1;
			}
		} else {
			fprintf(stderr,
			    "patgate: notify: event %llu (%s) not delivered; "
			    "kept\n", (unsigned long long)e.seq, e.event);
			(*failed)++;
		}
		free(text);
	}
	return notify_stop || rc == STORE_NOTFOUND ? 0 : -1;
}

/* Queue token.expiring for what expires within the notice.  0 or -1. */
static int
notify_expiring(const struct config *cfg, struct store *st)
{
	unsigned long	 queued;
	time_t		 now = time(NULL);

	if (store_event_queue_expiring(st, now,
	    now + cfg->expiry_notice_days * 86400, &queued) != STORE_OK) {
		fprintf(stderr,
		    "patgate: notify: the expiry notices could not be "
		    "queued\n");
		return -1;
	}
	return 0;
}

int
cli_notify(const struct config *cfg, struct store *st, int follow, int dry)
{
	struct sigaction sa;
	unsigned long	 failed = 0;
	time_t		 scanned = 0;
	int		 rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL); /* a command that reads nothing */
	sa.sa_handler = notify_on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	do {
		if (time(NULL) - scanned >= NOTIFY_EXPIRING_S) {
			if (notify_expiring(cfg, st) == -1)
				rc = 1;
			scanned = time(NULL);
		}
		if (notify_pass(cfg, st, dry, &failed) == -1) {
			fprintf(stderr,
			    "patgate: notify: the queue could not be read\n");
			return 1;
		}
		if (follow)
			notify_sleep(failed > 0 ? NOTIFY_RETRY_S * 1000L :
			    NOTIFY_POLL_MS);
	} while (follow && !notify_stop && !dry);
	if (follow)
		return rc;
	return rc != 0 || failed > 0 ? 1 : 0;
}
