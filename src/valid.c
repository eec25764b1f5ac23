/* valid.c: the field rules of a create body; pure, no I/O. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "patgate.h"

/*
 * Decode one UTF-8 sequence at s (n bytes left).  Returns its length and
 * the code point in *cp, or 0 when it is not well-formed.
 */
static size_t
valid_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t	 c;
	size_t		 len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are refused. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int
valid_utf8(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	uint32_t	 cp;
	size_t		 k;

	while (len > 0) {
		if ((k = valid_utf8_next(s, len, &cp)) == 0)
			return 0;
		s += k;
		len -= k;
	}
	return 1;
}

void
field_error_add(struct field_errors *errs, const char *field,
    const char *sentence)
{
	struct json_object *list;

	if (errs->obj == NULL)
		errs->obj = json_object_new_object();
	if (!json_object_object_get_ex(errs->obj, field, &list)) {
		list = json_object_new_array();
		json_object_object_add(errs->obj, field, list);
	}
	json_object_array_add(list, json_object_new_string(sentence));
}

/* Unicode White_Space: what "surrounding whitespace" means for a name. */
static int
valid_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 ||
	    c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

/* Judge the name: trimmed, 1 to 255 code points, no control characters. */
static void
valid_name(struct json_object *v, struct token_input *in,
    struct field_errors *errs)
{
	const unsigned char *s, *start, *end, *p;
	uint32_t	 cp;
	size_t		 len, k, points = 0;

	if (v == NULL || json_object_get_type(v) == json_type_null) {
		field_error_add(errs, "name", "The name field is required.");
		return;
	}
	if (!json_object_is_type(v, json_type_string)) {
		field_error_add(errs, "name", "The name must be a string.");
		return;
	}
	s = (const unsigned char *)json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (!valid_utf8((const char *)s, len)) {
		field_error_add(errs, "name", "The name must be valid UTF-8.");
		return;
	}
	/* Trim: skip leading spaces, remember where the last non-space ends. */
	start = s;
	while (start < s + len &&
	    (k = valid_utf8_next(start, (size_t)(s + len - start), &cp)) &&
	    valid_is_space(cp))
		start += k;
	end = start;
	for (p = start; p < s + len; p += k) {
		k = valid_utf8_next(p, (size_t)(s + len - p), &cp);
		if (!valid_is_space(cp))
			end = p + k;
	}
	if (end == start) {
		field_error_add(errs, "name", "The name field is required.");
		return;
	}
	for (p = start; p < end; p += k) {
		k = valid_utf8_next(p, (size_t)(end - p), &cp);
		if (cp < 0x20 || cp == 0x7f) {
			field_error_add(errs, "name",
			    "The name must not contain control characters.");
			return;
		}
		points++;
	}
	if (points > NAME_MAX_POINTS) {
		field_error_add(errs, "name",
		    "The name must not be greater than 255 characters.");
		return;
	}
	memcpy(in->name, start, (size_t)(end - start));
	in->name[end - start] = '\0';
}

static int
valid_ability_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	    c == '*' || c == '-';
}

/*
 * Judge abilities: null or absent is ["*"]; an array of distinct ability
 * strings.
 */
static void
valid_abilities(struct json_object *v, struct token_input *in,
    struct field_errors *errs)
{
	struct json_object *item;
	const char	*s;
	char		 msg[128];
	size_t		 n, i, j, len;
	int		 bad = 0;

	in->nabilities = 0;
	if (v == NULL || json_object_get_type(v) == json_type_null) {
		strcpy(in->abilities[0], "*");
		in->nabilities = 1;
		return;
	}
	if (!json_object_is_type(v, json_type_array)) {
		field_error_add(errs, "abilities",
		    "The abilities must be an array of strings.");
		return;
	}
	n = json_object_array_length(v);
	if (n > ABILITIES_MAX) {
		field_error_add(errs, "abilities",
		    "The abilities must not have more than 50 items.");
		return;
	}
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_string)) {
			snprintf(msg, sizeof(msg),
			    "The abilities.%zu must be a string.", i);
			field_error_add(errs, "abilities", msg);
			bad = 1;
			continue;
		}
		s = json_object_get_string(item);
		len = (size_t)json_object_get_string_len(item);
		for (j = 0; j < len && valid_ability_char(s[j]); j++)
			continue;
		if (len == 0 || len > ABILITY_MAX_LEN || j != len) {
			snprintf(msg, sizeof(msg),
			    "The abilities.%zu must be 1 to 64 characters of "
			    "A-Z a-z 0-9 _ . : * -.", i);
			field_error_add(errs, "abilities", msg);
			bad = 1;
			continue;
		}
		if (bad)
			continue;
		for (j = 0; j < in->nabilities; j++)
			if (strcmp(in->abilities[j], s) == 0)
				break;
		if (j == in->nabilities)
			memcpy(in->abilities[in->nabilities++], s, len + 1);
	}
}

/*
 * Judge expires_at: absent or null is never; else in the future, within
 * max_days.
 */
static void
valid_expires(struct json_object *v, time_t now, long max_days,
    struct token_input *in, struct field_errors *errs)
{
	char	 msg[128];
	time_t	 t;

