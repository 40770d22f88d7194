/* fuzz_multipart.c — multipart_boundary on a Content-Type value (the first
 * line of the input) and multipart_parse on the rest.  When the header
 * yields no boundary the body is parsed with boundary "B" so the body
 * parser is always reached.  Every part must lie inside the body. */
#include "fuzz.h"
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *ctype = fuzz_take_line(&data, &size);
	char boundary[256];
	struct multipart_part parts[MULTIPART_MAX_PARTS];
	int nparts = -1;
	cd_err err;

	cd_rc rc = multipart_boundary(ctype, boundary, sizeof boundary);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK)
		FUZZ_CHECK(boundary[0] != '\0' && strlen(boundary) < sizeof boundary);
	else
		strcpy(boundary, "B");
	/* A small buffer reaches the "boundary too long" path. */
	char small[8];
	(void)multipart_boundary(ctype, small, sizeof small);

	/* The body in its own allocation, so reading past it is caught. */
	char *body = malloc(size ? size : 1);
	if (body == NULL)
		abort();
	if (size)
		memcpy(body, data, size);
	rc = multipart_parse(body, size, boundary, parts, &nparts, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(nparts >= 0 && nparts <= MULTIPART_MAX_PARTS);
		for (int i = 0; i < nparts; i++) {
			FUZZ_CHECK(parts[i].data >= body && parts[i].data <= body + size);
			FUZZ_CHECK(parts[i].len <= (size_t)(body + size - parts[i].data));
			FUZZ_CHECK(memchr(parts[i].name, '\0', sizeof parts[i].name) != NULL);
			FUZZ_CHECK(memchr(parts[i].filename, '\0', sizeof parts[i].filename) != NULL);
		}
	} else {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}
	free(body);
	free(ctype);
	return 0;
}
