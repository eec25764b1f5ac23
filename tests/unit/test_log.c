/* test_log.c: audit lines: one line each, whatever the values hold. */
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

struct capture {
	char	 buf[2048];
	size_t	 len;
};

static void
capture_write(void *ctx, const char *line, size_t len)
{
	struct capture *c = ctx;

	if (len > sizeof(c->buf))
		len = sizeof(c->buf);
	memcpy(c->buf, line, len);
	c->len = len;
}

static void
plain_line(void)
{
	struct capture	 c = { "", 0 };
	struct log_sink	 sink = { capture_write, &c };
	static const char want[] =
	    "patgate: event=login.failure email=a@b.c addr=127.0.0.1 reason=\"two words\"\n";

	log_audit(&sink, "login.failure", "email", "a@b.c", "addr", "127.0.0.1",
	    "reason", "two words", NULL);
	CHECK(c.len == sizeof(want) - 1 && memcmp(c.buf, want, c.len) == 0);
}

static void
control_characters_escaped(void)
{
	struct capture	 c = { "", 0 };
	struct log_sink	 sink = { capture_write, &c };
	static const char want[] =
	    "patgate: event=x email=\"a\\x0aevent=forged\"\n";

	log_audit(&sink, "x", "email", "a\nevent=forged", NULL);
	CHECK(c.len == sizeof(want) - 1 && memcmp(c.buf, want, c.len) == 0);
}

/* A value too long for the line: cut, but still one line with its newline. */
static void
long_value_keeps_its_newline(void)
{
	struct capture	 c = { "", 0 };
	struct log_sink	 sink = { capture_write, &c };
	char		*v = malloc(3001);
	int		 plain;

	for (plain = 1; plain >= 0; plain--) {
		memset(v, plain ? 'A' : ' ', 3000);
		v[3000] = '\0';
		c.len = 0;
		log_audit(&sink, "login.failure", "email", v, "addr", "10.0.0.1", NULL);
		CHECK(c.len > 900 && c.len < 1024);
		CHECK(c.buf[c.len - 1] == '\n');
		CHECK(memchr(c.buf, '\0', c.len) == NULL);
		CHECK(memchr(c.buf, '\n', c.len) == c.buf + c.len - 1);
	}
	free(v);
}

/* The first line of a kind each second; the rest counted into the next. */
static void
repeats_counted_once_a_second(void)
{
	unsigned long	 skipped = 99;
	int		 i, written = 0;

	CHECK(log_repeat("check.failed malformed - 10.0.0.1", 1000, &skipped) == 1);
	CHECK(skipped == 0);
	for (i = 0; i < 50; i++)
		written += log_repeat("check.failed malformed - 10.0.0.1", 1000, &skipped);
	CHECK(written == 0);
	/* Another kind in the same second is not held back by the first. */
	CHECK(log_repeat("check.failed malformed - 10.0.0.2", 1000, &skipped) == 1);
	CHECK(skipped == 0);
	CHECK(log_repeat("check.failed malformed - 10.0.0.1", 1001, &skipped) == 1);
	CHECK(skipped == 50);
	CHECK(log_repeat("check.failed malformed - 10.0.0.1", 1005, &skipped) == 1);
	CHECK(skipped == 0);
}

int
main(void)
{
	RUN(plain_line);
	RUN(control_characters_escaped);
	RUN(long_value_keeps_its_newline);
	RUN(repeats_counted_once_a_second);
	return tap_done();
}
