/*
 * patgate.h: the internal header every source file includes, a section
 * per source file.  The store_*.c files also share store_private.h.
 *
 * What functions return:
 *  - a predicate (valid_utf8, cache_hit, throttle_allow): 1 for yes,
 *    0 for no;
 *  - an action or a parse (config_load, token_pat_parse,
 *    valid_token_input): 0 when done, -1 when it failed, with a message
 *    in the caller's err buffer or field errors where it takes them;
 *  - the store and authentication: enum store_rc and enum auth_rc,
 *    whose *_OK is 0 and whose *_RC__MAX sizes the tables indexed by
 *    them (store_strerror);
 *  - a pointer: NULL when there is none or it failed.
 * The comment above a prototype says where it differs.
 */
#ifndef PATGATE_H
#define PATGATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct json_object;

/* ------------------------------------------------------------ config.c */

/* Everything read from the environment, once, at start. */
struct config {
	const char	*db_dir;		/* PATGATE_DB */
	char		 argon2[64];		/* PATGATE_ARGON2, as given */
	uint32_t	 argon2_m, argon2_t, argon2_p;
	char		 pw_argon2[64];		/* PATGATE_PASSWORD_ARGON2 */
	uint32_t	 pw_argon2_m, pw_argon2_t, pw_argon2_p;
	char		 token_prefix[33];	/* PATGATE_TOKEN_PREFIX */
	long		 session_ttl;	/* PATGATE_SESSION_TTL, seconds */
	long		 max_tokens_per_user; /* PATGATE_MAX_TOKENS_PER_USER */
	long		 max_token_days;	/* PATGATE_MAX_TOKEN_DAYS */
	const char	*rules_path;		/* PATGATE_RULES, or NULL */
	int		 log_syslog;		/* PATGATE_LOG=syslog */
	long		 login_max_per_addr;	/* PATGATE_LOGIN_MAX_PER_ADDR */
	long		 request_timeout; /* PATGATE_REQUEST_TIMEOUT, seconds */
	long		 test_stall_ms;	/* PATGATE_TEST_STALL_MS: tests only */
	long		 login_window;	/* PATGATE_LOGIN_WINDOW, seconds */
	int		 require_expiry;	/* PATGATE_REQUIRE_EXPIRY=1 */
	long		 revoke_max_per_addr; /* PATGATE_REVOKE_MAX_PER_ADDR */
	const char	*notify_cmd;	/* PATGATE_NOTIFY_CMD, or NULL */
	long		 expiry_notice_days;	/* PATGATE_EXPIRY_NOTICE_DAYS */
	const char	*repl_self;	/* PATGATE_REPL_SELF, or NULL: single */
	const char	*repl_peers;	/* PATGATE_REPL_PEERS, or NULL */
	long		 repl_priority;	/* PATGATE_REPL_PRIORITY */
	long		 repl_stale;	/* PATGATE_REPL_STALE, seconds */
};

/*
 * Fill cfg from the environment.  Returns 0, or -1 with a sentence in
 * err (size errlen) naming the bad variable.
 */
int	 config_load(struct config *cfg, char *err, size_t errlen);
/*
 * Parse s, a whole decimal number from min to max, into *out, as
 * strtonum(3) does.  0, or -1 with *errstr "invalid", "too small" or
 * "too large".  The variables and the CLI's numbers are read with it.
 */
int	 config_number(const char *s, long long min, long long max,
	    long long *out, const char **errstr);
/*
 * Split the host:port of len characters at s: *hostlen and *port.  0, or
 * -1 when the host is empty or holds a ':' or a ',', or the port is not
 * 1 to 65535.  PATGATE_REPL_SELF and each of PATGATE_REPL_PEERS are one.
 */
int	 config_hostport(const char *s, size_t len, size_t *hostlen,
	    unsigned *port);

/* ------------------------------------------------------------ harden.c */

/*
 * Make this process write no core file and be not dumpable, so that the
 * secrets in its memory never reach the disk that way.  Early in main.
 */
void	 harden_no_core(void);

/* ------------------------------------------------------------ token.c */

#define TOKEN_CORE_LEN		40	/* random [A-Za-z0-9] characters */
#define TOKEN_CRC_LEN		8	/* lowercase hex CRC-32 of the core */
#define TOKEN_PREFIX_MAX	32
#define SESSION_PREFIX		"pgs_"
#define SESSION_ID_LEN		16	/* lowercase hex */
/* pgs_ + id + _ + core + crc */
#define SESSION_TOKEN_LEN \
	(4 + SESSION_ID_LEN + 1 + TOKEN_CORE_LEN + TOKEN_CRC_LEN)
#define UUID_LEN		36

/* A PAT taken apart; prefix and core point into the parsed string. */
struct pat {
	uint64_t	 number;
	const char	*prefix;	/* prefix_len characters, maybe none */
	size_t		 prefix_len;
	const char	*core;		/* TOKEN_CORE_LEN characters */
};

/* A session token taken apart. */
struct session_token {
	char		 id[SESSION_ID_LEN + 1];
	const char	*core;
};

uint32_t token_crc32(const void *buf, size_t len);
/* Fill buf with n bytes from getrandom(2).  Returns 0 or -1 (errno set). */
int	 token_random(void *buf, size_t n);
/* Fill core with TOKEN_CORE_LEN base62 characters and a NUL.  0 or -1. */
int	 token_core_new(char core[TOKEN_CORE_LEN + 1]);
/* A version 4 UUID, lowercase and hyphenated.  0 or -1. */
int	 token_uuid_new(char out[UUID_LEN + 1]);
/* Does s hold a lowercase hyphenated UUID and nothing else? */
int	 token_uuid_valid(const char *s);
/*
 * Write "<number>|<prefix><core><crc>" into out.  Returns the length, or
 * -1 when outlen is too small.
 */
int	 token_pat_format(char *out, size_t outlen, uint64_t number,
	    const char *prefix, const char *core);
/* Parse a PAT in the form above.  0, or -1 when malformed or the CRC fails. */
int	 token_pat_parse(const char *s, struct pat *out);
/* A new session token; id and core are returned too.  0 or -1. */
int	 token_session_new(char out[SESSION_TOKEN_LEN + 1],
	    char id[SESSION_ID_LEN + 1], char core[TOKEN_CORE_LEN + 1]);
/* Parse a session token.  0, or -1 when malformed or the CRC fails. */
int	 token_session_parse(const char *s, struct session_token *out);

/* ------------------------------------------------------------ hash.c */

#define HASH_ENCODED_MAX	160

/* Parse "m=..,t=..,p=.." into its three numbers.  0 or -1. */
int	 hash_params_parse(const char *s, uint32_t *m, uint32_t *t,
	    uint32_t *p);
