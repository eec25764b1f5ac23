/* test_store.c: round trips through a real Berkeley DB environment. */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/patgate.h"
#include "../../src/store_private.h"
#include "tap.h"

static char dir[64];

static struct store *
open_store(int create)
{
	struct store	*st = NULL;
	char		 err[256];

	if (store_open(dir, create, &st, err, sizeof(err)) != STORE_OK)
		printf("# store_open: %s\n", err);
	return st;
}

static void
make_token(struct token_rec *t, const char *user, const char *name, time_t expires)
{
	memset(t, 0, sizeof(*t));
	token_uuid_new(t->id);
	snprintf(t->user_id, sizeof(t->user_id), "%s", user);
	snprintf(t->name, sizeof(t->name), "%s", name);
	strcpy(t->abilities[0], "read");
	strcpy(t->abilities[1], "write");
	t->nabilities = 2;
	strcpy(t->hash, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA");
	t->created_at = 1700000000;
	t->expires_at = expires;
}

static void
missing_environment_is_notfound(void)
{
	struct store	*st = NULL;
	char		 err[256];

	CHECK(store_open(dir, 0, &st, err, sizeof(err)) == STORE_NOTFOUND);
	CHECK(st == NULL);
}

static void
init_makes_private_files(void)
{
	struct store	*st = open_store(1);
	struct stat	 sb;

	CHECK(st != NULL);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(store_ping(st) == STORE_OK);
	store_close(st);
}

static void
users_round_trip(void)
{
	struct store	*st = open_store(0);
	struct user_rec	 u, got;

	memset(&u, 0, sizeof(u));
	token_uuid_new(u.id);
	strcpy(u.email, "Alice@Example.com");
	strcpy(u.name, "Alice");
	u.created_at = 1700000000;
	CHECK(store_user_add(st, &u) == STORE_OK);
	CHECK(store_user_by_email(st, "alice@example.com", &got) == STORE_OK);
	CHECK(strcmp(got.id, u.id) == 0 && strcmp(got.name, "Alice") == 0);
	CHECK(got.created_at == 1700000000);
	CHECK(store_user_get(st, u.id, &got) == STORE_OK);
	CHECK(strcmp(got.email, "Alice@Example.com") == 0);
	token_uuid_new(u.id);
	CHECK(store_user_add(st, &u) == STORE_EXISTS);
	CHECK(store_user_by_email(st, "nobody@example.com", &got) == STORE_NOTFOUND);
	store_close(st);
}

static void
sessions_round_trip(void)
{
	struct store	*st = open_store(0);
	struct session_rec s, got;

	memset(&s, 0, sizeof(s));
	strcpy(s.id, "0123456789abcdef");
	strcpy(s.user_id, "00000000-0000-4000-8000-000000000001");
	strcpy(s.hash, "$argon2id$x");
	s.expires_at = 1700003600;
	CHECK(store_session_put(st, &s) == STORE_OK);
	CHECK(store_session_get(st, "0123456789abcdef", &got) == STORE_OK);
	CHECK(strcmp(got.user_id, s.user_id) == 0 && got.expires_at == 1700003600);
	CHECK(got.revoked_at == 0);
	CHECK(store_session_revoke(st, "0123456789abcdef", 1700000100) == STORE_OK);
	CHECK(store_session_get(st, "0123456789abcdef", &got) == STORE_OK && got.revoked_at == 1700000100);
	CHECK(store_session_revoke(st, "0123456789abcdef", 1700000200) == STORE_NOTFOUND);
	CHECK(store_session_get(st, "fedcba9876543210", &got) == STORE_NOTFOUND);
	store_close(st);
}

struct seen {
	uint64_t	 numbers[16];
	size_t		 n;
};

static void
collect(const struct token_rec *t, void *arg)
{
	struct seen *s = arg;

	if (t == NULL) {	/* the walk starts over */
		s->n = 0;
		return;
	}
	if (s->n < 16)
		s->numbers[s->n++] = t->number;
}

static void
tokens_round_trip_and_order(void)
{
	struct store	*st = open_store(0);
	struct token_rec t[3], got;
	struct seen	 seen = { { 0 }, 0 };
	const char	*u = "00000000-0000-4000-8000-0000000000aa";
	int		 i;

	for (i = 0; i < 3; i++) {
		make_token(&t[i], u, "CI", 0);
		CHECK(store_token_create(st, &t[i], 100, 1700000000) == STORE_OK);
	}
	CHECK(t[0].number >= 1 && t[1].number == t[0].number + 1 && t[2].number == t[1].number + 1);
	CHECK(store_token_get(st, t[1].number, &got) == STORE_OK);
	CHECK(strcmp(got.id, t[1].id) == 0 && strcmp(got.name, "CI") == 0);
	CHECK(got.nabilities == 2 && strcmp(got.abilities[1], "write") == 0);
	CHECK(strcmp(got.hash, t[1].hash) == 0 && got.last_used_at == 0);
	CHECK(store_token_each(st, u, collect, &seen) == STORE_OK);
	CHECK(seen.n == 3 && seen.numbers[0] == t[0].number && seen.numbers[2] == t[2].number);
	CHECK(store_token_get(st, 999999, &got) == STORE_NOTFOUND);
	store_close(st);
}

static void
revoke_only_own_and_once(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got;
	const char	*u = "00000000-0000-4000-8000-0000000000bb";

	make_token(&t, u, "revoke me", 0);
	CHECK(store_token_create(st, &t, 100, 1700000000) == STORE_OK);
	CHECK(store_token_revoke(st, "00000000-0000-4000-8000-0000000000cc", t.id, 1700000001, &got) == STORE_NOTFOUND);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && got.revoked_at == 0);
	CHECK(store_token_revoke(st, u, t.id, 1700000002, &got) == STORE_OK);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && got.revoked_at == 1700000002);
	CHECK(store_token_revoke(st, u, t.id, 1700000003, &got) == STORE_NOTFOUND);
	CHECK(store_token_revoke(st, u, "not-a-uuid", 1700000003, &got) == STORE_NOTFOUND);
	store_close(st);
}

