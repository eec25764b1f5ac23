/* log.c: audit lines to the request's error stream, stderr, or syslog. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "patgate.h"

static int log_to_syslog;

void
log_init(int use_syslog)
{
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("patgate", LOG_PID, LOG_AUTH);
}

/* Append v to buf as a value: bare when safe, else quoted with escapes. */
static size_t
log_value(char *buf, size_t at, size_t cap, const char *v)
{
	size_t	 i;
	int	 quote = (*v == '\0');

	for (i = 0; v[i] != '\0'; i++)
		if (v[i] <= ' ' || v[i] == '"' || v[i] == '=' || (unsigned char)v[i] >= 0x7f)
			quote = 1;
	if (!quote) {
		at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "%s", v);
		return at;
	}
	if (at < cap)
		buf[at++] = '"';
	for (i = 0; v[i] != '\0' && at + 5 < cap; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < ' ' || c == 0x7f || c == '"' || c == '\\')
			at += (size_t)snprintf(buf + at, cap - at, "\\x%02x", c);
		else
			buf[at++] = (char)c;
	}
	if (at < cap)
		buf[at++] = '"';
	return at;
}

void
log_audit(const struct log_sink *sink, const char *event, ...)
{
	char		 line[1024];
	const char	*k, *v;
	size_t		 at, cap = sizeof(line) - 2;
	va_list		 ap;

	at = (size_t)snprintf(line, cap, "patgate: event=%s", event);
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (at >= cap)
			continue;
		at += (size_t)snprintf(line + at, cap - at, " %s=", k);
		if (at < cap)
			at = log_value(line, at, cap, v != NULL ? v : "-");
	}
	va_end(ap);
	/*
	 * A cut line ends where snprintf put its NUL, at cap - 1: the newline
	 * goes there, or a long value (an email sent to login, say) would run
	 * this line into the next.
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
