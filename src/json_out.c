/*
 * json_out.c: JSON text written straight into a growing buffer, for the
 * answers served most (checks, lists, creates): building json-c objects
 * to print them at once cost more than the rest of such a request.  The
 * output matches json-c's plain form: no spaces, '/' not escaped,
 * control characters escaped, other UTF-8 as is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/* Bytes that end a plain stretch of a string: controls, '"', '\\' and NUL. */
static const unsigned char json_out_special[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

static int
json_out_room(struct json_out *w, size_t more)
{
	size_t	 cap;
	char	*grown;

	if (w->failed)
		return -1;
	if (w->len + more <= w->cap)
		return 0;
	for (cap = w->cap ? w->cap : 256; cap < w->len + more; cap *= 2)
		continue;
	/*
	 * Not realloc: the old buffer may hold a new token and is wiped first.
	 */
	if ((grown = malloc(cap)) == NULL) {
		w->failed = 1;
		return -1;
	}
	if (w->buf != NULL) {
		memcpy(grown, w->buf, w->len);
		explicit_bzero(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = grown;
	w->cap = cap;
	return 0;
}

void
json_out_raw(struct json_out *w, const char *s, size_t n)
{
	if (json_out_room(w, n) == -1)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void
json_out_str(struct json_out *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t		 run;
	char		 esc[6];

	json_out_raw(w, "\"", 1);
	while (*p != '\0') {
		/* Copy the longest stretch that needs no escape in one go. */
		for (run = 0; !json_out_special[p[run]]; run++)
			continue;
		json_out_raw(w, (const char *)p, run);
		p += run;
		if (*p == '\0')
			break;
		esc[0] = '\\';
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			json_out_raw(w, esc, 6);
			p++;
			continue;
		}
		json_out_raw(w, esc, 2);
		p++;
	}
	json_out_raw(w, "\"", 1);
}

void
json_out_time(struct json_out *w, time_t t)
{
	char	 buf[21];

	if (t == 0) {
		json_out_raw(w, "null", 4);
		return;
	}
	valid_time_format(t, buf);
	/* Digits and punctuation only: nothing to escape. */
	json_out_raw(w, "\"", 1);
	json_out_raw(w, buf, strlen(buf));
	json_out_raw(w, "\"", 1);
}

void
json_out_free(struct json_out *w)
{
	if (w->buf != NULL) {
		explicit_bzero(w->buf, w->cap);
		free(w->buf);
	}
	memset(w, 0, sizeof(*w));
}
