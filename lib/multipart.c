/* multipart.c — multipart/form-data (RFC 7578, framing from RFC 2046
 * section 5.1.1) parsed in place.  A delimiter is "--boundary" at the start
 * of the body or of a line, followed by "--" (the end) or by optional
 * spaces and a line break; the same bytes anywhere else are data.  Lines
 * may end in CRLF or a bare LF. */
#include "multipart.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MULTIPART_MAX_BOUNDARY 200   /* RFC 2046 allows 70; be lenient */
#define MULTIPART_MAX_HEADERS 8192   /* bytes of headers in one part */

/* Reads one parameter value (token or quoted-string) at *p into out.
 * Returns false when it does not fit or the quotes are not closed. */
static bool param_value(const char **p, const char *end, char *out, size_t sz)
{
	const char *s = *p;
	size_t o = 0;

	if (s < end && *s == '"') {
		s++;
		while (s < end && *s != '"') {
			if (*s == '\\' && s + 1 < end)
				s++;
			if (o + 1 >= sz)
				return false;
			out[o++] = *s++;
		}
		if (s >= end)
			return false;
		s++; /* closing quote */
	} else {
		while (s < end && *s != ';' && !isspace((unsigned char)*s)) {
			if (o + 1 >= sz)
				return false;
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	*p = s;
	return true;
}

cd_rc multipart_boundary(const char *content_type, char *boundary, size_t sz)
{
	static const char type[] = "multipart/form-data";
	const char *p = content_type;
	const char *end;

	if (p == NULL || sz == 0)
		return CD_EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, type, sizeof type - 1) != 0)
		return CD_EINVAL;
	p += sizeof type - 1;
	end = p + strlen(p);
	if (*p != ';' && *p != ' ' && *p != '\t')
		return CD_EINVAL;
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		size_t nlen = (size_t)(p - name);
		if (p < end && *p == '=') {
			char value[MULTIPART_MAX_BOUNDARY + 1];
			p++;
			if (!param_value(&p, end, value, sizeof value))
				return CD_EINVAL;
			if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
				size_t vlen = strlen(value);
				if (vlen == 0 || vlen >= sz)
					return CD_EINVAL;
				memcpy(boundary, value, vlen + 1);
				return CD_OK;
			}
		}
	}
	return CD_EINVAL;
}

/* Finds the next delimiter at or after from: returns its position (the
 * "--" that starts it) or NULL.  body is needed to know whether a hit at
 * its first byte starts a line. */
static const char *find_delim(const char *body, const char *from, const char *end,
                              const char *dash_b, size_t dlen)
{
	const char *p = from;
	while (p < end && (size_t)(end - p) >= dlen) {
		const char *hit = memmem(p, (size_t)(end - p), dash_b, dlen);
		if (hit == NULL)
			return NULL;
		bool line_start = hit == body || hit[-1] == '\n';
		const char *after = hit + dlen;
		bool ends_ok = false;
		if (line_start) {
			if (end - after >= 2 && after[0] == '-' && after[1] == '-') {
				ends_ok = true;
			} else {
				const char *q = after;
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
				ends_ok = q < end && (*q == '\n' ||
				                      (*q == '\r' && q + 1 < end && q[1] == '\n'));
			}
		}
		if (line_start && ends_ok)
			return hit;
		p = hit + 1;
	}
	return NULL;
}

/* Skips the rest of the delimiter line; returns the next line or NULL. */
static const char *after_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : NULL;
}

/* Parses the Content-Disposition value into the part's name and filename. */
static cd_rc parse_disposition(const char *v, const char *end,
                               struct multipart_part *part, cd_err *err)
{
	bool have_name = false;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if ((size_t)(end - v) < 9 || strncasecmp(v, "form-data", 9) != 0)
		return cd_fail(err, CD_EINVAL, "multipart part is not form-data");
	v += 9;
	while (v < end) {
		while (v < end && (*v == ';' || *v == ' ' || *v == '\t'))
			v++;
		const char *name = v;
		while (v < end && *v != '=' && *v != ';')
			v++;
		size_t nlen = (size_t)(v - name);
		while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (v >= end)
			break;
		if (*v != '=') /* a parameter without a value */
			continue;
		v++;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		char value[256];
		if (!param_value(&v, end, value, sizeof value))
			return cd_fail(err, CD_EINVAL,
			               "multipart part has a bad or too long parameter");
		if (nlen == 4 && strncasecmp(name, "name", 4) == 0) {
			if (strlen(value) >= sizeof part->name)
				return cd_fail(err, CD_EINVAL, "multipart field name too long");
			strcpy(part->name, value);
			have_name = true;
		} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0) {
			strcpy(part->filename, value); /* value < 256 == sizeof filename */
		}
	}
	if (!have_name)
		return cd_fail(err, CD_EINVAL, "multipart part has no field name");
	return CD_OK;
}

