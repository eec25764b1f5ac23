/*
 * config.c: the PATGATE_* environment variables, read once at start.
 * One row of config_table per variable says what it holds, its default,
 * its bounds and where it goes in struct config; config_load walks it.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/*
 * The cost of new PAT and session hashes.  Their secrets carry 238 bits
 * from the CSPRNG, which no cost makes more or less guessable; one pass
 * over 8 KiB, Argon2's least (some 23 microseconds here, most of it the
 * fixed Blake2b work any cost does), keeps the stored form an Argon2id
 * hash while a check of a cold token costs as little as it can.
 * Passwords, which people choose, keep a password cost.
 */
#define CONFIG_TOKEN_ARGON2	"m=8,t=1,p=1"
#define CONFIG_PASSWORD_ARGON2	"m=19456,t=2,p=1"
/* A fixed default lets secret scanners find a leaked PAT by one pattern. */
#define CONFIG_TOKEN_PREFIX	"pgt_"

enum config_type {
	CONFIG_PATH,		/* const char *: the value, def or NULL */
	CONFIG_NUMBER,		/* long within [min, max] */
	CONFIG_ARGON2,		/* char[64] as given, and its m, t and p */
	CONFIG_PREFIX,		/* char[]: [A-Za-z0-9_-], set but empty kept */
	CONFIG_CHOICE		/* int: the index of the value in choice[] */
};

struct config_entry {
	const char	*name;
	enum config_type type;
	const char	*def;		/* taken when unset or empty */
	long		 defnum;	/* a number's default */
	long long	 min, max;	/* a number's bounds */
	size_t		 off;		/* of the field in struct config */
	size_t		 size;		/* of a char[] field */
	size_t		 cost[3];	/* an Argon2 cost's m, t and p fields */
	const char	*choice[2];	/* the words of a choice, in order */
};

#define F(field)	offsetof(struct config, field)
#define SZ(field)	sizeof(((struct config *)0)->field)

