/* fuzz_token.c: libFuzzer harness for the token forms and bearer parsing. */
#include <stdlib.h>
#include <string.h>

#include "../../src/patgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pat		 p;
	struct session_token	 s;
	const char		*t;
	char			*in, out[160];
	uint32_t		 m, tt, par;

	if ((in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (token_pat_parse(in, &p) == 0 &&
	    token_pat_format(out, sizeof(out), p.number, "", p.core) > 0 &&
	    token_pat_parse(out, &p) != 0)
		abort();	/* what parses must format and parse again */
	(void)token_session_parse(in, &s);
	if ((t = auth_bearer(in)) != NULL)
		(void)token_pat_parse(t, &p);
	(void)token_uuid_valid(size >= UUID_LEN ? in : "");
	(void)hash_params_parse(in, &m, &tt, &par);
	(void)token_crc32(data, size);
	free(in);
	return 0;
}