/* Argon2id-hash secret with a fresh salt into out.  0 or -1. */
int	 hash_make(const char *secret, size_t len, uint32_t m, uint32_t t,
	    uint32_t p, char out[HASH_ENCODED_MAX]);
/*
 * An encoded hash at cost m, t, p that matches no secret: checking a
 * password against it costs what a real check at that cost does, for an
 * email that has no password behind it.
 */
void	 hash_dummy(uint32_t m, uint32_t t, uint32_t p,
	    char out[HASH_ENCODED_MAX]);
/*
 * Was the encoded hash made by Argon2id (the current version) at cost m,
 * t, p?  1 or 0; a hash in any other form is of another cost.
 */
int	 hash_same_cost(const char *encoded, uint32_t m, uint32_t t,
	    uint32_t p);
/* 1 if secret matches the encoded hash, 0 if not (or the hash is bad). */
int	 hash_check(const char *encoded, const char *secret, size_t len);

/* How many Argon2 checks this process has run (for tests and measures). */
unsigned long hash_check_count(void);
/* Bytes of Argon2 memory kept for the next check (for tests). */
size_t	 hash_kept_bytes(void);

/* ------------------------------------------------------------ cache.c */

enum cache_kind {
	CACHE_PAT = 1,
	CACHE_SESSION = 2,
	CACHE_KIND__MAX
};

/* SipHash-2-4, 128-bit output. */
void	 cache_siphash128(const unsigned char k[16], const void *in, size_t len,
	    unsigned char out[16]);
/*
 * Has this secret for credential (kind, id), whose record holds
 * stored_hash, passed Argon2 within the last minute?  1 or 0.
 */
int	 cache_hit(enum cache_kind kind, uint64_t id, const char *secret,
	    size_t len, const char *stored_hash, time_t now);
/* Remember a secret that just passed Argon2. */
void	 cache_remember(enum cache_kind kind, uint64_t id, const char *secret,
	    size_t len, const char *stored_hash, time_t now);
/*
 * Did this secret for (kind, id) fail Argon2 against stored_hash within
 * the last minute?  1 or 0.  Keyed by the secret: another secret for the
 * same credential, the holder's above all, is never refused by it.
 */
int	 cache_refused(enum cache_kind kind, uint64_t id, const char *secret,
	    size_t len, const char *stored_hash, time_t now);
/* Remember a secret that just failed Argon2 against stored_hash. */
void	 cache_remember_refusal(enum cache_kind kind, uint64_t id,
	    const char *secret, size_t len, const char *stored_hash,
	    time_t now);
void	 cache_forget(enum cache_kind kind, uint64_t id);
void	 cache_clear(void);
/*
 * Share the table of secrets that passed with the other processes serving
 * the environment in dir; 0, or -1 (the table stays this process's own).
 */
int	 cache_share(const char *dir);

/* ------------------------------------------------------------ cache_share.c */

/* Bytes before the slots in the shared table: its state and key. */
#define CACHE_SHARE_HEAD	64
/*
 * The shared table for the environment in dir, of size bytes (the head
 * first), its key into key; NULL when it cannot be had for this user alone.
 */
void	*cache_share_map(const char *dir, size_t size, unsigned char key[16]);

/* ------------------------------------------------------------ throttle.c */

/*
 * May a check against a hash at a dearer cost than the current token cost
 * run Argon2 now?  Refused when this worker has spent its share of the
 * last second on such checks.
 */
int	 throttle_allow(void);
/* Account for one dear Argon2 check taking us, passed or failed. */
void	 throttle_record(long us);
/* Microseconds on a monotonic clock. */
long long throttle_now_us(void);
void	 throttle_clear(void);

/* ------------------------------------------------------------ valid.c */

#define NAME_MAX_POINTS		255
#define ABILITY_MAX_LEN		64
#define ABILITIES_MAX		50

/* Is buf[0..len) well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF)? */
int	 valid_utf8(const char *buf, size_t len);

/* Field errors for a 422: field name -> list of sentences, in order. */
struct field_errors {
	struct json_object *obj;	/* NULL until the first error */
};
void	 field_error_add(struct field_errors *, const char *field,
	    const char *sentence);

#define BIND_IPS_MAX		20	/* allowed_ips: blocks a token holds */
#define BIND_PATHS_MAX		20	/* paths: patterns a token holds */
#define BIND_PATH_MAX		255	/* bytes of one pattern */
#define BIND_RATE_MAX		1000000	/* rate_limit: requests a minute */
#define CIDR_TEXT_MAX		49	/* "ffff:...:ffff/128" */

/* An address block; an IPv4 one is held as its IPv4-mapped IPv6 block. */
struct cidr {
	unsigned char	 addr[16];
	unsigned char	 bits;		/* 0 to 128, over all 16 bytes */
};

/* What a token is bound to besides its abilities (none when all zero). */
struct token_bindings {
	struct cidr	 ips[BIND_IPS_MAX];	/* allowed_ips */
	size_t		 nips;			/* 0: any address */
	char		 paths[BIND_PATHS_MAX][BIND_PATH_MAX + 1];
	size_t		 npaths;	/* 0: wherever the rules allow */
	long		 rate_limit;	/* guarded requests a minute; 0: none */
	int		 canary;		/* a decoy, never accepted */
};

/* What a valid create body becomes. */
struct token_input {
	char		 name[NAME_MAX_POINTS * 4 + 1];
	char		 abilities[ABILITIES_MAX][ABILITY_MAX_LEN + 1];
	size_t		 nabilities;
	time_t		 expires_at;		/* 0: never */
	struct token_bindings bind;
};

/*
 * Judge a parsed create body (an object) against the field rules at time
 * now, allowing at most max_days of lifetime.  Fills in and returns 0, or
 * fills errs and returns -1.
 */
int	 valid_token_input(struct json_object *body, time_t now, long max_days,
	    struct token_input *in, struct field_errors *errs);
/*
 * Judge a rotate body (an object): only expires_at, as at create.  *given
 * says whether the field was there (null included).  0, or -1 with errs.
 */
int	 valid_rotate_input(struct json_object *body, time_t now, long max_days,
	    time_t *expires_at, int *given, struct field_errors *errs);
/*
 * Judge the bindings of a create body (allowed_ips, paths, rate_limit,
 * canary) into b, each failing field named in errs (valid_bind.c).
 */
void	 valid_token_bindings(struct json_object *body,
	    struct token_bindings *b, struct field_errors *errs);
/* Where every new token needs an expiry: name expires_at if absent or null. */
void	 valid_expiry_required(struct json_object *body,
	    struct field_errors *errs);
/* What a valid login body holds; the strings point into the body. */
struct login_input {
	const char	*email;
	const char	*password;
	size_t		 password_len;
};

/*
 * Judge a parsed login body (an object): email and password must be
 * non-empty strings.  Fills in and returns 0, or fills errs and returns -1.
 */
