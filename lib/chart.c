/* chart.c — chart archives (libarchive) and Chart.yaml (libyaml → jansson)
 * read the way Helm's pkg/chart/v2 loader reads them.
 *
 * Choices where Helm leaves room or where we are stricter:
 * - Strings that Helm v3.17's Validate passes through sanitizeString are
 *   sanitized while parsing (white space → ' ', unprintable characters
 *   dropped), so the stored metadata is what Helm would index.  Unassigned
 *   code points are kept: there are no Unicode tables here.
 * - All entries must share one top directory; links, devices, absolute and
 *   ".." paths are refused; "\" counts as "/" and "." segments are dropped.
 * - Limits are checked on each tar header's size before its data is
 *   decompressed, so a gzip bomb is refused after one header.
 * - For apiVersion v1, requirements.yaml's dependencies replace Chart.yaml's
 *   (Helm unmarshals the whole file over Metadata; only that key matters).
 * - YAML merge keys ("<<") are not expanded; duplicate keys: the last wins. */
#include "chart.h"
#include "semver.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#define ZLIB_CONST
#include <zlib.h>

#define CHART_MAX_ENTRIES 100000 /* tar entries, directories included */
#define YAML_MAX_NODES 100000    /* nodes once aliases are expanded */
#define YAML_MAX_DEPTH 64        /* nesting once aliases are expanded */
#define YAML_ANCHOR_BUCKETS 1024

/* ==== UTF-8 and Helm's sanitizeString ================================== */

/* Decodes one code point at s[0..n); returns its length, 0 when invalid
 * (overlong, surrogate, beyond U+10FFFF or truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 :
	             (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	uint32_t c = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* True when s[0..n) is valid UTF-8 without NUL. */
static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);
		if (l == 0 || c == 0)
			return false;
		i += l;
	}
	return true;
}

/* Go's unicode.IsSpace. */
static bool cp_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Not unicode.IsPrint: controls, format characters, private use and
 * noncharacters.  Unassigned code points are kept (no Unicode tables here). */
static bool cp_unprintable(uint32_t c)
{
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x1F }, { 0x7F, 0x9F }, { 0xAD, 0xAD }, { 0x600, 0x605 },
		{ 0x61C, 0x61C }, { 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x890, 0x891 },
		{ 0x8E2, 0x8E2 }, { 0x180E, 0x180E }, { 0x200B, 0x200F }, { 0x202A, 0x202E },
		{ 0x2060, 0x2064 }, { 0x2066, 0x206F }, { 0xE000, 0xF8FF }, { 0xFDD0, 0xFDEF },
		{ 0xFEFF, 0xFEFF }, { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD },
		{ 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A },
		{ 0xE0001, 0xE0001 }, { 0xE0020, 0xE007F }, { 0xF0000, 0x10FFFF },
	};
	if ((c & 0xFFFE) == 0xFFFE)
		return true;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
		if (c >= ranges[i][0] && c <= ranges[i][1])
			return true;
	return false;
}

/* Helm's sanitizeString (v3.17): white space becomes ' ', unprintable
 * characters are dropped.  s is valid UTF-8 (libyaml checked it); the
 * result is a new jansson string.  Printable ASCII is kept as it is, so a
 * string made only of it goes straight to jansson. */
