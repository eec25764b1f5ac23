/*
 * store_codec.c: records to and from their stored bytes.  Users and login
 * counters are JSON objects with "v":1.  Tokens and sessions, read on
 * every check, are packed (a leading version byte 2, then fixed-width
 * times and length-prefixed strings), which decodes without an
 * allocation; their JSON form of version 1 is still read.  A packed
 * token holds its last use too, as it stood before token_used held the
 * uses of every token (see the end of this file); a JSON one has none.  A
 * token packed under version 3 also ends with its secret's prefix; one of
 * version 2 (or JSON) was stored before the prefix was, and is read with
 * the prefix unknown.  Version 4, written only for a record that has
 * any of them, adds what came with rotation and the recent addresses:
 * after version 3's fields, a byte saying whether the prefix is known,
 * the count of tagged entries (two bytes, so that a record cut short
 * between two is still told damaged), then the entries (a tag byte, a
 * two-byte length, the bytes), of
 * which a reader skips the tags it does not know, so that later fields
 * need no new version: a token's bindings came that way.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

#define CODEC_VERSION	1
/* first byte of a packed record; JSON starts with '{' */
#define CODEC_PACKED	2
#define CODEC_PACKED_PREFIX 3	/* a packed token that ends with its prefix */
#define CODEC_PACKED_TAGGED 4	/* ... then tagged entries */
#define CODEC_USES	'U'	/* a token's uses, in token_used */

enum codec_tag {
	TAG_ROTATED_FROM = 1,	/* the id it replaced */
	TAG_ROTATED_TO = 2,	/* 8 bytes: the number that replaced it */
	TAG_USE = 3,	/* 8 bytes of time, then an address; newest first */
	TAG_ALLOWED_IP = 4,	/* a block of allowed_ips: its bits, 16 bytes */
	TAG_PATH = 5,		/* a pattern of paths */
	TAG_RATE_LIMIT = 6,	/* 8 bytes: requests a minute */
	TAG_CANARY = 7,		/* no bytes: a decoy */
};

/* ------------------------------------------------------------ packed form */

struct pack {
	unsigned char	*p;
	size_t		 len, cap;
};

static void
pack_u64(struct pack *w, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		w->p[w->len++] = (unsigned char)(v >> (8 * i));
}

/*
 * A string of up to 65535 bytes, its length first (two bytes, little end
 * first).
 */
static void
pack_str(struct pack *w, const char *s)
{
	size_t	 n = strlen(s);

	w->p[w->len++] = (unsigned char)(n & 0xff);
	w->p[w->len++] = (unsigned char)(n >> 8);
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* Room for the version byte, times, and strings of the given total length. */
static int
pack_begin(struct pack *w, size_t ntimes, size_t nstrings, size_t strbytes)
{
	w->cap = 1 + 8 * ntimes + 2 * nstrings + strbytes;
	w->len = 0;
	if ((w->p = malloc(w->cap)) == NULL)
		return -1;
	w->p[w->len++] = CODEC_PACKED;
	return 0;
}

struct unpack {
	const unsigned char *p;
	size_t		 len, at;
	int		 bad;
};

static time_t
unpack_time(struct unpack *r)
{
	uint64_t v = 0;
	int	 i;

	if (r->len - r->at < 8) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v |= (uint64_t)r->p[r->at++] << (8 * i);
	return (time_t)(int64_t)v;
}

/*
 * Copy a string into dst of size cap; a string too long or cut short marks r
 * bad.
 */
static void
unpack_str(struct unpack *r, char *dst, size_t cap)
{
	size_t	 n;

	dst[0] = '\0';
	if (r->bad || r->len - r->at < 2) {
		r->bad = 1;
		return;
	}
	n = (size_t)r->p[r->at] | (size_t)r->p[r->at + 1] << 8;
	r->at += 2;
	if (n >= cap || r->len - r->at < n ||
	    memchr(r->p + r->at, '\0', n) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p + r->at, n);
	dst[n] = '\0';
	r->at += n;
}

/* Begin reading a packed record; its version byte, or -1 if not packed. */
static int
unpack_begin(struct unpack *r, const void *buf, size_t len)
{
	r->p = buf;
	r->len = len;
	r->at = 1;
	r->bad = 0;
	if (len == 0 ||
	    (r->p[0] != CODEC_PACKED && r->p[0] != CODEC_PACKED_PREFIX &&
	    r->p[0] != CODEC_PACKED_TAGGED))
		return -1;
	return r->p[0];
}

/* The record was well formed and nothing trails it. */
static int
unpack_end(const struct unpack *r)
{
	return !r->bad && r->at == r->len ? 0 : -1;
}

/* ------------------------------------------------------------ JSON form */

/*
 * Copy string field key of o into dst (size cap); 0, or -1 if absent or too
 * long.
 */
static int
codec_str(struct json_object *o, const char *key, char *dst, size_t cap)
{
	struct json_object *v;
	int		 len;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	len = json_object_get_string_len(v);
	if ((size_t)len >= cap)
		return -1;
	memcpy(dst, json_object_get_string(v), (size_t)len + 1);
	return 0;
}

static time_t
codec_time(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return (time_t)json_object_get_int64(v);
}

/* Serialise o and release it; the caller frees the returned buffer. */
static char *
codec_finish(struct json_object *o, size_t *len)
{
	const char	*s;
	char		*out;
	size_t		 n;

	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	out = s != NULL ? malloc(n) : NULL;
	if (out != NULL) {
		memcpy(out, s, n);
		*len = n;
	}
	json_object_put(o);
	return out;
}

/* Parse stored bytes into an object of a version this build reads. */
static struct json_object *
codec_open(const void *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o, *v;

	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "v", &v) ||
	    json_object_get_int(v) != CODEC_VERSION) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *
