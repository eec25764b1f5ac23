/* response.c: one struct response, its JSON body, and its CGI form. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

void
response_init(struct response *res)
{
	/* The header slots are large and written before read: not cleared. */
	res->status = 200;
	res->nheaders = 0;
	res->body = NULL;
	memset(&res->text, 0, sizeof(res->text));
	res->exit_after = 0;
	res->content_type = NULL;
	res->raw = NULL;
	res->rawlen = 0;
	res->stream = NULL;
	res->stream_arg = NULL;
	res->stream_free = NULL;
}

/* Copy src into dst of size cap, cut short if need be. */
static void
response_copy(char *dst, size_t cap, const char *src)
{
	size_t	 n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
response_free(struct response *res)
{
	json_object_put(res->body);
	res->body = NULL;
	json_out_free(&res->text);
	if (res->stream_free != NULL)
		res->stream_free(res->stream_arg);
	res->stream = NULL;
	res->stream_arg = NULL;
	res->stream_free = NULL;
}

void
response_header(struct response *res, const char *name, const char *value)
{
	if (res->nheaders == RESPONSE_HEADERS_MAX)
		return;
	response_copy(res->headers[res->nheaders].name,
	    sizeof(res->headers[0].name), name);
	response_copy(res->headers[res->nheaders].value,
	    sizeof(res->headers[0].value), value);
	res->nheaders++;
}

/* Begin the body {"message":... with its object left open. */
static void
response_message(struct response *res, const char *message)
{
	JSON_OUT_LIT(&res->text, "{\"message\":");
	json_out_str(&res->text, message);
}

void
response_error(struct response *res, int status, const char *message)
{
	res->status = status;
	json_object_put(res->body);
	res->body = NULL;
	json_out_free(&res->text);
	response_message(res, message);
	JSON_OUT_LIT(&res->text, "}");
}

void
response_unauthenticated(struct response *res, int token_sent)
{
	response_error(res, 401, "Unauthenticated.");
	/* RFC 6750: name the error only when a token was offered. */
	response_header(res, "WWW-Authenticate", token_sent ?
	    "Bearer error=\"invalid_token\"" : "Bearer");
}

void
response_invalid(struct response *res, struct field_errors *errs)
{
	struct json_object_iterator it, end;
	struct json_object *first;
	const char	*errors;
	char		 msg[512];
	size_t		 nfields = 0, len;

	it = json_object_iter_begin(errs->obj);
	end = json_object_iter_end(errs->obj);
	first = json_object_array_get_idx(json_object_iter_peek_value(&it), 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		nfields++;
	/* Laravel's form: the first sentence, and how many more follow. */
	if (nfields > 1)
		snprintf(msg, sizeof(msg), "%s (and %zu more error%s)",
		    json_object_get_string(first), nfields - 1,
		    nfields > 2 ? "s" : "");
	else
		snprintf(msg, sizeof(msg), "%s", json_object_get_string(first));
	res->status = 422;
	json_object_put(res->body);
	res->body = NULL;
	json_out_free(&res->text);
	response_message(res, msg);
	JSON_OUT_LIT(&res->text, ",\"errors\":");
	errors = json_object_to_json_string_length(errs->obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	json_out_raw(&res->text, errors, len);
	JSON_OUT_LIT(&res->text, "}");
	json_object_put(errs->obj);
	errs->obj = NULL;
}

void
response_busy(struct response *res)
{
	response_error(res, 503,
	    "Too many token checks need Argon2 work right now; try again "
	    "shortly.");
	response_header(res, "Retry-After", "1");
}

void
response_replication(struct response *res, enum repl_gate gate,
    const char *master)
{
	char	 msg[400];

	if (gate == REPL_NOT_MASTER)
		snprintf(msg, sizeof(msg),
		    "This site is a replica; the master is %s.", master);
	else if (gate == REPL_STALE)
		snprintf(msg, sizeof(msg), "This site has not heard from "
		    "its replication group lately; try again shortly.");
	else
		snprintf(msg, sizeof(msg), "The replication group has no "
		    "master here right now; try again shortly.");
	response_error(res, 503, msg);
	response_header(res, "Retry-After", "1");
}

void
response_unacked(struct response *res)
{
	/* Whatever the handler answered (a new secret, say) is dropped. */
	response_free(res);
	response_init(res);
	response_error(res, 503, "The master made the change, but a quorum "
	    "of sites has not confirmed it; it may not survive the loss of "
	    "the master. Try again shortly.");
	response_header(res, "Retry-After", "1");
}

void
response_role_moved(struct response *res)
{
	response_free(res);
	response_init(res);
	response_error(res, 503, "The replication group is changing its "
	    "master; nothing was changed. Try again shortly.");
	response_header(res, "Retry-After", "1");
}

void
response_storage_error(struct response *res)
{
	response_error(res, 500,
	    "The token store failed; nothing was changed.");
}

const char *
response_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Append n bytes of s at out + *at. */
static void
response_put(char *out, size_t *at, const char *s, size_t n)
{
	memcpy(out + *at, s, n);
	*at += n;
}

#define RESPONSE_PUT(out, at, lit) \
	response_put(out, at, lit, sizeof(lit) - 1)

/* Write v in decimal at out + at; the new end. */
static size_t
response_number(char *out, size_t at, size_t v)
{
	char	 digits[24];
	size_t	 n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		out[at++] = digits[--n];
	return at;
}

char *
response_serialize(const struct response *res, size_t *len)
{
	const char	*body = "", *reason;
	size_t		 bodylen = 0, cap, at = 0, i;
	char		*out;

	if (res->raw != NULL) {
		body = (const char *)res->raw;
		bodylen = res->rawlen;
	} else if (res->body != NULL)
		body = json_object_to_json_string_length(res->body,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &bodylen);
	else if (res->text.failed)
		return NULL;
	else if (res->text.buf != NULL) {
		body = res->text.buf;
		bodylen = res->text.len;
	}
	cap = 512 +
	    (res->content_type != NULL ? strlen(res->content_type) : 0) +
	    res->nheaders * sizeof(res->headers[0]) + bodylen + 1;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	/*
	 * The Status line comes first and always: an authorizer depends on it.
	 */
	RESPONSE_PUT(out, &at, "Status: ");
	at = response_number(out, at, (size_t)res->status);
	RESPONSE_PUT(out, &at, " ");
	reason = response_reason(res->status);
	response_put(out, &at, reason, strlen(reason));
	if (res->content_type == NULL)
		RESPONSE_PUT(out, &at, "\r\n"
		    "Content-Type: application/json\r\n"
		    "Cache-Control: no-store\r\n"
		    "Pragma: no-cache\r\n"
		    "X-Content-Type-Options: nosniff\r\n");
	else {
		/*
		 * The page's files hold no secret: their caching is their own.
		 */
		RESPONSE_PUT(out, &at, "\r\nContent-Type: ");
		response_put(out, &at, res->content_type,
		    strlen(res->content_type));
		RESPONSE_PUT(out, &at,
		    "\r\nX-Content-Type-Options: nosniff\r\n");
	}
	for (i = 0; i < res->nheaders; i++) {
		response_put(out, &at, res->headers[i].name,
		    strlen(res->headers[i].name));
		RESPONSE_PUT(out, &at, ": ");
		response_put(out, &at, res->headers[i].value,
		    strlen(res->headers[i].value));
		RESPONSE_PUT(out, &at, "\r\n");
	}
	/*
	 * A 304 has no body, and no length that would claim one; a streamed
	 * body's length is known only at its end.
	 */
	if (res->status != 304 && res->stream == NULL) {
		RESPONSE_PUT(out, &at, "Content-Length: ");
		at = response_number(out, at, bodylen);
		RESPONSE_PUT(out, &at, "\r\n");
	}
	RESPONSE_PUT(out, &at, "\r\n");
	response_put(out, &at, body, bodylen);
	*len = at;
	return out;
}