static json_t *sanitized_string(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n && p[i] - 0x20u < 0x5Fu)
		i++;
	if (i == n) /* printable ASCII: valid UTF-8 without NUL */
		return json_stringn_nocheck(s, n);
	char *out = malloc(n + 1);
	size_t o = i;
	if (out == NULL)
		return NULL;
	memcpy(out, s, i);
	while (i < n) {
		uint32_t c;
		size_t l;
		if (p[i] - 0x20u < 0x5Fu) {
			out[o++] = s[i++];
			continue;
		}
		l = utf8_decode(p + i, n - i, &c);
		if (l == 0) { /* not reached for libyaml output; drop the byte */
			i++;
			continue;
		}
		if (cp_is_space(c))
			out[o++] = ' ';
		else if (!cp_unprintable(c))
			memcpy(out + o, s + i, l), o += l;
		i += l;
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

/* ==== YAML document tree with bounded aliases =========================== */

enum yn_kind { YN_SCALAR, YN_SEQ, YN_MAP };

/* One YAML node.  Aliases share the anchored node; weight and height count
 * it as if expanded, which is what bounds an alias bomb. */
struct ynode {
	enum yn_kind kind;
	char *text;          /* scalar value as libyaml gives it */
	size_t len;
	bool plain;          /* plain and untagged: may be null, bool or number */
	struct ynode **kids; /* sequence items, or key, value, key, value ... */
	size_t nkids, cap;
	size_t weight;       /* node count after alias expansion */
	int height;          /* nesting levels after alias expansion */
};

struct yanchor {
	char *name;
	struct ynode *node;
	struct yanchor *next;
};

/* A block of the document's arena; data follows the header. */
struct ychunk {
	struct ychunk *next;
	size_t size, used;
};

#define YDOC_INLINE 8192      /* bytes of the first chunk, kept in struct ydoc */
#define YCHUNK_MAX (1u << 20) /* each later chunk doubles, up to this unless one
                                 request is larger */
#define YCHUNK_ONEOFF 1024    /* a request this much under the space left in the
                                 current chunk gets a chunk of its own */
#define YCHUNK_ALIGN 16

/* A parsed document: owns every node and anchor, all allocated from one
 * arena (a list of chunks) so a document costs a few mallocs, not one per
 * node; freed by ydoc_free. */
struct ydoc {
	const char *what; /* file name for messages: "Chart.yaml" */
	struct ynode *root;
	struct ychunk *chunks;
	struct yanchor **anchors; /* YAML_ANCHOR_BUCKETS, made at the first anchor */
	struct ynode *open[YAML_MAX_DEPTH];
	char *open_anchor[YAML_MAX_DEPTH];
	int depth;
	/* The arena's first chunk, inside the document: a Chart.yaml's tree
	 * fits, so most documents need no malloc at all. */
	_Alignas(YCHUNK_ALIGN) unsigned char first_chunk[YDOC_INLINE];
};

/* Releases everything the document owns. */
static void ydoc_free(struct ydoc *doc)
{
	for (struct ychunk *c = doc->chunks, *next; c != NULL; c = next) {
		next = c->next;
		if ((unsigned char *)c != doc->first_chunk)
			free(c);
	}
	doc->chunks = NULL;
	doc->anchors = NULL;
	doc->root = NULL;
	doc->depth = 0;
}

/* n bytes from the document's arena, aligned for any node; NULL when out
 * of memory. */
static void *ydoc_alloc(struct ydoc *doc, size_t n)
{
	const size_t hdr = (sizeof(struct ychunk) + YCHUNK_ALIGN - 1) & ~(size_t)(YCHUNK_ALIGN - 1);
	struct ychunk *c = doc->chunks;
	if (n > SIZE_MAX / 4)
		return NULL;
	n = (n + YCHUNK_ALIGN - 1) & ~(size_t)(YCHUNK_ALIGN - 1);
	if (c == NULL) {
		c = doc->chunks = (struct ychunk *)doc->first_chunk;
		c->next = NULL;
		c->size = YDOC_INLINE - hdr;
		c->used = 0;
	}
	if (c->size - c->used < n) {
		size_t size = c->size * 2;
		if (size > YCHUNK_MAX)
			size = YCHUNK_MAX;
		if (size < n)
			size = n;
		struct ychunk *nc = malloc(hdr + size);
		if (nc == NULL)
			return NULL;
		nc->size = size;
		nc->used = 0;
		if (c->size - c->used >= YCHUNK_ONEOFF && size == n) {
			/* a large one-off block: keep filling the current chunk */
			nc->next = c->next;
			c->next = nc;
			nc->used = n;
			return (char *)nc + hdr;
		}
		nc->next = c;
		doc->chunks = c = nc;
	}
	void *p = (char *)c + hdr + c->used;
	c->used += n;
	return p;
}

/* A NUL-terminated copy of s[0..n) in the arena. */
static char *ydoc_strndup(struct ydoc *doc, const char *s, size_t n)
{
	char *d = ydoc_alloc(doc, n + 1);
	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* A new node in the document's arena; NULL when out of memory. */
static struct ynode *yn_new(struct ydoc *doc, enum yn_kind kind)
{
	struct ynode *n = ydoc_alloc(doc, sizeof *n);
	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->weight = 1;
	n->height = 1;
	return n;
}

/* Bucket of an anchor name (FNV-1a). */
static size_t yanchor_bucket(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % YAML_ANCHOR_BUCKETS;
}

/* Records that name now refers to node (a later anchor hides an earlier). */
static cd_rc yanchor_set(struct ydoc *doc, const char *name, struct ynode *node, cd_err *err)
{
	if (doc->anchors == NULL) {
		doc->anchors = ydoc_alloc(doc, YAML_ANCHOR_BUCKETS * sizeof *doc->anchors);
		if (doc->anchors == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		memset(doc->anchors, 0, YAML_ANCHOR_BUCKETS * sizeof *doc->anchors);
	}
	struct yanchor *a = ydoc_alloc(doc, sizeof *a);
	if (a == NULL || (a->name = ydoc_strndup(doc, name, strlen(name))) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	size_t b = yanchor_bucket(name);
	a->node = node;
	a->next = doc->anchors[b];
	doc->anchors[b] = a;
	return CD_OK;
}

/* The node name refers to; NULL when unknown or still open (recursive). */
static struct ynode *yanchor_get(const struct ydoc *doc, const char *name)
{
	if (doc->anchors == NULL)
		return NULL;
	for (struct yanchor *a = doc->anchors[yanchor_bucket(name)]; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a->node;
	return NULL;
}

/* Adds node under the innermost open container (or as the root), keeping
 * the expanded size and depth within bounds. */
static cd_rc ydoc_attach(struct ydoc *doc, struct ynode *node, cd_err *err)
{
	if (doc->depth + node->height > YAML_MAX_DEPTH)
		return cd_fail(err, CD_EINVAL, "%s: too many aliases/too deep: nesting over %d levels",
		               doc->what, YAML_MAX_DEPTH);
	if (doc->depth == 0) {
		if (doc->root == NULL)
			doc->root = node;
		return CD_OK;
	}
	struct ynode *p = doc->open[doc->depth - 1];
	if (p->nkids == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct ynode **k = cap <= SIZE_MAX / 8 / sizeof *k ?
		                   ydoc_alloc(doc, cap * sizeof *k) : NULL;
		if (k == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		if (p->nkids > 0)
			memcpy(k, p->kids, p->nkids * sizeof *k);
		p->kids = k, p->cap = cap;
	}
	p->kids[p->nkids++] = node;
	p->weight += node->weight;
	if (node->height + 1 > p->height)
		p->height = node->height + 1;
	if (p->weight > YAML_MAX_NODES)
		return cd_fail(err, CD_EINVAL,
		               "%s: too many aliases/too deep: over %d nodes once aliases are expanded",
		               doc->what, YAML_MAX_NODES);
	return CD_OK;
}

/* A scalar event becomes a leaf node. */
static cd_rc ydoc_scalar(struct ydoc *doc, const yaml_event_t *ev, cd_err *err)
{
	struct ynode *n = yn_new(doc, YN_SCALAR);
	if (n == NULL || (n->text = ydoc_strndup(doc, (const char *)ev->data.scalar.value,
	                                         ev->data.scalar.length)) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (ev->data.scalar.anchor != NULL) {
		cd_rc rc = yanchor_set(doc, (const char *)ev->data.scalar.anchor, n, err);
		if (rc != CD_OK)
			return rc;
	}
	return ydoc_attach(doc, n, err);
}

/* A sequence or mapping start opens a container; its anchor is recorded
 * only when it closes, so an alias to it from inside is "unknown". */
static cd_rc ydoc_open(struct ydoc *doc, enum yn_kind kind, const yaml_char_t *anchor, cd_err *err)
{
	if (doc->depth >= YAML_MAX_DEPTH)
		return cd_fail(err, CD_EINVAL, "%s: too many aliases/too deep: nesting over %d levels",
		               doc->what, YAML_MAX_DEPTH);
	struct ynode *n = yn_new(doc, kind);
	char *a = n && anchor ? ydoc_strndup(doc, (const char *)anchor, strlen((const char *)anchor))
	                      : NULL;
	if (n == NULL || (anchor != NULL && a == NULL))
		return cd_fail(err, CD_ENOMEM, "out of memory");
	doc->open[doc->depth] = n;
	doc->open_anchor[doc->depth] = a;
	doc->depth++;
	return CD_OK;
}

/* A sequence or mapping end closes the innermost container. */
static cd_rc ydoc_close(struct ydoc *doc, cd_err *err)
{
	doc->depth--;
	struct ynode *n = doc->open[doc->depth];
	char *anchor = doc->open_anchor[doc->depth];
	cd_rc rc = CD_OK;
	if (anchor != NULL)
		rc = yanchor_set(doc, anchor, n, err);
	return rc != CD_OK ? rc : ydoc_attach(doc, n, err);
}

/* An alias attaches the anchored node again (shared, counted expanded). */
static cd_rc ydoc_alias(struct ydoc *doc, const yaml_event_t *ev, cd_err *err)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct ynode *n = yanchor_get(doc, name);
	if (n == NULL)
		return cd_fail(err, CD_EINVAL, "%s: unknown or recursive alias \"*%.100s\"",
		               doc->what, name);
	return ydoc_attach(doc, n, err);
}

/* Applies one parser event; *done once the first document has ended. */
static cd_rc ydoc_event(struct ydoc *doc, const yaml_event_t *ev, bool *done, cd_err *err)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ydoc_scalar(doc, ev, err);
	case YAML_SEQUENCE_START_EVENT:
		return ydoc_open(doc, YN_SEQ, ev->data.sequence_start.anchor, err);
	case YAML_MAPPING_START_EVENT:
		return ydoc_open(doc, YN_MAP, ev->data.mapping_start.anchor, err);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return ydoc_close(doc, err);
	case YAML_ALIAS_EVENT:
		return ydoc_alias(doc, ev, err);
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT:
		*done = true;
		return CD_OK;
	default:
		return CD_OK;
	}
}

/* libyaml's complaint, with where it happened. */
static cd_rc ydoc_syntax_error(const yaml_parser_t *p, const char *what, cd_err *err)
{
	if (p->error == YAML_MEMORY_ERROR)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	return cd_fail(err, CD_EINVAL, "%s: invalid YAML at line %zu, column %zu: %s%s%s", what,
	               p->problem_mark.line + 1, p->problem_mark.column + 1,
	               p->problem ? p->problem : "syntax error", p->context ? " " : "",
	               p->context ? p->context : "");
}

/* ==== a fast reader for plain block YAML ================================ */

/* Most Chart.yaml files are plain block YAML: mappings and sequences laid
 * out by indentation, one-line plain and quoted scalars, literal blocks,
 * comments.  yfast reads exactly that subset into the tree libyaml's events
 * would build, at a fraction of libyaml's cost (its scanner spends about
 * 200 instructions a byte, the indexer's largest cost per chart).  Anything
 * outside the subset — tabs, CR, non-ASCII bytes, anchors, aliases, tags,
 * directives, document markers, flow collections other than [] and {},
 * escapes, scalars over several lines, "?" keys, folded or keep-chomped
 * blocks — and every syntax error makes it decline; ydoc_load then parses
 * the text with libyaml, so results and error messages stay libyaml's.
 * chart_yaml_fast_agrees checks the two against each other (unit tests,
 * fuzzing). */

struct yfast {
	const char *s;    /* the text */
	size_t n;         /* its length */
	size_t pos;       /* start of the line being looked at */
	struct ydoc *doc;
	cd_err *err;
};

/* Characters that cannot start a plain scalar here (libyaml's indicators;
 * "-", "?" and ":" could when a non-blank follows, but we decline those). */
static bool yf_indicator(char c)
{
	static const bool ind[256] = {
		['\0'] = true, ['-'] = true, ['?'] = true, [':'] = true, [','] = true, ['['] = true,
		[']'] = true, ['{'] = true, ['}'] = true, ['#'] = true, ['&'] = true, ['*'] = true,
		['!'] = true, ['|'] = true, ['>'] = true, ['\''] = true, ['"'] = true, ['%'] = true,
		['@'] = true, ['`'] = true,
	};
	return ind[(unsigned char)c];
}

/* Number of spaces at p. */
static size_t yf_spaces(const struct yfast *y, size_t p)
{
	size_t i = p;
	while (i < y->n && y->s[i] == ' ')
		i++;
	return i - p;
}

/* The end of the line holding p: the position of its '\n', or n. */
static size_t yf_eol(const struct yfast *y, size_t p)
{
	const char *e = memchr(y->s + p, '\n', y->n - p);
	return e ? (size_t)(e - y->s) : y->n;
}

/* The start of the line after the one ending at eol. */
static size_t yf_next_line(const struct yfast *y, size_t eol)
{
	return eol < y->n ? eol + 1 : eol;
}

/* True when a block sequence entry ("-" then a blank) starts at p. */
static bool yf_dash(const struct yfast *y, size_t p)
{
	return p < y->n && y->s[p] == '-' &&
	       (p + 1 == y->n || y->s[p + 1] == ' ' || y->s[p + 1] == '\n');
}

/* Moves y->pos (a line start) to the next line with content, past blank
 * and comment lines, and sets *indent: 1.  0 at the end of the text; -1
 * (decline) at a document marker. */
static int yf_next(struct yfast *y, size_t *indent)
{
	size_t p = y->pos;
	while (p < y->n) {
		size_t ind = yf_spaces(y, p), c = p + ind;
		if (c == y->n)
			break;
		if (y->s[c] == '\n') {
			p = c + 1;
			continue;
		}
		if (y->s[c] == '#') {
			p = yf_next_line(y, yf_eol(y, c));
			continue;
		}
		if (ind == 0 && y->n - c >= 3 &&
		    (memcmp(y->s + c, "---", 3) == 0 || memcmp(y->s + c, "...", 3) == 0) &&
		    (c + 3 == y->n || y->s[c + 3] == ' ' || y->s[c + 3] == '\n'))
			return -1;
		y->pos = p;
		*indent = ind;
		return 1;
	}
	y->pos = y->n;
	return 0;
}

/* True when only spaces, then nothing or a comment, follow p on its line. */
static bool yf_rest_empty(const struct yfast *y, size_t p, size_t eol)
{
	size_t q = p + yf_spaces(y, p);
	if (q > eol)
		q = eol;
	return q == eol || (y->s[q] == '#' && q > p);
}

/* Scans a plain scalar from p to the end of its line; returns the end of
 * its text (trailing spaces dropped) and sets *colon to the ':' that ends it
 * as a key (": " or ":" at the line end), or to eol when none does.  A '#'
 * after a space starts a comment. */
static size_t yf_plain(const struct yfast *y, size_t p, size_t eol, size_t *colon)
{
	static const bool stop[256] = { [' '] = true, [':'] = true };
	const char *s = y->s;
	size_t i = p, end = p;
	*colon = eol;
	while (i < eol) {
		size_t run = i;
		while (i < eol && !stop[(unsigned char)s[i]])
			i++;
		if (i > run)
			end = i;
		if (i == eol)
			break;
		if (s[i] == ':') {
			if (i + 1 == eol || s[i + 1] == ' ') {
				*colon = i;
				break;
			}
			end = ++i;
			continue;
		}
		size_t j = i + 1; /* past a run of spaces: the end, a comment or more text */
		while (j < eol && s[j] == ' ')
			j++;
		if (j == eol || s[j] == '#')
			break;
		i = j;
	}
	return end;
}

/* Attaches a scalar node whose text already lives in the arena. */
static bool yf_emit(struct yfast *y, char *text, size_t len, bool plain)
{
	struct ynode *node = yn_new(y->doc, YN_SCALAR);
	if (node == NULL)
		return false;
	node->text = text;
	node->len = len;
	node->plain = plain;
	return ydoc_attach(y->doc, node, y->err) == CD_OK;
}

/* Attaches a copy of s[p..p+len) as a scalar. */
static bool yf_emit_copy(struct yfast *y, size_t p, size_t len, bool plain)
{
	char *t = ydoc_strndup(y->doc, y->s + p, len);
	return t != NULL && yf_emit(y, t, len, plain);
}

/* A quoted scalar that opens at p and closes on the same line, without
 * escapes other than '' in single quotes; *end is just past it. */
static bool yf_quoted(struct yfast *y, size_t p, size_t eol, size_t *end)
{
	char q = y->s[p];
	char *t = ydoc_alloc(y->doc, eol - p);
	size_t o = 0, i = p + 1;
	if (t == NULL)
		return false;
	for (;; i++) {
		if (i == eol || (q == '"' && y->s[i] == '\\'))
			return false;
		if (y->s[i] == q) {
			if (q == '\'' && i + 1 < eol && y->s[i + 1] == '\'') {
				t[o++] = '\'';
				i++;
				continue;
			}
			break;
		}
		t[o++] = y->s[i];
	}
	t[o] = '\0';
	*end = i + 1;
	return yf_emit(y, t, o, false);
}

/* After a scalar that ended its line: the next content line must not be
 * indented past n (it would continue the scalar, or be an error). */
static bool yf_after_line(struct yfast *y, size_t eol, size_t n)
{
	size_t ind;
	y->pos = yf_next_line(y, eol);
	int r = yf_next(y, &ind);
	return r == 0 || (r == 1 && ind <= n);
}

/* A scalar, [] or {} that takes the rest of the line from p, as the value
 * of a key or an item of a sequence whose block indentation is n. */
static bool yf_inline(struct yfast *y, size_t p, size_t eol, size_t n)
{
	char c = y->s[p];
	size_t end;
	if (c == '"' || c == '\'') {
		if (!yf_quoted(y, p, eol, &end) || !yf_rest_empty(y, end, eol))
			return false;
	} else if ((c == '[' || c == '{') && p + 1 < eol && y->s[p + 1] == (c == '[' ? ']' : '}')) {
		if (!yf_rest_empty(y, p + 2, eol) ||
		    ydoc_open(y->doc, c == '[' ? YN_SEQ : YN_MAP, NULL, y->err) != CD_OK ||
		    ydoc_close(y->doc, y->err) != CD_OK)
			return false;
	} else {
		size_t colon;
		if (yf_indicator(c))
			return false;
		end = yf_plain(y, p, eol, &colon);
		if (colon != eol || !yf_emit_copy(y, p, end - p, true))
			return false;
	}
	return yf_after_line(y, eol, n);
}

/* A literal block scalar ("|" or "|-" at p) as the value of a key of the
 * mapping at indent n; its lines are kept as libyaml keeps them. */
static bool yf_literal(struct yfast *y, size_t p, size_t eol, size_t n)
{
	bool strip = p + 1 < eol && y->s[p + 1] == '-';
	size_t line = yf_next_line(y, eol);
	if (!yf_rest_empty(y, p + 1 + strip, eol) || line == y->n)
		return false;
	size_t k = yf_spaces(y, line);
	if (k <= n || line + k == y->n || y->s[line + k] == '\n')
		return false; /* empty first line or no indentation: libyaml decides */
	char *t = ydoc_alloc(y->doc, y->n - line + 1);
	size_t o = 0, breaks = 0; /* line breaks owed before the next content */
	if (t == NULL)
		return false;
	while (line < y->n) {
		size_t ind = yf_spaces(y, line), e = yf_eol(y, line);
		if (line + ind == e && ind <= k) { /* an empty line */
			breaks += e < y->n;
			line = yf_next_line(y, e);
			continue;
		}
		if (ind < k)
			break;
		while (breaks > 0)
			t[o++] = '\n', breaks--;
		memcpy(t + o, y->s + line + k, e - line - k);
		o += e - line - k;
		if (e == y->n) {
			line = e;
			break;
		}
		breaks = 1;
		line = e + 1;
	}
	/* Clip keeps the last content line's break, strip drops it; the empty
	 * lines after it are dropped either way. */
	if (!strip && breaks > 0)
		t[o++] = '\n';
	t[o] = '\0';
	y->pos = line;
	return yf_emit(y, t, o, false);
}

static bool yf_map(struct yfast *y, size_t n, size_t p);
static bool yf_seq(struct yfast *y, size_t m);

/* An empty value: libyaml's empty plain scalar (null). */
static bool yf_empty(struct yfast *y)
{
	return yf_emit(y, (char *)"", 0, true);
}

/* The value of a key of the mapping at indent n that has nothing after
 * its ':' on the line: a block below it, a sequence at n, or empty. */
static bool yf_below(struct yfast *y, size_t n)
{
	size_t ind;
	int r = yf_next(y, &ind);
	if (r < 0)
		return false;
	if (r == 0)
		return yf_empty(y);
	size_t c = y->pos + ind;
	if (yf_dash(y, c) && ind >= n)
		return yf_seq(y, ind);
	if (ind <= n)
		return yf_empty(y);
	return yf_map(y, ind, c);
}

/* The value of a key of the mapping at indent n, from p (after the ':')
 * on the key's line that ends at eol. */
static bool yf_value(struct yfast *y, size_t p, size_t eol, size_t n)
{
	p += yf_spaces(y, p);
	if (p >= eol || y->s[p] == '#') {
		y->pos = yf_next_line(y, eol);
		return yf_below(y, n);
	}
	if (y->s[p] == '|')
		return yf_literal(y, p, eol, n);
	return yf_inline(y, p, eol, n);
}

/* A block mapping at indent n whose first key starts at p (a line start
 * plus n, or just after a sequence entry's "- "). */
static bool yf_map(struct yfast *y, size_t n, size_t p)
{
	if (ydoc_open(y->doc, YN_MAP, NULL, y->err) != CD_OK)
		return false;
	for (;;) {
		size_t eol = yf_eol(y, p), colon, ind;
		if (yf_indicator(y->s[p]))
			return false;
		size_t end = yf_plain(y, p, eol, &colon);
		if (colon == eol || end - p > 1000 || !yf_emit_copy(y, p, end - p, true) ||
		    !yf_value(y, colon + 1, eol, n))
			return false;
		int r = yf_next(y, &ind);
		if (r < 0 || (r == 1 && ind > n))
			return false;
		if (r == 0 || ind < n)
			break;
		p = y->pos + n;
	}
	return ydoc_close(y->doc, y->err) == CD_OK;
}

/* One sequence entry's content from p on its line (after "- "), in the
 * sequence at indent m: a scalar, or a mapping whose first key is here. */
static bool yf_item(struct yfast *y, size_t p, size_t eol, size_t m)
{
	size_t colon;
	char c = y->s[p];
	if (c == '#' || c == '-' || c == '|' || c == '>')
		return false; /* an empty entry, a nested "- -", a block scalar */
	if (c != '"' && c != '\'' && !yf_indicator(c)) {
		(void)yf_plain(y, p, eol, &colon);
		if (colon != eol) {
			size_t line = y->pos;
			return yf_map(y, p - line, p);
		}
	}
	return yf_inline(y, p, eol, m);
}

/* A block sequence whose entries sit at indent m (y->pos is the first
 * entry's line). */
static bool yf_seq(struct yfast *y, size_t m)
{
	if (ydoc_open(y->doc, YN_SEQ, NULL, y->err) != CD_OK)
		return false;
	for (;;) {
		size_t c = y->pos + m, eol = yf_eol(y, c), ind;
		size_t p = c + 1 + yf_spaces(y, c + 1);
		if (p >= eol || !yf_item(y, p, eol, m))
			return false;
		int r = yf_next(y, &ind);
		if (r < 0 || (r == 1 && ind > m))
			return false;
		if (r == 0 || ind < m || !yf_dash(y, y->pos + m))
			break;
	}
	return ydoc_close(y->doc, y->err) == CD_OK;
}

/* True when s[0..n) holds only printable ASCII and line feeds; eight
 * bytes at a time (each test is exact per byte: no carry crosses bytes
 * once bytes over 0x7F have been ruled out). */
static bool yf_ascii(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, high = ones * 0x80, low7 = ones * 0x7F;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w, x;
		memcpy(&w, s + i, 8);
		x = w ^ (ones * '\n');
		uint64_t not_lf = (((x & low7) + low7) | x) & high;
		uint64_t control = ~(w + ones * 0x60) & high; /* bytes under 0x20 */
		uint64_t del = (w + ones) & high;             /* 0x7F */
		if ((w & high) | del | (control & not_lf))
			return false;
	}
	for (; i < n; i++)
		if (((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E) && s[i] != '\n')
			return false;
	return true;
}

/* Reads text into doc when it is in the subset: true; false (doc to be
 * freed) when libyaml must read it. */
static bool yfast_load(const char *text, size_t len, struct ydoc *doc, cd_err *err)
{
	struct yfast y = { text, len, 0, doc, err };
	size_t ind;
	if (!yf_ascii(text, len))
		return false;
	int r = yf_next(&y, &ind);
	if (r <= 0)
		return r == 0; /* nothing but blanks and comments: no document */
	if (ind != 0 || !yf_map(&y, 0, y.pos))
		return false;
	return yf_next(&y, &ind) == 0;
}

/* Parses the first YAML document of text into doc with libyaml (caller
 * frees with ydoc_free on success; nothing to free on failure). */
static cd_rc ydoc_load_libyaml(const char *text, size_t len, const char *what, struct ydoc *doc,
                               cd_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	cd_rc rc = CD_OK;
	doc->what = what;
	doc->root = NULL;
	doc->chunks = NULL;
	doc->anchors = NULL;
	doc->depth = 0;
	if (!yaml_parser_initialize(&parser))
		return cd_fail(err, CD_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (rc == CD_OK && !done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = ydoc_syntax_error(&parser, what, err);
			break;
		}
		rc = ydoc_event(doc, &ev, &done, err);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc != CD_OK)
		ydoc_free(doc);
	return rc;
}

/* Parses the first YAML document of text into doc (caller frees with
 * ydoc_free on success; nothing to free on failure).  doc->root is NULL
 * for an empty document.  The fast reader first; libyaml when it declines. */
static cd_rc ydoc_load(const char *text, size_t len, const char *what, struct ydoc *doc,
                       cd_err *err)
{
	cd_err scratch = { "" };
	doc->what = what;
	doc->root = NULL;
	doc->chunks = NULL;
	doc->anchors = NULL;
	doc->depth = 0;
	if (yfast_load(text, len, doc, &scratch))
		return CD_OK;
	ydoc_free(doc);
	return ydoc_load_libyaml(text, len, what, doc, err);
}

/* The value of key in mapping m (the last one when repeated), or NULL. */
static const struct ynode *yn_get(const struct ynode *m, const char *key)
{
	const struct ynode *found = NULL;
	if (m == NULL || m->kind != YN_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->nkids; i += 2)
		if (m->kids[i]->kind == YN_SCALAR && strcmp(m->kids[i]->text, key) == 0)
			found = m->kids[i + 1];
	return found;
}

/* YAML null: "", "~", "null" in plain style (YAML 1.1 as yaml.v2 reads it). */
static bool yn_is_null(const struct ynode *n)
{
	return n == NULL || (n->kind == YN_SCALAR && n->plain &&
	                     (n->len == 0 ||
	                      ((n->text[0] == '~' || n->text[0] == 'n' || n->text[0] == 'N') &&
	                       (strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	                        strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0))));
}

/* YAML 1.1 booleans; returns false when s is not one. */
static bool yaml_bool_word(const char *s, bool *val)
{
	static const char *const yes[] = { "true", "yes", "on", "y" };
	static const char *const no[] = { "false", "no", "off", "n" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *val = true, true;
		if (strcasecmp(s, no[i]) == 0)
			return *val = false, true;
	}
	return false;
}

/* ==== YAML tree → JSON, typed by Helm's Metadata struct ================== */

/* What a field must hold; STR_S strings pass through sanitizeString. */
enum ftype { F_STR, F_STR_S, F_STRS_S, F_BOOL, F_STRMAP, F_MAINT, F_DEPS, F_ANY_LIST };

struct field {
	const char *key;
	enum ftype type;
	bool always; /* no omitempty in Helm's struct tag */
};

/* A field's path for messages ("dependencies[3].name"), kept as a chain of
 * steps on the stack and formatted only when a message needs it. */
struct fpath {
	const struct fpath *up; /* NULL for the root, whose text is name */
	char how;               /* '.' a field, 'k' a mapping key, '[' an index */
	const char *name;
	size_t index;
};

static cd_rc field_value(const struct ynode *n, const struct field *f, const struct fpath *path,
                         json_t **out, cd_err *err);

#define PATH_MAX_MSG 160 /* a field's path in messages: dependencies[3].name */

/* Formats one step of a path; a long one is cut, which is fine. */
__attribute__((format(printf, 2, 3)))
static void path_step(char out[PATH_MAX_MSG], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX_MSG, fmt, ap);
	va_end(ap);
}

/* Formats a field path into out, each step cut as a whole path was when
 * paths were formatted eagerly. */
static const char *fpath_str(const struct fpath *p, char *out)
{
	char up[PATH_MAX_MSG];
	if (p->up == NULL) {
		path_step(out, "%s", p->name);
		return out;
	}
	fpath_str(p->up, up);
	if (p->how == '.')
		path_step(out, "%s%s%s", up, *up ? "." : "", p->name);
	else if (p->how == 'k')
		path_step(out, "%s.%.60s", up, p->name);
	else
		path_step(out, "%s[%zu]", up, p->index);
	return out;
}

/* The path as text for one message (the buffer lives until the end of the
 * enclosing block). */
#define PATH_MSG(p) fpath_str((p), (char[PATH_MAX_MSG]){ 0 })

/* True when s[0..n) is all ASCII (so valid UTF-8 once NUL is ruled out). */
static bool ascii_only(const char *s, size_t n)
{
	unsigned char acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= (unsigned char)s[i];
	return acc < 0x80;
}

/* A scalar as a string field: exact text, or sanitized.  Containers fail. */
static cd_rc conv_string(const struct ynode *n, bool sanitize, const struct fpath *path, json_t **out,
                         cd_err *err)
{
	if (yn_is_null(n))
		return *out = json_string(""), *out ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
	if (n->kind != YN_SCALAR)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a string, not a %s", PATH_MSG(path),
		               n->kind == YN_MAP ? "mapping" : "sequence");
	if (!sanitize && memchr(n->text, '\0', n->len) != NULL)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s contains a NUL character", PATH_MSG(path));
	if (sanitize)
		*out = sanitized_string(n->text, n->len);
	else if (ascii_only(n->text, n->len)) /* and no NUL: checked above */
		*out = json_stringn_nocheck(n->text, n->len);
	else
		*out = json_stringn(n->text, n->len);
	return *out ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* A YAML 1.1 boolean (plain scalar, any case) as a bool field. */
static cd_rc conv_bool(const struct ynode *n, const struct fpath *path, json_t **out, cd_err *err)
{
	bool v = false;
	if (!yn_is_null(n) && (n->kind != YN_SCALAR || !n->plain || !yaml_bool_word(n->text, &v)))
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be true or false", PATH_MSG(path));
	*out = json_boolean(v);
	return CD_OK;
}

/* A sequence of strings ([]string). */
static cd_rc conv_strings(const struct ynode *n, bool sanitize, const struct fpath *path, json_t **out,
                          cd_err *err)
{
	if (yn_is_null(n))
		return *out = json_array(), CD_OK;
	if (n->kind != YN_SEQ)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a list of strings", PATH_MSG(path));
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < n->nkids; i++) {
		json_t *s;
		struct fpath sub = { path, '[', NULL, i };
		cd_rc rc = conv_string(n->kids[i], sanitize, &sub, &s, err);
		if (rc != CD_OK)
			return json_decref(arr), rc;
		json_array_append_new(arr, s);
	}
	*out = arr;
	return arr ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* A mapping of strings (map[string]string), keys as written. */
static cd_rc conv_strmap(const struct ynode *n, const struct fpath *path, json_t **out, cd_err *err)
{
	if (yn_is_null(n))
		return *out = json_object(), CD_OK;
	if (n->kind != YN_MAP)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a mapping of strings", PATH_MSG(path));
	json_t *obj = json_object();
	for (size_t i = 0; obj != NULL && i + 1 < n->nkids; i += 2) {
		const struct ynode *k = n->kids[i];
		json_t *v;
		if (k->kind != YN_SCALAR)
			return json_decref(obj),
			       cd_fail(err, CD_EINVAL, "Chart.yaml: %s has a non-string key", PATH_MSG(path));
		struct fpath sub = { path, 'k', k->text, 0 };
		cd_rc rc = conv_string(n->kids[i + 1], false, &sub, &v, err);
		if (rc != CD_OK)
			return json_decref(obj), rc;
		json_object_set_new(obj, k->text, v);
	}
	*out = obj;
	return obj ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* A plain scalar resolved as YAML 1.1 does for an untyped target
 * (interface{}): null, bool, integer, float, else string. */
static json_t *conv_resolve_scalar(const struct ynode *n)
{
	bool b;
	char *end;
	if (yn_is_null(n))
		return json_null();
	if (!n->plain)
		return json_stringn(n->text, n->len);
	if (yaml_bool_word(n->text, &b))
		return json_boolean(b);
	if (n->len > 0 && strspn(n->text, "+-0123456789") == n->len) {
		long long v = strtoll(n->text, &end, 10);
		if (*end == '\0')
			return json_integer(v);
	}
	if (n->len > 0 && strspn(n->text, "+-0123456789.eE") == n->len &&
	    strpbrk(n->text, "0123456789") != NULL) {
		double d = strtod(n->text, &end);
		if (*end == '\0')
			return json_real(d);
	}
	return json_stringn(n->text, n->len);
}

/* Any YAML value as JSON (import-values entries).  Depth is bounded by
 * the loader, size by the alias bound. */
static cd_rc conv_any(const struct ynode *n, const struct fpath *path, json_t **out, cd_err *err)
{
	if (n->kind == YN_SCALAR) {
		*out = conv_resolve_scalar(n);
		return *out ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
	}
	json_t *c = n->kind == YN_SEQ ? json_array() : json_object();
	for (size_t i = 0; c != NULL && i < n->nkids; i += n->kind == YN_SEQ ? 1 : 2) {
		const struct ynode *k = n->kind == YN_MAP ? n->kids[i] : NULL;
		const struct ynode *v = n->kind == YN_MAP ? n->kids[i + 1] : n->kids[i];
		json_t *j;
		if (k != NULL && k->kind != YN_SCALAR)
			return json_decref(c),
			       cd_fail(err, CD_EINVAL, "Chart.yaml: %s has a non-string key", PATH_MSG(path));
		cd_rc rc = conv_any(v, path, &j, err);
		if (rc != CD_OK)
			return json_decref(c), rc;
		if (k != NULL)
			json_object_set_new(c, k->text, j);
		else
			json_array_append_new(c, j);
	}
	*out = c;
	return c ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* A sequence of anything ([]interface{}). */
static cd_rc conv_any_list(const struct ynode *n, const struct fpath *path, json_t **out, cd_err *err)
{
	if (yn_is_null(n))
		return *out = json_array(), CD_OK;
	if (n->kind != YN_SEQ)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a list", PATH_MSG(path));
	return conv_any(n, path, out, err);
}

static const struct field maintainer_fields[] = {
	{ "name", F_STR_S, false }, { "email", F_STR_S, false }, { "url", F_STR_S, false },
	{ NULL, F_STR, false },
};

/* helm/pkg/chart/v2 Dependency, in struct order. */
static const struct field dependency_fields[] = {
	{ "name", F_STR_S, true }, { "version", F_STR_S, false },
	{ "repository", F_STR_S, true }, { "condition", F_STR_S, false },
	{ "tags", F_STRS_S, false }, { "enabled", F_BOOL, false },
	{ "import-values", F_ANY_LIST, false }, { "alias", F_STR, false },
	{ NULL, F_STR, false },
};

/* helm/pkg/chart/v2 Metadata, in struct order (Go marshals in that order). */
static const struct field metadata_fields[] = {
	{ "name", F_STR_S, false }, { "home", F_STR_S, false },
	{ "sources", F_STRS_S, false }, { "version", F_STR, false },
	{ "description", F_STR_S, false }, { "keywords", F_STRS_S, false },
	{ "maintainers", F_MAINT, false }, { "icon", F_STR_S, false },
	{ "apiVersion", F_STR, false }, { "condition", F_STR_S, false },
	{ "tags", F_STR_S, false }, { "appVersion", F_STR_S, false },
	{ "deprecated", F_BOOL, false }, { "annotations", F_STRMAP, false },
	{ "kubeVersion", F_STR_S, false }, { "dependencies", F_DEPS, false },
	{ "type", F_STR, false }, { NULL, F_STR, false },
};

/* Go's omitempty: "", false, empty array or object. */
static bool json_is_empty(const json_t *j)
{
	return (json_is_string(j) && json_string_length(j) == 0) || json_is_false(j) ||
	       (json_is_array(j) && json_array_size(j) == 0) ||
	       (json_is_object(j) && json_object_size(j) == 0);
}

#define STRUCT_MAX_FIELDS 17 /* metadata_fields, the longest table */

/* Builds an object from mapping n following the field table; unknown keys
 * are ignored.  A null or missing n gives an object of the always-fields.
 * One pass over the mapping finds each field's value (the last one when a
 * key repeats, as yn_get would); the object is then built in table order. */
static cd_rc conv_struct(const struct ynode *n, const struct field *fields, const struct fpath *path,
                         json_t **out, cd_err *err)
{
	const struct ynode *val[STRUCT_MAX_FIELDS] = { NULL };
	if (n != NULL && !yn_is_null(n) && n->kind != YN_MAP)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a mapping", PATH_MSG(path));
	for (size_t i = 0; n != NULL && n->kind == YN_MAP && i + 1 < n->nkids; i += 2) {
		const struct ynode *k = n->kids[i];
		if (k->kind != YN_SCALAR)
			continue;
		for (size_t j = 0; fields[j].key != NULL; j++)
			if (k->text[0] == fields[j].key[0] && strcmp(k->text, fields[j].key) == 0) {
				val[j] = n->kids[i + 1];
				break;
			}
	}
	json_t *obj = json_object();
	if (obj == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	for (const struct field *f = fields; f->key != NULL; f++) {
		json_t *v;
		struct fpath sub = { path, '.', f->key, 0 };
		if (val[f - fields] == NULL && !f->always)
			continue; /* absent: its empty value would be omitted */
		cd_rc rc = field_value(val[f - fields], f, &sub, &v, err);
		if (rc != CD_OK)
			return json_decref(obj), rc;
		if (!f->always && json_is_empty(v))
			json_decref(v);
		else
			json_object_set_new_nocheck(obj, f->key, v); /* keys: ASCII constants */
	}
	*out = obj;
	return CD_OK;
}

/* A list of structs ([]*Maintainer, []*Dependency); null items stay null
 * so that chart_validate_meta can reject them as Helm does. */
static cd_rc conv_struct_list(const struct ynode *n, const struct field *fields,
                              const struct fpath *path, json_t **out, cd_err *err)
{
	if (yn_is_null(n))
		return *out = json_array(), CD_OK;
	if (n->kind != YN_SEQ)
		return cd_fail(err, CD_EINVAL, "Chart.yaml: %s must be a list", PATH_MSG(path));
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < n->nkids; i++) {
		json_t *item = json_null();
		cd_rc rc = CD_OK;
		struct fpath sub = { path, '[', NULL, i };
		if (!yn_is_null(n->kids[i]))
			rc = conv_struct(n->kids[i], fields, &sub, &item, err);
		if (rc != CD_OK)
			return json_decref(arr), rc;
		json_array_append_new(arr, item);
	}
	*out = arr;
	return arr ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* One field's JSON value by its Go type (an empty value when absent). */
static cd_rc field_value(const struct ynode *n, const struct field *f, const struct fpath *path,
                         json_t **out, cd_err *err)
{
	switch (f->type) {
	case F_STR: return conv_string(n, false, path, out, err);
	case F_STR_S: return conv_string(n, true, path, out, err);
	case F_STRS_S: return conv_strings(n, true, path, out, err);
	case F_BOOL: return conv_bool(n, path, out, err);
	case F_STRMAP: return conv_strmap(n, path, out, err);
	case F_MAINT: return conv_struct_list(n, maintainer_fields, path, out, err);
	case F_DEPS: return conv_struct_list(n, dependency_fields, path, out, err);
	case F_ANY_LIST: return conv_any_list(n, path, out, err);
	}
	return cd_fail(err, CD_EINVAL, "Chart.yaml: %s has an unknown type", PATH_MSG(path));
}

/* obj's fields in table order, nested structs reordered the same way;
 * other values are shared, not copied.  NULL when out of memory. */
static json_t *struct_reorder(const json_t *obj, const struct field *fields)
{
	json_t *o = json_object();
	for (const struct field *f = fields; o != NULL && f->key != NULL; f++) {
		json_t *v = json_object_get(obj, f->key);
		const struct field *item_fields = f->type == F_MAINT  ? maintainer_fields
		                                  : f->type == F_DEPS ? dependency_fields
		                                                      : NULL;
		if (v == NULL)
			continue;
		if (item_fields == NULL || !json_is_array(v)) {
			if (json_object_set_nocheck(o, f->key, v) != 0)
				json_decref(o), o = NULL;
			continue;
		}
		json_t *list = json_array();
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			json_t *copy = json_is_object(item) ? struct_reorder(item, item_fields)
			                                    : json_incref(item);
			if (json_array_append_new(list, copy) != 0) { /* takes copy either way */
				json_decref(list);
				list = NULL;
				break;
			}
		}
		if (list == NULL || json_object_set_new_nocheck(o, f->key, list) != 0)
			json_decref(o), o = NULL;
	}
	return o;
}

cd_rc chart_meta_from_entry(const char *json, json_t **meta, cd_err *err)
{
	json_error_t jerr;
	json_t *entry = json_loads(json, 0, &jerr);
	*meta = NULL;
	if (!json_is_object(entry)) {
		json_decref(entry);
		return cd_fail(err, CD_EINVAL, "a stored index entry is not a JSON object");
	}
	*meta = struct_reorder(entry, metadata_fields);
	json_decref(entry);
	return *meta ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}

/* The top node must be a mapping (or nothing: an empty Chart.yaml). */
static cd_rc meta_root(const struct ydoc *doc, const struct ynode **root, cd_err *err)
{
	*root = doc->root;
	if (doc->root != NULL && !yn_is_null(doc->root) && doc->root->kind != YN_MAP)
		return cd_fail(err, CD_EINVAL, "%s: the top level must be a mapping", doc->what);
	return CD_OK;
}

/* Re-inserts meta's keys in Metadata struct order: jansson keeps insertion
 * order and Go marshals fields in declaration order.  Needed only after a
 * key was added behind conv_struct's (already ordered) ones. */
static cd_rc meta_reorder(json_t **meta, cd_err *err)
{
	json_t *o = json_object();
	if (o == NULL)
		return json_decref(*meta), *meta = NULL, cd_fail(err, CD_ENOMEM, "out of memory");
	for (const struct field *f = metadata_fields; f->key != NULL; f++) {
		json_t *v = json_object_get(*meta, f->key);
		if (v != NULL)
			json_object_set(o, f->key, v);
	}
	json_decref(*meta);
	*meta = o;
	return CD_OK;
}

/* Metadata JSON from Chart.yaml, with apiVersion defaulted to "v1" and, for
 * v1 charts, dependencies taken from requirements.yaml (req may be NULL). */
static cd_rc meta_from_docs(const struct ydoc *chart, const struct ydoc *req, json_t **meta,
                            cd_err *err)
{
	static const struct fpath top = { NULL, 0, "", 0 };
	static const struct fpath req_top = { NULL, 0, "dependencies (requirements.yaml)", 0 };
	const struct ynode *root, *req_root = NULL;
	bool added = false;
	cd_rc rc = meta_root(chart, &root, err);
	if (rc == CD_OK && req != NULL)
		rc = meta_root(req, &req_root, err);
	if (rc == CD_OK)
		rc = conv_struct(root, metadata_fields, &top, meta, err);
	if (rc != CD_OK)
		return rc;
	if (json_object_get(*meta, "apiVersion") == NULL) {
		json_object_set_new(*meta, "apiVersion", json_string("v1"));
		added = true;
	}
	const char *api = json_string_value(json_object_get(*meta, "apiVersion"));
	const struct ynode *deps = yn_get(req_root, "dependencies");
	if (deps != NULL && api != NULL && strcmp(api, "v1") == 0) {
		json_t *d;
		rc = conv_struct_list(deps, dependency_fields, &req_top, &d, err);
		if (rc != CD_OK)
			return json_decref(*meta), *meta = NULL, rc;
		json_object_del(*meta, "dependencies");
		if (json_array_size(d) > 0) {
			json_object_set_new(*meta, "dependencies", d);
			added = true;
		} else {
			json_decref(d);
		}
	}
	return added ? meta_reorder(meta, err) : CD_OK;
}

cd_rc chart_parse_yaml(const char *text, size_t len, json_t **meta, cd_err *err)
{
	struct ydoc doc;
	cd_rc rc = ydoc_load(text, len, "Chart.yaml", &doc, err);
	if (rc != CD_OK)
		return rc;
	rc = meta_from_docs(&doc, NULL, meta, err);
	ydoc_free(&doc);
	return rc;
}

cd_rc chart_parse_values(const char *text, size_t len, json_t **values, cd_err *err)
{
	struct ydoc doc;
	cd_rc rc = ydoc_load(text, len, "values.yaml", &doc, err);
	if (rc != CD_OK)
		return rc;
	if (yn_is_null(doc.root)) {
		*values = json_object();
		rc = *values ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
	} else if (doc.root->kind != YN_MAP) {
		rc = cd_fail(err, CD_EINVAL, "values.yaml: the top level must be a mapping");
	} else {
		static const struct fpath top = { NULL, 0, "values", 0 };
		rc = conv_any(doc.root, &top, values, err);
	}
	ydoc_free(&doc);
	return rc;
}

/* True when the two trees hold the same nodes and scalars. */
static bool yn_same(const struct ynode *a, const struct ynode *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind || a->nkids != b->nkids)
		return false;
	if (a->kind == YN_SCALAR)
		return a->len == b->len && a->plain == b->plain && memcmp(a->text, b->text, a->len) == 0;
	for (size_t i = 0; i < a->nkids; i++)
		if (!yn_same(a->kids[i], b->kids[i]))
			return false;
	return true;
}

int chart_yaml_fast_agrees(const char *text, size_t len)
{
	struct ydoc fast = { .what = "Chart.yaml" }, slow;
	cd_err scratch = { "" };
	if (!yfast_load(text, len, &fast, &scratch)) {
		ydoc_free(&fast);
		return 0;
	}
	int same = -1;
	if (ydoc_load_libyaml(text, len, "Chart.yaml", &slow, &scratch) == CD_OK) {
		same = yn_same(fast.root, slow.root) ? 1 : -1;
		ydoc_free(&slow);
	}
	ydoc_free(&fast);
	return same;
}

/* ==== Metadata.Validate ================================================= */

/* A string member of obj; "" when absent or not a string. */
static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* Helm requires name == filepath.Base(name); we also refuse "." and ".."
 * because the name becomes a file name in storage. */
static bool chart_name_ok(const char *name)
{
	return strpbrk(name, "/\\") == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Helm's aliasNameFormat ^[a-zA-Z0-9_-]+$. */
static bool alias_ok(const char *alias)
{
	size_t n = strlen(alias);
	return n > 0 &&
	       strspn(alias, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Maintainer.Validate: no null entries. */
static cd_rc validate_maintainers(const json_t *list, cd_err *err)
{
	size_t i;
	const json_t *m;
	if (list != NULL && !json_is_array(list))
		return cd_fail(err, CD_EINVAL, "chart.metadata.maintainers must be a list");
	json_array_foreach(list, i, m)
		if (!json_is_object(m))
			return cd_fail(err, CD_EINVAL,
			               "chart.metadata.maintainers must not contain empty or null nodes");
	return CD_OK;
}

/* One Dependency.Validate, plus the name Helm's resolver needs; *key gets
 * the alias or name for the uniqueness check. */
static cd_rc validate_dependency(const json_t *d, size_t i, const char **key, cd_err *err)
{
	if (!json_is_object(d))
		return cd_fail(err, CD_EINVAL,
		               "chart.metadata.dependencies must not contain empty or null nodes");
	const char *name = jstr(d, "name"), *alias = jstr(d, "alias");
	if (*name == '\0')
		return cd_fail(err, CD_EINVAL, "chart.metadata.dependencies[%zu].name is required", i);
	if (*alias != '\0' && !alias_ok(alias))
		return cd_fail(err, CD_EINVAL, "dependency \"%.200s\" has disallowed characters in the alias",
		               name);
	*key = *alias ? alias : name;
	return CD_OK;
}

/* Every dependency valid and no two sharing a name or alias. */
static cd_rc validate_dependencies(const json_t *list, cd_err *err)
{
	size_t i;
	const json_t *d;
	cd_rc rc = CD_OK;
	if (list != NULL && !json_is_array(list))
		return cd_fail(err, CD_EINVAL, "chart.metadata.dependencies must be a list");
	if (json_array_size(list) == 0)
		return CD_OK;
	json_t *seen = json_object(); /* a hashed set of keys */
	if (seen == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	json_array_foreach(list, i, d) {
		const char *key = "";
		rc = validate_dependency(d, i, &key, err);
		if (rc != CD_OK)
			break;
		if (json_object_get(seen, key) != NULL) {
			rc = cd_fail(err, CD_EINVAL, "more than one dependency with name or alias \"%.200s\"",
			             key);
			break;
		}
		json_object_set_new(seen, key, json_true());
	}
	json_decref(seen);
	return rc;
}

cd_rc chart_validate_meta(const json_t *meta, cd_err *err)
{
	struct semver v;
	if (!json_is_object(meta))
		return cd_fail(err, CD_EINVAL, "chart.metadata is required");
	const char *api = jstr(meta, "apiVersion"), *name = jstr(meta, "name");
	const char *version = jstr(meta, "version"), *type = jstr(meta, "type");
	if (*api == '\0')
		return cd_fail(err, CD_EINVAL, "chart.metadata.apiVersion is required");
	if (*name == '\0')
		return cd_fail(err, CD_EINVAL, "chart.metadata.name is required");
	if (!chart_name_ok(name))
		return cd_fail(err, CD_EINVAL, "chart.metadata.name \"%.200s\" is invalid", name);
	if (*version == '\0')
		return cd_fail(err, CD_EINVAL, "chart.metadata.version is required");
	if (semver_parse(version, &v, NULL) != CD_OK)
		return cd_fail(err, CD_EINVAL, "chart.metadata.version \"%.200s\" is invalid", version);
	if (*type != '\0' && strcmp(type, "application") != 0 && strcmp(type, "library") != 0)
		return cd_fail(err, CD_EINVAL, "chart.metadata.type must be application or library");
	cd_rc rc = validate_maintainers(json_object_get(meta, "maintainers"), err);
	if (rc == CD_OK)
		rc = validate_dependencies(json_object_get(meta, "dependencies"), err);
	return rc;
}

/* ==== the archive ======================================================= */

/* Called for each regular file below the top directory; *stop ends the walk
 * early without error.  *data (NUL-terminated, malloc'd) belongs to the
 * walk unless fn takes it by setting *data to NULL. */
typedef cd_rc (*walk_fn)(const char *rel, char **data, size_t len, void *ctx, bool *stop,
                         cd_err *err);
/* Whether walk_fn wants this file's bytes (others are skipped unread). */
typedef bool (*walk_want_fn)(const char *rel, void *ctx);

/* State of one pass over an archive. */
struct walk {
	struct archive *a;
	char *top;        /* the single top directory, malloc'd */
	char *path;       /* current entry, cleaned, malloc'd */
	const char *rel;  /* within path: below top ("" for top itself) */
	size_t entries;
	int64_t total;    /* bytes of regular files so far */
	bool saw_chart_yaml;
};

/* libarchive's failure as a message about the upload: before the first
 * entry it is the wrong format unless libarchive saw truncated data. */
static cd_rc walk_archive_error(struct walk *w, cd_err *err)
{
	const char *why = archive_error_string(w->a);
	bool truncated = why != NULL && strstr(why, "runcated") != NULL;
	if (w->entries == 0 && !truncated)
		return cd_fail(err, CD_EINVAL, "chart file is not a gzip'd tar archive%s%.200s",
		               why ? ": " : "", why ? why : "");
	return cd_fail(err, CD_EINVAL, "chart archive is truncated or corrupt%s%.200s",
	               why ? ": " : "", why ? why : "");
}

/* Opens buf as a gzip'd tar (and nothing else) for reading. */
static cd_rc walk_open(struct walk *w, const void *buf, size_t len, cd_err *err)
{
	const unsigned char *b = buf;
	if (len == 0)
		return cd_fail(err, CD_EINVAL, "chart file is empty");
	if (len < 2 || b[0] != 0x1f || b[1] != 0x8b)
		return cd_fail(err, CD_EINVAL, "chart file is not a gzip'd tar archive");
	w->a = archive_read_new();
	if (w->a == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (archive_read_support_filter_gzip(w->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(w->a) != ARCHIVE_OK ||
	    archive_read_open_memory(w->a, buf, len) != ARCHIVE_OK)
		return walk_archive_error(w, err);
	return CD_OK;
}

/* Releases what the walk owns. */
static void walk_close(struct walk *w)
{
	if (w->a != NULL)
		archive_read_free(w->a);
	free(w->top);
	free(w->path);
}

/* Copies name into w->path cleaned: "\" as "/" (Windows tars, as Helm),
 * empty and "." segments dropped.  Rejects absolute paths, drive letters,
 * ".." segments and names that are not UTF-8. */
static cd_rc walk_clean_path(struct walk *w, const char *name, cd_err *err)
{
	size_t n = strlen(name), o = 0;
	if (n == 0 || !utf8_valid(name, n))
		return cd_fail(err, CD_EINVAL, "archive entry name is empty or not UTF-8");
	if (name[0] == '/' || name[0] == '\\' ||
	    (n >= 2 && name[1] == ':' && strchr("/\\", name[2] ? name[2] : '/')))
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is an absolute path", name);
	free(w->path);
	if ((w->path = malloc(n + 1)) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n;) {
		size_t seg = strcspn(name + i, "/\\");
		if (seg == 2 && name[i] == '.' && name[i + 1] == '.')
			return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" escapes the chart directory",
			               name);
		if (seg > 0 && !(seg == 1 && name[i] == '.')) {
			if (o > 0)
				w->path[o++] = '/';
			memcpy(w->path + o, name + i, seg), o += seg;
		}
		i += seg + (name[i + seg] != '\0');
	}
	w->path[o] = '\0';
	if (o == 0)
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is outside the chart directory",
		               name);
	return CD_OK;
}

/* Checks that the entry sits under the same top directory as all others
 * and sets w->rel.  A top-level file is outside any chart directory. */
static cd_rc walk_check_top(struct walk *w, bool is_dir, cd_err *err)
{
	size_t tl = strcspn(w->path, "/");
	if (w->path[tl] == '\0' && !is_dir) {
		if (strcmp(w->path, "Chart.yaml") == 0)
			return cd_fail(err, CD_EINVAL,
			               "Chart.yaml is at the archive root; it must be in the chart's directory");
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is outside the chart directory",
		               w->path);
	}
	if (w->top == NULL && (w->top = strndup(w->path, tl)) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (strlen(w->top) != tl || strncmp(w->top, w->path, tl) != 0)
		return cd_fail(err, CD_EINVAL,
		               "archive entries are not under a single top directory (\"%.100s\" and \"%.100s\")",
		               w->top, w->path);
	w->rel = w->path + tl + (w->path[tl] == '/');
	return CD_OK;
}

/* Rejects links and anything that is neither a file nor a directory. */
static cd_rc walk_check_type(struct archive_entry *e, const char *name, cd_err *err)
{
	mode_t t = archive_entry_filetype(e);
	if (archive_entry_hardlink(e) != NULL || archive_entry_symlink(e) != NULL || t == AE_IFLNK)
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is a link; charts may not contain links",
		               name);
	if (t != AE_IFREG && t != AE_IFDIR)
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is not a regular file", name);
	return CD_OK;
}

/* Enforces the per-file and total limits from the header's size, before a
 * byte of the entry is decompressed. */
static cd_rc walk_check_size(struct walk *w, struct archive_entry *e, cd_err *err)
{
	int64_t size = archive_entry_size(e);
	if (size < 0 || size > CHART_MAX_FILE)
		return cd_fail(err, CD_EINVAL, "archive entry \"%.200s\" is larger than %ld MiB",
		               w->path, CHART_MAX_FILE >> 20);
	w->total += size;
	if (w->total > CHART_MAX_DECOMPRESSED)
		return cd_fail(err, CD_EINVAL, "chart is larger than %ld MiB decompressed",
		               CHART_MAX_DECOMPRESSED >> 20);
	return CD_OK;
}

/* Reads the current entry's size bytes into a new NUL-terminated buffer. */
static cd_rc walk_read_data(struct walk *w, size_t size, char **data, cd_err *err)
{
	char *buf = malloc(size + 1);
	size_t got = 0;
	if (buf == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	while (got < size) {
		la_ssize_t r = archive_read_data(w->a, buf + got, size - got);
		if (r <= 0) {
			free(buf);
			return r < 0 ? walk_archive_error(w, err)
			             : cd_fail(err, CD_EINVAL, "chart archive is truncated");
		}
		got += (size_t)r;
	}
	buf[size] = '\0';
	*data = buf;
	return CD_OK;
}

/* Checks one entry header and, for a wanted regular file, hands its bytes
 * to fn. */
static cd_rc walk_entry(struct walk *w, struct archive_entry *e, walk_want_fn want, walk_fn fn,
                        void *ctx, bool *stop, cd_err *err)
{
	const char *name = archive_entry_pathname(e);
	cd_rc rc = walk_clean_path(w, name ? name : "", err);
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR;
	if (rc == CD_OK)
		rc = walk_check_type(e, w->path, err);
	if (rc == CD_OK)
		rc = walk_check_top(w, is_dir, err);
	if (rc != CD_OK || is_dir)
		return rc;
	if ((rc = walk_check_size(w, e, err)) != CD_OK)
		return rc;
	if (strcmp(w->rel, "Chart.yaml") == 0)
		w->saw_chart_yaml = true;
	if (!want(w->rel, ctx))
		return archive_read_data_skip(w->a) == ARCHIVE_OK ? CD_OK : walk_archive_error(w, err);
	char *data = NULL;
	size_t size = (size_t)archive_entry_size(e);
	if ((rc = walk_read_data(w, size, &data, err)) != CD_OK)
		return rc;
	rc = fn(w->rel, &data, size, ctx, stop, err);
	free(data);
	return rc;
}

/* Walks every entry of the archive in buf, applying all of chart.h's
 * structural limits; fn sees the wanted regular files. */
static cd_rc chart_walk(const void *buf, size_t len, walk_want_fn want, walk_fn fn, void *ctx,
                        cd_err *err)
{
	struct walk w = { 0 };
	struct archive_entry *e;
	bool stop = false;
	cd_rc rc = walk_open(&w, buf, len, err);
	while (rc == CD_OK && !stop) {
		int r = archive_read_next_header(w.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = walk_archive_error(&w, err);
			break;
		}
		if (++w.entries > CHART_MAX_ENTRIES) {
			rc = cd_fail(err, CD_EINVAL, "chart archive has more than %d entries",
			             CHART_MAX_ENTRIES);
			break;
		}
		rc = walk_entry(&w, e, want, fn, ctx, &stop, err);
	}
	if (rc == CD_OK && !stop && w.entries == 0)
		rc = cd_fail(err, CD_EINVAL, "chart archive is empty");
	else if (rc == CD_OK && !stop && !w.saw_chart_yaml)
		rc = cd_fail(err, CD_EINVAL, "Chart.yaml file is missing");
	walk_close(&w);
	return rc;
}

/* ==== chart_read and chart_each_file ==================================== */

/* The two files chart_read needs, copied out of the archive (owned). */
struct read_ctx {
	char *chart_yaml, *requirements;
	size_t chart_len, req_len;
};

/* chart_read wants Chart.yaml and requirements.yaml only. */
static bool read_want(const char *rel, void *ctx)
{
	(void)ctx;
	return strcmp(rel, "Chart.yaml") == 0 || strcmp(rel, "requirements.yaml") == 0;
}

/* Keeps the file (the last one when an archive repeats it, as Helm's
 * loader does), taking the walk's buffer instead of copying it. */
static cd_rc read_keep(const char *rel, char **data, size_t len, void *vctx, bool *stop,
                       cd_err *err)
{
	struct read_ctx *ctx = vctx;
	bool chart = strcmp(rel, "Chart.yaml") == 0;
	char **slot = chart ? &ctx->chart_yaml : &ctx->requirements;
	(void)stop, (void)err;
	free(*slot);
	*slot = *data;
	*data = NULL;
	*(chart ? &ctx->chart_len : &ctx->req_len) = len;
	return CD_OK;
}

/* Parses the kept files into validated metadata. */
static cd_rc read_meta(const struct read_ctx *ctx, json_t **meta, cd_err *err)
{
	struct ydoc chart, req;
	cd_rc rc = ydoc_load(ctx->chart_yaml, ctx->chart_len, "Chart.yaml", &chart, err);
	if (rc != CD_OK)
		return rc;
	if (ctx->requirements != NULL)
		rc = ydoc_load(ctx->requirements, ctx->req_len, "requirements.yaml", &req, err);
	if (rc == CD_OK) {
		rc = meta_from_docs(&chart, ctx->requirements ? &req : NULL, meta, err);
		if (ctx->requirements != NULL)
			ydoc_free(&req);
	}
	ydoc_free(&chart);
	if (rc == CD_OK && (rc = chart_validate_meta(*meta, err)) != CD_OK) {
		json_decref(*meta);
		*meta = NULL;
	}
	return rc;
}

/* Fills out from validated metadata, taking meta's reference. */
static cd_rc info_from_meta(json_t *meta, struct chart_info *out, cd_err *err)
{
	out->meta = meta;
	out->name = strdup(jstr(meta, "name"));
	out->version = strdup(jstr(meta, "version"));
	if (out->name == NULL || out->version == NULL) {
		chart_info_free(out);
		return cd_fail(err, CD_ENOMEM, "out of memory");
	}
	return CD_OK;
}

cd_rc chart_read(const void *buf, size_t len, struct chart_info *out, cd_err *err)
{
	struct read_ctx ctx = { 0 };
	json_t *meta = NULL;
	memset(out, 0, sizeof *out);
	cd_rc rc = chart_walk(buf, len, read_want, read_keep, &ctx, err);
	if (rc == CD_OK)
		rc = read_meta(&ctx, &meta, err);
	free(ctx.chart_yaml);
	free(ctx.requirements);
	if (rc != CD_OK)
		return rc;
	return info_from_meta(meta, out, err);
}

/* ==== chart_read_meta: the indexer's read ============================== */

/* Bytes decompressed in the first step: the tar header and a Chart.yaml of
 * up to 1.5 KB, so zlib's fast loop does most of the work (it stops 258
 * bytes before the end of the output buffer, the rest goes byte by byte). */
#define META_FIRST 2048

/* Inflates up to n bytes into out; returns how many came before the
 * stream ended, was found damaged or ran out of input. */
static size_t meta_inflate(z_stream *z, unsigned char *out, size_t n)
{
	z->next_out = out;
	z->avail_out = (uInt)n;
	while (z->avail_out > 0 && inflate(z, Z_NO_FLUSH) == Z_OK)
		;
	return n - z->avail_out;
}

/* The length of the gzip member header at the start of b (RFC 1952
 * section 2.3), or 0 when b does not start with one. */
static size_t meta_gzip_header(const unsigned char *b, size_t len)
{
	size_t p = 10;
	if (len < p || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 || (b[3] & 0xE0) != 0)
		return 0;
	if (b[3] & 4) { /* FEXTRA (helm package writes one) */
		if (len < p + 2)
			return 0;
		p += 2 + (size_t)(b[p] | b[p + 1] << 8);
	}
	for (unsigned flag = 8; flag <= 16; flag <<= 1) { /* FNAME, FCOMMENT */
		const unsigned char *nul = (b[3] & flag) && p < len ? memchr(b + p, 0, len - p) : NULL;
		if (b[3] & flag)
			p = nul ? (size_t)(nul - b) + 1 : len;
	}
	if (b[3] & 2) /* FHCRC */
		p += 2;
	return p < len ? p : 0;
}

/* A tar header's octal field: optional spaces, octal digits, then only
 * NULs or spaces.  False for anything else (base-256, garbage). */
static bool tar_octal(const unsigned char *f, size_t width, uint64_t *v)
{
	size_t i = 0, start;
	*v = 0;
	while (i < width && f[i] == ' ')
		i++;
	for (start = i; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v > (UINT64_MAX >> 3))
			return false;
		*v = *v << 3 | (uint64_t)(f[i] - '0');
	}
	if (i == start)
		return false;
	for (; i < width; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return false;
	return true;
}

/* True when the tar header h is a POSIX ustar regular file "<top>/Chart.yaml"
 * (what `helm package` writes first) whose path chart_walk would take as
 * it is; top goes to top[] and the file's size to *size. */
static bool meta_header(const unsigned char h[512], char top[257], size_t *size)
{
	uint64_t sum = 0, want, sz;
	for (size_t i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? (unsigned char)' ' : h[i];
	if (!tar_octal(h + 148, 8, &want) || want != sum || memcmp(h + 257, "ustar\0" "00", 8) != 0 ||
	    (h[156] != '0' && h[156] != '\0') || !tar_octal(h + 124, 12, &sz) || sz > CHART_MAX_FILE)
		return false;
	size_t nl = strnlen((const char *)h, 100), pl = strnlen((const char *)h + 345, 155), o = 0;
	if (pl > 0) {
		memcpy(top, h + 345, pl);
		top[pl] = '/';
		o = pl + 1;
	}
	memcpy(top + o, h, nl);
	top[o += nl] = '\0';
	struct walk w = { 0 };
	cd_err scratch;
	bool same = walk_clean_path(&w, top, &scratch) == CD_OK && strcmp(w.path, top) == 0;
	free(w.path);
	if (!same || o <= 11 || strcmp(top + o - 11, "/Chart.yaml") != 0)
		return false;
	top[o - 11] = '\0';
	*size = (size_t)sz;
	return strchr(top, '/') == NULL;
}

/* zlib's state and window (about 40 KB) for one read, on the caller's
 * stack: malloc'd and freed for each of 130,000 charts they kept glibc
 * busy merging its free lists. */
struct meta_mem {
	size_t used;
	_Alignas(16) unsigned char bytes[48 * 1024];
};

/* zlib's allocator over a meta_mem; when it runs out, zlib fails and the
 * full read takes over. */
static voidpf meta_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct meta_mem *m = opaque;
	size_t n = (size_t)items * size;
	if (n > sizeof m->bytes - m->used)
		return Z_NULL;
	void *p = m->bytes + m->used;
	m->used += (n + 15) & ~(size_t)15;
	if (m->used > sizeof m->bytes)
		m->used = sizeof m->bytes;
	return p;
}

static void meta_zfree(voidpf opaque, voidpf p)
{
	(void)opaque, (void)p; /* the whole meta_mem goes with the caller's frame */
}

/* What the fast read decompressed: the first tar header and Chart.yaml,
 * which stays in first[] when it fits. */
struct meta_read {
	unsigned char first[META_FIRST + 1];
	char top[257];
	char *text;   /* Chart.yaml, NUL-terminated: in first[] or malloc'd */
	size_t size;
};

/* Decompresses the archive only as far as its first entry; true when that
 * is "<top>/Chart.yaml" and r holds it (free r->text unless it points into
 * r->first). */
static bool meta_first_entry(const void *buf, size_t len, struct meta_read *r)
{
	struct meta_mem mem;
	size_t hl = meta_gzip_header(buf, len), got;
	z_stream z;
	bool ok = false;
	memset(&z, 0, sizeof z);
	mem.used = 0;
	z.zalloc = meta_zalloc;
	z.zfree = meta_zfree;
	z.opaque = &mem;
	/* Raw deflate after the gzip header: the trailer's CRC is never
	 * reached here, so zlib need not compute it. */
	if (hl == 0 || len > UINT32_MAX || inflateInit2(&z, -15) != Z_OK)
		return false;
	z.next_in = (const unsigned char *)buf + hl;
	z.avail_in = (uInt)(len - hl);
	got = meta_inflate(&z, r->first, META_FIRST);
	if (got >= 512 && meta_header(r->first, r->top, &r->size)) {
		size_t have = got - 512 < r->size ? got - 512 : r->size;
		if (have == r->size) {
			r->text = (char *)r->first + 512;
			ok = true;
		} else if ((r->text = malloc(r->size + 1)) != NULL) {
			memcpy(r->text, r->first + 512, have);
			ok = meta_inflate(&z, (unsigned char *)r->text + have, r->size - have) ==
			     r->size - have;
			if (!ok)
				free(r->text);
		}
		if (ok)
			r->text[r->size] = '\0';
	}
	inflateEnd(&z);
	return ok;
}

/* The fast path when the archive is laid out as `helm package` writes it
 * (see chart.h): everything else, and every failure, goes to chart_read,
 * so errors are reported exactly as for an upload. */
cd_rc chart_read_meta(const void *buf, size_t len, struct chart_info *out, cd_err *err)
{
	struct meta_read r;
	memset(out, 0, sizeof *out);
	if (meta_first_entry(buf, len, &r)) {
		struct read_ctx ctx = { .chart_yaml = r.text, .chart_len = r.size };
		json_t *meta = NULL;
		cd_err scratch;
		cd_rc rc = read_meta(&ctx, &meta, &scratch);
		if (r.text != (char *)r.first + 512)
			free(r.text);
		if (rc == CD_OK && strcmp(jstr(meta, "apiVersion"), "v1") != 0 &&
		    strcmp(jstr(meta, "name"), r.top) == 0)
			return info_from_meta(meta, out, err);
		json_decref(meta);
	}
	return chart_read(buf, len, out, err);
}

/* The caller's callback and context for chart_each_file. */
struct each_ctx {
	chart_file_fn fn;
	void *ctx;
};

/* chart_each_file wants every file. */
static bool each_want(const char *rel, void *ctx)
{
	(void)rel, (void)ctx;
	return true;
}

/* Forwards one file; a non-zero answer stops the walk. */
static cd_rc each_forward(const char *rel, char **data, size_t len, void *vctx, bool *stop,
                          cd_err *err)
{
	struct each_ctx *c = vctx;
	(void)err;
	if (c->fn(rel, *data, len, c->ctx) != 0)
		*stop = true;
	return CD_OK;
}

cd_rc chart_each_file(const void *buf, size_t len, chart_file_fn fn, void *ctx, cd_err *err)
{
	struct each_ctx c = { fn, ctx };
	return chart_walk(buf, len, each_want, each_forward, &c, err);
}

char *chart_filename(const char *name, const char *version)
{
	char *s = NULL;
	if (asprintf(&s, "%s-%s.tgz", name, version) < 0)
		return NULL;
	return s;
}

void chart_info_free(struct chart_info *ci)
{
	if (ci == NULL)
		return;
	free(ci->name);
	free(ci->version);
	json_decref(ci->meta);
	ci->name = ci->version = NULL;
	ci->meta = NULL;
}
