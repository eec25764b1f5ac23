/* response.c: one struct response, its JSON body, and its CGI form. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

void
response_init(struct response *res)
{
	memset(res, 0, sizeof(*res));
	res->status = 200;
}

void
response_free(struct response *res)
{
	json_object_put(res->body);
	res->body = NULL;
}

void
response_header(struct response *res, const char *name, const char *value)
{
	if (res->nheaders == RESPONSE_HEADERS_MAX)
		return;
	snprintf(res->headers[res->nheaders].name, sizeof(res->headers[0].name), "%s", name);
	snprintf(res->headers[res->nheaders].value, sizeof(res->headers[0].value), "%s", value);
	res->nheaders++;
}

void
response_error(struct response *res, int status, const char *message)
{
	res->status = status;
	json_object_put(res->body);
	res->body = json_object_new_object();
	json_object_object_add(res->body, "message", json_object_new_string(message));
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
	char		 msg[512];
	size_t		 nfields = 0;

	it = json_object_iter_begin(errs->obj);
	end = json_object_iter_end(errs->obj);
	first = json_object_array_get_idx(json_object_iter_peek_value(&it), 0);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		nfields++;
	/* Laravel's form: the first sentence, and how many more follow. */
	if (nfields > 1)
		snprintf(msg, sizeof(msg), "%s (and %zu more error%s)",
		    json_object_get_string(first), nfields - 1, nfields > 2 ? "s" : "");
	else
		snprintf(msg, sizeof(msg), "%s", json_object_get_string(first));
	response_error(res, 422, msg);
	json_object_object_add(res->body, "errors", errs->obj);
	errs->obj = NULL;
}

void
response_busy(struct response *res)
{
	response_error(res, 503, "Too many token checks need Argon2 work right now; try again shortly.");
	response_header(res, "Retry-After", "1");
}

void
response_storage_error(struct response *res)
{
	response_error(res, 500, "The token store failed; nothing was changed.");
}

const char *
response_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
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

char *
response_serialize(const struct response *res, size_t *len)
{
	const char	*body = "";
	size_t		 bodylen = 0, cap, at, i;
	char		*out;
	int		 n;

	if (res->body != NULL)
		body = json_object_to_json_string_length(res->body,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &bodylen);
	cap = 512 + res->nheaders * 300 + bodylen + 1;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	/* The Status line comes first and always: an authorizer depends on it. */
	n = snprintf(out, cap, "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "Pragma: no-cache\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    res->status, response_reason(res->status));
	at = (size_t)n;
	for (i = 0; i < res->nheaders; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s: %s\r\n",
		    res->headers[i].name, res->headers[i].value);
	at += (size_t)snprintf(out + at, cap - at, "Content-Length: %zu\r\n\r\n", bodylen);
	memcpy(out + at, body, bodylen);
	at += bodylen;
	*len = at;
	return out;
}