/*
 * A record just read is kept for the checks that follow; a revoke by
 * another process must still show on the very next read.
 */
static void
revoke_by_another_process_shows_at_once(void)
{
	struct store	*st = open_store(0), *other;
	struct token_rec t, got;
	const char	*u = "00000000-0000-4000-8000-0000000000e1";
	int		 opened[2], go[2], status, ok;
	char		 b = 0;
	pid_t		 pid;

	make_token(&t, u, "revoked elsewhere", 0);
	CHECK(store_token_create(st, &t, 100, 1700000000) == STORE_OK);
	CHECK(pipe(opened) == 0 && pipe(go) == 0);
	if ((pid = fork()) == 0) {
		/* The other process: open (which moves the epoch), wait, revoke. */
		other = open_store(0);
		(void)!write(opened[1], "o", 1);
		ok = read(go[0], &b, 1) == 1 && other != NULL &&
		    store_token_revoke(other, u, t.id, 1700000005, &got) == STORE_OK;
		store_close(other);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0 && read(opened[0], &b, 1) == 1);
	/* Read twice after the other's open: the second comes from memory. */
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && got.revoked_at == 0);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && got.revoked_at == 0);
	CHECK(write(go[1], "g", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && got.revoked_at == 1700000005);
	close(opened[0]); close(opened[1]); close(go[0]); close(go[1]);
	store_close(st);
}

/*
 * A process that dies with the environment open is recovered from by the
 * next open (fresh regions, not failchk in place), and a process still in
 * the old regions both sees that (the watchdog's cue) and carries on.
 */
