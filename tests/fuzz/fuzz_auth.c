/* fuzz_auth.c — auth_parse_basic on an Authorization header value.  The
 * first byte picks the user and password buffer sizes so the "field too
 * long" paths are reached; the rest is the header.  Also round-trips
 * auth_equal. */
#include "fuzz.h"
#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t user_sz = 1 + (data[0] & 0x0f) * 17;         /* 1 .. 256 */
	size_t pass_sz = 1 + ((data[0] >> 4) & 0x0f) * 68;  /* 1 .. 1021 */
	char *header = fuzz_strndup(data + 1, size - 1);
	char *user = malloc(user_sz), *pass = malloc(pass_sz);
	if (user == NULL || pass == NULL)
		abort();

	cd_rc rc = auth_parse_basic(header, user, user_sz, pass, pass_sz);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(memchr(user, '\0', user_sz) != NULL);
		FUZZ_CHECK(memchr(pass, '\0', pass_sz) != NULL);
		FUZZ_CHECK(strchr(user, ':') == NULL);
		size_t ul = strlen(user), pl = strlen(pass);
		FUZZ_CHECK(auth_equal(user, ul, user, ul));
		FUZZ_CHECK(!auth_equal(user, ul, pass, pl) || (ul == pl && memcmp(user, pass, ul) == 0));
	}
	/* The full-size buffers the worker uses. */
	char u[256], p[1024];
	(void)auth_parse_basic(header, u, sizeof u, p, sizeof p);

	free(user);
	free(pass);
	free(header);
	return 0;
}
