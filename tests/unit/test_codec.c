/* test_codec.c: stored records: packed round trips, the JSON form still read, damage refused. */
#include <stdlib.h>

#include "../../src/patgate.h"
#include "tap.h"

static void
sample_token(struct token_rec *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "0b4e7f3c-6f1d-4c55-9a39-2f1a3c5d7e90");
	snprintf(t->user_id, sizeof(t->user_id), "7d2f8a61-0c3e-4b8f-8e2a-5f6b7c8d9e01");
	snprintf(t->name, sizeof(t->name), "CI \"deploy\" \xc3\xa9t\xc3\xa9");
	snprintf(t->hash, sizeof(t->hash), "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
	snprintf(t->abilities[0], sizeof(t->abilities[0]), "read");
	snprintf(t->abilities[1], sizeof(t->abilities[1]), "deploy:prod");
	t->nabilities = 2;
	t->created_at = 1764316800;
	t->expires_at = 4102444800;
	t->revoked_at = 0;
	t->last_used_at = 1764316860;
}

static void
token_round_trip(void)
{
	struct token_rec t, back;
	char		*enc;
	size_t		 len;

	sample_token(&t);
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(strcmp(back.id, t.id) == 0);
	CHECK(strcmp(back.user_id, t.user_id) == 0);
	CHECK(strcmp(back.name, t.name) == 0);
	CHECK(strcmp(back.hash, t.hash) == 0);
	CHECK(back.nabilities == 2);
	CHECK(strcmp(back.abilities[1], "deploy:prod") == 0);
	CHECK(back.created_at == t.created_at && back.expires_at == t.expires_at);
	CHECK(back.revoked_at == 0 && back.last_used_at == t.last_used_at);
	CHECK(back.prefix_known == 0 && back.prefix[0] == '\0');
	/* A 20-character name: the record is far below a kilobyte. */
	CHECK(len < 300);
	free(enc);
}

/* A prefix is stored (version 3); a record of version 2 has none known. */
static void
token_prefix_round_trip(void)
{
	struct token_rec t, back;
	char		*enc;
	size_t		 len, len2;

	sample_token(&t);
	CHECK((enc = store_codec_token(&t, &len2)) != NULL);
	CHECK(enc[0] == 2);
	free(enc);
	snprintf(t.prefix, sizeof(t.prefix), "pgt_");
	t.prefix_known = 1;
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	CHECK(enc[0] == 3 && len == len2 + 2 + 4);
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(back.prefix_known == 1 && strcmp(back.prefix, "pgt_") == 0);
	CHECK(strcmp(back.hash, t.hash) == 0 && back.nabilities == 2);
	CHECK(store_uncodec_token(enc, len - 1, &back) == -1);	/* cut short */
	free(enc);
	/* A token minted without a prefix has one known: the empty one. */
	t.prefix[0] = '\0';
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(back.prefix_known == 1 && back.prefix[0] == '\0');
	free(enc);
	/* A session never takes the token's version 3. */
	CHECK(store_uncodec_session("\3", 1, &(struct session_rec){ 0 }) == -1);
}

static void
session_round_trip(void)
{
	struct session_rec s, back;
	char		*enc;
	size_t		 len;

	memset(&s, 0, sizeof(s));
	snprintf(s.user_id, sizeof(s.user_id), "7d2f8a61-0c3e-4b8f-8e2a-5f6b7c8d9e01");
	snprintf(s.hash, sizeof(s.hash), "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA");
	s.created_at = 10;
	s.expires_at = 20;
	s.revoked_at = -1;	/* times are signed */
	CHECK((enc = store_codec_session(&s, &len)) != NULL);
	CHECK(store_uncodec_session(enc, len, &back) == 0);
	CHECK(strcmp(back.user_id, s.user_id) == 0 && strcmp(back.hash, s.hash) == 0);
	CHECK(back.created_at == 10 && back.expires_at == 20 && back.revoked_at == -1);
	free(enc);
}