static void
a_death_is_recovered_and_seen_by_the_living(void)
{
	struct store	*st = open_store(0), *other;
	struct token_rec t, got;
	int		 status, ok;
	pid_t		 pid;

	make_token(&t, "00000000-0000-4000-8000-0000000000e2", "outlives", 0);
	CHECK(st != NULL && store_token_create(st, &t, 100, 1700000000) == STORE_OK);
	CHECK(!store_regions_replaced());
	/* Dies with the environment open, as kill -9 would leave it. */
	if ((pid = fork()) == 0)
		_exit(open_store(0) != NULL ? 0 : 1);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	CHECK(!store_regions_replaced());
	/* The next open recovers, and finds the token. */
	if ((pid = fork()) == 0) {
		other = open_store(0);
		ok = other != NULL &&
		    store_token_get(other, t.number, &got) == STORE_OK &&
		    strcmp(got.name, "outlives") == 0;
		store_close(other);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	CHECK(store_regions_replaced());
	/* Outside a transaction nothing here waits on the old regions. */
	CHECK(!store_recovered_under());
	/* This process reopens on its next call, and is current again. */
	CHECK(store_ping(st) == STORE_OK);
	CHECK(!store_regions_replaced());
	store_close(st);
}

/*
 * Records kept in memory for the next checks come back whole, small or
 * with long bindings, and a revoke in this process shows on the next read.
 */
static void
memo_gives_back_small_and_long_records(void)
{
	struct store	*st = open_store(0);
	struct token_rec small, big, got;
	const char	*u = "00000000-0000-4000-8000-0000000000d1";
	size_t		 i;

	make_token(&small, u, "small", 0);
	CHECK(store_token_create(st, &small, 100, 1700000000) == STORE_OK);
	make_token(&big, u, "long bindings", 0);
	for (i = 0; i < BIND_PATHS_MAX; i++) {
		memset(big.bind.paths[i], 'a' + (int)i, 200);
		big.bind.paths[i][0] = '/';
		big.bind.paths[i][200] = '\0';
	}
	big.bind.npaths = BIND_PATHS_MAX;
	CHECK(store_token_create(st, &big, 100, 1700000000) == STORE_OK);
	for (i = 0; i < 2; i++) {	/* the second read is the memo's */
		CHECK(store_token_get(st, big.number, &got) == STORE_OK);
		CHECK(got.bind.npaths == BIND_PATHS_MAX &&
		    strcmp(got.bind.paths[19], big.bind.paths[19]) == 0 &&
		    strcmp(got.name, "long bindings") == 0 &&
		    got.revoked_at == 0);
		CHECK(store_token_get(st, small.number, &got) == STORE_OK);
		CHECK(strcmp(got.name, "small") == 0 && got.bind.npaths == 0 &&
		    got.revoked_at == 0);
	}
	CHECK(store_token_revoke(st, u, big.id, 1700000005, &got) == STORE_OK);
	CHECK(store_token_get(st, big.number, &got) == STORE_OK &&
	    got.revoked_at == 1700000005);
	CHECK(store_token_get(st, small.number, &got) == STORE_OK &&
	    got.revoked_at == 0);
	store_close(st);
}

static void
cap_counts_live_tokens_only(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got;
	struct seen	 seen = { { 0 }, 0 };
	const char	*u = "00000000-0000-4000-8000-0000000000dd";

	make_token(&t, u, "expired", 1700000050);
	CHECK(store_token_create(st, &t, 2, 1700000000) == STORE_OK);
	make_token(&t, u, "live", 0);
	CHECK(store_token_create(st, &t, 2, 1700000000) == STORE_OK);
	make_token(&t, u, "one too many", 0);
	CHECK(store_token_create(st, &t, 2, 1700000000) == STORE_LIMIT);
	/* once the first has expired there is room again */
	CHECK(store_token_create(st, &t, 2, 1700000100) == STORE_OK);
	CHECK(store_token_each(st, u, collect, &seen) == STORE_OK && seen.n == 3);
	(void)got;
	store_close(st);
}

/* A rotation: old revoked and pointing on, new numbered, outside the cap; once only. */
static void
rotate_family_and_unused(void)
{
	struct store	*st = open_store(0);
	struct token_rec a, b, c, old, got, spare;
	unsigned long	 n;
	long		 live;
	int		 ready;
	const char	*u = "00000000-0000-4000-8000-0000000007a7";

	make_token(&a, u, "first", 0);
	CHECK(store_token_create(st, &a, 1, 1700000000) == STORE_OK);
	make_token(&b, u, "second", 0);
	CHECK(store_token_rotate(st, u, a.id, 0, 1700000010, &b, &old) == STORE_OK);
	CHECK(b.number > a.number && strcmp(b.rotated_from, a.id) == 0);
	CHECK(old.number == a.number && old.revoked_at == 0);
	CHECK(store_token_get(st, a.number, &got) == STORE_OK);
	CHECK(got.revoked_at == 1700000010 && got.rotated_to == b.number);
	CHECK(store_live_count(st, NULL, u, 1700000010, 10, &live, &ready) == 0 &&
	    (!ready || live == 1));
	/* Once: the old one is revoked now, and another's token is not found. */
	make_token(&spare, u, "again", 0);
	CHECK(store_token_rotate(st, u, a.id, 0, 1700000011, &spare, &old) == STORE_NOTFOUND);
	CHECK(store_token_rotate(st, "00000000-0000-4000-8000-000000000001", b.id, 0,
	    1700000011, &spare, &old) == STORE_NOTFOUND);
	make_token(&c, u, "third", 0);
	CHECK(store_token_rotate(st, NULL, NULL, b.number, 1700000020, &c, &old) == STORE_OK);
	/* The first, reused: its live descendant goes. */
	CHECK(store_token_revoke_family(st, a.number, 1700000030, &n) == STORE_OK && n == 1);
	CHECK(store_token_get(st, c.number, &got) == STORE_OK && got.revoked_at == 1700000030);
	CHECK(store_token_revoke_family(st, a.number, 1700000031, &n) == STORE_OK && n == 0);
	/* Unused since a cutoff: never used counts from the create. */
	make_token(&a, u, "idle", 0);
	CHECK(store_token_create(st, &a, 10, 1700000000) == STORE_OK);
	make_token(&b, u, "busy", 0);
	CHECK(store_token_create(st, &b, 10, 1700000000) == STORE_OK);
	store_token_touch(st, &b, NULL, NULL, "192.0.2.1", 1700090000);
	CHECK(store_token_by_id(st, NULL, b.id, &got) == STORE_OK && got.nips == 1 &&
	    strcmp(got.ips[0].ip, "192.0.2.1") == 0 && got.last_used_at == 1700090000);
	CHECK(store_token_revoke_unused(st, 1700050000, 1700100000, NULL, NULL, &n) == STORE_OK);
	CHECK(n >= 1);	/* the other cases' tokens are idle too */
	CHECK(store_token_get(st, a.number, &got) == STORE_OK && got.revoked_at == 1700100000);
	CHECK(store_token_get(st, b.number, &got) == STORE_OK && got.revoked_at == 0);
	store_close(st);
}

static void
touch_sets_last_used_once_a_minute(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got, rec;

	make_token(&t, "00000000-0000-4000-8000-0000000000ee", "touch", 0);
	CHECK(store_token_create(st, &t, 100, 1700000000) == STORE_OK);
	store_token_touch(st, &t, NULL, NULL, NULL, 1700000010);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK && got.last_used_at == 1700000010);
	/* a check's read leaves the uses out: they are kept apart */
	CHECK(store_token_get(st, t.number, &rec) == STORE_OK && rec.last_used_at == 0);
	store_token_touch(st, &got, NULL, NULL, NULL, 1700000030);	/* within the minute: kept */
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK && got.last_used_at == 1700000010);
	store_token_touch(st, &got, NULL, NULL, NULL, 1700000080);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK && got.last_used_at == 1700000080);
	/* a new hash or a first prefix is written within the minute, the use not */
	store_token_touch(st, &got, "$argon2id$v=19$m=32,t=1,p=1$c2FsdA$bmV3", "old_", NULL, 1700000090);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK && got.last_used_at == 1700000080);
	CHECK(strcmp(got.hash, "$argon2id$v=19$m=32,t=1,p=1$c2FsdA$bmV3") == 0);
	CHECK(got.prefix_known && strcmp(got.prefix, "old_") == 0);
	/* a prefix once known is never replaced */
	store_token_touch(st, &got, NULL, "new_", NULL, 1700000095);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && strcmp(got.prefix, "old_") == 0);
	store_close(st);
}

static void
walk_last_use(const struct token_rec *t, void *arg)
{
	if (t != NULL)
		*(time_t *)arg = t->last_used_at;
}

struct walk_uses {
	const struct token_rec *recs;	/* the tokens, in number order */
	size_t		 n, seen;
	int		 wrong;
};

/* Each token walked has the last use its place calls for. */
static void
walk_uses_one(const struct token_rec *t, void *arg)
{
	struct walk_uses *q = arg;
	size_t		 i;

	if (t == NULL) {
		q->seen = 0;
		return;
	}
	q->seen++;
	for (i = 0; i < q->n && q->recs[i].number != t->number; i++)
		continue;
	if (i == q->n || t->last_used_at !=
	    (i % 3 == 0 || i % 2 == 1 ? 1700001000 + (time_t)i : 0))
		q->wrong++;
}