int	 valid_login_input(struct json_object *body, struct login_input *in,
	    struct field_errors *errs);
/* Parse an RFC 3339 time into seconds since the epoch.  0 or -1. */
int	 valid_rfc3339(const char *s, time_t *out);
/* Format t as 2024-01-15T19:00:00Z into out (21 bytes). */
void	 valid_time_format(time_t t, char out[21]);

/* ------------------------------------------------------------ log.c */

/* Where audit lines go for one request: a writer, or stderr when NULL. */
struct log_sink {
	void	(*write)(void *ctx, const char *line, size_t len);
	void	*ctx;
};

void	 log_init(int use_syslog);
/*
 * One audit line: "patgate: event=EVENT key=value ...".  The variadic
 * arguments are pairs of key, value strings ending with NULL; values are
 * quoted when they hold spaces, and control characters (C0, DEL, C1),
 * U+2028, U+2029 and bytes that are not UTF-8 are written as \xNN, so a
 * value never ends or forges a line.  Never pass a secret.
 */
void	 log_audit(const struct log_sink *, const char *event, ...)
	    __attribute__((sentinel));
/*
 * Should a line of this kind (a string naming what repeats) be written
 * now?  The first of a kind each second is, up to LOG_REPEAT_PER_SECOND
 * lines a second in all; the rest are counted, and the count is handed
 * back in *skipped with the next line written (of that kind, or of any
 * kind for those held back by the budget).
 */
#define LOG_REPEAT_PER_SECOND	3
int	 log_repeat(const char *kind, time_t now, unsigned long *skipped);
/*
 * The sink of the request being served (NULL between requests), where
 * log_error writes: a failure below the request (the store's) then shows
 * in the web server's error log beside the request's audit lines.
 */
void	 log_current(const struct log_sink *);
/* A printf-style error line: syslog (LOG_ERR), else that sink, else stderr. */
void	 log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* -------------------------------- store_{env,users,tokens,logins,admin}.c */

enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such record */
	STORE_EXISTS,		/* a unique key is taken */
	STORE_LIMIT,	/* the per-user cap or a login limit is reached */
	STORE_ERROR,		/* the database failed; see the log */
	STORE_RC__MAX
};

/* What rc means, as a phrase for an administrator ("the database failed"). */
const char *store_strerror(enum store_rc rc);

struct store;

struct user_rec {
	char		 id[UUID_LEN + 1];
	char		 email[256];
	char		 name[NAME_MAX_POINTS * 4 + 1];
	time_t		 created_at;
	char		 password[HASH_ENCODED_MAX];	/* "" when unset */
};

struct session_rec {
	char		 id[SESSION_ID_LEN + 1];
	char		 user_id[UUID_LEN + 1];
	char		 hash[HASH_ENCODED_MAX];
	time_t		 created_at;
	time_t		 expires_at;
	time_t		 revoked_at;			/* 0: live */
};

#define TOKEN_IPS_MAX		5 /* addresses a token remembers using it */
#define TOKEN_IP_MAX		63 /* bytes of one; a longer one is not kept */

struct token_rec {
	uint64_t	 number;
	char		 id[UUID_LEN + 1];
	char		 user_id[UUID_LEN + 1];
	char		 name[NAME_MAX_POINTS * 4 + 1];
	char		 abilities[ABILITIES_MAX][ABILITY_MAX_LEN + 1];
	size_t		 nabilities;
	char		 hash[HASH_ENCODED_MAX];
	time_t		 created_at;
	time_t		 expires_at;			/* 0: never */
	time_t		 revoked_at;			/* 0: live */
	time_t		 last_used_at;			/* 0: never used */
	char		 prefix[TOKEN_PREFIX_MAX + 1]; /* its secret's prefix */
	int		 prefix_known;	/* 0: a record older than that */
	/* the id it replaced, or "" */
	char		 rotated_from[UUID_LEN + 1];
	uint64_t	 rotated_to;	/* the number that replaced it, or 0 */
	struct token_use {				/* newest first */
		char	 ip[TOKEN_IP_MAX + 1];
		time_t	 at;
	}		 ips[TOKEN_IPS_MAX];
	size_t		 nips;
	struct token_bindings bind;
};

#define LOGIN_MAX_PER_EMAIL	5	/* failed logins per email per window */

/*
 * Login attempts counted under one key ("email:..." or "addr:...") in a window.
 */
struct login_rec {
	time_t		 since;		/* when the window began */
	long		 count;
};

/* What login attempts are held to. */
struct login_limits {
	long		 max_email;	/* failures per email per window */
	long		 max_addr; /* failures per remote address per window */
	long		 window;	/* seconds */
};

/*
 * Open (with create, make) the environment in dir.  Returns STORE_OK and
 * *out, or STORE_NOTFOUND when the environment does not exist and create
 * is 0, or STORE_ERROR with a message in err.
 */
enum store_rc store_open(const char *dir, int create, struct store **out,
	    char *err, size_t errlen);
void	 store_close(struct store *);
/*
 * For a long-lived server, before its first store_open: every page of the
 * environment's shared regions is touched at open, so that its resident
 * size counts them from the start and grows only with its own memory.  A
 * short-lived process (the CLI, one CGI request) does without.
 */
void	 store_want_resident(void);
/*
 * Periodic work (a checkpoint, which removes log files no longer needed),
 * for a server to call between requests: once it has, its commits no
 * longer do it.  Returns at once when another process is at it.
 */
void	 store_maintain(struct store *);
/* Does the database answer?  STORE_OK or STORE_ERROR. */
enum store_rc store_ping(struct store *);
/* Has the environment failed so that this process must exit? */
int	 store_must_exit(const struct store *);
/*
 * A count of steps taken by the store in this process (a transaction
 * tried, a lock wait ended, a page of a list read): the watchdog tells a
 * slow request from a stuck one by it.  Safe to read in a signal handler.
 */
unsigned long store_steps(void);
/*
 * Is this process in a transaction, and has another process recovered
 * the environment under it (its region files made afresh)?  Then what it
 * waits on in the old regions will never come.  Read by the watchdog's
 * thread.
 */
int	 store_recovered_under(void);

/*
 * watchdog.c: a thread that calls fire (which must not return) with the
 * seconds waited when work between watchdog_begin and watchdog_end makes
 * no progress (CPU time, a store step) for limit ticks of a second, or
 * for two once the environment was recovered under it.  0 or -1.
 */
int	 watchdog_start(unsigned limit, void (*fire)(unsigned ticks));
void	 watchdog_begin(void);
void	 watchdog_end(void);
/* Test hook: pause ms milliseconds inside every create, locks held. */
void	 store_set_stall(struct store *, unsigned ms);
/*
 * Bulk loading: store_token_create commits without an fsync (the log
 * written is the same); store_sync then makes the creates durable.
 */
