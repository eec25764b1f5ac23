/*
 * test_openapi.c: doc/openapi.json, the API's description for clients,
 * held to the program: every (path, method) the route table serves is
 * described and nothing else is, every $ref resolves, and its version is
 * the package's.  The description is read from $top_srcdir (set by make
 * check), so that it is the source tree's in a VPATH build too.
 */
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../src/patgate.h"
#include "tap.h"

#define ROUTES_MAX	64
#define TEMPLATE_MAX	256

static struct json_object *doc;

/* The OpenAPI 3.1 operations of a path item, by their keys. */
static const char *const oa_methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", "trace"
};
#define OA_NMETHODS	(sizeof(oa_methods) / sizeof(oa_methods[0]))

struct served {
	char	 method[16];
	char	 route[TEMPLATE_MAX];	/* as route_each gives it */
	char	 path[TEMPLATE_MAX];	/* normalized: every {name} as {} */
};

static struct served	 served[ROUTES_MAX];
static size_t		 nserved;
static int		 served_overflow;

/*
 * path with every templated segment "{...}" written "{}", into out: the
 * route table's {id} and the description's {token_id} name one segment,
 * and OpenAPI too holds paths equal that differ only in such names.
 */
static void
normalize(const char *path, char *out, size_t cap)
{
	size_t	 at = 0, n;

	while (*path != '\0' && at + 3 < cap) {
		n = strcspn(path, "/");
		if (n >= 2 && path[0] == '{' && path[n - 1] == '}') {
			memcpy(out + at, "{}", 2);
			at += 2;
		} else {
			if (n > cap - 1 - at)
				n = cap - 1 - at;
			memcpy(out + at, path, n);
			at += n;
		}
		path += n;
		if (*path == '/' && at + 1 < cap) {
			out[at++] = '/';
			path++;
		}
	}
	out[at] = '\0';
}

static void
collect(const char *method, const char *path, void *arg)
{
	(void)arg;
	if (nserved == ROUTES_MAX) {
		served_overflow = 1;
		return;
	}
	snprintf(served[nserved].method, sizeof(served[0].method), "%s", method);
	snprintf(served[nserved].route, sizeof(served[0].route), "%s", path);
	normalize(path, served[nserved].path, sizeof(served[0].path));
	nserved++;
}

/* The whole file at path, parsed strictly; NULL (and why, printed) if not JSON. */
static struct json_object *
load(const char *path)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	FILE		*f;
	char		*buf = NULL;
	long		 len;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("# cannot open %s\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto out;
	buf[len] = '\0';
	if ((tok = json_tokener_new()) == NULL)
		goto out;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(buf + json_tokener_get_parse_end(tok), " \t\r\n") !=
	    (size_t)len - json_tokener_get_parse_end(tok)) {
		printf("# %s is not one JSON value: %s at byte %zu\n", path,
		    json_tokener_error_desc(json_tokener_get_error(tok)),
		    json_tokener_get_parse_end(tok));
		json_object_put(o);
		o = NULL;
	}
out:
	json_tokener_free(tok);
	free(buf);
	fclose(f);
	return o;
}

/* o's member key as a string, or NULL when absent or not a string. */
static const char *
get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The description's paths object, or NULL. */
static struct json_object *
doc_paths(void)
{
	struct json_object *paths;

	if (doc == NULL || !json_object_object_get_ex(doc, "paths", &paths) ||
	    !json_object_is_type(paths, json_type_object))
		return NULL;
	return paths;
}

/* The path item whose normalized path is want, or NULL. */
static struct json_object *
doc_path_item(const char *want)
{
	struct json_object *paths = doc_paths();
	char		 norm[TEMPLATE_MAX];

	if (paths == NULL)
		return NULL;
	json_object_object_foreach(paths, key, item) {
		normalize(key, norm, sizeof(norm));
		if (strcmp(norm, want) == 0)
			return item;
	}
	return NULL;
}