/* Records written in the JSON form before the packed one are read alike. */
static void
json_records_still_read(void)
{
	static const char tok[] = "{\"v\":1,\"id\":\"0b4e7f3c-6f1d-4c55-9a39-2f1a3c5d7e90\","
	    "\"user_id\":\"7d2f8a61-0c3e-4b8f-8e2a-5f6b7c8d9e01\",\"name\":\"old\","
	    "\"abilities\":[\"*\"],\"hash\":\"$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA\","
	    "\"created_at\":5,\"expires_at\":0,\"revoked_at\":7}";
	static const char sess[] = "{\"v\":1,\"user_id\":\"u\",\"hash\":\"h\","
	    "\"created_at\":1,\"expires_at\":2,\"revoked_at\":0}";
	struct token_rec t;
	struct session_rec s;

	CHECK(store_uncodec_token(tok, sizeof(tok) - 1, &t) == 1);	/* last use apart */
	CHECK(strcmp(t.name, "old") == 0 && t.nabilities == 1 && t.revoked_at == 7);
	CHECK(store_uncodec_session(sess, sizeof(sess) - 1, &s) == 0);
	CHECK(strcmp(s.user_id, "u") == 0 && s.expires_at == 2);
}

/* Every truncation, trailing bytes, and a length pointing past the end are refused. */
static void
damage_is_refused(void)
{
	struct token_rec t, back;
	char		*enc, *longer;
	size_t		 len, cut;
	int		 refused = 1;

	sample_token(&t);
	enc = store_codec_token(&t, &len);
	for (cut = 0; cut < len; cut++)
		if (store_uncodec_token(enc, cut, &back) != -1)
			refused = 0;
	CHECK(refused);
	longer = malloc(len + 1);
	memcpy(longer, enc, len);
	longer[len] = 'x';
	CHECK(store_uncodec_token(longer, len + 1, &back) == -1);
	/* The id's length (after the version byte and four times) made huge. */
	longer[1 + 32] = (char)0xff;
	longer[1 + 32 + 1] = (char)0xff;
	CHECK(store_uncodec_token(longer, len, &back) == -1);
	/* A NUL inside a string would cut it short when read back. */
	memcpy(longer, enc, len);
	longer[1 + 32 + 2 + 3] = '\0';
	CHECK(store_uncodec_token(longer, len, &back) == -1);
	CHECK(store_uncodec_token("\x03", 1, &back) == -1);
	free(longer);
	free(enc);
}

/* Version 4: rotation and recent addresses, tagged; unknown tags skipped. */
static void
token_tagged_round_trip(void)
{
	struct token_rec t, back;
	char		*enc, *more;
	size_t		 len, cut, i, entries;
	int		 refused = 1;

	sample_token(&t);
	snprintf(t.prefix, sizeof(t.prefix), "pgt_");
	t.prefix_known = 1;
	snprintf(t.rotated_from, sizeof(t.rotated_from), "11111111-2222-4333-8444-555555555555");
	t.rotated_to = 0x0102030405060708ULL;
	for (i = 0; i < TOKEN_IPS_MAX; i++) {
		snprintf(t.ips[i].ip, sizeof(t.ips[i].ip), i == 0 ? "2001:db8::%zu" : "192.0.2.%zu", i);
		t.ips[i].at = 1764316900 - (time_t)i;
	}
	t.nips = TOKEN_IPS_MAX;
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	CHECK(enc[0] == 4);
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(back.prefix_known == 1 && strcmp(back.prefix, "pgt_") == 0);
	CHECK(strcmp(back.rotated_from, t.rotated_from) == 0);
	CHECK(back.rotated_to == t.rotated_to);
	CHECK(back.nips == TOKEN_IPS_MAX);
	CHECK(strcmp(back.ips[0].ip, "2001:db8::0") == 0 && back.ips[0].at == 1764316900);
	CHECK(strcmp(back.ips[4].ip, "192.0.2.4") == 0 && back.ips[4].at == 1764316896);
	CHECK(strcmp(back.hash, t.hash) == 0 && back.nabilities == 2);
	for (cut = 0; cut < len; cut++)
		if (store_uncodec_token(enc, cut, &back) != -1)
			refused = 0;
	CHECK(refused);		/* cut between two entries too: the count tells */
	/* A later version's tag: skipped, the rest read. */
	more = malloc(len + 6);
	memcpy(more, enc, len);
	memcpy(more + len, "\xc8\x03\x00" "abc", 6);
	entries = (3 + 36) + (3 + 8);
	for (i = 0; i < TOKEN_IPS_MAX; i++)
		entries += 3 + 8 + strlen(t.ips[i].ip);
	more[len - entries - 2] += 1;	/* the count of entries, low byte */
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(more, len + 6, &back) == 0);
	CHECK(back.nips == TOKEN_IPS_MAX && back.rotated_to == t.rotated_to);
	free(more);
	free(enc);
	/* A record with a use but no prefix known yet keeps that unknown. */
	sample_token(&t);
	snprintf(t.ips[0].ip, sizeof(t.ips[0].ip), "127.0.0.1");
	t.ips[0].at = 5;
	t.nips = 1;
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	CHECK(enc[0] == 4);
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(back.prefix_known == 0 && back.nips == 1 && back.rotated_from[0] == '\0');
	free(enc);
	/* Nothing tagged: still version 2 or 3, as before; read with none of it. */
	sample_token(&t);
	CHECK((enc = store_codec_token(&t, &len)) != NULL);
	CHECK(enc[0] == 2);
	memset(&back, 0x5a, sizeof(back));
	CHECK(store_uncodec_token(enc, len, &back) == 0);
	CHECK(back.nips == 0 && back.rotated_to == 0 && back.rotated_from[0] == '\0');
	free(enc);
}