	in->expires_at = 0;
	if (v == NULL || json_object_get_type(v) == json_type_null)
		return;
	if (!json_object_is_type(v, json_type_string) ||
	    valid_rfc3339(json_object_get_string(v), &t) == -1) {
		field_error_add(errs, "expires_at",
		    "The expires_at must be an RFC 3339 time such as "
		    "2030-01-15T19:00:00Z.");
		return;
	}
	if (t <= now) {
		field_error_add(errs, "expires_at",
		    "The expires_at must be a time in the future.");
		return;
	}
	if ((long long)t - (long long)now > (long long)max_days * 86400) {
		snprintf(msg, sizeof(msg),
		    "The expires_at must not be more than %ld days ahead.",
		    max_days);
		field_error_add(errs, "expires_at", msg);
		return;
	}
	in->expires_at = t;
}

int
valid_token_input(struct json_object *body, time_t now, long max_days,
    struct token_input *in, struct field_errors *errs)
{
	struct json_object *v;

	memset(in, 0, sizeof(*in));
	valid_name(json_object_object_get_ex(body, "name", &v) ? v : NULL, in,
	    errs);
	valid_abilities(json_object_object_get_ex(body, "abilities", &v) ?
	    v : NULL, in, errs);
	valid_expires(json_object_object_get_ex(body, "expires_at", &v) ?
	    v : NULL, now, max_days, in, errs);
	valid_token_bindings(body, &in->bind, errs);
	return errs->obj == NULL ? 0 : -1;
}

int
valid_rotate_input(struct json_object *body, time_t now, long max_days,
    time_t *expires_at, int *given, struct field_errors *errs)
{
	struct json_object *v;
	struct token_input in;

	*given = json_object_object_get_ex(body, "expires_at", &v);
	valid_expires(*given ? v : NULL, now, max_days, &in, errs);
	*expires_at = in.expires_at;
	return errs->obj == NULL ? 0 : -1;
}

void
valid_expiry_required(struct json_object *body, struct field_errors *errs)
{
	struct json_object *v;

	if (body == NULL ||
	    !json_object_object_get_ex(body, "expires_at", &v) ||
	    json_object_get_type(v) == json_type_null)
		field_error_add(errs, "expires_at",
		    "The expires_at field is required: every token must "
		    "expire.");
}

/*
 * A required string field: non-empty, its bytes returned (NULL when it fails).
 */
static const char *
valid_required_string(struct json_object *body, const char *field, size_t *len,
    struct field_errors *errs)
{
	struct json_object *v;
	char		 msg[64];

	if (!json_object_object_get_ex(body, field, &v) ||
	    json_object_get_type(v) == json_type_null ||
	    (json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0)) {
		snprintf(msg, sizeof(msg), "The %s field is required.", field);
		field_error_add(errs, field, msg);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(msg, sizeof(msg), "The %s must be a string.", field);
		field_error_add(errs, field, msg);
		return NULL;
	}
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

int
valid_login_input(struct json_object *body, struct login_input *in,
    struct field_errors *errs)
{
	size_t	 len;

	memset(in, 0, sizeof(*in));
	/*
	 * Presence and type only: anything else simply fails to match a user.
	 */
	in->email = valid_required_string(body, "email", &len, errs);
	in->password = valid_required_string(body, "password",
	    &in->password_len, errs);
	return errs->obj == NULL ? 0 : -1;
}

/* Read exactly n digits at s into *out. */
static int
valid_digits(const char *s, int n, int *out)
{
	int	 v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long
valid_days_from_civil(int y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
valid_rfc3339(const char *s, time_t *out)
{
	static const int mdays[] =
	    { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int		 y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, leap;
	long long	 t;
	const char	*p;

	if (valid_digits(s, 4, &y) || s[4] != '-' ||
	    valid_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    valid_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    valid_digits(s + 11, 2, &h) || s[13] != ':' ||
	    valid_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    valid_digits(s + 17, 2, &sec))
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			continue;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		sign = 0;
	else if ((*p == '+' || *p == '-') && valid_digits(p + 1, 2, &oh) == 0 &&
	    p[3] == ':' && valid_digits(p + 4, 2, &om) == 0 && p[6] == '\0' &&
	    oh <= 23 && om <= 59)
		sign = *p == '+' ? 1 : -1;
	else
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (sec == 60)		/* a leap second counts as the next second */
		sec = 59;
	t = valid_days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 +
	    sec;
	t -= sign * (oh * 3600LL + om * 60);
	if (sizeof(time_t) < 8 && (t > INT32_MAX || t < INT32_MIN))
		return -1;
	*out = (time_t)t;
	return 0;
}

void
valid_time_format(time_t t, char out[21])
{
	struct tm	 tm;
	long long	 days, secs, era, doe, yoe, doy, mp, y, m, d;
	int		 i;
	long long	 part[6];
	static const int width[6] = { 4, 2, 2, 2, 2, 2 };
	static const char after[6] = { '-', '-', 'T', ':', ':', 'Z' };
	char		*o = out;

	/*
	 * Years 1970 to 9999, the API's range, by arithmetic: a list writes
	 * many.
	 */
	if (t < 0 || t > 253402300799LL) {
		gmtime_r(&t, &tm);
		strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	days = (long long)t / 86400;
	secs = (long long)t % 86400;
	/*
	 * Days since 1970-01-01 to a civil date (the proleptic Gregorian
	 * calendar).
	 */
	days += 719468;
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	part[0] = y;
	part[1] = m;
	part[2] = d;
	part[3] = secs / 3600;
	part[4] = secs / 60 % 60;
	part[5] = secs % 60;
	for (i = 0; i < 6; i++) {
		unsigned v = (unsigned)part[i];
		int	 k;

		for (k = width[i] - 1; k >= 0; k--, v /= 10)
			o[k] = (char)('0' + v % 10);
		o += width[i];
		*o++ = after[i];
	}
	*o = '\0';
}