/*
 * A list reads the uses a page at a time beside the records: 600 tokens of
 * two users in turn, every other user's used and every third of the
 * first's, each at a time of its own, walked with the right last use.
 */
static void
uses_walked_beside_records(void)
{
	static struct token_rec recs[600];
	struct store	*st = open_store(0);
	struct walk_uses q = { recs, 600, 0, 0 };
	size_t		 i;

	for (i = 0; i < 600; i++)
		make_token(&recs[i], i % 2 == 0 ?
		    "00000000-0000-4000-8000-0000000000f1" :
		    "00000000-0000-4000-8000-0000000000f2", "walked", 0);
	CHECK(store_token_bulk(st, recs, 600) == STORE_OK);
	for (i = 0; i < 600; i++)
		if (i % 3 == 0 || i % 2 == 1)
			store_token_touch(st, &recs[i], NULL, NULL, "192.0.2.8",
			    1700001000 + (time_t)i);
	CHECK(store_token_each(st, recs[0].user_id, walk_uses_one, &q) ==
	    STORE_OK && q.seen == 300 && q.wrong == 0);
	q.seen = q.wrong = 0;
	CHECK(store_token_each(st, recs[1].user_id, walk_uses_one, &q) ==
	    STORE_OK && q.seen == 300 && q.wrong == 0);
	store_close(st);
}

/*
 * A use is written apart from the token's record; the uses a record held
 * from before are shown until its first use, which carries them over.
 */
static void
uses_apart_from_the_record(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got;
	time_t		 walked = 0;

	make_token(&t, "00000000-0000-4000-8000-0000000000ef", "old uses", 0);
	t.last_used_at = 1700000100;
	t.nips = 1;
	snprintf(t.ips[0].ip, sizeof(t.ips[0].ip), "198.51.100.7");
	t.ips[0].at = 1700000100;
	CHECK(store_token_bulk(st, &t, 1) == STORE_OK);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK &&
	    got.last_used_at == 1700000100 && got.nips == 1);
	store_token_touch(st, &t, NULL, NULL, "192.0.2.44", 1700000200);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK &&
	    got.last_used_at == 1700000200 && got.nips == 2);
	CHECK(strcmp(got.ips[0].ip, "192.0.2.44") == 0 &&
	    strcmp(got.ips[1].ip, "198.51.100.7") == 0 && got.ips[1].at == 1700000100);
	/* the record itself was not rewritten */
	CHECK(store_token_get(st, t.number, &got) == STORE_OK &&
	    got.last_used_at == 1700000100 && got.nips == 1);
	/* a new address within the minute is written at once, the time not */
	store_token_touch(st, &t, NULL, NULL, "192.0.2.45", 1700000210);
	CHECK(store_token_by_id(st, NULL, t.id, &got) == STORE_OK &&
	    got.last_used_at == 1700000200 && got.nips == 3 &&
	    strcmp(got.ips[0].ip, "192.0.2.45") == 0 && got.ips[0].at == 1700000210);
	/* the walks behind the list read them too */
	CHECK(store_token_each(st, t.user_id, walk_last_use, &walked) == STORE_OK &&
	    walked == 1700000200);
	store_close(st);
}

struct walk_seen {
	uint64_t	 last;
	size_t		 n;
	int		 wrong;
	const char	*user;
};

static void
walk_seen_one(const struct token_rec *t, void *arg)
{
	struct walk_seen *q = arg;

	if (t == NULL) {	/* the walk starts over */
		q->last = 0;
		q->n = 0;
		return;
	}
	if (strcmp(t->user_id, q->user) != 0 || t->number <= q->last || t->nabilities != 2)
		q->wrong = 1;
	q->last = t->number;
	q->n++;
}

/*
 * Lists read records a pageful at a time: tokens of two users made in
 * turn, some with long names, some pruned, still list exactly, in order.
 */
static void
lists_of_interleaved_users(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got;
	const char	*a = "00000000-0000-4000-8000-0000000000a1";
	const char	*b = "00000000-0000-4000-8000-0000000000b2";
	struct walk_seen q = { 0, 0, 0, a };
	char		 name[1021];
	unsigned long	 removed = 0;
	int		 i;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (i = 0; i < 600; i++) {
		make_token(&t, i % 2 ? b : a, i % 7 ? "short" : name, 0);
		CHECK(store_token_create(st, &t, 1000, 1700000000) == STORE_OK);
		/* Every fifth of alice's (60) is revoked and then pruned away. */
		if (i % 2 == 0 && i % 5 == 0)
			CHECK(store_token_revoke(st, a, t.id, 1700000000, &got) == STORE_OK);
	}
	CHECK(store_prune(st, 1700000000 + 86400, &removed) == STORE_OK);
	CHECK(removed >= 60);	/* earlier cases left some too */
	CHECK(store_token_each(st, a, walk_seen_one, &q) == STORE_OK);
	CHECK(q.n == 240 && !q.wrong);
	q.user = b;
	q.last = 0;
	q.n = 0;
	CHECK(store_token_each(st, b, walk_seen_one, &q) == STORE_OK);
	CHECK(q.n == 300 && !q.wrong);
	store_close(st);
}

static void
survives_reopen_and_prunes(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got;
	unsigned long	 removed = 0;
	const char	*u = "00000000-0000-4000-8000-0000000000ff";

	make_token(&t, u, "old", 0);
	CHECK(store_token_create(st, &t, 100, 1700000000) == STORE_OK);
	CHECK(store_token_revoke(st, u, t.id, 1700000000, &got) == STORE_OK);
	store_close(st);
	st = open_store(0);
	CHECK(st != NULL);
	CHECK(store_token_get(st, t.number, &got) == STORE_OK && strcmp(got.name, "old") == 0);
	CHECK(store_prune(st, 1700000001, &removed) == STORE_OK);
	CHECK(removed >= 1);
	CHECK(store_token_get(st, t.number, &got) == STORE_NOTFOUND);
	CHECK(store_token_revoke(st, u, t.id, 1700000002, &got) == STORE_NOTFOUND);
	store_close(st);
}