store_codec_user(const struct user_rec *u, size_t *len)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(CODEC_VERSION));
	json_object_object_add(o, "id", json_object_new_string(u->id));
	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(u->created_at));
	if (u->password[0] != '\0')
		json_object_object_add(o, "password",
		    json_object_new_string(u->password));
	return codec_finish(o, len);
}

int
store_uncodec_user(const void *buf, size_t len, struct user_rec *u)
{
	struct json_object *o;
	int		 rc = -1;

	memset(u, 0, sizeof(*u));
	if ((o = codec_open(buf, len)) == NULL)
		return -1;
	if (codec_str(o, "id", u->id, sizeof(u->id)) == 0 &&
	    codec_str(o, "email", u->email, sizeof(u->email)) == 0 &&
	    codec_str(o, "name", u->name, sizeof(u->name)) == 0) {
		(void)codec_str(o, "password", u->password,
		    sizeof(u->password));
		u->created_at = codec_time(o, "created_at");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

char *
store_codec_session(const struct session_rec *s, size_t *len)
{
	struct pack	 w;

	if (pack_begin(&w, 3, 2, strlen(s->user_id) + strlen(s->hash)) == -1)
		return NULL;
	pack_u64(&w, (uint64_t)s->created_at);
	pack_u64(&w, (uint64_t)s->expires_at);
	pack_u64(&w, (uint64_t)s->revoked_at);
	pack_str(&w, s->user_id);
	pack_str(&w, s->hash);
	*len = w.len;
	return (char *)w.p;
}

int
store_uncodec_session(const void *buf, size_t len, struct session_rec *s)
{
	struct json_object *o;
	struct unpack	 r;
	int		 rc = -1;

	/* The id is the key; the caller fills it in. */
	memset(s->user_id, 0, sizeof(s->user_id));
	if (unpack_begin(&r, buf, len) == CODEC_PACKED) {
		s->created_at = unpack_time(&r);
		s->expires_at = unpack_time(&r);
		s->revoked_at = unpack_time(&r);
		unpack_str(&r, s->user_id, sizeof(s->user_id));
		unpack_str(&r, s->hash, sizeof(s->hash));
		return unpack_end(&r);
	}
	if ((o = codec_open(buf, len)) == NULL)
		return -1;
	if (codec_str(o, "user_id", s->user_id, sizeof(s->user_id)) == 0 &&
	    codec_str(o, "hash", s->hash, sizeof(s->hash)) == 0) {
		s->created_at = codec_time(o, "created_at");
		s->expires_at = codec_time(o, "expires_at");
		s->revoked_at = codec_time(o, "revoked_at");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

static size_t
codec_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* A tag and its length. */
static void
pack_tag(struct pack *w, enum codec_tag tag, size_t n)
{
	w->p[w->len++] = (unsigned char)tag;
	w->p[w->len++] = (unsigned char)(n & 0xff);
	w->p[w->len++] = (unsigned char)(n >> 8);
}

/* The bytes t's tagged entries take (0: none, and version 4 is not needed). */
static size_t
codec_token_tagged_len(const struct token_rec *t)
{
	size_t	 i, n = 2;	/* the count */

	if (t->rotated_from[0] != '\0')
		n += 3 + strlen(t->rotated_from);
	if (t->rotated_to != 0)
		n += 3 + 8;
	for (i = 0; i < t->nips && i < TOKEN_IPS_MAX; i++)
		n += 3 + 8 + strlen(t->ips[i].ip);
	n += (3 + 17) * codec_min(t->bind.nips, BIND_IPS_MAX);
	for (i = 0; i < t->bind.npaths && i < BIND_PATHS_MAX; i++)
		n += 3 + strlen(t->bind.paths[i]);
	if (t->bind.rate_limit > 0)
		n += 3 + 8;
	if (t->bind.canary)
		n += 3;
	return n > 2 ? n : 0;
}

static void
pack_token_tagged(struct pack *w, const struct token_rec *t)
{
	size_t	 i, count;

	count = (t->rotated_from[0] != '\0') + (t->rotated_to != 0) +
	    codec_min(t->nips, TOKEN_IPS_MAX) +
	    codec_min(t->bind.nips, BIND_IPS_MAX) +
	    codec_min(t->bind.npaths, BIND_PATHS_MAX) +
	    (t->bind.rate_limit > 0) + (t->bind.canary != 0);
	w->p[w->len++] = t->prefix_known ? 1 : 0;
	w->p[w->len++] = (unsigned char)(count & 0xff);
	w->p[w->len++] = (unsigned char)(count >> 8);
	if (t->rotated_from[0] != '\0') {
		pack_tag(w, TAG_ROTATED_FROM, strlen(t->rotated_from));
		memcpy(w->p + w->len, t->rotated_from, strlen(t->rotated_from));
		w->len += strlen(t->rotated_from);
	}
	if (t->rotated_to != 0) {
		pack_tag(w, TAG_ROTATED_TO, 8);
		pack_u64(w, t->rotated_to);
	}
	for (i = 0; i < t->nips && i < TOKEN_IPS_MAX; i++) {
		pack_tag(w, TAG_USE, 8 + strlen(t->ips[i].ip));
		pack_u64(w, (uint64_t)t->ips[i].at);
		memcpy(w->p + w->len, t->ips[i].ip, strlen(t->ips[i].ip));
		w->len += strlen(t->ips[i].ip);
	}
	for (i = 0; i < t->bind.nips && i < BIND_IPS_MAX; i++) {
		pack_tag(w, TAG_ALLOWED_IP, 17);
		w->p[w->len++] = t->bind.ips[i].bits;
		memcpy(w->p + w->len, t->bind.ips[i].addr, 16);
		w->len += 16;
	}
	for (i = 0; i < t->bind.npaths && i < BIND_PATHS_MAX; i++) {
		pack_tag(w, TAG_PATH, strlen(t->bind.paths[i]));
		memcpy(w->p + w->len, t->bind.paths[i],
		    strlen(t->bind.paths[i]));
		w->len += strlen(t->bind.paths[i]);
	}
	if (t->bind.rate_limit > 0) {
		pack_tag(w, TAG_RATE_LIMIT, 8);
		pack_u64(w, (uint64_t)t->bind.rate_limit);
	}
	if (t->bind.canary)
		pack_tag(w, TAG_CANARY, 0);
}

char *
store_codec_token(const struct token_rec *t, size_t *len)
{
	struct pack	 w;
	size_t		 i, strbytes, tagged;

	tagged = codec_token_tagged_len(t);
	strbytes = strlen(t->id) + strlen(t->user_id) + strlen(t->name) +
	    strlen(t->hash) + strlen(t->prefix) + (tagged > 0 ? 1 + tagged : 0);
	for (i = 0; i < t->nabilities; i++)
		strbytes += 2 + strlen(t->abilities[i]);
	/*
	 * The count of abilities rides in one more "string" slot's two bytes.
	 */
	if (pack_begin(&w, 4, 6, strbytes) == -1)
		return NULL;
	/* A record whose prefix is still unknown keeps the form without one. */
	if (tagged > 0)
		w.p[0] = CODEC_PACKED_TAGGED;
	else if (t->prefix_known)
		w.p[0] = CODEC_PACKED_PREFIX;
	pack_u64(&w, (uint64_t)t->created_at);
	pack_u64(&w, (uint64_t)t->expires_at);
	pack_u64(&w, (uint64_t)t->revoked_at);
	pack_u64(&w, (uint64_t)t->last_used_at);
	pack_str(&w, t->id);
	pack_str(&w, t->user_id);
	pack_str(&w, t->name);
	pack_str(&w, t->hash);
	w.p[w.len++] = (unsigned char)(t->nabilities & 0xff);
	w.p[w.len++] = (unsigned char)(t->nabilities >> 8);
	for (i = 0; i < t->nabilities; i++)
		pack_str(&w, t->abilities[i]);
	if (tagged > 0) {
		pack_str(&w, t->prefix);
		pack_token_tagged(&w, t);
	} else if (t->prefix_known)
		pack_str(&w, t->prefix);
	*len = w.len;
	return (char *)w.p;
}

/*
 * A tagged entry of the token's bindings into b: 0 when taken, or of a
 * tag it does not know (a later version's, skipped); -1 when damaged.
 */
static int
unpack_token_binding(int tag, const unsigned char *d, size_t n,
    struct token_bindings *b)
{
	struct unpack	 field;
	uint64_t	 v;

	switch (tag) {
	case TAG_ALLOWED_IP:
		if (n != 17 || d[0] > 128 || b->nips >= BIND_IPS_MAX)
			return -1;
		b->ips[b->nips].bits = d[0];
		memcpy(b->ips[b->nips].addr, d + 1, 16);
		b->nips++;
		return 0;
	case TAG_PATH:
		if (n == 0 || n > BIND_PATH_MAX ||
		    b->npaths >= BIND_PATHS_MAX || memchr(d, '\0', n) != NULL)
			return -1;
		memcpy(b->paths[b->npaths], d, n);
		b->paths[b->npaths][n] = '\0';
		b->npaths++;
		return 0;
	case TAG_RATE_LIMIT:
		if (n != 8)
			return -1;
		field = (struct unpack){ d, 8, 0, 0 };
		v = (uint64_t)unpack_time(&field);
		if (v == 0 || v > BIND_RATE_MAX)
			return -1;
		b->rate_limit = (long)v;
		return 0;
	case TAG_CANARY:
		if (n != 0)
			return -1;
		b->canary = 1;
		return 0;
	case TAG_ROTATED_FROM:
	case TAG_ROTATED_TO:
	case TAG_USE:
		return -1;	/* reached only when damaged */
	default:
		return 0;
	}
}

/* Version 4's tail: the prefix's flag, then the tagged entries. */
static void
unpack_token_tagged(struct unpack *r, struct token_rec *t)
{
	struct unpack	 field;
	const unsigned char *d;
	size_t		 n, count;
	int		 tag;

	if (r->bad || r->len - r->at < 3) {
		r->bad = 1;
		return;
	}
	t->prefix_known = r->p[r->at++] != 0;
	count = (size_t)r->p[r->at] | (size_t)r->p[r->at + 1] << 8;
	r->at += 2;
	for (; count > 0 && !r->bad; count--) {
		if (r->len - r->at < 3) {
			r->bad = 1;
			return;
		}
		tag = r->p[r->at];
		n = (size_t)r->p[r->at + 1] | (size_t)r->p[r->at + 2] << 8;
		r->at += 3;
		if (r->len - r->at < n) {
			r->bad = 1;
			return;
		}
		d = r->p + r->at;
		if (tag == TAG_ROTATED_FROM && n < sizeof(t->rotated_from) &&
		    memchr(d, '\0', n) == NULL) {
			memcpy(t->rotated_from, d, n);
			t->rotated_from[n] = '\0';
		} else if (tag == TAG_ROTATED_TO && n == 8) {
			field = (struct unpack){ d, 8, 0, 0 };
			t->rotated_to = (uint64_t)unpack_time(&field);
		} else if (tag == TAG_USE && n >= 8 && n - 8 <= TOKEN_IP_MAX &&
		    t->nips < TOKEN_IPS_MAX &&
		    memchr(d + 8, '\0', n - 8) == NULL) {
			field = (struct unpack){ d, 8, 0, 0 };
			t->ips[t->nips].at = unpack_time(&field);
			memcpy(t->ips[t->nips].ip, d + 8, n - 8);
			t->ips[t->nips].ip[n - 8] = '\0';
			t->nips++;
		} else if (unpack_token_binding(tag, d, n, &t->bind) == -1) {
			r->bad = 1;	/* a known tag, damaged */
			return;
		}
		r->at += n;	/* an unknown tag: a later version's; skipped */
	}
}

/* The packed form of a token of version v; 0, or -1 when damaged. */
static int
unpack_token(struct unpack *r, int v, struct token_rec *t)
{
	size_t	 i, n;

	t->created_at = unpack_time(r);
	t->expires_at = unpack_time(r);
	t->revoked_at = unpack_time(r);
	t->last_used_at = unpack_time(r);
	unpack_str(r, t->id, sizeof(t->id));
	unpack_str(r, t->user_id, sizeof(t->user_id));
	unpack_str(r, t->name, sizeof(t->name));
	unpack_str(r, t->hash, sizeof(t->hash));
	if (r->bad || r->len - r->at < 2)
		return -1;
	n = (size_t)r->p[r->at] | (size_t)r->p[r->at + 1] << 8;
	r->at += 2;
	if (n > ABILITIES_MAX)
		return -1;
	for (i = 0; i < n; i++)
		unpack_str(r, t->abilities[i], sizeof(t->abilities[i]));
	t->nabilities = n;
	if (v == CODEC_PACKED_PREFIX || v == CODEC_PACKED_TAGGED) {
		unpack_str(r, t->prefix, sizeof(t->prefix));
		t->prefix_known = 1;
	}
	if (v == CODEC_PACKED_TAGGED)
		unpack_token_tagged(r, t);
	return unpack_end(r);
}

int
store_uncodec_token(const void *buf, size_t len, struct token_rec *t)
{
	struct json_object *o, *ab, *item;
	struct unpack	 r;
	size_t		 i, n;
	int		 rc = -1, v;

	/* The number is the key; the caller fills it in. */
	t->nabilities = 0;
	t->last_used_at = 0;
	t->prefix[0] = '\0';
	t->prefix_known = 0;
	t->rotated_from[0] = '\0';
	t->rotated_to = 0;
	t->nips = 0;
	t->bind.nips = 0;
	t->bind.npaths = 0;
	t->bind.rate_limit = 0;
	t->bind.canary = 0;
	if ((v = unpack_begin(&r, buf, len)) != -1)
		return unpack_token(&r, v, t);
	if ((o = codec_open(buf, len)) == NULL)
		return -1;
	if (codec_str(o, "id", t->id, sizeof(t->id)) == -1 ||
	    codec_str(o, "user_id", t->user_id, sizeof(t->user_id)) == -1 ||
	    codec_str(o, "name", t->name, sizeof(t->name)) == -1 ||
	    codec_str(o, "hash", t->hash, sizeof(t->hash)) == -1 ||
	    !json_object_object_get_ex(o, "abilities", &ab) ||
	    !json_object_is_type(ab, json_type_array))
		goto out;
	n = json_object_array_length(ab);
	if (n > ABILITIES_MAX)
		goto out;
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(ab, i);
		if (!json_object_is_type(item, json_type_string) ||
		    json_object_get_string_len(item) > ABILITY_MAX_LEN)
			goto out;
		strcpy(t->abilities[i], json_object_get_string(item));
	}
	t->nabilities = n;
	t->created_at = codec_time(o, "created_at");
	t->expires_at = codec_time(o, "expires_at");
	t->revoked_at = codec_time(o, "revoked_at");
	rc = 1;		/* the JSON form: its last use is kept apart */
out:
	json_object_put(o);
	return rc;
}

char *
store_codec_login(const struct login_rec *r, size_t *len)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(CODEC_VERSION));
	json_object_object_add(o, "since", json_object_new_int64(r->since));
	json_object_object_add(o, "count", json_object_new_int64(r->count));
	return codec_finish(o, len);
}

int
store_uncodec_login(const void *buf, size_t len, struct login_rec *r)
{
	struct json_object *o, *v;
	int		 rc = -1;

	if ((o = codec_open(buf, len)) == NULL)
		return -1;
	if (json_object_object_get_ex(o, "count", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0) {
		r->count = (long)json_object_get_int64(v);
		r->since = codec_time(o, "since");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

/* ------------------------------------------------------ a token's uses */

/*
 * A token's last use and recent addresses, kept in token_used apart from
 * its record (see store_tokens.c): CODEC_USES, the last use, the count of
 * addresses (a byte), then each one's time, its length (a byte) and its
 * bytes, newest first.  A value of exactly 8 bytes is the older form: the
 * last use alone, big end first, of a token stored in the JSON form.
 */
char *
store_codec_uses(const struct token_rec *t, size_t *len)
{
	struct pack	 w;
	size_t		 i, n = codec_min(t->nips, TOKEN_IPS_MAX), iplen;

	w.cap = 1 + 8 + 1;
	for (i = 0; i < n; i++)
		w.cap += 8 + 1 + strlen(t->ips[i].ip);
	w.len = 0;
	if ((w.p = malloc(w.cap)) == NULL)
		return NULL;
	w.p[w.len++] = CODEC_USES;
	pack_u64(&w, (uint64_t)t->last_used_at);
	w.p[w.len++] = (unsigned char)n;
	for (i = 0; i < n; i++) {
		iplen = strlen(t->ips[i].ip);
		pack_u64(&w, (uint64_t)t->ips[i].at);
		w.p[w.len++] = (unsigned char)iplen;
		memcpy(w.p + w.len, t->ips[i].ip, iplen);
		w.len += iplen;
	}
	*len = w.len;
	return (char *)w.p;
}

int
store_uncodec_uses(const void *buf, size_t len, struct token_rec *t)
{
	struct unpack	 r = { buf, len, 1, 0 };
	struct token_use ips[TOKEN_IPS_MAX];
	const unsigned char *p = buf;
	time_t		 at;
	size_t		 i, n, iplen;

	if (len == 8) {
		for (i = 0, at = 0; i < 8; i++)
			at = (time_t)((uint64_t)at << 8 | p[i]);
		if (at > t->last_used_at)
			t->last_used_at = at;
		return 0;
	}
	if (len < 10 || p[0] != CODEC_USES)
		return -1;
	at = unpack_time(&r);
	n = p[r.at++];
	if (n > TOKEN_IPS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		ips[i].at = unpack_time(&r);
		if (r.bad || r.at == len)
			return -1;
		iplen = p[r.at++];
		if (iplen > TOKEN_IP_MAX || len - r.at < iplen ||
		    memchr(p + r.at, '\0', iplen) != NULL)
			return -1;
		memcpy(ips[i].ip, p + r.at, iplen);
		ips[i].ip[iplen] = '\0';
		r.at += iplen;
	}
	if (unpack_end(&r) == -1)
		return -1;
	if (at > t->last_used_at)
		t->last_used_at = at;
	/* The newer list of the two wins whole. */
	if (n > 0 && (t->nips == 0 || ips[0].at >= t->ips[0].at)) {
		memcpy(t->ips, ips, n * sizeof(ips[0]));
		t->nips = n;
	}
	return 0;
}
