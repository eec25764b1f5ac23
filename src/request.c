/* request.c: CGI parameters and the body into one struct request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/*
 * A CGI host without REQUEST_URI: the path is SCRIPT_NAME + PATH_INFO.  A
 * cgi-bin script's SCRIPT_NAME is its own URL (/cgi-bin/patgate.cgi) and
 * the API path follows in PATH_INFO, kept in path_info for the router.
 */
static void
request_script_path(struct request *req, const char *script, const char *info)
{
	size_t	 ls, li;

	if (script == NULL)
		script = "";
	if (info == NULL)
		info = "";
	ls = strlen(script);
	li = strlen(info);
	if (ls + li == 0) {
		script = "/";
		ls = 1;
	}
	if (ls + li >= sizeof(req->path))
		req->path_too_long = 1;
	else {
		memcpy(req->path, script, ls);
		memcpy(req->path + ls, info, li);
		req->path[ls + li] = '\0';
	}
	req->raw_uri = req->path_too_long ? "/" : req->path;
	if (*info == '/' && ls > 0 && li < sizeof(req->path))
		req->path_info = info;
}

void
request_init(struct request *req, const char *(*getparam)(const char *, void *),
    void *env, struct body_source src, struct log_sink log)
{
	const char	*uri, *q;
	size_t		 len;

	memset(req, 0, sizeof(*req));
	req->method = getparam("REQUEST_METHOD", env);
	if (req->method == NULL)
		req->method = "GET";
	req->role = getparam("FCGI_ROLE", env);
	/*
	 * Routing is on REQUEST_URI's path; SCRIPT_NAME + PATH_INFO if absent.
	 */
	if ((uri = getparam("REQUEST_URI", env)) != NULL) {
		req->raw_uri = uri;
		q = strchr(uri, '?');
		len = q != NULL ? (size_t)(q - uri) : strlen(uri);
		if (len >= sizeof(req->path)) {
			req->path_too_long = 1;
			len = 0;
		}
		memcpy(req->path, uri, len);
		req->path[len] = '\0';
		if (q != NULL)
			req->query = q + 1;
	} else
		request_script_path(req, getparam("SCRIPT_NAME", env),
		    getparam("PATH_INFO", env));
	if (req->query == NULL)
		req->query = getparam("QUERY_STRING", env);
	req->content_type = getparam("CONTENT_TYPE", env);
	req->content_length = getparam("CONTENT_LENGTH", env);
	req->authorization = getparam("HTTP_AUTHORIZATION", env);
	req->remote_addr = getparam("REMOTE_ADDR", env);
	if (req->remote_addr == NULL)
		req->remote_addr = "-";
	req->original_method = getparam("HTTP_X_ORIGINAL_METHOD", env);
	req->original_uri = getparam("HTTP_X_ORIGINAL_URI", env);
	req->if_none_match = getparam("HTTP_IF_NONE_MATCH", env);
	req->user_agent = getparam("HTTP_USER_AGENT", env);
	req->src = src;
	req->log = log;
}

/* Parse CONTENT_LENGTH: 0 when absent or empty, -1 when not a number. */
static long long
request_length(const char *s)
{
	long long	 v = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > REQUEST_BODY_MAX)
			continue; /* large enough to refuse; no overflow */
		v = v * 10 + (*s - '0');
	}
	return v;
}

enum request_body_rc
request_body(struct request *req)
{
	long long	 want;
	size_t		 have = 0;
	long		 got;

	if (req->body_read)
		return BODY_OK;
	want = request_length(req->content_length);
	if (want < 0)
		return BODY_BAD_LENGTH;
	if (want > REQUEST_BODY_MAX)
		return BODY_TOO_LARGE;
	if ((req->body = malloc((size_t)want + 1)) == NULL)
		return BODY_READ_ERROR;
	/* Read exactly what was announced; an early end is a short body. */
	while (have < (size_t)want) {
		got = req->src.read(req->src.ctx, req->body + have,
		    (size_t)want - have);
		if (got < 0)
			return BODY_READ_ERROR;
		if (got == 0)
			return BODY_SHORT;
		have += (size_t)got;
	}
	req->body[have] = '\0';
	req->bodylen = have;
	req->body_read = 1;
	return BODY_OK;
}

void
request_free(struct request *req)
{
	/* A login body holds a password: leave none of it in freed memory. */
	if (req->body != NULL)
		explicit_bzero(req->body, req->bodylen);
	free(req->body);
	req->body = NULL;
}