void	 store_set_nosync(struct store *, int on);

enum store_rc store_user_add(struct store *, struct user_rec *);
enum store_rc store_user_by_email(struct store *, const char *email,
	    struct user_rec *);
enum store_rc store_user_get(struct store *, const char *id,
	    struct user_rec *);
/*
 * Set the user's password hash ("" removes it) and end every session of
 * the user made so far (store_session_get reports them revoked); returns
 * once the current second is over.  STORE_NOTFOUND if no such user.
 */
enum store_rc store_user_set_password(struct store *, const char *id,
	    const char *hash);
/*
 * Replace the user's password hash was by hash (the same password at
 * another cost).  STORE_EXISTS, changing nothing, if the stored hash is
 * no longer was.
 */
enum store_rc store_user_rehash_password(struct store *, const char *id,
	    const char *was, const char *hash);
/* Call fn for each user, in id order. */
enum store_rc store_user_each(struct store *,
	    void (*fn)(const struct user_rec *, void *), void *arg);

enum store_rc store_session_put(struct store *, const struct session_rec *);
enum store_rc store_session_get(struct store *, const char *id,
	    struct session_rec *);
/*
 * Replace a live session's hash was by hash (its secret at another cost).
 * STORE_EXISTS, changing nothing, if it was revoked or its hash changed.
 */
enum store_rc store_session_rehash(struct store *, const char *id,
	    const char *was, const char *hash);
/* Mark a session revoked at now.  STORE_NOTFOUND if absent or revoked. */
enum store_rc store_session_revoke(struct store *, const char *id, time_t now);
/*
 * Remove the sessions expired or ended (logged out, or made before their
 * user's password changed) by now; the count goes to *removed.
 */
enum store_rc store_session_prune(struct store *, time_t now,
	    unsigned long *removed);

/*
 * Store a new token for rec->user_id: take the next number into
 * rec->number, refuse with STORE_LIMIT when the user already holds
 * max_live live tokens at time now, and commit synchronously (unless
 * store_set_nosync).
 */
enum store_rc store_token_create(struct store *, struct token_rec *rec,
	    long max_live, time_t now);
/*
 * Store n new tokens, a few hundred a transaction, each committed without
 * an fsync, for loading many at once: each gets the next number into
 * recs[i].number; the per-user cap is not applied.  STORE_OK or
 * STORE_ERROR (the batches before the failing one stay).
 */
enum store_rc store_token_bulk(struct store *, struct token_rec *recs,
	    size_t n);
/*
 * Make everything committed so far durable (a checkpoint).  STORE_OK or
 * STORE_ERROR.
 */
enum store_rc store_flush(struct store *);
/*
 * Write the log out and fsync it: what was committed without an fsync is
 * now as durable as a synchronous commit makes it, and no checkpoint is
 * forced.  STORE_OK or STORE_ERROR.
 */
enum store_rc store_sync(struct store *);
/*
 * Token number's record as a check reads it (revoked too): its uses (last
 * use, recent addresses), kept apart, are left out; store_token_by_id and
 * the walks include them.
 */
enum store_rc store_token_get(struct store *, uint64_t number,
	    struct token_rec *);
/*
 * The user's tokens, oldest first; fn is called for each as it is read,
 * revoked too.  If the walk must start over (a deadlock), fn(NULL, arg)
 * comes first: forget the rows so far.
 */
enum store_rc store_token_each(struct store *, const char *user_id,
	    void (*fn)(const struct token_rec *, void *), void *arg);
/*
 * As store_token_each, one page at a time, each its own transaction: the
 * tokens numbered *next and up, some hundreds of them; *next is then past
 * the last, and *done set when none are left.  fn(NULL, arg) says that
 * the page starts over: forget its rows.  A list too long to hold in
 * memory is written a page at a time this way.
 */
enum store_rc store_token_page(struct store *, const char *user_id,
	    uint64_t *next, void (*fn)(const struct token_rec *, void *),
	    void *arg, int *done);
/*
 * Write the uses checks left waiting (store_pending.c), so that what is read
 * next shows them: before a list, whose stamp must count them.
 */
void	 store_pending_settle(struct store *);
/*
 * What a list of a user's tokens written now is kept under (store_lists.c):
 * it may be answered again while store_list_stamp gives the same.
 */
struct store_list_stamp {
	uint64_t	 user;		/* changes to the user's tokens */
	uint64_t	 all;		/* changes to everyone's */
	uint64_t	 epoch;		/* stores opened */
	time_t		 at;		/* the second */
};
/*
 * Read before the list's store is read.  1, or 0 when no list may be kept
 * (no shared counts, or a replica, whose store changes under it).
 */
int	 store_list_stamp(struct store *, const char *user_id, time_t now,
	    struct store_list_stamp *);
int	 store_list_stamp_same(const struct store_list_stamp *,
	    const struct store_list_stamp *);
/*
 * Revoke token id if it belongs to user_id (NULL: any user) and is live.
 * STORE_NOTFOUND otherwise.  rec receives the token.
 */
enum store_rc store_token_revoke(struct store *, const char *user_id,
	    const char *id, time_t now, struct token_rec *rec);
/*
 * Token id of user_id (NULL: any user), unrevoked.  STORE_NOTFOUND otherwise.
 */
enum store_rc store_token_by_id(struct store *, const char *user_id,
	    const char *id, struct token_rec *rec);
/*
 * Replace a live token by nw in one transaction: the old one (id of
 * user_id, or number when id is NULL; live at now) is revoked and points
 * to the new, which takes the next number into nw->number and rotated_from.
 * The per-user cap is not applied.  STORE_NOTFOUND when the old token is
 * unknown, another's, revoked or expired.  old receives it as it was.
 */
enum store_rc store_token_rotate(struct store *, const char *user_id,
	    const char *id, uint64_t number, time_t now, struct token_rec *nw,
	    struct token_rec *old);
/*
 * Revoke every live token that descends, by rotation, from token number;
 * the count goes to *revoked.  Checks in every process see it at once.
 */
enum store_rc store_token_revoke_family(struct store *, uint64_t number,
	    time_t now, unsigned long *revoked);
/*
 * Revoke the live tokens last used (or, never used, made) before cutoff,
 * a bounded batch a transaction; fn(t, arg) for each one revoked, after
 * its batch commits.  The count goes to *revoked.
 */
enum store_rc store_token_revoke_unused(struct store *, time_t cutoff,
	    time_t now, void (*fn)(const struct token_rec *, void *), void *arg,
	    unsigned long *revoked);