static const struct config_entry config_table[] = {
	{ .name = "PATGATE_DB", .type = CONFIG_PATH,
	  .def = "/var/lib/patgate", .off = F(db_dir) },
	{ .name = "PATGATE_ARGON2", .type = CONFIG_ARGON2,
	  .def = CONFIG_TOKEN_ARGON2, .off = F(argon2), .size = SZ(argon2),
	  .cost = { F(argon2_m), F(argon2_t), F(argon2_p) } },
	{ .name = "PATGATE_PASSWORD_ARGON2", .type = CONFIG_ARGON2,
	  .def = CONFIG_PASSWORD_ARGON2, .off = F(pw_argon2),
	  .size = SZ(pw_argon2),
	  .cost = { F(pw_argon2_m), F(pw_argon2_t), F(pw_argon2_p) } },
	{ .name = "PATGATE_TOKEN_PREFIX", .type = CONFIG_PREFIX,
	  .def = CONFIG_TOKEN_PREFIX, .max = TOKEN_PREFIX_MAX,
	  .off = F(token_prefix), .size = SZ(token_prefix) },
	{ .name = "PATGATE_SESSION_TTL", .type = CONFIG_NUMBER,
	  .defnum = 28800, .min = 1, .max = 10LL * 366 * 86400,
	  .off = F(session_ttl) },
	{ .name = "PATGATE_MAX_TOKENS_PER_USER", .type = CONFIG_NUMBER,
	  .defnum = 100, .min = 1, .max = 100000000,
	  .off = F(max_tokens_per_user) },
	{ .name = "PATGATE_MAX_TOKEN_DAYS", .type = CONFIG_NUMBER,
	  .defnum = 366, .min = 1, .max = 100LL * 366,
	  .off = F(max_token_days) },
	{ .name = "PATGATE_LOGIN_MAX_PER_ADDR", .type = CONFIG_NUMBER,
	  .defnum = 100, .min = 1, .max = 100000000,
	  .off = F(login_max_per_addr) },
	{ .name = "PATGATE_REQUEST_TIMEOUT", .type = CONFIG_NUMBER,
	  .defnum = 8, .min = 1, .max = 3600, .off = F(request_timeout) },
	/* Unset, no stall; set, a millisecond at least. */
	{ .name = "PATGATE_TEST_STALL_MS", .type = CONFIG_NUMBER,
	  .defnum = 0, .min = 1, .max = 600000, .off = F(test_stall_ms) },
	{ .name = "PATGATE_LOGIN_WINDOW", .type = CONFIG_NUMBER,
	  .defnum = 900, .min = 1, .max = 366LL * 86400,
	  .off = F(login_window) },
	{ .name = "PATGATE_REVOKE_MAX_PER_ADDR", .type = CONFIG_NUMBER,
	  .defnum = 30, .min = 1, .max = 100000000,
	  .off = F(revoke_max_per_addr) },
	{ .name = "PATGATE_EXPIRY_NOTICE_DAYS", .type = CONFIG_NUMBER,
	  .defnum = 7, .min = 1, .max = 366, .off = F(expiry_notice_days) },
	{ .name = "PATGATE_NOTIFY_CMD", .type = CONFIG_PATH,
	  .def = NULL, .off = F(notify_cmd) },
	{ .name = "PATGATE_REQUIRE_EXPIRY", .type = CONFIG_CHOICE,
	  .def = "0", .off = F(require_expiry), .choice = { "0", "1" } },
	{ .name = "PATGATE_RULES", .type = CONFIG_PATH,
	  .def = NULL, .off = F(rules_path) },
	/* Replication: unset, the one site is all there is (role single). */
	{ .name = "PATGATE_REPL_SELF", .type = CONFIG_PATH,
	  .def = NULL, .off = F(repl_self) },
	{ .name = "PATGATE_REPL_PEERS", .type = CONFIG_PATH,
	  .def = NULL, .off = F(repl_peers) },
	{ .name = "PATGATE_REPL_PRIORITY", .type = CONFIG_NUMBER,
	  .defnum = 100, .min = 0, .max = 1000000, .off = F(repl_priority) },
	{ .name = "PATGATE_REPL_STALE", .type = CONFIG_NUMBER,
	  .defnum = 5, .min = 1, .max = 3600, .off = F(repl_stale) },
	{ .name = "PATGATE_LOG", .type = CONFIG_CHOICE,
	  .def = "stderr", .off = F(log_syslog),
	  .choice = { "stderr", "syslog" } },
};

#undef F
#undef SZ

int
config_number(const char *s, long long min, long long max, long long *out,
    const char **errstr)
{
	char		*end;
	long long	 v;

	*errstr = NULL;
	if (s == NULL || *s == '\0') {
		*errstr = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		*errstr = "invalid";
	else if ((errno == ERANGE && v == LLONG_MIN) || v < min)
		*errstr = "too small";
	else if ((errno == ERANGE && v == LLONG_MAX) || v > max)
		*errstr = "too large";
	if (*errstr != NULL)
		return -1;
	*out = v;
	return 0;
}

/* Is s fit to be a token prefix: letters, digits, '_' and '-' only? */
static int
config_prefix_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

int
config_hostport(const char *s, size_t len, size_t *hostlen, unsigned *port)
{
	const char	*colon = NULL;
	size_t		 i;
	unsigned long	 v = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == ',' || s[i] <= ' ' ||
		    (s[i] == ':' && colon != NULL))
			return -1;
		if (s[i] == ':')
			colon = s + i;
	}
	if (colon == NULL || colon == s || colon + 1 == s + len)
		return -1;
	for (i = (size_t)(colon + 1 - s); i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    (v = v * 10 + (unsigned long)(s[i] - '0')) > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*hostlen = (size_t)(colon - s);
	*port = (unsigned)v;
	return 0;
}

/*
 * The replication variables together: SELF one host:port, PEERS a list
 * of them (needing SELF), neither naming SELF twice.  0, or -1 and err.
 */
