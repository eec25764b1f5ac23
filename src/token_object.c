/*
 * token_object.c: the token object of the contract, one writer for every
 * answer that describes a token (create, rotate, list, get) and for the
 * CLI's lines, so that they cannot drift apart.
 */
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/* The token's bindings, each only where set. */
static void
token_object_bindings(struct json_out *w, const struct token_bindings *b)
{
	char	 text[CIDR_TEXT_MAX + 1], n[48];
	size_t	 i;

	if (b->nips > 0) {
		JSON_OUT_LIT(w, ",\"allowed_ips\":[");
		for (i = 0; i < b->nips && i < BIND_IPS_MAX; i++) {
			if (i > 0)
				JSON_OUT_LIT(w, ",");
			binding_cidr_format(&b->ips[i], text);
			json_out_str(w, text);
		}
		JSON_OUT_LIT(w, "]");
	}
	if (b->npaths > 0) {
		JSON_OUT_LIT(w, ",\"paths\":[");
		for (i = 0; i < b->npaths && i < BIND_PATHS_MAX; i++) {
			if (i > 0)
				JSON_OUT_LIT(w, ",");
			json_out_str(w, b->paths[i]);
		}
		JSON_OUT_LIT(w, "]");
	}
	if (b->rate_limit > 0) {
		snprintf(n, sizeof(n), ",\"rate_limit\":%ld", b->rate_limit);
		json_out_raw(w, n, strlen(n));
	}
	if (b->canary)
		JSON_OUT_LIT(w, ",\"canary\":true");
}

void
token_object_write(struct json_out *w, const struct token_rec *t,
    const char *token, unsigned flags)
{
	size_t		 i;

	JSON_OUT_LIT(w, "\"id\":");
	json_out_str(w, t->id);
	JSON_OUT_LIT(w, ",\"name\":");
	json_out_str(w, t->name);
	JSON_OUT_LIT(w, ",\"abilities\":[");
	for (i = 0; i < t->nabilities; i++) {
		if (i > 0)
			JSON_OUT_LIT(w, ",");
		json_out_str(w, t->abilities[i]);
	}
	JSON_OUT_LIT(w, "]");
	if (token != NULL) {
		JSON_OUT_LIT(w, ",\"token\":");
		json_out_str(w, token);
	}
	JSON_OUT_LIT(w, ",\"created_at\":");
	json_out_time(w, t->created_at);
	JSON_OUT_LIT(w, ",\"expires_at\":");
	json_out_time(w, t->expires_at);
	if (!(flags & TOKEN_OBJ_NEW)) {
		JSON_OUT_LIT(w, ",\"last_used_at\":");
		json_out_time(w, t->last_used_at);
		JSON_OUT_LIT(w, ",\"last_used_ips\":[");
		for (i = 0; i < t->nips && i < TOKEN_IPS_MAX; i++) {
			if (i > 0)
				JSON_OUT_LIT(w, ",");
			JSON_OUT_LIT(w, "{\"ip\":");
			json_out_str(w, t->ips[i].ip);
			JSON_OUT_LIT(w, ",\"at\":");
			json_out_time(w, t->ips[i].at);
			JSON_OUT_LIT(w, "}");
		}
		JSON_OUT_LIT(w, "]");
	}
	token_object_bindings(w, &t->bind);
	if (t->rotated_from[0] != '\0') {
		JSON_OUT_LIT(w, ",\"rotated_from\":");
		json_out_str(w, t->rotated_from);
	}
	if ((flags & TOKEN_OBJ_REVOKED) && t->revoked_at != 0) {
		JSON_OUT_LIT(w, ",\"revoked_at\":");
		json_out_time(w, t->revoked_at);
	}
}
