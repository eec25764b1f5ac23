/* main.c: patgate.fcgi, the FastCGI accept loop with a plain-CGI fallback. */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "patgate.h"

static volatile sig_atomic_t stopping;
/*
 * /dev/null, open while the accept loop runs.  A SIGTERM that lands after
 * the loop looked at `stopping` but before accept() began would otherwise
 * leave the worker waiting for one more connection (for ever, once the
 * server has stopped sending): the handler puts this over the listening
 * socket's descriptor, so that accept() fails at once.  Only this
 * process's copy of the socket goes; its siblings keep theirs.
 */
static volatile sig_atomic_t accept_null = -1;

/*
 * The request watchdog (watchdog.c) watches each request and the periodic
 * work after it.  Told through the request's error stream, the web
 * server's log says why the connection closed.
 */
static FCGX_Stream *_Atomic watch_err;	/* the request's error stream */

/* Say why, once, and leave; if saying so hangs, SIGALRM ends it. */
static void
request_stuck(unsigned ticks)
{
	FCGX_Stream	*err;

	signal(SIGALRM, SIG_DFL);
	alarm(2);
	/*
	 * The request is abandoned and its thread stuck: nothing else
	 * writes the stream now.
	 */
	log_error("patgate.fcgi: a request made no progress for %u s; exiting",
	    ticks);
	if ((err = atomic_load(&watch_err)) != NULL)
		(void)FCGX_FFlush(err);
	_exit(70);
}

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
	if (accept_null != -1)
		(void)dup2(accept_null, 0);
}

/* Open the store if it is not open yet; a failure is answered per request. */
static void
app_store_ready(struct app *app)
{
	char	 err[256];

	if (app->store != NULL)
		return;
	if (store_open(app->cfg->db_dir, 0, &app->store, err,
	    sizeof(err)) != STORE_OK) {
		log_error("patgate.fcgi: %s", err);
		app->store = NULL;
		return;
	}
	if (app->cfg->test_stall_ms > 0)
		store_set_stall(app->store, (unsigned)app->cfg->test_stall_ms);
}

/*
 * After a panic the handles are useless: close them and open afresh next time.
 */
static void
app_store_check(struct app *app)
{
	if (app->store != NULL && store_must_exit(app->store)) {
		store_close(app->store);
		app->store = NULL;
	}
}

/* ---------------------------------------------------------- FastCGI */

/*
 * The parameters request_init asks for, found in one pass over the
 * request's environment: FCGX_GetParam would scan all of it for each.
 */
#define WANT(name)	{ name, sizeof(name) - 1 }
static const struct {
	const char	*name;
	size_t		 len;
} fcgi_wanted[] = {
	WANT("REQUEST_METHOD"), WANT("REQUEST_URI"), WANT("SCRIPT_NAME"),
	WANT("FCGI_ROLE"), WANT("CONTENT_TYPE"), WANT("CONTENT_LENGTH"),
	WANT("HTTP_AUTHORIZATION"), WANT("REMOTE_ADDR"),
	WANT("HTTP_X_ORIGINAL_METHOD"), WANT("HTTP_X_ORIGINAL_URI"),
	WANT("PATH_INFO"), WANT("HTTP_USER_AGENT"),
};
#undef WANT
#define FCGI_WANTED	(sizeof(fcgi_wanted) / sizeof(fcgi_wanted[0]))

struct fcgi_params {
	char		**envp;
	const char	*value[FCGI_WANTED];
};

static void
fcgi_index(struct fcgi_params *p, char **envp)
{
	const char	*eq;
	size_t		 i, n;
	char		**e;

	p->envp = envp;
	memset(p->value, 0, sizeof(p->value));
	for (e = envp; *e != NULL; e++) {
		/*
		 * The name's length settles all but a few candidates at once.
		 */
		if ((eq = strchr(*e, '=')) == NULL)
			continue;
		n = (size_t)(eq - *e);
		for (i = 0; i < FCGI_WANTED; i++)
			if (fcgi_wanted[i].len == n &&
			    memcmp(*e, fcgi_wanted[i].name, n) == 0) {
				/* the first wins, as in libfcgi */
				if (p->value[i] == NULL)
					p->value[i] = eq + 1;
				break;
			}
	}
}

static const char *
fcgi_param(const char *name, void *env)
{
	struct fcgi_params *p = env;
	size_t		 i;

	for (i = 0; i < FCGI_WANTED; i++)
		if (name[0] == fcgi_wanted[i].name[0] &&
		    strcmp(name, fcgi_wanted[i].name) == 0)
			return p->value[i];
	return FCGX_GetParam(name, p->envp);
}

static long
fcgi_read(void *ctx, char *buf, size_t n)
{
	return FCGX_GetStr(buf, n > 65536 ? 65536 : (int)n, ctx);
}

/*
 * The web server logs each FastCGI stderr record as lines of its own: a
 * line that would straddle two records (the stream's buffer holds 512
 * bytes) goes out whole in the next one instead.
 */
static void
fcgi_log(void *ctx, const char *line, size_t len)
{
	FCGX_Stream	*err = ctx;

	if (err->stop - err->wrNext < (long)len)
		(void)FCGX_FFlush(err);
	FCGX_PutStr(line, (int)len, err);
}