/* A leaked PAT whose secret verified, to be revoked. */
struct token_leak {
	uint64_t	 number;
	int		 revoked;		/* out: revoked by this call */
	char		 id[UUID_LEN + 1];	/* out, when revoked */
	char		 user_id[UUID_LEN + 1];	/* out, when revoked */
};
/*
 * Revoke each of leaks[0..n) that is still unrevoked, and queue
 * token.revoke.leaked for it with details (an object, borrowed) in the same
 * transaction; a few dozen a transaction, each committed synchronously, the
 * epoch bumped before it returns.  STORE_OK or STORE_ERROR (the batches before
 * stay).
 */
enum store_rc store_token_revoke_leaked(struct store *,
	    struct token_leak *leaks, size_t n, time_t now,
	    struct json_object *details);
/*
 * Record a use of t (as read for the check) at now, at most once a minute,
 * without waiting for a lock and without an fsync: a busy record is simply
 * skipped.  rehash (the secret's hash at the current cost) and prefix (the
 * one the secret came with, for a record that holds none) are written in
 * the same transaction, and then the use is written whatever the minute;
 * NULL for none.  addr (NULL: none) joins t's recent addresses: one not
 * the newest is written at once, but not twice in a second.  A record whose
 * hash changed since t was read keeps its own.
 */
void	 store_token_touch(struct store *, const struct token_rec *t,
	    const char *rehash, const char *prefix, const char *addr,
	    time_t now);
/*
 * Remove token records revoked or expired before cutoff, a bounded batch
 * a transaction.  The count of removed records goes to *removed.
 */
enum store_rc store_prune(struct store *, time_t cutoff,
	    unsigned long *removed);

/* A consistent hot copy of the environment in target, ready to open. */
enum store_rc store_backup(struct store *, const char *target, char *err,
	    size_t errlen);
/*
 * Verify each database file and that the indexes agree with the tokens;
 * problem is called for each fault.  STORE_OK when clean, STORE_EXISTS
 * when faults were found, STORE_ERROR when the check could not run.
 */
enum store_rc store_check(struct store *, void (*problem)(const char *, void *),
	    void *arg, unsigned long *tokens);
/*
 * Count the live PATs and sessions (neither revoked nor expired at now)
 * whose hash was made at another cost than m, t, p: they move to it on
 * their next successful use.  STORE_OK or STORE_ERROR.
 */
enum store_rc store_count_other_cost(struct store *, uint32_t m, uint32_t t,
	    uint32_t p, time_t now, unsigned long *pats,
	    unsigned long *sessions);
/*
 * Count a login attempt for email and addr at now, before its password is
 * checked, so that parallel guesses cannot slip past a limit.  STORE_OK,
 * or STORE_LIMIT when either key is at its limit: then nothing is counted,
 * *retry_after receives the seconds until that window ends and *by_addr
 * says whether the address, not the email, is the one held.
 */
enum store_rc store_login_reserve(struct store *, const char *email,
	    const char *addr, const struct login_limits *, time_t now,
	    long *retry_after, int *by_addr);
/*
 * The attempt's password was right: forget the email's failures and give
 * back the count the attempt took from the address.
 */
enum store_rc store_login_succeeded(struct store *, const char *email,
	    const char *addr, long window, time_t now);
/*
 * Count a leaked-credential report from addr at now, in a window of
 * window seconds kept with the login counters (store_login_prune ends
 * it).  STORE_OK, or STORE_LIMIT when addr has made max already: then
 * nothing is counted and *retry_after receives the seconds left.
 */
enum store_rc store_report_reserve(struct store *, const char *addr, long max,
	    long window, time_t now, long *retry_after);
/*
 * Forget the failed logins counted for email (a new password lifts a lockout).
 */
enum store_rc store_login_clear(struct store *, const char *email);
/* Remove the counters whose window (of window seconds) has ended by now. */
enum store_rc store_login_prune(struct store *, long window, time_t now,
	    unsigned long *removed);

/* ------------------------------------------------------------ store_repl.c */

enum repl_role {
	REPL_SINGLE,		/* replication is not configured */
	REPL_UNKNOWN,		/* configured, but patgate-repd says nothing */
	REPL_MASTER,
	REPL_REPLICA
};

/* What patgate-repd last published about this site. */
struct repl_state {
	enum repl_role	 role;
	char		 master[272];	/* host:port, or empty: unknown */
	/* since the master was heard (at the master: since a majority of
	 * the group was connected); -1: never */
	long long	 heard_age_ms;
};

enum repl_gate {
	REPL_GO,		/* single, or as replication allows */
	/* a write at a replica: 503 naming the master */
	REPL_NOT_MASTER,
	/* a check at a replica cut off from its master, or at a master
	 * cut off from most of its group */
	REPL_STALE,
	REPL_NO_GROUP		/* no role or no master known: 503 */
};

/* Take the PATGATE_REPL_* settings for this process: before store_open. */
void	 store_repl_configure(const struct config *);
/* Is replication configured (PATGATE_REPL_SELF set)? */
int	 store_repl_on(void);
/* This site's state as patgate-repd published it (REPL_SINGLE when off). */
void	 store_repl_state(struct store *, struct repl_state *);
/*
 * May this site make a write now?  The master's host:port (or "") goes to
 * master either way.  REPL_GO only at the master, by repd's account and
 * the environment's own.
 */
enum repl_gate store_repl_may_write(struct store *, char *master,
	    size_t masterlen);
/*
 * May this site answer a check now (a replica: master heard lately; a
 * master: a majority of the group connected lately)?
 */
enum repl_gate store_repl_may_check(struct store *);
/*
 * How many of this process's commits since the last call went without
 * the acknowledgement of a quorum of sites (0 when single); the count is
 * cleared.  A write answered 2xx must have none: see route.c.
 */
unsigned store_unacked(struct store *);
/*
 * Did a transaction of this process fail, since the last call, because
 * the group's roles moved under it (a write at a site no longer master,
 * handles a sync replaced, the site locked out while it syncs)?  The flag
 * is cleared.  Such a failure changed nothing and is worth a retry: 503.
 */
int	 store_role_moved(struct store *);
/*
 * May a record read now be used again within its second (the memo)?  Not
 * at a replica: records change there by replication, which no worker
 * counts in the epoch.
 */
int	 store_repl_memo_ok(struct store *);
/*
 * Take the site host:port out of the group's membership, so that it no
 * longer counts toward elections and quorums (DB_SITE->remove, from this
 * process as a subordinate of repd; at a replica the master is asked and
 * answers).  0, or -1 with err.
 */
int	 store_repl_remove(struct store *, const char *hostport, char *err,
	    size_t errlen);
/*
 * patgate-repd: open the environment in dir (creating it; recovering as
 * the first registered process) as the replication listener, join or
 * create the group, and publish its state every STORE_REPL_POLL_MS (see
 * store_repl.c) until *stop.  0, or -1 with err.
 */
int	 store_repl_run(const char *dir, volatile sig_atomic_t *stop,
	    char *err, size_t errlen);