/* Empty the index of live tokens, as an environment made before it has none. */
static int
live_index_drop(struct store *st)
{
	u_int32_t	 n;

	st->live_ready = 0;
	return st->db[DB_USER_LIVE]->truncate(st->db[DB_USER_LIVE], NULL, &n,
	    DB_AUTO_COMMIT);
}

/* The count, in a transaction of its own: it takes expired entries out. */
static long
live_count(struct store *st, const char *u, time_t now, int *ready)
{
	DB_TXN	*txn;
	long	 live = -1;

	if (st->env->txn_begin(st->env, NULL, &txn, 0) != 0)
		return -1;
	if (store_live_count(st, txn, u, now, 1000, &live, ready) != 0) {
		(void)txn->abort(txn);
		return -1;
	}
	return txn->commit(txn, 0) == 0 ? live : -1;
}

/*
 * The cap counts from the index: revoked, expired and pruned tokens are
 * not counted, whatever their number; an environment without the index
 * counts as before until the next open builds it.
 */
static void
cap_ignores_history_and_upgrades(void)
{
	struct store	*st = open_store(0);
	struct token_rec t, got, recs[300];
	const char	*u = "00000000-0000-4000-8000-0000000000c3";
	unsigned long	 removed;
	char		 keep[UUID_LEN + 1];
	int		 i, ready;

	/* 300 behind the user: 150 revoked, 150 expired by 1700000100. */
	for (i = 0; i < 300; i++)
		make_token(&recs[i], u, "history", i % 2 ? 1700000050 : 0);
	CHECK(store_token_bulk(st, recs, 300) == STORE_OK);
	for (i = 0; i < 300; i += 2)
		CHECK(store_token_revoke(st, u, recs[i].id, 1700000000, &got) == STORE_OK);
	CHECK(live_count(st, u, 1700000000, &ready) == 150 && ready);
	CHECK(live_count(st, u, 1700000100, &ready) == 0 && ready);
	for (i = 0; i < 3; i++) {
		make_token(&t, u, "live", i == 2 ? 1700000200 : 0);
		CHECK(store_token_create(st, &t, 3, 1700000100) == STORE_OK);
	}
	make_token(&t, u, "fourth", 0);
	CHECK(store_token_create(st, &t, 3, 1700000100) == STORE_LIMIT);
	/* The third expires at 1700000200: room again after it. */
	CHECK(store_token_create(st, &t, 3, 1700000200) == STORE_OK);
	snprintf(keep, sizeof(keep), "%s", t.id);
	make_token(&t, u, "fifth", 0);
	CHECK(store_token_create(st, &t, 3, 1700000200) == STORE_LIMIT);
	CHECK(store_token_revoke(st, u, keep, 1700000200, &got) == STORE_OK);
	CHECK(store_token_create(st, &t, 3, 1700000200) == STORE_OK);
	make_token(&t, u, "sixth", 0);
	CHECK(store_token_create(st, &t, 3, 1700000200) == STORE_LIMIT);
	/* Pruned history leaves the index with it; the live stay counted. */
	CHECK(store_prune(st, 1700000300, &removed) == STORE_OK && removed >= 302);
	CHECK(live_count(st, u, 1700000300, &ready) == 3 && ready);
	CHECK(store_token_create(st, &t, 3, 1700000300) == STORE_LIMIT);
	/* Without the index the walk counts, and the next open builds it. */
	CHECK(live_index_drop(st) == 0);
	CHECK(live_count(st, u, 1700000300, &ready) == 0 && !ready);
	make_token(&t, u, "after the walk", 0);
	CHECK(store_token_create(st, &t, 3, 1700000300) == STORE_LIMIT);
	CHECK(store_token_create(st, &t, 4, 1700000300) == STORE_OK);
	store_close(st);
	st = open_store(0);
	CHECK(st != NULL);
	CHECK(live_count(st, u, 1700000300, &ready) == 4 && ready);
	CHECK(store_token_create(st, &t, 4, 1700000300) == STORE_LIMIT);
	store_close(st);
}

static void
check_problem(const char *line, void *arg)
{
	(void)arg;
	printf("# check: %s\n", line);
}

/* A prune larger than a batch removes exactly what it should, indexes too. */
static void
prune_in_batches(void)
{
	struct store	*st = open_store(0);
	static struct token_rec recs[1000];
	const char	*u = "00000000-0000-4000-8000-0000000000c4";
	unsigned long	 removed = 0, tokens = 0;
	int		 i, ready;

	for (i = 0; i < 1000; i++)
		make_token(&recs[i], u, "batch", i % 3 ? 1700000050 : 0);
	CHECK(store_token_bulk(st, recs, 1000) == STORE_OK);
	CHECK(store_prune(st, 1700000100, &removed) == STORE_OK);
	CHECK(removed == 666);
	CHECK(live_count(st, u, 1700000000, &ready) == 334 && ready);
	CHECK(store_prune(st, 1700000100, &removed) == STORE_OK && removed == 0);
	CHECK(store_check(st, check_problem, NULL, &tokens) == STORE_OK);
	store_close(st);
}

/* The last problem store_check told, for the test to look at. */
static char	 told[256];

static void
check_remember(const char *line, void *arg)
{
	(void)arg;
	printf("# check: %s\n", line);
	snprintf(told, sizeof(told), "%s", line);
}

