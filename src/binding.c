/*
 * binding.c: what a token is bound to besides its abilities, judged at a
 * request: the address blocks it may come from, the paths it may reach,
 * and the alarm a canary raises.  The rate limit's count is the store's
 * (store_rate.c), shared by every worker of the host.
 */
#include <arpa/inet.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patgate.h"

/* ::ffff:0:0/96, under which an IPv4 address is held. */
static const unsigned char v4_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/*
 * Parse a bare address (no block, no zone) into 16 bytes.  1 for IPv4
 * (mapped), 2 for IPv6, 0 when it is not an address.
 */
static int
binding_addr_parse(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		memcpy(out, v4_mapped, sizeof(v4_mapped));
		return 1;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return 2;
	return 0;
}

/* Are the first bits bits of a and b the same? */
static int
binding_prefix_equal(const unsigned char *a, const unsigned char *b,
    unsigned bits)
{
	unsigned	 whole = bits / 8, rest = bits % 8;
	unsigned char	 mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
binding_cidr_parse(const char *s, struct cidr *c, const char **why)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/'), *d;
	unsigned	 bits = 0, most;
	size_t		 n;
	int		 kind, i;

	n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host)) {
		*why = "is not an IPv4 or IPv6 address or block";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if ((kind = binding_addr_parse(host, c->addr)) == 0) {
		*why = "is not an IPv4 or IPv6 address or block";
		return -1;
	}
	most = kind == 1 ? 32 : 128;
	if (slash == NULL)
		bits = most;
	else {
		/*
		 * Decimal digits only, no sign, no leading zero: "/08" is
		 * refused.
		 */
		d = slash + 1;
		if (*d == '\0' || strlen(d) > 3 ||
		    (d[0] == '0' && d[1] != '\0')) {
			*why =
			    "has a prefix length that is not a number in range";
			return -1;
		}
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9') {
				*why = "has a prefix length that is not a "
				    "number in range";
				return -1;
			}
			bits = bits * 10 + (unsigned)(*d - '0');
		}
		if (bits > most) {
			*why =
			    "has a prefix length that is not a number in range";
			return -1;
		}
	}
	c->bits = (unsigned char)(kind == 1 ? bits + 96 : bits);
	/* Host bits below the prefix: a typo for another block, refused. */
	for (i = c->bits; i < 128; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "has host bits set below its prefix length";
			return -1;
		}
	return 0;
}

void
binding_cidr_format(const struct cidr *c, char out[CIDR_TEXT_MAX + 1])
{
	char	 host[INET6_ADDRSTRLEN];

	if (c->bits >= 96 &&
	    memcmp(c->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		if (inet_ntop(AF_INET, c->addr + 12, host,
		    sizeof(host)) == NULL)
			host[0] = '\0';
		snprintf(out, CIDR_TEXT_MAX + 1, "%s/%u", host,
		    (unsigned)c->bits - 96);
		return;
	}
	if (inet_ntop(AF_INET6, c->addr, host, sizeof(host)) == NULL)
		host[0] = '\0';
	snprintf(out, CIDR_TEXT_MAX + 1, "%s/%u", host, (unsigned)c->bits);
}

int
binding_addr_ok(const struct token_bindings *b, const char *addr)
{
	unsigned char	 a[16];
	size_t		 i;

	if (b->nips == 0)
		return 1;
	if (addr == NULL || binding_addr_parse(addr, a) == 0)
		return 0;
	for (i = 0; i < b->nips && i < BIND_IPS_MAX; i++)
		if (binding_prefix_equal(a, b->ips[i].addr, b->ips[i].bits))
			return 1;
	return 0;
}

int
binding_path_ok(const struct token_bindings *b, const char *path)
{
	size_t	 i;

	if (b->npaths == 0)
		return 1;
	for (i = 0; i < b->npaths && i < BIND_PATHS_MAX; i++)
		if (rules_pattern_match(b->paths[i], path))
			return 1;
	return 0;
}

/*
 * The canary use waiting for its answer to go out: one at most, since a
 * worker answers one request at a time.
 */
static struct {
	int		 pending;
	struct token_rec t;
	struct json_object *details;
	time_t		 at;
} canary_note;

void
binding_canary_seen(struct store *st, const struct token_rec *t,
    const struct request *req, const char *method, const char *uri, time_t now)
{
	struct json_object *d;
	unsigned long	 uses = 1;

	if (st == NULL || !store_canary_due(st, t->number, now, &uses))
		return;
	if ((d = json_object_new_object()) == NULL)
		return;
	json_object_object_add(d, "addr",
	    json_object_new_string(req->remote_addr));
	json_object_object_add(d, "method",
	    json_object_new_string(method != NULL ? method : "-"));
	json_object_object_add(d, "path",
	    json_object_new_string(uri != NULL ? uri : "-"));
	json_object_object_add(d, "user_agent",
	    req->user_agent != NULL ? json_object_new_string(req->user_agent) :
	    NULL);
	json_object_object_add(d, "uses", json_object_new_int64((int64_t)uses));
	json_object_put(canary_note.details);
	canary_note.t = *t;
	/* The hash stays behind: an event never holds one. */
	explicit_bzero(canary_note.t.hash, sizeof(canary_note.t.hash));
	canary_note.details = d;
	canary_note.at = now;
	canary_note.pending = 1;
}

void
binding_canary_flush(struct store *st)
{
	char	 num[24];

	if (!canary_note.pending)
		return;
	canary_note.pending = 0;
	if (st != NULL && store_event_queue(st, "token.canary", &canary_note.t,
	    canary_note.at, canary_note.details) != STORE_OK) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)canary_note.t.number);
		log_error("patgate.fcgi: token.canary for token %s could not "
		    "be queued", num);
	}
	json_object_put(canary_note.details);
	canary_note.details = NULL;
}