/* ------------------------------------------------------------ store_rate.c */

/*
 * Count one guarded request of token number against limit a minute, in a
 * table every process of the host maps (tokens.rates).  1 when it may go
 * on (and is counted); 0 when the minute's limit is reached, with the
 * seconds until the next minute in *retry_after.
 */
int	 store_rate_take(struct store *, uint64_t number, long limit,
	    time_t now, long *retry_after);
/*
 * A use of canary number at now: 1 when its event is due (none yet this
 * second, on the whole host), with *uses the uses it stands for (this one
 * and those counted since the last event); 0 when one was queued this
 * second already (this use is counted into the next).
 */
int	 store_canary_due(struct store *, uint64_t number, time_t now,
	    unsigned long *uses);

/* ----------------------------------------------------------- store_events.c */

#define EVENT_NAME_MAX		32

/* One queued event, as patgate notify takes it. */
struct event_rec {
	uint64_t	 seq;			/* its place in the queue */
	char		 event[EVENT_NAME_MAX];	/* "token.revoke.leaked", ... */
	time_t		 at;
	char		 user_id[UUID_LEN + 1];
	char		 token_id[UUID_LEN + 1];
	uint64_t	 token_number;
	char		 token_name[NAME_MAX_POINTS * 4 + 1]; /* when queued */
	time_t		 token_expires_at;	/* 0: never */
	struct json_object *details;		/* owned: store_event_release */
};

/*
 * The oldest queued event after sequence number after (0: the oldest of
 * all) into e.  STORE_OK, STORE_NOTFOUND when there is none, STORE_ERROR.
 */
enum store_rc store_event_next(struct store *, uint64_t after,
	    struct event_rec *e);
/* Free what e holds. */
void	 store_event_release(struct event_rec *e);
/*
 * Queue event about t at at with details (an object, borrowed), in a
 * transaction of its own, committed synchronously.  STORE_OK or STORE_ERROR.
 */
enum store_rc store_event_queue(struct store *, const char *event,
	    const struct token_rec *t, time_t at, struct json_object *details);
/* Take event seq off the queue (synchronously).  STORE_NOTFOUND if gone. */
enum store_rc store_event_delete(struct store *, uint64_t seq);
/*
 * Queue token.expiring, once per token, for each live token expiring
 * after now and by horizon; *queued counts those queued now.  A pass
 * queues at most a thousand; the next one goes on.
 */
enum store_rc store_event_queue_expiring(struct store *, time_t now,
	    time_t horizon, unsigned long *queued);
/* Forget which tokens were given token.expiring once they are pruned. */
enum store_rc store_event_prune(struct store *, unsigned long *removed);

/* ------------------------------------------------------------ store_codec.c */

/* Encode a record for storage (malloc'd, *len set), or NULL. */
char	*store_codec_user(const struct user_rec *, size_t *len);
char	*store_codec_session(const struct session_rec *, size_t *len);
char	*store_codec_token(const struct token_rec *, size_t *len);
char	*store_codec_login(const struct login_rec *, size_t *len);
/* Decode stored bytes; 0, or -1 when damaged or of an unknown version. */
int	 store_uncodec_user(const void *, size_t, struct user_rec *);
int	 store_uncodec_session(const void *, size_t, struct session_rec *);
/*
 * 0; 1 for a record of the JSON form, whose last use is not in it; -1 if
 * damaged.
 */
int	 store_uncodec_token(const void *, size_t, struct token_rec *);
/*
 * A token's uses (last use, recent addresses) apart from its record, and
 * back onto t, where the later of the two is kept: 0, or -1 when damaged.
 */
char	*store_codec_uses(const struct token_rec *, size_t *len);
int	 store_uncodec_uses(const void *, size_t, struct token_rec *);
int	 store_uncodec_login(const void *, size_t, struct login_rec *);

/* ------------------------------------------------------------ request.c */

#define REQUEST_BODY_MAX	(64 * 1024)

/* Where the body comes from: libfcgi's stream or stdin, read on demand. */
struct body_source {
	/* Read up to n bytes; returns the count, 0 at end, -1 on error. */
	long	(*read)(void *ctx, char *buf, size_t n);
	void	*ctx;
};

enum request_body_rc {
	BODY_OK = 0,
	BODY_TOO_LARGE,		/* 413 */
	BODY_SHORT,		/* fewer bytes than announced: 400 */
	BODY_BAD_LENGTH,	/* CONTENT_LENGTH is not a number: 400 */
	BODY_READ_ERROR,	/* 400 */
	BODY_RC__MAX
};

/* One request, built once from CGI parameters. */
struct request {
	const char	*method;
	const char	*role;			/* FCGI_ROLE, or NULL */
	const char	*raw_uri;	/* REQUEST_URI as sent, or path */
	/* after REQUEST_URI's '?', or QUERY_STRING; or NULL */
	const char	*query;
	char		 path[1024];		/* REQUEST_URI up to '?' */
	int		 path_too_long;
	const char	*path_info;	/* PATH_INFO, without REQUEST_URI */
	const char	*content_type;		/* or NULL */
	const char	*content_length;	/* or NULL */
	const char	*authorization;		/* or NULL */
	const char	*remote_addr;		/* or "-" */
	const char	*original_method;	/* X-Original-Method */
	const char	*original_uri;		/* X-Original-URI */
	const char	*if_none_match;		/* If-None-Match, or NULL */
	const char	*user_agent;		/* User-Agent, or NULL */
	struct body_source src;
	char		*body;			/* after request_body() */
	size_t		 bodylen;
	int		 body_read;
	struct log_sink	 log;
};

/*
 * Fill req from a CGI environment (getparam looks a name up in env).
 * Strings point into env and live as long as it does.
 */
void	 request_init(struct request *req,
	    const char *(*getparam)(const char *name, void *env), void *env,
	    struct body_source src, struct log_sink log);
/* Read the body (once) within REQUEST_BODY_MAX. */
enum request_body_rc request_body(struct request *req);
void	 request_free(struct request *req);

/* ------------------------------------------------------------ json_out.c */

/* JSON text being written; a failed allocation sets failed and stops it. */
struct json_out {
	char		*buf;
	size_t		 len, cap;
	int		 failed;
};

#define JSON_OUT_LIT(w, lit)	json_out_raw(w, lit, sizeof(lit) - 1)
void	 json_out_raw(struct json_out *, const char *, size_t);
/* A JSON string: quoted, escaped. */
void	 json_out_str(struct json_out *, const char *);
/* A time as the API writes it, or null for 0. */
void	 json_out_time(struct json_out *, time_t);
/* Wipe (it may hold a new token) and release. */
void	 json_out_free(struct json_out *);

/* ------------------------------------------------------------ list_kept.c */

/*
 * The list of user_id's tokens for query (NULL: none) kept under a stamp
 * the same as stamp: its body (*len bytes), or NULL.
 */
