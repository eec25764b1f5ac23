/* log.c: audit lines to the request's error stream, stderr, or syslog. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "patgate.h"

static int log_to_syslog;
static const struct log_sink *log_request_sink;	/* for log_error */

#define LOG_REPEAT_SLOTS	256

/* Lines of one kind seen in the current second, for log_repeat. */
static struct {
	uint64_t	 key;
	time_t		 second;
	unsigned long	 skipped;
} repeats[LOG_REPEAT_SLOTS];

/*
 * The worker's budget of log_repeat lines for one second, whatever their
 * kinds: a kind names a token number, which a client picks at no cost.
 */
static time_t		 budget_second;
static unsigned		 budget_used;
static unsigned long	 budget_held;	/* held back since the last line */

int
log_repeat(const char *kind, time_t now, unsigned long *skipped)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	const char	*p;
	size_t		 i;

	for (p = kind; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	i = (size_t)(h % LOG_REPEAT_SLOTS);
	if (repeats[i].key == h && repeats[i].second == now) {
		repeats[i].skipped++;
		return 0;
	}
	if (budget_second != now) {
		budget_second = now;
		budget_used = 0;
	}
	if (budget_used >= LOG_REPEAT_PER_SECOND) {
		budget_held++;
		return 0;
	}
	budget_used++;
	/* What was held back in an earlier second is told with this line. */
	*skipped = budget_held;
	/* another kind's count is not lost */
	if (repeats[i].key == h || repeats[i].skipped > 0)
		*skipped += repeats[i].skipped;
	budget_held = 0;
	repeats[i].key = h;
	repeats[i].second = now;
	repeats[i].skipped = 0;
	return 1;
}

void
log_init(int use_syslog)
{
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("patgate", LOG_PID, LOG_AUTH);
}

/* Append n bytes of s to buf at at, as far as cap allows. */
static size_t
log_put(char *buf, size_t at, size_t cap, const char *s, size_t n)
{
	if (at >= cap)
		return at;
	if (n > cap - at)
		n = cap - at;
	memcpy(buf + at, s, n);
	return at + n;
}

/*
 * The length of the UTF-8 sequence at s that may stand raw in a line, or 0
 * when its bytes must be escaped: not UTF-8, a C1 control (U+0085 among
 * them), or U+2028 and U+2029, which readers of the log may take for the
 * end of a line.
 */
static size_t
log_utf8_plain(const unsigned char *s)
{
	uint32_t	 cp, min;
	size_t		 n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp <= 0x9f || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
}

/* Append v to buf as a value: bare when safe, else quoted with escapes. */
static size_t
log_value(char *buf, size_t at, size_t cap, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)v;
	size_t	 i, n;
	int	 quote = (*v == '\0');

	for (i = 0; v[i] != '\0'; i++)
		if (v[i] <= ' ' || v[i] == '"' || v[i] == '=' ||
		    (unsigned char)v[i] >= 0x7f)
			quote = 1;
	if (!quote)
		return log_put(buf, at, cap, v, i);
	if (at < cap)
		buf[at++] = '"';
	for (i = 0; u[i] != '\0'; i += n) {
		n = u[i] < 0x80 ? 1 : log_utf8_plain(u + i);
		if (n > 1 ||
		    (n == 1 && u[i] >= ' ' && u[i] != 0x7f && u[i] != '"' &&
		    u[i] != '\\')) {
			/* A character is written whole or not at all. */
			if (at + n + 1 >= cap)
				break;
			memcpy(buf + at, u + i, n);
			at += n;
			continue;
		}
		if (at + 5 >= cap)
			break;
		n = 1;
		buf[at++] = '\\';
		buf[at++] = 'x';
		buf[at++] = hex[u[i] >> 4];
		buf[at++] = hex[u[i] & 0xf];
	}
	if (at < cap)
		buf[at++] = '"';
	return at;
}

void
log_audit(const struct log_sink *sink, const char *event, ...)
{
	static const char lead[] = "patgate: event=";
	char		 line[1024];
	const char	*k, *v;
	size_t		 at, cap = sizeof(line) - 2;
	va_list		 ap;

	/* Written by hand: a flood of refused checks logs a line each. */
	at = log_put(line, 0, cap, lead, sizeof(lead) - 1);
	at = log_put(line, at, cap, event, strlen(event));
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (at >= cap)
			continue;
		at = log_put(line, at, cap, " ", 1);
		at = log_put(line, at, cap, k, strlen(k));
		at = log_put(line, at, cap, "=", 1);
		if (at < cap)
			at = log_value(line, at, cap, v != NULL ? v : "-");
	}
	va_end(ap);
	/*
	 * A cut line ends at cap - 1: the newline goes there, or a long value
	 * (an email sent to login, say) would run this line into the next.
	 */
	if (at >= cap)
		at = cap - 1;
	if (log_to_syslog) {
		line[at] = '\0';
		syslog(LOG_NOTICE, "%s", line + strlen("patgate: "));
		return;
	}
	line[at++] = '\n';
	line[at] = '\0';
	if (sink != NULL && sink->write != NULL)
		sink->write(sink->ctx, line, at);
	else {
		fputs(line, stderr);
		fflush(stderr);
	}
}

void
log_current(const struct log_sink *sink)
{
	log_request_sink = sink;
}

void
log_error(const char *fmt, ...)
{
	char		 line[1024];
	int		 n;
	size_t		 at;
	va_list		 ap;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	at = (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 2;
	if (log_to_syslog) {
		line[at] = '\0';
		syslog(LOG_ERR, "%s", line);
		return;
	}
	line[at++] = '\n';
	line[at] = '\0';
	if (log_request_sink != NULL && log_request_sink->write != NULL)
		log_request_sink->write(log_request_sink->ctx, line, at);
	else {
		fputs(line, stderr);
		fflush(stderr);
	}
}
