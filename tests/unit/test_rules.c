/* test_rules.c: the rules file: parsing, first match, reload, paths. */
#include <stdlib.h>
#include <unistd.h>

#include "../../src/patgate.h"
#include "tap.h"

static char file[64];

static void
write_rules(const char *text)
{
	FILE	*f = fopen(file, "w");

	fputs(text, f);
	fclose(f);
}

static void
first_match_wins(void)
{
	char	 err[256];

	write_rules("# comment\n\n"
	    "GET /protected/read/* read\n"
	    "  * /protected/write/*  write   # trailing comment\n"
	    "DELETE /protected/exact admin\n"
	    "* /protected/* admin\n");
	CHECK(rules_load(file, err, sizeof(err)) == 0);
	CHECK(strcmp(rules_ability_for("GET", "/protected/read/x"), "read") == 0);
	CHECK(strcmp(rules_ability_for("GET", "/protected/read/a/b/c"), "read") == 0);
	CHECK(strcmp(rules_ability_for("POST", "/protected/read/x"), "admin") == 0);
	CHECK(strcmp(rules_ability_for("PUT", "/protected/write/x"), "write") == 0);
	CHECK(strcmp(rules_ability_for("DELETE", "/protected/exact"), "admin") == 0);
	CHECK(strcmp(rules_ability_for("GET", "/protected/exact"), "admin") == 0);
	CHECK(rules_ability_for("GET", "/elsewhere") == NULL);
	CHECK(rules_ability_for("GET", "/protected") == NULL);
}

static void
exact_paths_are_exact(void)
{
	char	 err[256];

	write_rules("GET /status status\n");
	CHECK(rules_load(file, err, sizeof(err)) == 0);
	CHECK(strcmp(rules_ability_for("GET", "/status"), "status") == 0);
	CHECK(rules_ability_for("GET", "/status/") == NULL);
	CHECK(rules_ability_for("GET", "/statusx") == NULL);
	CHECK(rules_ability_for("HEAD", "/status") == NULL);
}

static void
malformed_lines_name_the_line(void)
{
	static const char *bad[] = {
		"GET /a\n", "get /a read\n", "GET a read\n", "GET /a*b read\n",
		"GET /a has space\n", "GET /a re/ad\n", "GET /a read extra\n",
	};
	char	 err[256], text[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# fine\nGET /ok ok\n%s", bad[i]);
		write_rules(text);
		CHECK(rules_load(file, err, sizeof(err)) == -1);
		CHECK(strstr(err, ":3:") != NULL);
	}
	CHECK(rules_load("/nonexistent/rules", err, sizeof(err)) == -1);
}

/* The file is looked at no more than once a second: let one pass. */
static void
next_look(void)
{
	struct timespec	 ts = { 1, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void
changes_are_picked_up_and_breakage_fails_closed(void)
{
	char	 err[256];

	write_rules("GET /a one\n");
	CHECK(rules_load(file, err, sizeof(err)) == 0);
	CHECK(rules_refresh(file, err, sizeof(err)) == 0);
	CHECK(strcmp(rules_ability_for("GET", "/a"), "one") == 0);
	write_rules("GET /a two-longer\n");
	next_look();
	CHECK(rules_refresh(file, err, sizeof(err)) == 0);
	CHECK(strcmp(rules_ability_for("GET", "/a"), "two-longer") == 0);
	write_rules("GET /a\n");
	next_look();
	CHECK(rules_refresh(file, err, sizeof(err)) == -1);
	CHECK(rules_ability_for("GET", "/a") == NULL);
	CHECK(rules_refresh(file, err, sizeof(err)) == -1);
	write_rules("GET /a three\n");
	next_look();
	CHECK(rules_refresh(file, err, sizeof(err)) == 0);
	CHECK(strcmp(rules_ability_for("GET", "/a"), "three") == 0);
}

static void
paths_normalised_like_the_server(void)
{
	static const char *cases[][2] = {
		{ "/protected/read/x", "/protected/read/x" },
		{ "/protected/read/x?q=1", "/protected/read/x" },
		{ "/protected/read/../echo.sh", "/protected/echo.sh" },
		{ "/protected/read/%2e%2e/echo.sh", "/protected/echo.sh" },
		{ "/protected//read///x", "/protected/read/x" },
		{ "/protected/./read/./x", "/protected/read/x" },
		{ "/a/b/..", "/a/" },
		{ "/a/", "/a/" },
		{ "/..", "/" },
		{ "/", "/" },
		{ "/%41", "/A" },
	};
	char	 out[256];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(rules_normalize(cases[i][0], out, sizeof(out)) == 0);
		if (strcmp(out, cases[i][1]) != 0)
			printf("# %s -> %s, want %s\n", cases[i][0], out, cases[i][1]);
		CHECK(strcmp(out, cases[i][1]) == 0);
	}
	CHECK(rules_normalize("relative", out, sizeof(out)) == -1);
	CHECK(rules_normalize("/bad%zz", out, sizeof(out)) == -1);
	CHECK(rules_normalize("/bad%0a", out, sizeof(out)) == -1);
	CHECK(rules_normalize("/cut%4", out, sizeof(out)) == -1);
}

int
main(void)
{
	int	 rc;

	snprintf(file, sizeof(file), "/tmp/patgate-rules-XXXXXX");
	close(mkstemp(file));
	RUN(first_match_wins);
	RUN(exact_paths_are_exact);
	RUN(malformed_lines_name_the_line);
	RUN(changes_are_picked_up_and_breakage_fails_closed);
	RUN(paths_normalised_like_the_server);
	rc = tap_done();
	unlink(file);
	return rc;
}