static void
serve_one(struct app *app, struct request *req,
    int (*put)(const char *, size_t, void *), void *out)
{
	struct response	 res;
	char		*wire;
	size_t		 len;

	response_init(&res);
	log_current(&req->log);
	watchdog_begin();
	app_store_ready(app);
	if (req->role != NULL && strcmp(req->role, "AUTHORIZER") == 0)
		authorizer_dispatch(app, req, &res);
	else
		route_dispatch(app, req, &res);
	if ((wire = response_serialize(&res, &len)) != NULL) {
		(void)put(wire, len, out);
		explicit_bzero(wire, len);	/* it may hold a new token */
		free(wire);
		if (res.stream != NULL)
			(void)res.stream(res.stream_arg, put, out);
	}
	response_free(&res);
	request_free(req);
	app_store_check(app);
	watchdog_end();
	log_current(NULL);
}

static int
fcgi_put(const char *buf, size_t len, void *out)
{
	return FCGX_PutStr(buf, (int)len, out);
}

static int
serve_fcgi(struct app *app)
{
	FCGX_Request	 r;
	struct request	 req;
	struct body_source src;
	struct log_sink	 sink;
	struct fcgi_params params;

	/* A signal ends accept(): without the flag libfcgi would wait on. */
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&r, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		fprintf(stderr, "patgate.fcgi: cannot set up FastCGI\n");
		return 1;
	}
	store_want_resident();
	accept_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	while (!stopping && FCGX_Accept_r(&r) >= 0) {
		src.read = fcgi_read;
		src.ctx = r.in;
		sink.write = fcgi_log;
		sink.ctx = r.err;
		atomic_store(&watch_err, r.err);
		fcgi_index(&params, r.envp);
		request_init(&req, fcgi_param, &params, src, sink);
		serve_one(app, &req, fcgi_put, r.out);
		atomic_store(&watch_err, NULL);	/* Finish_r frees it */
		FCGX_Finish_r(&r);
		/*
		 * Answered: periodic work delays no one now, and is watched
		 * too.
		 */
		watchdog_begin();
		binding_canary_flush(app->store);
		store_maintain(app->store);
		watchdog_end();
	}
	return 0;
}

/* ---------------------------------------------------------- plain CGI */

static const char *
cgi_param(const char *name, void *env)
{
	(void)env;
	return getenv(name);
}

static long
cgi_read(void *ctx, char *buf, size_t n)
{
	ssize_t	 got;

	(void)ctx;
	do
		got = read(STDIN_FILENO, buf, n);
	while (got < 0 && errno == EINTR);
	return (long)got;
}

static int
cgi_put(const char *buf, size_t len, void *out)
{
	(void)out;
	return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ?
	    0 : -1;
}

static int
serve_cgi(struct app *app)
{
	struct request	 req;
	struct body_source src = { cgi_read, NULL };
	struct log_sink	 sink = { NULL, NULL };

	request_init(&req, cgi_param, NULL, src, sink);
	serve_one(app, &req, cgi_put, NULL);
	/* The answer is out (flushed): now the write it must not wait for. */
	binding_canary_flush(app->store);
	return 0;
}

/* Answer a plain-CGI request when the configuration is unusable. */
static int
fail_config(const char *err)
{
	struct response	 res;
	char		*wire;
	size_t		 len;

	fprintf(stderr, "patgate.fcgi: %s\n", err);
	if (!FCGX_IsCGI())
		return 1;
	response_init(&res);
	response_error(&res, 500,
	    "patgate is misconfigured; see the server's error log.");
	if ((wire = response_serialize(&res, &len)) != NULL) {
		(void)fwrite(wire, 1, len, stdout);
		free(wire);
	}
	response_free(&res);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct config	 cfg;
	struct app	 app;
	struct sigaction sa;
	char		 err[256];
	int		 rc;

	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: patgate.fcgi\n"
		    "Serves the patgate API as a FastCGI responder or "
		    "authorizer on the\n"
		    "listening socket at fd 0 (spawn-fcgi), or one "
		    "plain-CGI request\n"
		    "when fd 0 is not a socket.  Configured by PATGATE_* "
		    "variables.\n");
		return 0;
	}
	umask(077);
	harden_no_core();
	/*
	 * A list of many tokens is answered from buffers of megabytes.  Once
	 * one such buffer is freed glibc raises its mmap threshold past it,
	 * and the next ones come from the heap, which then holds on to the
	 * largest list a worker ever wrote.  A fixed threshold (which turns
	 * that adjustment off) gives them back as soon as the answer is out.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/*
	 * Descriptors inherited beyond the FastCGI socket and stdio (a web
	 * server's pipes, a test harness's logs) are not ours to hold open.
	 */
	(void)close_range(3, ~0U, 0);
	if (config_load(&cfg, err, sizeof(err)) == -1)
		return fail_config(err);
	log_init(cfg.log_syslog);
	store_repl_configure(&cfg);
	/* A malformed rules file stops the program here, naming the line. */
	if (rules_load(cfg.rules_path, err, sizeof(err)) == -1)
		return fail_config(err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_term; /* no SA_RESTART: accept() must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (watchdog_start((unsigned)cfg.request_timeout, request_stuck) == -1)
		return fail_config("cannot start the request watchdog");

	/*
	 * A secret one worker (or CGI process) passed through Argon2 costs
	 * the others none; without the shared table each keeps its own.
	 */
	(void)cache_share(cfg.db_dir);
	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	rc = FCGX_IsCGI() ? serve_cgi(&app) : serve_fcgi(&app);
	store_close(app.store);
	return rc;
}
