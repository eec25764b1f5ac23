/*
 * valid_bind.c: a create body's bindings (allowed_ips, paths, rate_limit,
 * canary) judged against the contract's rules; each field that fails is
 * named in the 422 with the first thing wrong with it.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/*
 * The array a list field holds: NULL (and nothing to do) when absent or
 * null; otherwise the array of 1 to max items, or NULL with the error.
 */
static struct json_object *
valid_bind_list(struct json_object *body, const char *field, size_t max,
    const char *what, struct field_errors *errs)
{
	struct json_object *v;
	char		 msg[160];
	size_t		 n;

	if (!json_object_object_get_ex(body, field, &v) ||
	    json_object_get_type(v) == json_type_null)
		return NULL;
	n = json_object_is_type(v, json_type_array) ?
	    json_object_array_length(v) : 0;
	if (n == 0 || n > max) {
		snprintf(msg, sizeof(msg),
		    "The %s must be an array of 1 to %zu %s, or null.",
		    field, max, what);
		field_error_add(errs, field, msg);
		return NULL;
	}
	return v;
}

static void
valid_bind_ips(struct json_object *body, struct token_bindings *b,
    struct field_errors *errs)
{
	struct json_object *a, *item;
	const char	*why;
	char		 msg[160];
	size_t		 i, n;

	if ((a = valid_bind_list(body, "allowed_ips", BIND_IPS_MAX,
	    "CIDR blocks such as 203.0.113.0/24 or 2001:db8::/32",
	    errs)) == NULL)
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(a, i);
		if (!json_object_is_type(item, json_type_string)) {
			snprintf(msg, sizeof(msg),
			    "allowed_ips[%zu] must be a string.", i);
			field_error_add(errs, "allowed_ips", msg);
			return;
		}
		if (binding_cidr_parse(json_object_get_string(item), &b->ips[i],
		    &why) == -1) {
			snprintf(msg, sizeof(msg), "allowed_ips[%zu] %s.", i,
			    why);
			field_error_add(errs, "allowed_ips", msg);
			return;
		}
	}
	b->nips = n;
}

static void
valid_bind_paths(struct json_object *body, struct token_bindings *b,
    struct field_errors *errs)
{
	struct json_object *a, *item;
	char		 msg[256];
	size_t		 i, n;

	if ((a = valid_bind_list(body, "paths", BIND_PATHS_MAX,
	    "path patterns", errs)) == NULL)
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(a, i);
		if (!json_object_is_type(item, json_type_string) ||
		    !rules_pattern_ok(json_object_get_string(item),
		    BIND_PATH_MAX)) {
			snprintf(msg, sizeof(msg), "paths[%zu] must be a path "
			    "of at most %d bytes starting with /, without "
			    "blanks, %%-escapes, dot or empty segments, and * "
			    "only at its end.", i, BIND_PATH_MAX);
			field_error_add(errs, "paths", msg);
			return;
		}
		memcpy(b->paths[i], json_object_get_string(item),
		    (size_t)json_object_get_string_len(item) + 1);
	}
	b->npaths = n;
}

static void
valid_bind_rate(struct json_object *body, struct token_bindings *b,
    struct field_errors *errs)
{
	struct json_object *v;
	int64_t		 n;
	char		 msg[96];

	if (!json_object_object_get_ex(body, "rate_limit", &v) ||
	    json_object_get_type(v) == json_type_null)
		return;
	/* json-c saturates a huge integer at INT64_MAX: out of range too. */
	n = json_object_is_type(v, json_type_int) ?
	    json_object_get_int64(v) : 0;
	if (n < 1 || n > BIND_RATE_MAX) {
		snprintf(msg, sizeof(msg),
		    "The rate_limit must be an integer from 1 "
		    "to %d (requests a minute), or null.", BIND_RATE_MAX);
		field_error_add(errs, "rate_limit", msg);
		return;
	}
	b->rate_limit = (long)n;
}

static void
valid_bind_canary(struct json_object *body, struct token_bindings *b,
    struct field_errors *errs)
{
	struct json_object *v;

	if (!json_object_object_get_ex(body, "canary", &v) ||
	    json_object_get_type(v) == json_type_null)
		return;
	if (!json_object_is_type(v, json_type_boolean)) {
		field_error_add(errs, "canary",
		    "The canary must be true or false.");
		return;
	}
	b->canary = json_object_get_boolean(v) ? 1 : 0;
}

void
valid_token_bindings(struct json_object *body, struct token_bindings *b,
    struct field_errors *errs)
{
	b->nips = b->npaths = 0;
	b->rate_limit = 0;
	b->canary = 0;
	valid_bind_ips(body, b, errs);
	valid_bind_paths(body, b, errs);
	valid_bind_rate(body, b, errs);
	valid_bind_canary(body, b, errs);
}
