/* page.c: the token page's files, built into the program, at /tokens/. */
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/* No inline script or style, no frame: what the page itself needs, no more. */
static const char page_csp[] = "default-src 'self'; frame-ancestors 'none'";

/* The built-in file called name (index.html for none), or NULL. */
static const struct page_asset *
page_find(const char *name)
{
	size_t	 i;

	if (name == NULL || *name == '\0')
		name = "index.html";
	for (i = 0; i < page_nassets; i++)
		if (strcmp(page_assets[i].name, name) == 0)
			return &page_assets[i];
	return NULL;
}

/* The asset's entity tag, "<16 hex digits>" of its FNV-1a 64 hash, in tag. */
static void
page_etag(const struct page_asset *a, char *tag, size_t taglen)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t	 i;

	for (i = 0; i < a->len; i++) {
		h ^= a->data[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(tag, taglen, "\"%016llx\"", (unsigned long long)h);
}

/*
 * Does If-None-Match name tag?  The tag's quotes and 16 hex digits cannot
 * occur inside another tag, so finding it in the list is enough; a weak
 * W/ before it matches too, as RFC 9110 asks of If-None-Match.
 */
static int
page_not_modified(const char *inm, const char *tag)
{
	if (inm == NULL)
		return 0;
	while (*inm == ' ' || *inm == '\t')
		inm++;
	return strcmp(inm, "*") == 0 || strstr(inm, tag) != NULL;
}

void
page_serve(struct ctx *c)
{
	const struct page_asset *a = page_find(c->param);
	char		 tag[24];

	if (a == NULL) {
		response_error(c->res, 404, "Not found.");
		return;
	}
	page_etag(a, tag, sizeof(tag));
	c->res->content_type = a->type;
	response_header(c->res, "Content-Security-Policy", page_csp);
	response_header(c->res, "ETag", tag);
	/* Kept, but asked after each time: a new build shows at once. */
	response_header(c->res, "Cache-Control", "no-cache");
	response_header(c->res, "Referrer-Policy", "no-referrer");
	if (page_not_modified(c->req->if_none_match, tag)) {
		c->res->status = 304;
		return;
	}
	c->res->raw = a->data;
	c->res->rawlen = a->len;
}

void
page_redirect(struct ctx *c)
{
	response_error(c->res, 301, "The token page is at /tokens/.");
	/* Relative, so that it holds below a cgi-bin kit's own path too. */
	response_header(c->res, "Location", "tokens/");
}
