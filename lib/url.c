/* url.c — percent-decoding (RFC 3986 section 2.1), path segments and query
 * strings.  Every function is bounded by its arguments: nothing reads past
 * len or writes past the caller's buffer. */
#include "url.h"

#include <string.h>

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes forward, so dst may equal src (the output is never longer). */
cd_rc url_decode(const char *src, size_t len, char *dst, bool plus_space)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '%') {
			if (len - i < 3)
				return CD_EINVAL;
			int hi = hex_value((unsigned char)src[i + 1]);
			int lo = hex_value((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return CD_EINVAL;
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (ch == '+' && plus_space) {
			ch = ' ';
		}
		if (ch == '\0')
			return CD_EINVAL;
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return CD_OK;
}

/* "/a/b" and "a/b" give {a, b}; "" and "/" give no segment.  A single
 * leading '/' is the root; any other empty segment ("a//b", "a/") fails,
 * as does a path with more than max segments. */
cd_rc url_split(char *path, char **seg, int max, int *count)
{
	int n = 0;
	char *p = path;

	*count = 0;
	if (*p == '/')
		p++;
	if (*p == '\0')
		return CD_OK;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash == p || *p == '\0')
			return CD_EINVAL;
		if (n == max)
			return CD_EINVAL;
		seg[n++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	*count = n;
	return CD_OK;
}

/* Keys are compared decoded, so "%6Fffset" finds "offset".  A value that is
 * badly escaped or longer than out_sz - 1 is given as "\x01" (present, and
 * invalid for every validator) rather than silently truncated. */
bool url_query_get(const char *query, const char *key, char *out, size_t out_sz)
{
	size_t klen = strlen(key);
	const char *p = query;

	if (query == NULL || out_sz == 0)
		return false;
	while (*p) {
		size_t plen = strcspn(p, "&");
		size_t nlen = strcspn(p, "=&");
		char name[128];

		if (nlen < sizeof name && url_decode(p, nlen, name, true) == CD_OK &&
		    strlen(name) == klen && memcmp(name, key, klen) == 0) {
			const char *v = p + nlen;
			size_t vlen = 0;
			if (nlen < plen) { /* skip the '=' */
				v++;
				vlen = plen - nlen - 1;
			}
			if (vlen >= out_sz) {
				if (out_sz >= 2)
					out[0] = '\x01', out[1] = '\0';
				else
					out[0] = '\0';
				return true;
			}
			if (url_decode(v, vlen, out, true) != CD_OK) {
				if (out_sz >= 2)
					out[0] = '\x01', out[1] = '\0';
				else
					out[0] = '\0';
			}
			return true;
		}
		p += plen;
		if (*p)
			p++;
	}
	return false;
}