/* Replace user u's live count by n (none when n is -1), behind the store. */
static int
live_count_forge(struct store *st, const char *u, long n)
{
	char		 k[64];
	unsigned char	 v[8];
	DBT		 key, val;
	DB		*db = st->db[DB_USER_LIVE];
	int		 rc;

	snprintf(k, sizeof(k), "n:%s", u);
	store_dbt(&key, k, strlen(k));
	rc = db->del(db, NULL, &key, 0);
	if ((rc != 0 && rc != DB_NOTFOUND) || n < 0)
		return rc == DB_NOTFOUND ? 0 : rc;
	store_be64((uint64_t)n, v);
	store_dbt(&val, v, sizeof(v));
	return db->put(db, NULL, &key, &val, 0);
}

/* patgate check tells a live count that is not its index's (the cap's). */
static void
check_tells_a_miscount(void)
{
	struct store	*st = open_store(0);
	struct token_rec t;
	const char	*u = "00000000-0000-4000-8000-0000000000c5";
	unsigned long	 tokens = 0;
	int		 i;

	for (i = 0; i < 3; i++) {
		make_token(&t, u, "counted", 0);
		CHECK(store_token_create(st, &t, 100, time(NULL)) == STORE_OK);
	}
	told[0] = '\0';
	CHECK(store_check(st, check_remember, NULL, &tokens) == STORE_OK);
	CHECK(live_count_forge(st, u, 5) == 0);
	CHECK(store_check(st, check_remember, NULL, &tokens) == STORE_EXISTS);
	CHECK(strstr(told, "its live count says 5, its index holds 3") != NULL);
	CHECK(live_count_forge(st, u, -1) == 0);
	CHECK(store_check(st, check_remember, NULL, &tokens) == STORE_EXISTS);
	CHECK(strstr(told, "its live count says 0, its index holds 3") != NULL);
	CHECK(live_count_forge(st, u, 3) == 0);
	CHECK(store_check(st, check_remember, NULL, &tokens) == STORE_OK);
	store_close(st);
}

static void
session_make(struct store *st, const char *id, const char *user, time_t created,
    time_t expires)
{
	struct session_rec s;

	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.user_id, sizeof(s.user_id), "%s", user);
	strcpy(s.hash, "$argon2id$x");
	s.created_at = created;
	s.expires_at = expires;
	CHECK(store_session_put(st, &s) == STORE_OK);
}

/*
 * A new password ends the user's sessions made so far, not another
 * user's nor a later one; prune removes the expired and the ended.
 */
static void
password_ends_sessions_and_prune_removes(void)
{
	struct store	*st = open_store(0);
	struct session_rec got;
	struct user_rec	 u;
	const char	*other = "00000000-0000-4000-8000-0000000000c5";
	time_t		 now = time(NULL);
	unsigned long	 removed = 0;

	memset(&u, 0, sizeof(u));
	token_uuid_new(u.id);
	strcpy(u.email, "sessions@example.com");
	CHECK(store_user_add(st, &u) == STORE_OK);
	session_make(st, "aaaaaaaaaaaaaaa1", u.id, now, now + 3600);
	session_make(st, "aaaaaaaaaaaaaaa2", u.id, now - 10, now + 3600);
	session_make(st, "aaaaaaaaaaaaaaa3", other, now, now + 3600);
	session_make(st, "aaaaaaaaaaaaaaa4", other, now - 100, now - 1);
	session_make(st, "aaaaaaaaaaaaaaa5", other, now, now + 3600);
	CHECK(store_session_revoke(st, "aaaaaaaaaaaaaaa5", now) == STORE_OK);
	CHECK(store_user_set_password(st, u.id, "$argon2id$new") == STORE_OK);
	CHECK(time(NULL) > now);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa1", &got) == STORE_OK && got.revoked_at != 0);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa2", &got) == STORE_OK && got.revoked_at != 0);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa3", &got) == STORE_OK && got.revoked_at == 0);
	session_make(st, "aaaaaaaaaaaaaaa6", u.id, time(NULL), time(NULL) + 3600);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa6", &got) == STORE_OK && got.revoked_at == 0);
	CHECK(store_session_prune(st, time(NULL), &removed) == STORE_OK);
	CHECK(removed >= 4);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa1", &got) == STORE_NOTFOUND);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa2", &got) == STORE_NOTFOUND);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa4", &got) == STORE_NOTFOUND);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa5", &got) == STORE_NOTFOUND);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa3", &got) == STORE_OK);
	CHECK(store_session_get(st, "aaaaaaaaaaaaaaa6", &got) == STORE_OK && got.revoked_at == 0);
	store_close(st);
}

static void
password_set_and_cleared(void)
{
	struct store	*st = open_store(0);
	struct user_rec	 u, got;
	const char	*h = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA";

	memset(&u, 0, sizeof(u));
	token_uuid_new(u.id);
	strcpy(u.email, "pw@example.com");
	strcpy(u.name, "Pw");
	CHECK(store_user_add(st, &u) == STORE_OK);
	CHECK(store_user_get(st, u.id, &got) == STORE_OK && got.password[0] == '\0');
	CHECK(store_user_set_password(st, u.id, h) == STORE_OK);
	CHECK(store_user_by_email(st, "PW@example.com", &got) == STORE_OK);
	CHECK(strcmp(got.password, h) == 0 && strcmp(got.name, "Pw") == 0);
	CHECK(store_user_set_password(st, u.id, "") == STORE_OK);
	CHECK(store_user_get(st, u.id, &got) == STORE_OK && got.password[0] == '\0');
	CHECK(store_user_set_password(st, "00000000-0000-4000-8000-00000000ffff", h) == STORE_NOTFOUND);
	store_close(st);
}