const char *list_kept_get(const char *user_id, const char *query,
	    const struct store_list_stamp *stamp, size_t *len);
/* Keep a list's body under the stamp read before its store was read. */
void	 list_kept_put(const char *user_id, const char *query,
	    const struct store_list_stamp *stamp, const char *body, size_t len);

/* ----------------------------------------------------------- token_object.c */

#define TOKEN_OBJ_REVOKED	0x1	/* revoked_at, when set */
/* a create's or rotate's: no last use yet to show */
#define TOKEN_OBJ_NEW		0x2

/*
 * The token object of the contract (id, name, abilities, created_at,
 * expires_at, last_used_at, last_used_ips, and rotated_from where set),
 * without the braces around it; token (the PAT, shown once) when not NULL.
 * flags: TOKEN_OBJ_* above.
 */
void	 token_object_write(struct json_out *, const struct token_rec *,
	    const char *token, unsigned flags);

/* ------------------------------------------------------------ response.c */

#define RESPONSE_HEADERS_MAX	8

struct response {
	int		 status;
	struct {
		char	 name[48]; /* Variable-PATGATE_TOKEN_EXPIRES_AT fits */
		char	 value[3328]; /* room for 50 abilities, comma-joined */
	}		 headers[RESPONSE_HEADERS_MAX];
	size_t		 nheaders;
	struct json_object *body;		/* owned; NULL for none */
	struct json_out	 text;	/* a body written as text, when body is NULL */
	int		 exit_after;		/* the worker should exit */
	/* The token page's files: their type, cacheable; NULL for JSON. */
	const char	*content_type;
	const unsigned char *raw;		/* a static body, when set */
	size_t		 rawlen;
	/*
	 * A body too long to hold (a list of many thousand tokens): text is
	 * its start, and stream(stream_arg, put, out) writes the rest after
	 * it, a page at a time; no Content-Length is sent.  stream_free
	 * frees stream_arg, whether or not stream ran.
	 */
	int		(*stream)(void *, int (*)(const char *, size_t, void *),
			    void *);
	void		*stream_arg;
	void		(*stream_free)(void *);
};

void	 response_init(struct response *);
void	 response_free(struct response *);
void	 response_header(struct response *, const char *name,
	    const char *value);
/* Set status and {"message": message}. */
void	 response_error(struct response *, int status, const char *message);
/*
 * 401 Unauthenticated., with WWW-Authenticate (invalid_token if one was sent).
 */
void	 response_unauthenticated(struct response *, int token_sent);
/* 422 with the message and errors.  Takes errs->obj. */
void	 response_invalid(struct response *, struct field_errors *errs);
/* 503 with Retry-After: Argon2 work is throttled. */
void	 response_busy(struct response *);
/* 500 storage failure. */
void	 response_storage_error(struct response *);
/*
 * 503 with Retry-After in place of whatever res held: a write committed at
 * the master without a quorum's acknowledgement.
 */
void	 response_unacked(struct response *);
/*
 * 503 with Retry-After in place of a 500: the store failed because the
 * group's roles moved (store_role_moved).
 */
void	 response_role_moved(struct response *);
/*
 * 503 with Retry-After: 1 for what replication refuses (gate, not
 * REPL_GO): a write at a replica names the master.
 */
void	 response_replication(struct response *, enum repl_gate gate,
	    const char *master);
/*
 * Serialise as CGI output ("Status:" line, headers, blank line, body)
 * into a malloc'd buffer.  Returns it and its length, or NULL.
 */
char	*response_serialize(const struct response *, size_t *len);
const char *response_reason(int status);

/* ------------------------------------------------------------ auth.c */

/* Who a credential belongs to. */
struct principal {
	char		 user_id[UUID_LEN + 1];
	char		 session_id[SESSION_ID_LEN + 1];	/* sessions */
	struct token_rec token;					/* PATs */
	/* the PAT's hash at the current cost, or "" */
	char		 rehash[HASH_ENCODED_MAX];
	int		 pin_prefix;	/* token.prefix is to be recorded */
};

enum auth_rc {
	AUTH_OK = 0,
	AUTH_NONE,		/* no Authorization or another scheme */
	AUTH_INVALID,		/* a token was sent but fails */
	AUTH_ERROR,		/* storage failure */
	AUTH_BUSY,		/* Argon2 work is throttled: 503 */
	AUTH_RC__MAX
};

/* Make who an empty principal (no user, no session, no token). */
void	 principal_reset(struct principal *who);
/* Take "Bearer <token>" apart.  Returns the token or NULL. */
const char *auth_bearer(const char *authorization);
/*
 * Check a session token at now; a hash at another cost than cfg's token
 * cost is rewritten at it on this successful use.
 */
enum auth_rc auth_session(struct store *, const struct config *,
	    const char *token, time_t now, struct principal *);
/*
 * Make and store a session for user_id from now until now + ttl, its
 * secret hashed at the token cost in cfg.  The token goes to token and
 * the record to s.  AUTH_OK, or AUTH_ERROR when randomness, Argon2 or
 * the store failed (token is then wiped).
 */
enum auth_rc auth_session_new(struct store *, const struct config *,
	    const char *user_id, long ttl, time_t now,
	    char token[SESSION_TOKEN_LEN + 1], struct session_rec *s);
/*
 * Check a PAT at now (its prefix, its secret); nothing is written.  why
 * receives a short reason for the audit line on failure.  On success, who
 * also holds what the use is to write (a hash at cfg's token cost, a
 * first prefix): call auth_pat_used once the use is allowed.
 */
enum auth_rc auth_pat(struct store *, const struct config *, const char *token,
	    time_t now, struct principal *, const char **why);
/*
 * auth_pat, but a revoked token whose secret is right is AUTH_OK too
 * (who->token.revoked_at tells): for reuse detection, nothing else.
 */
enum auth_rc auth_pat_revoked_too(struct store *, const struct config *,
	    const char *token, time_t now, struct principal *,
	    const char **why);
/*
 * The bindings that make the PAT auth_pat accepted into who look like a
 * bad token, judged after its secret: a canary (*why "canary") or a
 * request from addr outside its allowed_ips (*why "address") is
 * AUTH_INVALID; anything else AUTH_OK.
 */
enum auth_rc auth_pat_bound(const struct principal *who, const char *addr,
	    const char **why);
/* Record an allowed use, from addr, of the PAT auth_pat accepted into who. */
void	 auth_pat_used(struct store *, const struct principal *who,
	    const char *addr, time_t now);

/* ------------------------------------------------------------ rules.c */

/* Read the rules file (NULL: none).  0, or -1 with "file:line: why" in err. */
int	 rules_load(const char *path, char *err, size_t errlen);
/*
 * Read the file again if it changed since it was read (looked at no more
 * than once a second).  0, or -1 when it cannot be used, in which case no rule
 * matches until it is mended.
 */
