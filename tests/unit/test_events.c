/* test_events.c: the event queue, the leaked revoke and the report counter, in a real environment. */
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/patgate.h"
#include "../../src/store_private.h"
#include "tap.h"

static char dir[64];
static struct store *st;
static const char user[] = "11111111-2222-4333-8444-555555555555";

/* Store a token of user's named name expiring at expires (0: never). */
static uint64_t
add_token(const char *name, time_t expires, struct token_rec *t)
{
	memset(t, 0, sizeof(*t));
	token_uuid_new(t->id);
	snprintf(t->user_id, sizeof(t->user_id), "%s", user);
	snprintf(t->name, sizeof(t->name), "%s", name);
	strcpy(t->hash, "$argon2id$v=19$m=32,t=1,p=1$c2FsdHNhbHQ$aGFzaA");
	t->created_at = time(NULL);
	t->expires_at = expires;
	if (store_token_create(st, t, 1000, time(NULL)) != STORE_OK)
		printf("# store_token_create failed\n");
	return t->number;
}

static long
live_count(void)
{
	long	 live = 0;
	int	 ready = 0;

	if (store_live_count(st, NULL, user, time(NULL), 1000, &live, &ready) != 0 || !ready)
		return -1;
	return live;
}

/* Drain the queue: how many events were on it. */
static int
drain(void)
{
	struct event_rec e;
	int		 n = 0;

	while (store_event_next(st, 0, &e) == STORE_OK && n < 1000) {
		store_event_release(&e);
		if (store_event_delete(st, e.seq) != STORE_OK)
			break;
		n++;
	}
	return n;
}

static void
leaked_revoke_queues_once(void)
{
	struct token_rec a, b, got;
	struct token_leak leaks[3];
	struct json_object *details = json_object_new_object();
	struct event_rec e;
	long		 before;

	add_token("a", 0, &a);
	add_token("b", time(NULL) + 86400, &b);
	before = live_count();
	memset(leaks, 0, sizeof(leaks));
	leaks[0].number = a.number;
	leaks[1].number = b.number;
	leaks[2].number = a.number;	/* listed twice */
	json_object_object_add(details, "addr", json_object_new_string("192.0.2.1"));
	CHECK(store_token_revoke_leaked(st, leaks, 3, time(NULL), details) == STORE_OK);
	json_object_put(details);
	CHECK(leaks[0].revoked && leaks[1].revoked && !leaks[2].revoked);
	CHECK(strcmp(leaks[0].id, a.id) == 0 && strcmp(leaks[1].user_id, user) == 0);
	CHECK(store_token_get(st, a.number, &got) == STORE_OK && got.revoked_at != 0);
	CHECK(live_count() == before - 2);
	/* Oldest first, with what notify needs. */
	CHECK(store_event_next(st, 0, &e) == STORE_OK);
	CHECK(strcmp(e.event, "token.revoke.leaked") == 0 && strcmp(e.token_id, a.id) == 0);
	CHECK(strcmp(e.user_id, user) == 0 && strcmp(e.token_name, "a") == 0);
	CHECK(strcmp(json_object_get_string(json_object_object_get(e.details, "addr")),
	    "192.0.2.1") == 0);
	store_event_release(&e);
	CHECK(store_event_next(st, e.seq, &e) == STORE_OK);
	CHECK(strcmp(e.token_id, b.id) == 0 && e.token_expires_at == b.expires_at);
	store_event_release(&e);
	CHECK(store_event_next(st, e.seq, &e) == STORE_NOTFOUND);
	/* Reported again, or revoked by its owner first: nothing more. */
	CHECK(store_token_revoke_leaked(st, leaks, 1, time(NULL), NULL) == STORE_OK);
	CHECK(!leaks[0].revoked);
	CHECK(drain() == 2);
	CHECK(store_event_delete(st, 1) == STORE_NOTFOUND);
}

static void
owner_revoke_first_leaves_no_event(void)
{
	struct token_rec a, got;
	struct token_leak leak;

	add_token("owner first", 0, &a);
	CHECK(store_token_revoke(st, user, a.id, time(NULL), &got) == STORE_OK);
	memset(&leak, 0, sizeof(leak));
	leak.number = a.number;
	CHECK(store_token_revoke_leaked(st, &leak, 1, time(NULL), NULL) == STORE_OK);
	CHECK(!leak.revoked);
	CHECK(drain() == 0);
	leak.number = 987654321;	/* no such token */
	CHECK(store_token_revoke_leaked(st, &leak, 1, time(NULL), NULL) == STORE_OK);
	CHECK(!leak.revoked && drain() == 0);
}

