/* api_json.c: the request body as a JSON object, per the contract's rules. */
#include <json-c/json.h>
#include <string.h>
#include <strings.h>

#include "patgate.h"

/* Is the media type application/json, parameters such as charset allowed? */
static int
api_is_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t		 n = sizeof(want) - 1;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Indexed by enum request_body_rc: the answer to a body not read whole. */
static const struct {
	int		 status;
	const char	*message;
} body_errors[BODY_RC__MAX] = {
	[BODY_OK] = { 0, NULL },
	[BODY_TOO_LARGE] = { 413, "The request body is larger than 64 KiB." },
	[BODY_SHORT] = { 400,
	    "The request body is shorter than its Content-Length." },
	[BODY_BAD_LENGTH] = { 400, "The request body could not be read." },
	[BODY_READ_ERROR] = { 400, "The request body could not be read." },
};

struct json_object *
api_json_body(struct ctx *c)
{
	struct request	*req = c->req;
	struct json_tokener *tok;
	struct json_object *o;
	size_t		 end;
	enum request_body_rc brc;
	int		 has_body;

	has_body = req->content_length != NULL &&
	    req->content_length[0] != '\0' &&
	    strcmp(req->content_length, "0") != 0;
	if ((req->content_type != NULL && !api_is_json(req->content_type)) ||
	    (req->content_type == NULL && has_body)) {
		response_error(c->res, 415,
		    "The request body must be application/json.");
		return NULL;
	}
	if ((brc = request_body(req)) != BODY_OK) {
		if ((unsigned)brc >= BODY_RC__MAX)
			brc = BODY_READ_ERROR;
		response_error(c->res, body_errors[brc].status,
		    body_errors[brc].message);
		return NULL;
	}
	if (req->bodylen == 0) {
		response_error(c->res, 400, "The request body is empty.");
		return NULL;
	}
	if (!valid_utf8(req->body, req->bodylen)) {
		response_error(c->res, 400,
		    "The request body is not valid UTF-8.");
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		response_error(c->res, 500, "Out of memory.");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, req->body, (int)req->bodylen);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		while (end < req->bodylen &&
		    strchr(" \t\r\n", req->body[end]) != NULL &&
		    req->body[end] != '\0')
			end++;
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    end != req->bodylen) {
		json_tokener_free(tok);
		json_object_put(o);
		response_error(c->res, 400,
		    "The request body is not valid JSON.");
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		response_error(c->res, 400,
		    "The request body must be a JSON object.");
		return NULL;
	}
	return o;
}
