/*
 * rules.c: the PATGATE_RULES file: which ability a method and path need.
 * One rule a line, "METHOD PATH-PATTERN ABILITY"; first match wins.  The
 * file is read at start and again whenever it changes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patgate.h"

#define RULES_MAX	1024
#define RULE_PATH_MAX	512

struct rule {
	char	 method[16];		/* "*" for any */
	char	 path[RULE_PATH_MAX];
	int	 prefix;		/* the pattern ended in '*' */
	char	 ability[ABILITY_MAX_LEN + 1];
};

struct rules {
	struct rule	*rule;
	size_t		 n;
	/* the file changed into something unreadable */
	int		 broken;
	struct stat	 seen;		/* of the file last read */
};

static struct rules current;

static int
rules_ability_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > ABILITY_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("_.:*-", s[i]) != NULL))
			return 0;
	return 1;
}

static int
rules_method_ok(const char *s)
{
	size_t	 i, n = strlen(s);

	if (strcmp(s, "*") == 0)
		return 1;
	if (n == 0 || n >= 16)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return 1;
}

/* Parse one non-blank, non-comment line into r.  0, or -1 with a reason. */
static int
rules_parse_line(char *line, struct rule *r, const char **why)
{
	char	*f[4], *save = NULL, *tok;
	size_t	 n = 0, plen;

	for (tok = strtok_r(line, " \t", &save); tok != NULL && n < 4;
	    tok = strtok_r(NULL, " \t", &save))
		f[n++] = tok;
	/* A fourth field may only open a trailing comment. */
	if (n < 3 || (n == 4 && f[3][0] != '#')) {
		*why = "expected METHOD PATH-PATTERN ABILITY";
		return -1;
	}
	if (!rules_method_ok(f[0])) {
		*why = "METHOD must be an HTTP method in capitals or *";
		return -1;
	}
	plen = strlen(f[1]);
	if (f[1][0] != '/' || plen >= RULE_PATH_MAX ||
	    (strchr(f[1], '*') != NULL &&
	    strchr(f[1], '*') != f[1] + plen - 1)) {
		*why = "PATH-PATTERN must start with / and may hold * only at "
		    "its end";
		return -1;
	}
	if (!rules_ability_ok(f[2])) {
		*why = "ABILITY must be 1 to 64 characters of A-Z a-z 0-9 _ . "
		    ": * -";
		return -1;
	}
	snprintf(r->method, sizeof(r->method), "%s", f[0]);
	r->prefix = f[1][plen - 1] == '*';
	snprintf(r->path, sizeof(r->path), "%.*s",
	    (int)(plen - (size_t)r->prefix), f[1]);
	snprintf(r->ability, sizeof(r->ability), "%s", f[2]);
	return 0;
}

/* Read path into out.  0, or -1 with a message naming the line in err. */
static int
rules_read(const char *path, struct rules *out, char *err, size_t errlen)
{
	FILE		*f;
	char		 line[2048], *p, *nl;
	const char	*why;
	size_t		 lineno = 0;

	memset(out, 0, sizeof(*out));
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &out->seen) == -1 ||
	    (out->rule = calloc(RULES_MAX, sizeof(*out->rule))) == NULL) {
		snprintf(err, errlen, "%s: cannot read", path);
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%zu: line too long", path,
			    lineno);
			goto fail;
		}
		if (nl != NULL)
			*nl = '\0';
		line[strcspn(line, "\r")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			continue;
		if (*p == '\0' || *p == '#')
			continue;
		if (out->n == RULES_MAX) {
			snprintf(err, errlen, "%s:%zu: more than %d rules",
			    path, lineno, RULES_MAX);
			goto fail;
		}
		if (rules_parse_line(p, &out->rule[out->n], &why) == -1) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
			goto fail;
		}
		out->n++;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	free(out->rule);
	out->rule = NULL;
	return -1;
}

int
rules_load(const char *path, char *err, size_t errlen)
{
	struct rules	 fresh;

	if (path == NULL)
		return 0;
	if (rules_read(path, &fresh, err, errlen) == -1)
		return -1;
	free(current.rule);
	current = fresh;
	return 0;
}

