/* fuzz_body.c: libFuzzer harness for the create body's field rules. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/patgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	struct field_errors	 errs = { NULL };
	struct token_input	 in;
	char			*s, when[21];
	time_t			 t;

	if (size > REQUEST_BODY_MAX || !valid_utf8((const char *)data, size))
		return 0;
	if ((tok = json_tokener_new()) == NULL)
		return 0;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (o != NULL && json_object_is_type(o, json_type_object)) {
		if (valid_token_input(o, 1800000000, 366, &in, &errs) == 0) {
			if (!valid_utf8(in.name, strlen(in.name)) || in.nabilities > ABILITIES_MAX)
				abort();
		} else if (errs.obj == NULL)
			abort();	/* a refusal always names a field */
		json_object_put(errs.obj);
	}
	json_object_put(o);
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (valid_rfc3339(s, &t) == 0)
			valid_time_format(t, when);
		free(s);
	}
	return 0;
}
