/* config.c: the PATGATE_* environment variables, read once at start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/* Parse a positive decimal number no larger than max.  0 or -1. */
static int
config_number(const char *s, long max, long *out)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Take one numeric variable, or its default; fill err on a bad value. */
static int
config_long(const char *name, long def, long max, long *out,
    char *err, size_t errlen)
{
	const char *s = getenv(name);

	if (s == NULL || *s == '\0') {
		*out = def;
		return 0;
	}
	if (config_number(s, max, out) == -1) {
		snprintf(err, errlen, "%s must be a whole number from 1 to %ld", name, max);
		return -1;
	}
	return 0;
}

/*
 * The cost of new PAT and session hashes.  Their secrets carry 238 bits
 * from the CSPRNG, which no cost makes more or less guessable; one pass
 * over 32 KiB (some 35 microseconds here) keeps the stored form an
 * Argon2id hash while a check of a cold token costs about what a warm
 * one does.  Passwords, which people choose, keep a password cost.
 */
#define CONFIG_TOKEN_ARGON2	"m=32,t=1,p=1"
#define CONFIG_PASSWORD_ARGON2	"m=19456,t=2,p=1"
/* A fixed default lets secret scanners find a leaked PAT by one pattern. */
#define CONFIG_TOKEN_PREFIX	"pgt_"

/* Take one Argon2 cost variable (or def) into buf and its three numbers. */
static int
config_argon2(const char *name, const char *def, char *buf, size_t buflen,
    uint32_t *m, uint32_t *t, uint32_t *p, char *err, size_t errlen)
{
	const char *s = getenv(name);

	if (s == NULL || *s == '\0')
		s = def;
	if (strlen(s) >= buflen || hash_params_parse(s, m, t, p) == -1) {
		snprintf(err, errlen, "%s must look like m=19456,t=2,p=1 with a cost libargon2 accepts", name);
		return -1;
	}
	snprintf(buf, buflen, "%s", s);
	return 0;
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	const char	*s;
	size_t		 i;

	memset(cfg, 0, sizeof(*cfg));
	s = getenv("PATGATE_DB");
	cfg->db_dir = (s != NULL && *s != '\0') ? s : "/var/lib/patgate";
	if (config_argon2("PATGATE_ARGON2", CONFIG_TOKEN_ARGON2, cfg->argon2, sizeof(cfg->argon2),
	    &cfg->argon2_m, &cfg->argon2_t, &cfg->argon2_p, err, errlen) == -1)
		return -1;
	if (config_argon2("PATGATE_PASSWORD_ARGON2", CONFIG_PASSWORD_ARGON2, cfg->pw_argon2,
	    sizeof(cfg->pw_argon2), &cfg->pw_argon2_m, &cfg->pw_argon2_t,
	    &cfg->pw_argon2_p, err, errlen) == -1)
		return -1;

	/* Set but empty: PATs without a prefix, as before there was one. */
	s = getenv("PATGATE_TOKEN_PREFIX");
	if (s == NULL)
		s = CONFIG_TOKEN_PREFIX;
	/* The prefix must keep the token parseable and scanner-friendly. */
	if (strlen(s) > TOKEN_PREFIX_MAX) {
		snprintf(err, errlen, "PATGATE_TOKEN_PREFIX is longer than %d characters", TOKEN_PREFIX_MAX);
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-')) {
			snprintf(err, errlen, "PATGATE_TOKEN_PREFIX may hold only [A-Za-z0-9_-]");
			return -1;
		}
	snprintf(cfg->token_prefix, sizeof(cfg->token_prefix), "%s", s);

	if (config_long("PATGATE_SESSION_TTL", 28800, 10L * 366 * 86400,
	    &cfg->session_ttl, err, errlen) == -1 ||
	    config_long("PATGATE_MAX_TOKENS_PER_USER", 100, 100000000L,
	    &cfg->max_tokens_per_user, err, errlen) == -1 ||
	    config_long("PATGATE_MAX_TOKEN_DAYS", 366, 100L * 366,
	    &cfg->max_token_days, err, errlen) == -1 ||
	    config_long("PATGATE_LOGIN_MAX_PER_ADDR", 100, 100000000L,
	    &cfg->login_max_per_addr, err, errlen) == -1 ||
	    config_long("PATGATE_REQUEST_TIMEOUT", 8, 3600,
	    &cfg->request_timeout, err, errlen) == -1 ||
	    config_long("PATGATE_TEST_STALL_MS", 0, 600000,
	    &cfg->test_stall_ms, err, errlen) == -1 ||
	    config_long("PATGATE_LOGIN_WINDOW", 900, 366L * 86400,
	    &cfg->login_window, err, errlen) == -1)
		return -1;
	if (config_long("PATGATE_REVOKE_MAX_PER_ADDR", 30, 100000000L,
	    &cfg->revoke_max_per_addr, err, errlen) == -1 ||
	    config_long("PATGATE_EXPIRY_NOTICE_DAYS", 7, 366,
	    &cfg->expiry_notice_days, err, errlen) == -1)
		return -1;
	s = getenv("PATGATE_NOTIFY_CMD");
	cfg->notify_cmd = (s != NULL && *s != '\0') ? s : NULL;

	s = getenv("PATGATE_REQUIRE_EXPIRY");
	if (s == NULL || *s == '\0' || strcmp(s, "0") == 0)
		cfg->require_expiry = 0;
	else if (strcmp(s, "1") == 0)
		cfg->require_expiry = 1;
	else {
		snprintf(err, errlen, "PATGATE_REQUIRE_EXPIRY must be 0 or 1");
		return -1;
	}

	s = getenv("PATGATE_RULES");
	cfg->rules_path = (s != NULL && *s != '\0') ? s : NULL;

	s = getenv("PATGATE_LOG");
	if (s == NULL || *s == '\0' || strcmp(s, "stderr") == 0)
		cfg->log_syslog = 0;
	else if (strcmp(s, "syslog") == 0)
		cfg->log_syslog = 1;
	else {
		snprintf(err, errlen, "PATGATE_LOG must be stderr or syslog");
		return -1;
	}
	return 0;
}