static void
test_document(void)
{
	struct json_object *info;

	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	CHECK(json_object_is_type(doc, json_type_object));
	CHECK(get_string(doc, "openapi") != NULL &&
	    strcmp(get_string(doc, "openapi"), "3.1.0") == 0);
	CHECK(json_object_object_get_ex(doc, "info", &info));
	CHECK(get_string(info, "title") != NULL && strcmp(get_string(info, "title"), "patgate") == 0);
	/* The version configure.ac's AC_INIT gives. */
	CHECK(get_string(info, "version") != NULL &&
	    strcmp(get_string(info, "version"), PACKAGE_VERSION) == 0);
	CHECK(doc_paths() != NULL);
}

/*
 * Follow the JSON pointer ref ("#/a/b", ~1 for / and ~0 for ~) from the
 * document's root: the value, or NULL.
 */
static struct json_object *
resolve(const char *ref)
{
	struct json_object *at = doc, *next;
	char		 key[TEMPLATE_MAX];
	size_t		 n, i, k;

	if (strncmp(ref, "#/", 2) != 0)
		return NULL;
	ref += 1;
	while (*ref == '/') {
		ref++;
		n = strcspn(ref, "/");
		for (i = 0, k = 0; i < n && k + 1 < sizeof(key); i++, k++) {
			key[k] = ref[i];
			if (ref[i] == '~' && i + 1 < n && (ref[i + 1] == '0' || ref[i + 1] == '1'))
				key[k] = ref[++i] == '0' ? '~' : '/';
		}
		key[k] = '\0';
		if (!json_object_is_type(at, json_type_object) ||
		    !json_object_object_get_ex(at, key, &next))
			return NULL;
		at = next;
		ref += n;
	}
	return *ref == '\0' ? at : NULL;
}

/* Check every $ref below o; the count of those seen is added to *n. */
static void
check_refs(struct json_object *o, size_t *n)
{
	size_t	 i;

	if (json_object_is_type(o, json_type_array)) {
		for (i = 0; i < json_object_array_length(o); i++)
			check_refs(json_object_array_get_idx(o, i), n);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, v) {
		if (strcmp(key, "$ref") == 0) {
			(*n)++;
			if (!json_object_is_type(v, json_type_string) ||
			    resolve(json_object_get_string(v)) == NULL) {
				printf("# $ref %s does not resolve\n", json_object_get_string(v));
				CHECK(0);
			}
			continue;
		}
		check_refs(v, n);
	}
}

static void
test_refs_resolve(void)
{
	size_t	 n = 0;

	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	check_refs(doc, &n);
	CHECK(n > 0);
	/* The check itself: a pointer to nothing is refused. */
	CHECK(resolve("#/components/schemas/Token") != NULL);
	CHECK(resolve("#/components/schemas/NoSuchThing") == NULL);
	CHECK(resolve("#/paths/~1api~1user") != NULL);
}

/* Every (path, method) the route table serves is described. */
static void
test_served_described(void)
{
	struct json_object *item, *op, *any;
	char		 lower[16];
	size_t		 i, j;

	CHECK(!served_overflow);
	CHECK(nserved > 0);
	for (i = 0; i < nserved; i++) {
		if ((item = doc_path_item(served[i].path)) == NULL) {
			printf("# %s %s is served but not described\n", served[i].method,
			    served[i].route);
			CHECK(0);
			continue;
		}
		/* A route for any method: described as GET, and marked so. */
		if (strcmp(served[i].method, "*") == 0) {
			if (!json_object_object_get_ex(item, "x-patgate-any-method", &any) ||
			    !json_object_get_boolean(any) ||
			    !json_object_object_get_ex(item, "get", &op)) {
				printf("# %s serves every method: describe its GET and mark it "
				    "\"x-patgate-any-method\": true\n", served[i].route);
				CHECK(0);
			}
			continue;
		}
		for (j = 0; served[i].method[j] != '\0' && j + 1 < sizeof(lower); j++)
			lower[j] = (char)tolower((unsigned char)served[i].method[j]);
		lower[j] = '\0';
		if (!json_object_object_get_ex(item, lower, &op)) {
			printf("# %s %s is served but not described\n", served[i].method,
			    served[i].route);
			CHECK(0);
		}
	}
}