static void
login_email_limit_and_window(void)
{
	struct store	*st = open_store(0);
	struct login_limits lim = { 3, 100, 60 };
	long		 retry = 0;
	int		 by_addr = -1, i;
	time_t		 t = 1700000000;

	for (i = 0; i < 3; i++)
		CHECK(store_login_reserve(st, "Lock@Example.com", "10.0.0.1", &lim, t + i,
		    &retry, &by_addr) == STORE_OK);
	/* The third attempt reached the limit at t + 2: a full window from there. */
	CHECK(store_login_reserve(st, "lock@example.com", "10.0.0.2", &lim, t + 10,
	    &retry, &by_addr) == STORE_LIMIT);
	CHECK(retry == 52 && by_addr == 0);
	/* Refusals are not counted, so the window does not move. */
	CHECK(store_login_reserve(st, "lock@example.com", "10.0.0.2", &lim, t + 61,
	    &retry, &by_addr) == STORE_LIMIT && retry == 1);
	CHECK(store_login_reserve(st, "other@example.com", "10.0.0.1", &lim, t + 10,
	    &retry, &by_addr) == STORE_OK);
	CHECK(store_login_reserve(st, "lock@example.com", "10.0.0.2", &lim, t + 62,
	    &retry, &by_addr) == STORE_OK);
	store_close(st);
}

static void
login_success_clears_the_email_only(void)
{
	struct store	*st = open_store(0);
	struct login_limits lim = { 2, 3, 60 };
	long		 retry = 0;
	int		 by_addr = -1;
	time_t		 t = 1700001000;

	CHECK(store_login_reserve(st, "s@example.com", "10.0.1.1", &lim, t, &retry, &by_addr) == STORE_OK);
	CHECK(store_login_reserve(st, "s@example.com", "10.0.1.1", &lim, t, &retry, &by_addr) == STORE_OK);
	/* The second attempt was right after all: the email starts afresh... */
	CHECK(store_login_succeeded(st, "s@example.com", "10.0.1.1", 60, t) == STORE_OK);
	CHECK(store_login_reserve(st, "s@example.com", "10.0.1.1", &lim, t + 1, &retry, &by_addr) == STORE_OK);
	/* ...but the address keeps the first failure: 1 + 1 + this one is 3. */
	CHECK(store_login_reserve(st, "t@example.com", "10.0.1.1", &lim, t + 1, &retry, &by_addr) == STORE_OK);
	CHECK(store_login_reserve(st, "u@example.com", "10.0.1.1", &lim, t + 2, &retry, &by_addr) == STORE_LIMIT);
	CHECK(by_addr == 1 && retry == 59);
	CHECK(store_login_reserve(st, "u@example.com", "10.0.1.2", &lim, t + 2, &retry, &by_addr) == STORE_OK);
	store_close(st);
}

static void
login_clear_and_prune(void)
{
	struct store	*st = open_store(0);
	struct login_limits lim = { 1, 100, 60 };
	unsigned long	 removed = 0;
	long		 retry = 0;
	int		 by_addr = -1;
	time_t		 t = 1700002000;

	CHECK(store_login_reserve(st, "c@example.com", "10.0.2.1", &lim, t, &retry, &by_addr) == STORE_OK);
	CHECK(store_login_reserve(st, "c@example.com", "10.0.2.1", &lim, t, &retry, &by_addr) == STORE_LIMIT);
	CHECK(store_login_clear(st, "C@example.com") == STORE_OK);
	CHECK(store_login_reserve(st, "c@example.com", "10.0.2.1", &lim, t, &retry, &by_addr) == STORE_OK);
	/* The windows of the cases before have ended by now; this one has not. */
	CHECK(store_login_prune(st, 60, t + 59, &removed) == STORE_OK && removed >= 5);
	CHECK(store_login_reserve(st, "c@example.com", "10.0.2.1", &lim, t + 59, &retry, &by_addr) == STORE_LIMIT);
	CHECK(store_login_prune(st, 60, t + 60, &removed) == STORE_OK && removed == 2);
	CHECK(store_login_prune(st, 60, t + 60, &removed) == STORE_OK && removed == 0);
	store_close(st);
}

/* Has user u's list stamp moved since was (read at second now)? */
static int
stamp_moved(struct store *st, const char *u, time_t now,
    const struct store_list_stamp *was)
{
	struct store_list_stamp s;

	return store_list_stamp(st, u, now, &s) != 1 ||
	    !store_list_stamp_same(&s, was);
}

/*
 * Whatever changes what a user's list shows moves that user's stamp,
 * from this process or another, and leaves another user's alone; a use
 * that writes nothing moves nothing.
 */
