/* multipart.h — multipart/form-data bodies (RFC 7578) held in memory. */
#ifndef CD_MULTIPART_H
#define CD_MULTIPART_H

#include <stddef.h>
#include "cd_err.h"

#define MULTIPART_MAX_PARTS 64

struct multipart_part {
	char name[128];      /* form field name */
	char filename[256];  /* "" when none */
	const char *data;    /* points into the body */
	size_t len;
};

/* Reads the boundary from a Content-Type header value.  CD_EINVAL when the
 * type is not multipart/form-data or the boundary is missing or too long. */
cd_rc multipart_boundary(const char *content_type, char *boundary, size_t sz);

/* Parses body into parts (pointing into body).  CD_EINVAL for a missing
 * first boundary, an unterminated part, bad part headers, or more than
 * MULTIPART_MAX_PARTS parts. */
cd_rc multipart_parse(const char *body, size_t len, const char *boundary,
                      struct multipart_part *parts, int *nparts, cd_err *err);

#endif