static int
append_then_abort(struct store *s, DB_TXN *txn, void *arg, enum store_rc *verdict)
{
	int	 rc = store_event_append(s, txn, "token.test", arg, time(NULL), NULL);

	*verdict = STORE_LIMIT;		/* the change it went with fails */
	return rc;
}

static void
event_aborts_with_its_transaction(void)
{
	struct token_rec a;

	add_token("aborted", 0, &a);
	CHECK(store_txn(st, 0, 0, append_then_abort, &a) == STORE_LIMIT);
	CHECK(drain() == 0);
}

static void
expiring_queued_once(void)
{
	struct token_rec soon, later, never, gone, got;
	struct event_rec e;
	unsigned long	 queued = 0;
	time_t		 now = time(NULL);

	add_token("soon", now + 3 * 86400, &soon);
	add_token("later", now + 30 * 86400, &later);
	add_token("never", 0, &never);
	add_token("gone", now + 86400, &gone);
	CHECK(store_token_revoke(st, user, gone.id, now, &got) == STORE_OK);
	CHECK(store_event_queue_expiring(st, now, now + 7 * 86400, &queued) == STORE_OK);
	CHECK(queued == 1);
	CHECK(store_event_next(st, 0, &e) == STORE_OK);
	CHECK(strcmp(e.event, "token.expiring") == 0 && strcmp(e.token_id, soon.id) == 0);
	store_event_release(&e);
	CHECK(store_event_queue_expiring(st, now, now + 7 * 86400, &queued) == STORE_OK);
	CHECK(queued == 0);
	CHECK(drain() == 1);
	/* Delivered and gone: still not queued again. */
	CHECK(store_event_queue_expiring(st, now, now + 7 * 86400, &queued) == STORE_OK);
	CHECK(queued == 0);
	CHECK(store_event_queue_expiring(st, now, now + 40 * 86400, &queued) == STORE_OK);
	CHECK(queued == 1);
	CHECK(drain() == 1);
}

static void
prune_forgets_marks_of_pruned_tokens(void)
{
	unsigned long	 removed = 0;
	time_t		 now = time(NULL);

	/* Two marks (soon, later); prune every token, then the marks go. */
	CHECK(store_event_prune(st, &removed) == STORE_OK && removed == 0);
	CHECK(store_prune(st, now + 100 * 86400, &removed) == STORE_OK && removed > 0);
	CHECK(store_event_prune(st, &removed) == STORE_OK && removed == 2);
	CHECK(store_event_prune(st, &removed) == STORE_OK && removed == 0);
}

static void
report_counter_limits_an_address(void)
{
	time_t	 now = 1800000000;
	long	 retry = 0;
	int	 i;

	for (i = 0; i < 3; i++)
		CHECK(store_report_reserve(st, "192.0.2.7", 3, 900, now, &retry) == STORE_OK);
	CHECK(store_report_reserve(st, "192.0.2.7", 3, 900, now + 10, &retry) == STORE_LIMIT);
	CHECK(retry > 0 && retry <= 900);
	CHECK(store_report_reserve(st, "192.0.2.8", 3, 900, now + 10, &retry) == STORE_OK);
	/* Once the window is over, the address may report again. */
	CHECK(store_report_reserve(st, "192.0.2.7", 3, 900, now + 900, &retry) == STORE_OK);
}

int
main(void)
{
	char	 err[256], cmd[128];
	int	 rc;

	snprintf(dir, sizeof(dir), "/tmp/patgate-unit-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	strcat(dir, "/db");
	if (store_open(dir, 1, &st, err, sizeof(err)) != STORE_OK) {
		printf("Bail out! store_open: %s\n", err);
		return 99;
	}
	(void)store_live_upgrade(st);
	RUN(leaked_revoke_queues_once);
	RUN(owner_revoke_first_leaves_no_event);
	RUN(event_aborts_with_its_transaction);
	RUN(expiring_queued_once);
	RUN(prune_forgets_marks_of_pruned_tokens);
	RUN(report_counter_limits_an_address);
	store_close(st);
	rc = tap_done();
	dir[strlen(dir) - 3] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
