/*
 * fuzz_request.c: libFuzzer harness for building a request from CGI
 * parameters and a body, and routing it.  The input is NAME=VALUE lines,
 * a blank line, then the body.  No store is open, so every route that
 * reaches the database answers 500; everything before it is exercised.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/patgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP	16

struct params {
	char	*name[MAXP], *value[MAXP];
	size_t	 n;
};

struct mem {
	const char	*buf;
	size_t		 len, at;
};

static const char *
param(const char *name, void *arg)
{
	struct params	*p = arg;
	size_t		 i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}

static long
mem_read(void *ctx, char *buf, size_t n)
{
	struct mem	*m = ctx;

	if (n > m->len - m->at)
		n = m->len - m->at;
	if (n == 0)
		return 0;
	memcpy(buf, m->buf + m->at, n);
	m->at += n;
	return (long)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	struct params	 p = { { NULL }, { NULL }, 0 };
	struct mem	 m = { NULL, 0, 0 };
	struct body_source src = { mem_read, &m };
	struct log_sink	 sink = { NULL, NULL };
	struct app	 app = { &cfg, NULL };
	struct request	 req;
	struct response	 res;
	char		*text, *line, *next, *eq, norm[1024], *wire;
	size_t		 len;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cfg.max_token_days = 366;
	cfg.max_tokens_per_user = 100;
	for (line = text; line != NULL && *line != '\n' && p.n < MAXP; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		p.name[p.n] = line;
		p.value[p.n++] = eq + 1;
	}
	if (line != NULL && *line == '\n') {
		m.buf = line + 1;
		m.len = size - (size_t)(line + 1 - text);
	}
	request_init(&req, param, &p, src, sink);
	response_init(&res);
	if (req.role != NULL && strcmp(req.role, "AUTHORIZER") == 0)
		authorizer_dispatch(&app, &req, &res);
	else
		route_dispatch(&app, &req, &res);
	if ((wire = response_serialize(&res, &len)) == NULL || len == 0)
		abort();
	free(wire);
	response_free(&res);
	request_free(&req);
	/* The body rules on their own, as a create would run them. */
	request_init(&req, param, &p, src, sink);
	m.at = 0;
	{
		struct ctx c;
		struct json_object *o;

		memset(&c, 0, sizeof(c));
		c.app = &app;
		c.req = &req;
		c.res = &res;
		response_init(&res);
		if ((o = api_json_body(&c)) != NULL) {
			struct field_errors errs = { NULL };
			struct token_input in;

			(void)valid_token_input(o, 1800000000, 366, &in, &errs);
			json_object_put(errs.obj);
			json_object_put(o);
		}
		response_free(&res);
	}
	request_free(&req);
	if (req.raw_uri != NULL)
		(void)rules_normalize(req.raw_uri, norm, sizeof(norm));
	free(text);
	return 0;
}
