/* main.c: patgate.fcgi, the FastCGI accept loop with a plain-CGI fallback. */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patgate.h"

static volatile sig_atomic_t stopping;

/*
 * A request that has not finished in time is stuck, most likely on a
 * mutex a killed worker held: leave, so the supervisor starts a fresh
 * worker that recovers the environment.
 */
static void
on_alarm(int sig)
{
	static const char msg[] = "patgate.fcgi: request timed out; exiting\n";

	(void)sig;
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(70);
}

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/* Open the store if it is not open yet; a failure is answered per request. */
static void
app_store_ready(struct app *app)
{
	char	 err[256];

	if (app->store != NULL)
		return;
	if (store_open(app->cfg->db_dir, 0, &app->store, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "patgate.fcgi: %s\n", err);
		app->store = NULL;
		return;
	}
	if (app->cfg->test_stall_ms > 0)
		store_set_stall(app->store, (unsigned)app->cfg->test_stall_ms);
}

/* After a panic the handles are useless: close them and open afresh next time. */
static void
app_store_check(struct app *app)
{
	if (app->store != NULL && store_must_exit(app->store)) {
		store_close(app->store);
		app->store = NULL;
	}
}

/* ---------------------------------------------------------- FastCGI */

static const char *
fcgi_param(const char *name, void *env)
{
	return FCGX_GetParam(name, env);
}

static long
fcgi_read(void *ctx, char *buf, size_t n)
{
	return FCGX_GetStr(buf, n > 65536 ? 65536 : (int)n, ctx);
}

static void
fcgi_log(void *ctx, const char *line, size_t len)
{
	FCGX_PutStr(line, (int)len, ctx);
}

static void
serve_one(struct app *app, struct request *req, int (*put)(const char *, size_t, void *),
    void *out)
{
	struct response	 res;
	char		*wire;
	size_t		 len;

	response_init(&res);
	alarm((unsigned)app->cfg->request_timeout);
	app_store_ready(app);
	if (req->role != NULL && strcmp(req->role, "AUTHORIZER") == 0)
		authorizer_dispatch(app, req, &res);
	else
		route_dispatch(app, req, &res);
	if ((wire = response_serialize(&res, &len)) != NULL) {
		(void)put(wire, len, out);
		explicit_bzero(wire, len);	/* it may hold a new token */
		free(wire);
	}
	response_free(&res);
	request_free(req);
	app_store_check(app);
	alarm(0);
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

	/* A signal ends accept(): without the flag libfcgi would wait on. */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		fprintf(stderr, "patgate.fcgi: cannot set up FastCGI\n");
		return 1;
	}
	while (!stopping && FCGX_Accept_r(&r) >= 0) {
		src.read = fcgi_read;
		src.ctx = r.in;
		sink.write = fcgi_log;
		sink.ctx = r.err;
		request_init(&req, fcgi_param, r.envp, src, sink);
		serve_one(app, &req, fcgi_put, r.out);
		FCGX_Finish_r(&r);
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
	return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
}

static int
serve_cgi(struct app *app)
{
	struct request	 req;
	struct body_source src = { cgi_read, NULL };
	struct log_sink	 sink = { NULL, NULL };

	request_init(&req, cgi_param, NULL, src, sink);
	serve_one(app, &req, cgi_put, NULL);
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
	response_error(&res, 500, "patgate is misconfigured; see the server's error log.");
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

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: patgate.fcgi\n"
		    "Serves the patgate API as a FastCGI responder or authorizer on the\n"
		    "listening socket at fd 0 (spawn-fcgi), or one plain-CGI request\n"
		    "when fd 0 is not a socket.  Configured by PATGATE_* variables.\n");
		return 0;
	}
	umask(077);
	harden_no_core();
	/*
	 * Descriptors inherited beyond the FastCGI socket and stdio (a web
	 * server's pipes, a test harness's logs) are not ours to hold open.
	 */
	(void)close_range(3, ~0U, 0);
	if (config_load(&cfg, err, sizeof(err)) == -1)
		return fail_config(err);
	log_init(cfg.log_syslog);
	/* A malformed rules file stops the program here, naming the line. */
	if (rules_load(cfg.rules_path, err, sizeof(err)) == -1)
		return fail_config(err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_term;	/* no SA_RESTART: accept() must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	rc = FCGX_IsCGI() ? serve_cgi(&app) : serve_fcgi(&app);
	store_close(app.store);
	return rc;
}