static void
list_stamp_moves_with_each_change(void)
{
	struct store	*st = open_store(0), *other;
	struct store_list_stamp su, sv;
	struct token_rec t, nw, old, many[STORE_LISTS_MARKS + 1];
	const char	*u = "00000000-0000-4000-8000-00000000f001";
	const char	*v = "00000000-0000-4000-8000-00000000f002";
	char		 who[STORE_LISTS_MARKS + 1][UUID_LEN + 1];
	unsigned long	 removed = 0;
	time_t		 now = 1700000100;
	size_t		 i;
	int		 status;
	pid_t		 pid;

	CHECK(st != NULL);
	CHECK(store_list_stamp(st, u, now, &su) == 1);
	CHECK(store_list_stamp(st, v, now, &sv) == 1);
	CHECK(!stamp_moved(st, u, now, &su));
	CHECK(stamp_moved(st, u, now + 1, &su));	/* a second later */
	make_token(&t, u, "listed", 0);
	CHECK(store_token_create(st, &t, 100, now) == STORE_OK);
	CHECK(stamp_moved(st, u, now, &su));
	CHECK(!stamp_moved(st, v, now, &sv));
	/* A use: written once, then not again within the minute. */
	CHECK(store_list_stamp(st, u, now, &su) == 1);
	store_token_touch(st, &t, NULL, NULL, "10.0.0.1", now);
	store_pending_settle(st);	/* as a list does first */
	CHECK(stamp_moved(st, u, now, &su));
	CHECK(store_list_stamp(st, u, now, &su) == 1);
	store_token_touch(st, &t, NULL, NULL, "10.0.0.1", now + 1);
	store_pending_settle(st);
	CHECK(!stamp_moved(st, u, now, &su));
	/* A rotation, then a revoke by another process. */
	make_token(&nw, u, "listed", 0);
	CHECK(store_token_rotate(st, u, t.id, 0, now, &nw, &old) == STORE_OK);
	CHECK(stamp_moved(st, u, now, &su));
	CHECK(store_list_stamp(st, u, now, &su) == 1);
	if ((pid = fork()) == 0) {
		other = open_store(0);
		status = other != NULL &&
		    store_token_revoke(other, u, nw.id, now, &old) == STORE_OK;
		store_close(other);
		_exit(status ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(stamp_moved(st, u, now, &su));
	/* A prune that removes the user's tokens. */
	CHECK(store_list_stamp(st, u, now, &su) == 1);
	CHECK(store_prune(st, now + 1, &removed) == STORE_OK && removed >= 2);
	CHECK(stamp_moved(st, u, now, &su));
	/* A transaction over more users than it marks moves everyone's. */
	CHECK(store_list_stamp(st, v, now, &sv) == 1);
	for (i = 0; i < STORE_LISTS_MARKS + 1; i++) {
		snprintf(who[i], sizeof(who[i]), "00000000-0000-4000-8000-%012zx", 0xf100 + i);
		make_token(&many[i], who[i], "bulk", 0);
	}
	CHECK(store_token_bulk(st, many, STORE_LISTS_MARKS + 1) == STORE_OK);
	CHECK(stamp_moved(st, v, now, &sv));
	store_close(st);
}

/*
 * A check's use waits in the shared table: it outlives the process that
 * noted it (killed, its store never closed), and whoever reads uses next,
 * in any process, writes it first.  A use whose slot holds another
 * token's is written at once; a use written later is never moved back.
 */
static void
pending_uses_outlive_their_process(void)
{
	struct store	*st = open_store(0), *other;
	struct token_rec t[3], got;
	const char	*u = "00000000-0000-4000-8000-00000000f201";
	time_t		 now = 1700000300;
	int		 status;
	size_t		 i;
	pid_t		 pid;

	CHECK(st != NULL);
	for (i = 0; i < 3; i++) {
		make_token(&t[i], u, "pending", 0);
		CHECK(store_token_create(st, &t[i], 100, now) == STORE_OK);
	}
	if ((pid = fork()) == 0) {
		other = open_store(0);
		if (other == NULL)
			_exit(1);
		store_token_touch(other, &t[0], NULL, NULL, "192.0.2.50", now + 5);
		store_token_touch(other, &t[1], NULL, NULL, NULL, now + 6);
		_exit(0);	/* killed, as it were: no close, no apply */
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(store_token_by_id(st, NULL, t[0].id, &got) == STORE_OK);
	CHECK(got.last_used_at == now + 5 && got.nips == 1 && strcmp(got.ips[0].ip, "192.0.2.50") == 0);
	CHECK(store_token_by_id(st, NULL, t[1].id, &got) == STORE_OK && got.last_used_at == now + 6);
	CHECK(store_token_by_id(st, NULL, t[2].id, &got) == STORE_OK && got.last_used_at == 0);
	/* A later use written, then an earlier one applied: the later stands. */
	store_token_touch(st, &t[2], NULL, NULL, "192.0.2.51", now + 90);
	store_pending_settle(st);
	got = t[2];
	store_token_touch(st, &got, NULL, NULL, "192.0.2.52", now + 70);
	CHECK(store_token_by_id(st, NULL, t[2].id, &got) == STORE_OK && got.last_used_at == now + 90);
	CHECK(got.nips == 1 && strcmp(got.ips[0].ip, "192.0.2.51") == 0);
	store_close(st);
}

int
main(void)
{
	char	 cmd[128];
	int	 rc;

	snprintf(dir, sizeof(dir), "/tmp/patgate-unit-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	strcat(dir, "/db");
	RUN(missing_environment_is_notfound);
	RUN(init_makes_private_files);
	RUN(users_round_trip);
	RUN(sessions_round_trip);
	RUN(tokens_round_trip_and_order);
	RUN(revoke_only_own_and_once);
	RUN(revoke_by_another_process_shows_at_once);
	RUN(a_death_is_recovered_and_seen_by_the_living);
	RUN(memo_gives_back_small_and_long_records);
	RUN(cap_counts_live_tokens_only);
	RUN(touch_sets_last_used_once_a_minute);
	RUN(uses_apart_from_the_record);
	RUN(uses_walked_beside_records);
	RUN(lists_of_interleaved_users);
	RUN(survives_reopen_and_prunes);
	RUN(password_set_and_cleared);
	RUN(cap_ignores_history_and_upgrades);
	RUN(prune_in_batches);
	RUN(check_tells_a_miscount);
	RUN(password_ends_sessions_and_prune_removes);
	RUN(login_email_limit_and_window);
	RUN(login_success_clears_the_email_only);
	RUN(login_clear_and_prune);
	RUN(rotate_family_and_unused);
	RUN(list_stamp_moves_with_each_change);
	RUN(pending_uses_outlive_their_process);
	rc = tap_done();
	dir[strlen(dir) - 3] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
