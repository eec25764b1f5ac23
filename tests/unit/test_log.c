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

/*
 * U+2028, U+2029 and U+0085 end a line for some readers of the log: each
 * byte of them escaped, as a control character's is.
 */
static void
line_separators_escaped(void)
{
	struct capture	 c = { "", 0 };
	struct log_sink	 sink = { capture_write, &c };
	static const char want[] =
	    "patgate: event=x email=\"x\\xe2\\x80\\xa8event=forged \\xc2\\x85y\\xe2\\x80\\xa9@example.com\"\n";

	log_audit(&sink, "x", "email",
	    "x\xe2\x80\xa8" "event=forged \xc2\x85" "y\xe2\x80\xa9@example.com", NULL);
	CHECK(c.len == sizeof(want) - 1 && memcmp(c.buf, want, c.len) == 0);
	if (c.len != sizeof(want) - 1 || memcmp(c.buf, want, c.len) != 0)
		printf("# got %.*s", (int)c.len, c.buf);
}

/* Every C0 and C1 control and DEL escaped; other UTF-8 kept as it is. */
static void
every_control_escaped(void)
{
	struct capture	 c = { "", 0 };
	struct log_sink	 sink = { capture_write, &c };
	char		 v[8], want[64];
	unsigned	 ch;

	for (ch = 1; ch <= 0x9f; ch++) {
		if (ch >= 0x20 && ch < 0x7f)
			continue;
		if (ch < 0x80) {
			snprintf(v, sizeof(v), "a%cb", (char)ch);
			snprintf(want, sizeof(want), "patgate: event=x v=\"a\\x%02xb\"\n", ch);
		} else {
			snprintf(v, sizeof(v), "a%c%cb", (char)0xc2, (char)ch);
			snprintf(want, sizeof(want), "patgate: event=x v=\"a\\xc2\\x%02xb\"\n", ch);
		}
		c.len = 0;
		log_audit(&sink, "x", "v", v, NULL);
		CHECK(c.len == strlen(want) && memcmp(c.buf, want, c.len) == 0);
	}
	/* é, €, U+2027, U+202A and an emoji stand as they are. */
	c.len = 0;
	log_audit(&sink, "x", "v", "\xc3\xa9\xe2\x82\xac\xe2\x80\xa7\xe2\x80\xaa\xf0\x9f\x94\x91", NULL);
	CHECK(c.len == strlen("patgate: event=x v=\"\"\n") + 15);
	/* Bytes that are not UTF-8 (a lone 0x85, overlong, surrogate, cut). */
	c.len = 0;
	log_audit(&sink, "x", "v", "\x85\xc0\x8a\xed\xa0\x80\xe2\x80", NULL);
	CHECK(c.len == strlen("patgate: event=x v=\"\"\n") + 8 * 4);
	CHECK(memchr(c.buf, 0x85, c.len) == NULL && memchr(c.buf, 0xe2, c.len) == NULL);
}

/*
 * Lines of distinct kinds (a token number the client picks) share one
 * budget a second; what it held back is counted into the next line.
 */
static void
distinct_kinds_share_a_budget(void)
{
	unsigned long	 skipped = 0, told = 0;
	char		 kind[64];
	int		 i, written = 0;

	for (i = 0; i < 400; i++) {
		snprintf(kind, sizeof(kind), "unknown %d 10.0.0.9", 900000 + i);
		if (log_repeat(kind, 5000, &skipped)) {
			written++;
			told += skipped;
		}
	}
	CHECK(written >= 1 && written <= LOG_REPEAT_PER_SECOND);
	CHECK(told == 0);
	CHECK(log_repeat("unknown 1 10.0.0.9", 5001, &skipped) == 1);
	CHECK(skipped == (unsigned long)(400 - written));
	CHECK(log_repeat("unknown 2 10.0.0.9", 5001, &skipped) == 1);
	CHECK(skipped == 0);
}

int
main(void)
{
	RUN(plain_line);
	RUN(control_characters_escaped);
	RUN(long_value_keeps_its_newline);
	RUN(repeats_counted_once_a_second);
	RUN(line_separators_escaped);
	RUN(every_control_escaped);
	RUN(distinct_kinds_share_a_budget);
	return tap_done();
}
