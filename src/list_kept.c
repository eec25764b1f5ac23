/*
 * list_kept.c: lists of tokens this worker answered lately, each kept
 * whole under the stamp it was written under (store_list_stamp), so that
 * the same user's same list later in that second, none of their tokens
 * changed since, is answered without walking the store.  A page that
 * polls, or a script listing in a loop, asks for the same list again and
 * again; the walk, its records' decoding and their JSON were four fifths
 * of a list's work.
 *
 * Only lists that depend on nothing but the store are kept: not those of
 * active or expired tokens, whose rows move with the clock, nor one too
 * long to keep whole.  A slot holds one user's list (by a hash of the id);
 * another's takes it over.
 */
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "patgate.h"

#define LIST_KEPT_SLOTS		32	/* a power of two */
#define LIST_KEPT_BYTES		(32 * 1024)	/* a hundred tokens' list */
#define LIST_KEPT_QUERY		128

struct list_kept {
	char		 user_id[UUID_LEN + 1];
	char		 query[LIST_KEPT_QUERY];
	struct store_list_stamp stamp;
	char		*body;
	size_t		 len;
};

static struct list_kept list_kept[LIST_KEPT_SLOTS];

static struct list_kept *
list_kept_slot(const char *user_id)
{
	return &list_kept[fnv1a(user_id) & (LIST_KEPT_SLOTS - 1)];
}

const char *
list_kept_get(const char *user_id, const char *query,
    const struct store_list_stamp *stamp, size_t *len)
{
	struct list_kept *k = list_kept_slot(user_id);

	if (k->body == NULL || !store_list_stamp_same(&k->stamp, stamp) ||
	    strcmp(k->user_id, user_id) != 0 ||
	    strcmp(k->query, query != NULL ? query : "") != 0)
		return NULL;
	*len = k->len;
	return k->body;
}

void
list_kept_put(const char *user_id, const char *query,
    const struct store_list_stamp *stamp, const char *body, size_t len)
{
	struct list_kept *k = list_kept_slot(user_id);
	char		*copy;

	if (query == NULL)
		query = "";
	if (len > LIST_KEPT_BYTES || strlen(query) >= LIST_KEPT_QUERY ||
	    strlen(user_id) > UUID_LEN)
		return;
	if ((copy = realloc(k->body, len > 0 ? len : 1)) == NULL)
		return;
	memcpy(copy, body, len);
	k->body = copy;
	k->len = len;
	k->stamp = *stamp;
	memcpy(k->user_id, user_id, strlen(user_id) + 1);
	memcpy(k->query, query, strlen(query) + 1);
}