int
rules_refresh(const char *path, char *err, size_t errlen)
{
	/* the second the file was last looked at */
	static time_t	 looked = -1;
	struct rules	 fresh;
	struct stat	 sb;
	struct timespec	 ts;

	if (path == NULL)
		return 0;
	/*
	 * A stat a request costs a tenth of a cached check: look once a second.
	 */
	(void)clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec == looked)
		return current.broken ? -1 : 0;
	looked = ts.tv_sec;
	if (stat(path, &sb) == 0 && sb.st_ino == current.seen.st_ino &&
	    sb.st_dev == current.seen.st_dev &&
	    sb.st_size == current.seen.st_size &&
	    sb.st_mtim.tv_sec == current.seen.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == current.seen.st_mtim.tv_nsec)
		return current.broken ? -1 : 0;
	if (rules_read(path, &fresh, err, errlen) == -1) {
		/*
		 * Fail closed: a broken edit must not leave old, wider rules in
		 * force.
		 */
		free(current.rule);
		memset(&current, 0, sizeof(current));
		current.seen = sb;
		current.broken = 1;
		return -1;
	}
	free(current.rule);
	current = fresh;
	return 0;
}

/* Percent-decode one hex pair at s; -1 if not hex. */
static int
rules_hex2(const char *s)
{
	int	 v = 0, i;

	for (i = 0; i < 2; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= s[i] - 'A' + 10;
		else
			return -1;
	}
	return v;
}

int
rules_normalize(const char *in, char *out, size_t outlen)
{
	char	 dec[2048];
	size_t	 n = 0, i = 0, w = 0, seg, len;
	int	 c, dir = 0;

	/* Decode %XX, stop at the query, refuse control bytes. */
	if (in[0] != '/')
		return -1;
	while (*in != '\0' && *in != '?' && *in != '#') {
		if (*in == '%') {
			if ((c = rules_hex2(in + 1)) == -1)
				return -1;
			in += 3;
		} else
			c = (unsigned char)*in++;
		if (c < 0x20 || c == 0x7f || n + 1 >= sizeof(dec))
			return -1;
		dec[n++] = (char)c;
	}
	/*
	 * Remove dot and empty segments, as the web server does before routing.
	 */
	while (i < n) {
		while (i < n && dec[i] == '/')
			i++;
		for (seg = i; i < n && dec[i] != '/'; i++)
			continue;
		len = i - seg;
		if (len == 0)
			break;
		dir = (len == 1 && dec[seg] == '.') ||
		    (len == 2 && dec[seg] == '.' && dec[seg + 1] == '.');
		if (dir && len == 2)
			while (w > 0 && out[--w] != '/')
				continue;
		if (dir)
			continue;
		if (w + 1 + len + 2 > outlen)
			return -1;
		out[w++] = '/';
		memcpy(out + w, dec + seg, len);
		w += len;
	}
	if (w == 0 || dir || (n > 0 && dec[n - 1] == '/'))
		out[w++] = '/';
	if (w >= 2 && out[w - 1] == '/' && out[w - 2] == '/')
		w--;
	out[w] = '\0';
	return 0;
}

const char *
rules_ability_for(const char *method, const char *path)
{
	const struct rule *r;
	size_t		 i;

	for (i = 0; i < current.n; i++) {
		r = &current.rule[i];
		if (strcmp(r->method, "*") != 0 &&
		    strcmp(r->method, method) != 0)
			continue;
		if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 :
		    strcmp(path, r->path) == 0)
			return r->ability;
	}
	return NULL;
}

int
rules_pattern_ok(const char *s, size_t max)
{
	char		 stem[BIND_PATH_MAX + 1], norm[2 * BIND_PATH_MAX + 8];
	size_t		 n = strlen(s), i;

	if (n == 0 || n > max || n > BIND_PATH_MAX || s[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    s[i] == '%' || (s[i] == '*' && i != n - 1))
			return 0;
	/* The stem must be what normalizing a request path can give. */
	n -= s[n - 1] == '*';
	memcpy(stem, s, n);
	stem[n] = '\0';
	if (n == 0 || rules_normalize(stem, norm, sizeof(norm)) == -1)
		return 0;
	return strcmp(stem, norm) == 0;
}

int
rules_pattern_match(const char *pattern, const char *path)
{
	size_t	 n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(path, pattern, n - 1) == 0;
	return strcmp(path, pattern) == 0;
}