int	 rules_refresh(const char *path, char *err, size_t errlen);
/*
 * Decode a request path as the web server does (percent escapes, dot and
 * empty segments; the query is dropped).  0, or -1 for a path to refuse.
 */
int	 rules_normalize(const char *in, char *out, size_t outlen);
/*
 * Is s a path pattern of the rules' syntax (a path starting with "/", an
 * optional final "*" for any rest, no blank or control character), already
 * in the form rules_normalize gives (no escapes, dot or empty segments),
 * within max bytes?  1 or 0.
 */
int	 rules_pattern_ok(const char *s, size_t max);
/* Does the normalized path match pattern (exact, or a prefix ending in "*")? */
int	 rules_pattern_match(const char *pattern, const char *path);
/* The ability the first matching rule names, or NULL when none matches. */
const char *rules_ability_for(const char *method, const char *path);

/* ------------------------------------------------------------ binding.c */

/*
 * Parse "addr/bits" or a bare address (one host), IPv4 or IPv6, into c.
 * 0, or -1 with a sentence in *why (host bits set below the prefix among
 * the reasons).
 */
int	 binding_cidr_parse(const char *s, struct cidr *c, const char **why);
/* Write c as the API shows it ("203.0.113.0/24", "2001:db8::/32"). */
void	 binding_cidr_format(const struct cidr *c, char out[CIDR_TEXT_MAX + 1]);
/*
 * May a request from addr (REMOTE_ADDR as given) use a token bound by b?
 * 1 when b holds no block or addr is inside one (an IPv4-mapped IPv6
 * address counts as its IPv4 one); 0 otherwise, and for an addr that is
 * not an address at all.
 */
int	 binding_addr_ok(const struct token_bindings *b, const char *addr);
/* May the token bound by b reach the normalized path?  1 or 0. */
int	 binding_path_ok(const struct token_bindings *b, const char *path);
/*
 * A canary was used: remember it to queue token.canary (addr, method,
 * path, user agent) once the answer is out, at most one event a second
 * per canary across the host's workers (the uses in between are counted
 * into the next).  Costs no write before the answer: a canary's refusal
 * takes the time a bad token's does.
 */
void	 binding_canary_seen(struct store *, const struct token_rec *t,
	    const struct request *req, const char *method, const char *uri,
	    time_t now);
/* Queue the token.canary noted since the last call, if any. */
void	 binding_canary_flush(struct store *);

/* ------------------------------------------------------------ route.c */

struct app {
	const struct config *cfg;
	struct store	*store;
};

enum cred_kind {
	CRED_NONE,		/* no credentials */
	CRED_SESSION,		/* a session token */
	CRED_PAT,		/* the PAT itself (the self endpoints) */
	CRED_KIND__MAX
};

struct ctx {
	struct app	*app;
	struct request	*req;
	struct response	*res;
	struct principal who;
	const char	*param;		/* the {id} part of the path, if any */
	time_t		 now;
};

typedef void (*handler_fn)(struct ctx *);

/*
 * Authenticate c's bearer PAT (a revoked one too when revoked_too, for
 * reuse detection; c->who.token.revoked_at tells) with the bindings that
 * make a live token look bad (a canary, a stranger's address).  0, or -1
 * with the refusal in c->res.
 */
int	 route_pat(struct ctx *, int revoked_too);
/* Route req to its handler and fill res.  Never fails: errors are answers. */
void	 route_dispatch(struct app *, struct request *, struct response *);
/*
 * Call fn once for each route the table serves, in its order: its method
 * ("*" for any) and its path, "{id}" standing for the one variable
 * segment.  For the API's description to be checked against; reads only.
 */
typedef void (*route_each_fn)(const char *method, const char *path, void *arg);
void	 route_each(route_each_fn, void *);

/* ------------------------------------------------------------ cli_notify.c */

/*
 * patgate notify: queue the expiry notices due, then deliver the queued
 * events to cfg->notify_cmd (dry: print them as JSON lines, removing
 * nothing); follow: keep at it until SIGTERM or SIGINT.  The exit status:
 * 0, or 1 when an event was not delivered or the store failed.
 */
int	 cli_notify(const struct config *, struct store *, int follow, int dry);

/* ------------------------------------------------------------ handlers */

/* Read and parse the JSON body; on failure res is filled, NULL returned. */
struct json_object *api_json_body(struct ctx *);
/*
 * Fill t for user_id from valid input at now: a fresh id and secret (into
 * core), its hash at the token cost, the current prefix.  0 or -1.
 */
int	 api_token_mint(const struct config *, const struct token_input *in,
	    const char *user_id, time_t now, struct token_rec *t,
	    char core[TOKEN_CORE_LEN + 1]);
/*
 * The expiry of old's replacement made at now when none is asked for: its
 * lifetime from now, within cfg's longest; none if it had none.  0, or -1
 * when it had none and cfg requires one.
 */
int	 api_rotate_lifetime(const struct config *, const struct token_rec *old,
	    time_t now, time_t *expires_at);
/*
 * The 201 of a create or rotation, with the new token shown once; wipes core.
 */
void	 api_token_answer_new(struct ctx *, const struct token_rec *,
	    char core[TOKEN_CORE_LEN + 1]);
void	 api_tokens_create(struct ctx *);
void	 api_tokens_list(struct ctx *);
void	 api_tokens_get(struct ctx *);
void	 api_tokens_revoke(struct ctx *);
void	 api_tokens_self_get(struct ctx *);
void	 api_tokens_self_revoke(struct ctx *);
void	 api_tokens_rotate(struct ctx *);
void	 api_tokens_self_rotate(struct ctx *);
void	 api_user_show(struct ctx *);
void	 api_health(struct ctx *);
void	 api_auth_check(struct ctx *);
void	 api_auth_login(struct ctx *);
void	 api_auth_logout(struct ctx *);
void	 api_credentials_revoke(struct ctx *);

/* ------------------------------------------------------------ page.c */

/* One file of the token page, built in from www/ (src/page_assets.c). */
struct page_asset {
	const char	*name;		/* "index.html", "app.js", ... */
	const char	*type;		/* its Content-Type */
	const unsigned char *data;
	size_t		 len;
};

extern const struct page_asset page_assets[];
extern const size_t page_nassets;

/* GET /tokens/ and its files, with an ETag; 404 for a name not built in. */
void	 page_serve(struct ctx *);
/* GET /tokens: to /tokens/, where the page's relative links work. */
void	 page_redirect(struct ctx *);
/* Answer a FastCGI Authorizer request (FCGI_ROLE=AUTHORIZER). */
void	 authorizer_dispatch(struct app *, struct request *, struct response *);

#endif /* !PATGATE_H */
