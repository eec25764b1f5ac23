/* store_codec.c: records to and from their stored bytes (JSON with "v"). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

#define CODEC_VERSION	1

/* Copy string field key of o into dst (size cap); 0, or -1 if absent or too long. */
static int
codec_str(struct json_object *o, const char *key, char *dst, size_t cap)
{
	struct json_object *v;
	int		 len;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
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

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
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
	json_object_object_add(o, "created_at", json_object_new_int64(u->created_at));
	if (u->password[0] != '\0')
		json_object_object_add(o, "password", json_object_new_string(u->password));
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
		(void)codec_str(o, "password", u->password, sizeof(u->password));
		u->created_at = codec_time(o, "created_at");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

char *
store_codec_session(const struct session_rec *s, size_t *len)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(CODEC_VERSION));
	json_object_object_add(o, "user_id", json_object_new_string(s->user_id));
	json_object_object_add(o, "hash", json_object_new_string(s->hash));
	json_object_object_add(o, "created_at", json_object_new_int64(s->created_at));
	json_object_object_add(o, "expires_at", json_object_new_int64(s->expires_at));
	json_object_object_add(o, "revoked_at", json_object_new_int64(s->revoked_at));
	return codec_finish(o, len);
}

int
store_uncodec_session(const void *buf, size_t len, struct session_rec *s)
{
	struct json_object *o;
	int		 rc = -1;

	/* The id is the key; the caller fills it in. */
	memset(s->user_id, 0, sizeof(s->user_id));
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

char *
store_codec_token(const struct token_rec *t, size_t *len)
{
	struct json_object *o = json_object_new_object(), *ab;
	size_t		 i;

	json_object_object_add(o, "v", json_object_new_int(CODEC_VERSION));
	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "user_id", json_object_new_string(t->user_id));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	ab = json_object_new_array();
	for (i = 0; i < t->nabilities; i++)
		json_object_array_add(ab, json_object_new_string(t->abilities[i]));
	json_object_object_add(o, "abilities", ab);
	json_object_object_add(o, "hash", json_object_new_string(t->hash));
	json_object_object_add(o, "created_at", json_object_new_int64(t->created_at));
	json_object_object_add(o, "expires_at", json_object_new_int64(t->expires_at));
	json_object_object_add(o, "revoked_at", json_object_new_int64(t->revoked_at));
	return codec_finish(o, len);
}

int
store_uncodec_token(const void *buf, size_t len, struct token_rec *t)
{
	struct json_object *o, *ab, *item;
	size_t		 i, n;
	int		 rc = -1;

	/* number and last_used_at live elsewhere; the caller fills them in. */
	t->nabilities = 0;
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
	rc = 0;
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
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
		r->count = (long)json_object_get_int64(v);
		r->since = codec_time(o, "since");
		rc = 0;
	}
	json_object_put(o);
	return rc;
}