/* Reads the part headers from *p up to the blank line; *p then points at
 * the data. */
static cd_rc parse_part_headers(const char **p, const char *end,
                                struct multipart_part *part, cd_err *err)
{
	const char *s = *p;
	const char *limit = end - s > MULTIPART_MAX_HEADERS ? s + MULTIPART_MAX_HEADERS : end;
	bool have_disposition = false;

	for (;;) {
		const char *nl = memchr(s, '\n', (size_t)(limit - s));
		if (nl == NULL)
			return cd_fail(err, CD_EINVAL, "multipart part headers are not terminated");
		const char *eol = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
		if (eol == s) { /* blank line */
			*p = nl + 1;
			break;
		}
		const char *colon = memchr(s, ':', (size_t)(eol - s));
		if (colon == NULL)
			return cd_fail(err, CD_EINVAL, "multipart part has a malformed header");
		if (colon - s == 19 && strncasecmp(s, "Content-Disposition", 19) == 0) {
			cd_rc rc = parse_disposition(colon + 1, eol, part, err);
			if (rc != CD_OK)
				return rc;
			have_disposition = true;
		}
		s = nl + 1;
	}
	if (!have_disposition)
		return cd_fail(err, CD_EINVAL, "multipart part has no Content-Disposition");
	return CD_OK;
}

cd_rc multipart_parse(const char *body, size_t len, const char *boundary,
                      struct multipart_part *parts, int *nparts, cd_err *err)
{
	char dash_b[MULTIPART_MAX_BOUNDARY + 3];
	size_t blen = boundary ? strlen(boundary) : 0;
	const char *end = body + len;
	int n = 0;

	*nparts = 0;
	if (blen == 0 || blen > MULTIPART_MAX_BOUNDARY)
		return cd_fail(err, CD_EINVAL, "multipart boundary is missing or too long");
	dash_b[0] = dash_b[1] = '-';
	memcpy(dash_b + 2, boundary, blen);
	size_t dlen = blen + 2;

	const char *d = find_delim(body, body, end, dash_b, dlen);
	if (d == NULL)
		return cd_fail(err, CD_EINVAL, "multipart body does not start with its boundary");
	for (;;) {
		const char *after = d + dlen;
		if (end - after >= 2 && after[0] == '-' && after[1] == '-')
			break; /* close delimiter: the epilogue is ignored */
		const char *p = after_line(after, end);
		if (p == NULL)
			return cd_fail(err, CD_EINVAL, "multipart part is not terminated");
		if (n == MULTIPART_MAX_PARTS)
			return cd_fail(err, CD_EINVAL, "multipart body has more than %d parts",
			               MULTIPART_MAX_PARTS);
		struct multipart_part *part = &parts[n];
		memset(part->name, 0, sizeof part->name);
		memset(part->filename, 0, sizeof part->filename);
		cd_rc rc = parse_part_headers(&p, end, part, err);
		if (rc != CD_OK)
			return rc;
		const char *next = find_delim(body, p, end, dash_b, dlen);
		if (next == NULL)
			return cd_fail(err, CD_EINVAL, "multipart part is not terminated");
		/* The line break before the delimiter belongs to it, not the data. */
		const char *data_end = next;
		if (data_end > p && data_end[-1] == '\n')
			data_end--;
		if (data_end > p && data_end[-1] == '\r')
			data_end--;
		part->data = p;
		part->len = (size_t)(data_end - p);
		n++;
		d = next;
	}
	*nparts = n;
	return CD_OK;
}
