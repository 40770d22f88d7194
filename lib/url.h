/* url.h — request paths and query strings. */
#ifndef CD_URL_H
#define CD_URL_H

#include <stdbool.h>
#include <stddef.h>
#include "cd_err.h"

/* Percent-decodes src[0..len) into dst (at least len+1 bytes).  Fails on a
 * bad escape or a decoded NUL.  "+" is kept (paths) unless plus_space. */
cd_rc url_decode(const char *src, size_t len, char *dst, bool plus_space);

/* Splits a decoded path into at most max segments on '/'; empty segments
 * ("//") are an error.  Segments point into path, which is modified. */
cd_rc url_split(char *path, char **seg, int max, int *count);

/* Finds the value of key in a query string ("a=1&b"), decoded, into out.
 * Returns false when key is absent; a key without "=" has value "". */
bool url_query_get(const char *query, const char *key, char *out, size_t out_sz);

#endif