/*
 * A token's uses round-trip onto a record, the later of the two kept; the
 * older 8-byte form is its last use alone; every cut is refused.
 */
static void
uses_round_trip(void)
{
	static const unsigned char old[8] = { 0, 0, 0, 0, 0x65, 0, 0, 1 };
	struct token_rec u, t;
	char		*enc;
	size_t		 len, cut;
	int		 refused = 1;

	memset(&u, 0, sizeof(u));
	u.last_used_at = 2000;
	u.nips = 2;
	snprintf(u.ips[0].ip, sizeof(u.ips[0].ip), "2001:db8::7");
	u.ips[0].at = 2000;
	snprintf(u.ips[1].ip, sizeof(u.ips[1].ip), "192.0.2.1");
	u.ips[1].at = 1500;
	CHECK((enc = store_codec_uses(&u, &len)) != NULL);
	CHECK(len == 1 + 8 + 1 + (8 + 1 + 11) + (8 + 1 + 9));
	/* Onto a record whose own uses are older: the uses win. */
	memset(&t, 0, sizeof(t));
	t.last_used_at = 1000;
	t.nips = 1;
	snprintf(t.ips[0].ip, sizeof(t.ips[0].ip), "198.51.100.9");
	t.ips[0].at = 1000;
	CHECK(store_uncodec_uses(enc, len, &t) == 0);
	CHECK(t.last_used_at == 2000 && t.nips == 2);
	CHECK(strcmp(t.ips[0].ip, "2001:db8::7") == 0 && t.ips[0].at == 2000);
	CHECK(strcmp(t.ips[1].ip, "192.0.2.1") == 0 && t.ips[1].at == 1500);
	/* Onto a record newer than them: the record's stay. */
	t.last_used_at = 3000;
	t.nips = 1;
	snprintf(t.ips[0].ip, sizeof(t.ips[0].ip), "198.51.100.9");
	t.ips[0].at = 3000;
	CHECK(store_uncodec_uses(enc, len, &t) == 0);
	CHECK(t.last_used_at == 3000 && t.nips == 1 && t.ips[0].at == 3000);
	for (cut = 0; cut < len; cut++)
		if (cut != 8 && store_uncodec_uses(enc, cut, &t) != -1)
			refused = 0;
	CHECK(refused);
	enc[9] = TOKEN_IPS_MAX + 1;	/* more addresses than a token keeps */
	CHECK(store_uncodec_uses(enc, len, &t) == -1);
	free(enc);
	/* The older form: a JSON-form token's last use, big end first. */
	t.last_used_at = 0;
	CHECK(store_uncodec_uses(old, sizeof(old), &t) == 0);
	CHECK(t.last_used_at == 0x65000001);
}

int
main(void)
{
	RUN(token_round_trip);
	RUN(token_prefix_round_trip);
	RUN(session_round_trip);
	RUN(json_records_still_read);
	RUN(damage_is_refused);
	RUN(token_tagged_round_trip);
	RUN(uses_round_trip);
	return tap_done();
}