/* Is method (an OpenAPI key; NULL: every method) served on the normalized path? */
static int
is_served(const char *path, const char *method)
{
	size_t	 i;

	for (i = 0; i < nserved; i++)
		if (strcmp(served[i].path, path) == 0 &&
		    (strcmp(served[i].method, "*") == 0 ||
		    (method != NULL && strcasecmp(served[i].method, method) == 0)))
			return 1;
	return 0;
}

/* The description names nothing the program does not serve. */
static void
test_described_served(void)
{
	struct json_object *paths = doc_paths(), *op, *any;
	char		 norm[TEMPLATE_MAX];
	size_t		 j, ops = 0;

	CHECK(paths != NULL);
	if (paths == NULL)
		return;
	json_object_object_foreach(paths, key, item) {
		normalize(key, norm, sizeof(norm));
		for (j = 0; j < OA_NMETHODS; j++) {
			if (!json_object_object_get_ex(item, oa_methods[j], &op))
				continue;
			ops++;
			if (!is_served(norm, oa_methods[j])) {
				printf("# %s %s is described but not served\n", oa_methods[j], key);
				CHECK(0);
			}
		}
		if (json_object_object_get_ex(item, "x-patgate-any-method", &any) &&
		    json_object_get_boolean(any) && !is_served(norm, NULL)) {
			printf("# %s is marked as serving any method, but does not\n", key);
			CHECK(0);
		}
	}
	CHECK(ops > 0);
}

/* Every operation has its own operationId and at least one response. */
static void
test_operations(void)
{
	struct json_object *paths = doc_paths(), *op, *responses, *seen;
	const char	*id;
	size_t		 j;

	CHECK(paths != NULL);
	if (paths == NULL || (seen = json_object_new_object()) == NULL)
		return;
	json_object_object_foreach(paths, key, item) {
		for (j = 0; j < OA_NMETHODS; j++) {
			if (!json_object_object_get_ex(item, oa_methods[j], &op))
				continue;
			id = get_string(op, "operationId");
			CHECK(id != NULL);
			if (id != NULL && json_object_object_get_ex(seen, id, NULL)) {
				printf("# operationId %s is used twice\n", id);
				CHECK(0);
			} else if (id != NULL)
				json_object_object_add(seen, id, NULL);
			if (!json_object_object_get_ex(op, "responses", &responses) ||
			    json_object_object_length(responses) == 0) {
				printf("# %s %s has no responses\n", oa_methods[j], key);
				CHECK(0);
			}
		}
	}
	json_object_put(seen);
}

/* The token page's files the description names are the ones built in. */
static void
test_page_files(void)
{
	struct json_object *item, *op, *params, *p, *schema, *names;
	size_t		 i, j, k, n, found;

	item = doc_path_item("/tokens/{}");
	CHECK(item != NULL);
	if (item == NULL || !json_object_object_get_ex(item, "get", &op) ||
	    !json_object_object_get_ex(op, "parameters", &params)) {
		CHECK(0);
		return;
	}
	for (i = 0; i < json_object_array_length(params); i++) {
		p = json_object_array_get_idx(params, i);
		if (get_string(p, "in") == NULL || strcmp(get_string(p, "in"), "path") != 0 ||
		    !json_object_object_get_ex(p, "schema", &schema) ||
		    !json_object_object_get_ex(schema, "enum", &names))
			continue;
		n = json_object_array_length(names);
		CHECK(n == page_nassets);
		for (j = 0; j < page_nassets; j++) {
			for (found = 0, k = 0; k < n; k++)
				found += strcmp(json_object_get_string(
				    json_object_array_get_idx(names, k)), page_assets[j].name) == 0;
			if (found != 1) {
				printf("# /tokens/%s is served but not named\n", page_assets[j].name);
				CHECK(0);
			}
		}
		return;
	}
	printf("# /tokens/{file} names no files\n");
	CHECK(0);
}

int
main(void)
{
	const char	*dir = getenv("top_srcdir");
	char		 path[4096];

	snprintf(path, sizeof(path), "%s/doc/openapi.json", dir != NULL ? dir : ".");
	doc = load(path);
	route_each(collect, NULL);
	RUN(test_document);
	RUN(test_refs_resolve);
	RUN(test_served_described);
	RUN(test_described_served);
	RUN(test_operations);
	RUN(test_page_files);
	json_object_put(doc);
	return tap_done();
}
