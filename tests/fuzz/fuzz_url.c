/* fuzz_url.c — url_decode, url_split and url_query_get.  Input: a flags
 * byte, a query key line, then the rest as a path or query string.  Each
 * output buffer is allocated at exactly the size the contract promises, so
 * ASan sees any write past it. */
#include "fuzz.h"
#include "url.h"

#define MAX_SEG 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	char *key = fuzz_take_line(&data, &size);
	const char *src = (const char *)data;

	/* url_decode into exactly len + 1 bytes. */
	char *dst = malloc(size + 1);
	if (dst == NULL)
		abort();
	cd_rc rc = url_decode(src, size, dst, flags & 1);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(strlen(dst) <= size);
		/* Decoding in place gives the same result. */
		char *inplace = fuzz_strndup(data, size);
		FUZZ_CHECK(url_decode(inplace, size, inplace, flags & 1) == CD_OK);
		FUZZ_CHECK(strcmp(inplace, dst) == 0);
		free(inplace);

		/* Split the decoded path as the worker does. */
		char *seg[MAX_SEG];
		int count = -1, max = 1 + (flags >> 4) % MAX_SEG;
		rc = url_split(dst, seg, max, &count);
		FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL);
		if (rc == CD_OK) {
			FUZZ_CHECK(count >= 0 && count <= max);
			for (int i = 0; i < count; i++) {
				FUZZ_CHECK(seg[i] >= dst && seg[i] < dst + size + 1);
				FUZZ_CHECK(seg[i][0] != '\0' && strchr(seg[i], '/') == NULL);
			}
		}
	}
	free(dst);

	/* The same bytes as a query string (NUL-terminated, cut at a NUL). */
	char *query = fuzz_strndup(data, size);
	size_t out_sz = (flags >> 1) & 7 ? ((size_t)1 << ((flags >> 1) & 7)) : 0;
	char *out = malloc(out_sz ? out_sz : 1);
	if (out == NULL)
		abort();
	if (url_query_get(query, key, out, out_sz))
		FUZZ_CHECK(out_sz > 0 && memchr(out, '\0', out_sz) != NULL);
	char big[256];
	(void)url_query_get(query, key, big, sizeof big);
	free(out);
	free(query);
	free(key);
	return 0;
}