static int
config_repl_check(const struct config *cfg, char *err, size_t errlen)
{
	const char	*p, *end;
	size_t		 hostlen;
	unsigned	 port;

	if (cfg->repl_self == NULL) {
		if (cfg->repl_peers == NULL)
			return 0;
		snprintf(err, errlen,
		    "PATGATE_REPL_PEERS needs PATGATE_REPL_SELF");
		return -1;
	}
	if (config_hostport(cfg->repl_self, strlen(cfg->repl_self), &hostlen,
	    &port) == -1) {
		snprintf(err, errlen, "PATGATE_REPL_SELF must be host:port");
		return -1;
	}
	for (p = cfg->repl_peers; p != NULL && *p != '\0';
	    p = *end ? end + 1 : end) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if (config_hostport(p, (size_t)(end - p), &hostlen,
		    &port) == -1 ||
		    ((size_t)(end - p) == strlen(cfg->repl_self) &&
		    strncmp(p, cfg->repl_self, (size_t)(end - p)) == 0)) {
			snprintf(err, errlen, "PATGATE_REPL_PEERS must be "
			    "host:port,... naming other sites than "
			    "PATGATE_REPL_SELF");
			return -1;
		}
		if (*end == ',' && end[1] == '\0') {
			snprintf(err, errlen,
			    "PATGATE_REPL_PEERS ends with a comma");
			return -1;
		}
	}
	return 0;
}

/* Store the variable of row e, whose value is s, in cfg.  0, or -1 and err. */
static int
config_set(struct config *cfg, const struct config_entry *e, const char *s,
    char *err, size_t errlen)
{
	char		*at = (char *)cfg + e->off;
	const char	*why;
	long long	 v;

	switch (e->type) {
	case CONFIG_PATH:
		memcpy(at, &s, sizeof(s));
		return 0;
	case CONFIG_NUMBER:
		if (config_number(s, e->min, e->max, &v, &why) == -1) {
			snprintf(err, errlen, "%s must be a whole number "
			    "from %lld to %lld", e->name, e->min, e->max);
			return -1;
		}
		*(long *)(void *)at = (long)v;
		return 0;
	case CONFIG_ARGON2:
		if (strlen(s) >= e->size || hash_params_parse(s,
		    (uint32_t *)(void *)((char *)cfg + e->cost[0]),
		    (uint32_t *)(void *)((char *)cfg + e->cost[1]),
		    (uint32_t *)(void *)((char *)cfg + e->cost[2])) == -1) {
			snprintf(err, errlen, "%s must look like "
			    "m=19456,t=2,p=1 with a cost libargon2 accepts",
			    e->name);
			return -1;
		}
		snprintf(at, e->size, "%s", s);
		return 0;
	case CONFIG_PREFIX:
		/* The prefix must keep the token parseable and scannable. */
		if (strlen(s) > (size_t)e->max) {
			snprintf(err, errlen, "%s is longer than %lld "
			    "characters", e->name, e->max);
			return -1;
		}
		if (!config_prefix_ok(s)) {
			snprintf(err, errlen, "%s may hold only [A-Za-z0-9_-]",
			    e->name);
			return -1;
		}
		snprintf(at, e->size, "%s", s);
		return 0;
	case CONFIG_CHOICE:
		for (v = 0; v < 2; v++)
			if (strcmp(s, e->choice[v]) == 0) {
				*(int *)(void *)at = (int)v;
				return 0;
			}
		snprintf(err, errlen, "%s must be %s or %s", e->name,
		    e->choice[0], e->choice[1]);
		return -1;
	}
	snprintf(err, errlen, "%s cannot be read", e->name);
	return -1;
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	const struct config_entry *e;
	const char	*s;
	char		*at;
	size_t		 n = sizeof(config_table) / sizeof(config_table[0]);

	memset(cfg, 0, sizeof(*cfg));
	for (e = config_table; e < config_table + n; e++) {
		s = getenv(e->name);
		/* A prefix set but empty: PATs without one, as before. */
		if (e->type == CONFIG_PREFIX ? s == NULL :
		    s == NULL || *s == '\0') {
			if (e->type == CONFIG_NUMBER) {
				at = (char *)cfg + e->off;
				*(long *)(void *)at = e->defnum;
				continue;
			}
			if ((s = e->def) == NULL)
				continue;
		}
		if (config_set(cfg, e, s, err, errlen) == -1)
			return -1;
	}
	return config_repl_check(cfg, err, errlen);
}
