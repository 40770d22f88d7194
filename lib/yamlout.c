/* yamlout.c — JSON values as block-style YAML, the way Helm's index.yaml
 * comes out of sigs.k8s.io/yaml (go-yaml v2): sorted keys, two-space
 * mapping indentation, a mapping's sequence at the key's own column.
 * Strings are plain only when every YAML 1.1 and 1.2 reader takes them
 * back as the same string; otherwise double-quoted with JSON-style escapes. */
#include "yamlout.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jarena.h"

/* ---- struct buf ------------------------------------------------------ */

cd_rc buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->len > n)
		return CD_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n) {
		if (cap > SIZE_MAX / 2)
			return CD_ENOMEM;
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (p == NULL)
		return CD_ENOMEM;
	b->data = p;
	b->cap = cap;
	return CD_OK;
}

/* Keeps data NUL-terminated so callers may use it as a C string. */
cd_rc buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->cap - b->len <= len && buf_reserve(b, len) != CD_OK)
		return CD_ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return CD_OK;
}

cd_rc buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

cd_rc buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	if (buf_reserve(b, 64) != CD_OK)
		return CD_ENOMEM;
	va_start(ap, fmt);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CD_ENOMEM;
	if ((size_t)n >= b->cap - b->len) {
		if (buf_reserve(b, (size_t)n) != CD_OK)
			return CD_ENOMEM;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return CD_OK;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Appends n spaces. */
static cd_rc buf_spaces(struct buf *b, int n)
{
	if (n <= 0)
		return CD_OK;
	if (buf_reserve(b, (size_t)n) != CD_OK)
		return CD_ENOMEM;
	memset(b->data + b->len, ' ', (size_t)n);
	b->len += (size_t)n;
	b->data[b->len] = '\0';
	return CD_OK;
}

/* ---- UTF-8 ----------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s[i..len); returns its length, or 0 for an
 * invalid, overlong or surrogate sequence.  *cp receives the code point. */
static size_t utf8_decode(const unsigned char *s, size_t i, size_t len, uint32_t *cp)
{
	unsigned char c = s[i];
	size_t n;
	uint32_t v, min;
	if (c < 0x80)
		return *cp = c, 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, v = c & 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, v = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len - i < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i + k] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Non-ASCII code points YAML treats as ordinary printable content: not C1
 * controls, not NEL/LS/PS line breaks, not the BOM, not non-characters. */
static bool yaml_printable_cp(uint32_t cp)
{
	if (cp < 0xA0)
		return false;
	if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF)
		return false;
	if (cp == 0xFFFE || cp == 0xFFFF)
		return false;
	return true;
}

/* ---- when a plain scalar is safe --------------------------------------- */

/* The words YAML 1.1 or 1.2 resolve to null, bool, merge, value or
 * special floats, compared without case (stricter than any resolver). */
static bool is_reserved_word(const char *s, size_t len)
{
#define WORD(w) { w, sizeof w - 1 }
	static const struct {
		const char *text;
		size_t len;
	} words[] = {
		WORD("null"), WORD("~"), WORD("true"), WORD("false"), WORD("yes"), WORD("no"),
		WORD("on"), WORD("off"), WORD("y"), WORD("n"), WORD("<<"), WORD("="),
		WORD(".inf"), WORD("-.inf"), WORD("+.inf"), WORD(".nan"),
	};
#undef WORD
	if (len > 5)
		return false;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (words[i].len == len && strncasecmp(s, words[i].text, len) == 0)
			return true;
	return false;
}

/* Reads the next character of s skipping '_' (go-yaml strips underscores
 * before parsing numbers; YAML 1.1 allows them); 0 at the end. */
static char num_peek(const char *s, size_t len, size_t *i)
{
	while (*i < len && s[*i] == '_')
		(*i)++;
	return *i < len ? s[*i] : 0;
}

/* Consumes a run of decimal digits (underscores skipped); returns how
 * many were consumed. */
static size_t num_run(const char *s, size_t len, size_t *i)
{
	size_t n = 0;
	char c;
	while ((c = num_peek(s, len, i)) >= '0' && c <= '9') {
		(*i)++;
		n++;
	}
	return n;
}

#define DIGITS "0123456789"

/* True when s could read as a number under YAML 1.1 (ints with 0b/0x/0
 * prefixes, sexagesimal 1:30, floats with '_'), YAML 1.2 (0o, 1e3) or
 * go-yaml's resolver.  Errs on the side of "numeric". */
static bool looks_numeric(const char *s, size_t len)
{
	size_t i = 0;
	char c = num_peek(s, len, &i);
	if (c == '+' || c == '-')
		i++;
	c = num_peek(s, len, &i);
	if (c == '0' && i + 1 < len && strchr("xXoObB", s[i + 1]) != NULL) {
		/* "0b_" is an int to YAML 1.1's regex, so underscores count here */
		size_t rest = len - (i + 2);
		return rest > 0 && strspn(s + i + 2, DIGITS "abcdefABCDEF_") >= rest;
	}
	size_t digits = num_run(s, len, &i);
	if (digits > 0) {
		while (num_peek(s, len, &i) == ':') {
			i++;
			if (num_run(s, len, &i) == 0)
				return false;
		}
	}
	if (num_peek(s, len, &i) == '.') {
		i++;
		digits += num_run(s, len, &i);
	}
	if (digits == 0)
		return false;
	c = num_peek(s, len, &i);
	if (c == 'e' || c == 'E') {
		i++;
		c = num_peek(s, len, &i);
		if (c == '+' || c == '-')
			i++;
		if (num_run(s, len, &i) == 0)
			return false;
	}
	return num_peek(s, len, &i) == 0;
}

/* "2001-12-14..." and any other string a YAML 1.1 timestamp could start. */
static bool looks_like_timestamp(const char *s, size_t len)
{
	if (len < 6)
		return false;
	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[4] == '-' && s[5] >= '0' && s[5] <= '9';
}

/* Bytes a plain scalar can hold anywhere without a second look: printable
 * ASCII but ':' and '#' (whose meaning depends on their neighbours).  The
 * indexer renders ~65 scalars per chart, so the common byte is settled by
 * this one test before the rarer cases below. */
static bool plain_anywhere(unsigned char c)
{
	return c >= 0x20 && c < 0x7F && c != ':' && c != '#';
}

/* Whether all eight bytes of w pass plain_anywhere: none below 0x20, none
 * above 0x7E, no ':' and no '#' (the exact word tests of Bit Twiddling
 * Hacks: "determine if a word has a byte less than / greater than n",
 * "has a zero byte" after an XOR).  Descriptions and annotations are most
 * of a chart's text, and this settles them eight bytes per step. */
static bool plain_anywhere8(uint64_t w)
{
	const uint64_t ones = UINT64_MAX / 255, high = ones * 0x80;
	uint64_t below = (w - ones * 0x20) & ~w & high;
	uint64_t above = ((w + ones * (127 - 0x7E)) | w) & high;
	uint64_t colon = w ^ (ones * ':'), hash = w ^ (ones * '#');
	uint64_t has_colon = (colon - ones) & ~colon & high;
	uint64_t has_hash = (hash - ones) & ~hash & high;
	return (below | above | has_colon | has_hash) == 0;
}

static const unsigned char first_indicator[256] = {
	['-'] = 1, ['?'] = 1, [':'] = 1, [','] = 1, ['['] = 1, [']'] = 1, ['{'] = 1,
	['}'] = 1, ['#'] = 1, ['&'] = 1, ['*'] = 1, ['!'] = 1, ['|'] = 1, ['>'] = 1,
	['\''] = 1, ['"'] = 1, ['%'] = 1, ['@'] = 1, ['`'] = 1, [' '] = 1, ['\t'] = 1,
	['\0'] = 1,
};

bool yamlout_plain_ok(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	if (len == 0)
		return false;
	if (first_indicator[u[0]])
		return false;
	if (s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	if (len >= 3 && memcmp(s, "...", 3) == 0)
		return false;
	for (size_t i = 0; i < len;) {
		uint64_t w;
		if (len - i >= 8 && (memcpy(&w, u + i, 8), plain_anywhere8(w))) {
			i += 8;
			continue;
		}
		unsigned char c = u[i];
		if (plain_anywhere(c)) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t n = utf8_decode(u, i, len, &cp);
			if (n == 0 || !yaml_printable_cp(cp))
				return false;
			i += n;
			continue;
		}
		if (c < 0x20 || c == 0x7F)
			return false;
		if (c == ':' && i + 1 < len && s[i + 1] == ' ')
			return false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return false;
		i++;
	}
	return !is_reserved_word(s, len) && !looks_numeric(s, len) &&
	       !looks_like_timestamp(s, len);
}

/* ---- scalars --------------------------------------------------------- */

/* Appends a JSON-style \u escape for a BMP code point. */
static cd_rc put_uescape(struct buf *out, uint32_t cp)
{
	return buf_printf(out, "\\u%04X", (unsigned)cp);
}

/* Appends one character of s that needs an escape inside double quotes. */
static cd_rc put_escape(struct buf *out, unsigned char c)
{
	switch (c) {
	case '"': return buf_append(out, "\\\"", 2);
	case '\\': return buf_append(out, "\\\\", 2);
	case '\n': return buf_append(out, "\\n", 2);
	case '\t': return buf_append(out, "\\t", 2);
	case '\r': return buf_append(out, "\\r", 2);
	case '\b': return buf_append(out, "\\b", 2);
	case '\f': return buf_append(out, "\\f", 2);
	default: return put_uescape(out, c);
	}
}

/* Appends s double-quoted.  Runs of safe bytes are copied at once; an
 * invalid UTF-8 byte becomes \xNN (YAML's escape), never a raw byte. */
static cd_rc put_quoted(struct buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0;
	cd_rc rc = buf_reserve(out, len + 2);
	if (rc != CD_OK)
		return rc;
	out->data[out->len++] = '"';
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		size_t n = 1;
		bool plain;
		uint32_t cp = c;
		if (c >= 0x80) {
			n = utf8_decode(u, i, len, &cp);
			plain = n > 0 && yaml_printable_cp(cp);
		} else {
			plain = c >= 0x20 && c != 0x7F && c != '"' && c != '\\';
		}
		if (plain) {
			i += n;
			continue;
		}
		if ((rc = buf_append(out, s + run, i - run)) != CD_OK)
			return rc;
		if (c < 0x80)
			rc = put_escape(out, c);
		else if (n == 0)
			rc = buf_printf(out, "\\x%02X", (unsigned)c);
		else
			rc = put_uescape(out, cp);
		if (rc != CD_OK)
			return rc;
		i += n ? n : 1;
		run = i;
	}
	if ((rc = buf_append(out, s + run, len - run)) != CD_OK)
		return rc;
	return buf_append(out, "\"", 1);
}

cd_rc yamlout_string(struct buf *out, const char *s, size_t len)
{
	if (yamlout_plain_ok(s, len))
		return buf_append(out, s, len);
	return put_quoted(out, s, len);
}

/* A real in the shortest form that reads back as the same double. */
static cd_rc put_real(struct buf *out, double v)
{
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return buf_puts(out, tmp);
}

/* Appends a scalar (string, number, bool, null) or an empty container in
 * flow form ("{}", "[]"); the caller handles non-empty containers. */
static cd_rc put_scalar(struct buf *out, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return yamlout_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return put_real(out, json_real_value(v));
	case JSON_TRUE:
		return buf_append(out, "true", 4);
	case JSON_FALSE:
		return buf_append(out, "false", 5);
	case JSON_OBJECT:
		return buf_append(out, "{}", 2);
	case JSON_ARRAY:
		return buf_append(out, "[]", 2);
	case JSON_NULL:
	default:
		return buf_append(out, "null", 4);
	}
}

/* ---- key order ------------------------------------------------------- */

static bool key_is_letter(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0xAA;
}

static bool key_is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* Decodes s into code points (invalid bytes stand for themselves);
 * returns the count, at most max. */
static size_t key_runes(const char *s, uint32_t *r, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), n = 0;
	for (size_t i = 0; i < len && n < max;) {
		size_t k = utf8_decode(u, i, len, &r[n]);
		if (k == 0)
			r[n] = u[i], k = 1;
		i += k;
		n++;
	}
	return n;
}

/* The value of the digit run of r at i, accumulated onto v0 as go-yaml
 * does (v0 is 1 inside a number whose earlier digits are not all zero);
 * *end receives where the run stops.  Wraps instead of overflowing. */
static uint64_t key_number(const uint32_t *r, size_t n, size_t i, uint64_t v0,
                           size_t *end)
{
	uint64_t v = v0;
	for (; i < n && key_is_digit(r[i]); i++)
		v = v * 10 + (r[i] - '0');
	*end = i;
	return v;
}

/* True when the digits just before i in r are not all zeros (go-yaml's
 * check, made on a only, before comparing a '0' against another digit). */
static bool key_nonzero_prefix(const uint32_t *r, size_t i)
{
	for (size_t j = i; j-- > 0 && key_is_digit(r[j]);)
		if (r[j] != '0')
			return true;
	return false;
}

#define KEY_RUNES_MAX 512

static bool key_ascii_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* go-yaml v2 keyList.Less, as a three-way comparison (ties by strcmp). */
int yamlout_key_compare(const char *a, const char *b)
{
	/* Fast path: when the first differing bytes are ASCII and at least one
	 * is a letter, the rune loop below decides on exactly these two runes
	 * (an ASCII byte always starts a rune, and equal bytes before it decode
	 * to equal runes). */
	size_t d = 0;
	while (a[d] != '\0' && a[d] == b[d])
		d++;
	unsigned char ca = (unsigned char)a[d], cb = (unsigned char)b[d];
	if (ca != '\0' && cb != '\0' && ca < 0x80 && cb < 0x80 && d < KEY_RUNES_MAX) {
		bool al = key_ascii_letter(ca), bl = key_ascii_letter(cb);
		if (al && bl)
			return ca < cb ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
	}
	uint32_t ar[KEY_RUNES_MAX], br[KEY_RUNES_MAX];
	size_t an = key_runes(a, ar, KEY_RUNES_MAX);
	size_t bn = key_runes(b, br, KEY_RUNES_MAX);
	for (size_t i = 0; i < an && i < bn; i++) {
		if (ar[i] == br[i])
			continue;
		bool al = key_is_letter(ar[i]), bl = key_is_letter(br[i]);
		if (al && bl)
			return ar[i] < br[i] ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
		uint64_t v0 = (ar[i] == '0' || br[i] == '0') && key_nonzero_prefix(ar, i);
		size_t ae, be;
		uint64_t av = key_number(ar, an, i, v0, &ae);
		uint64_t bv = key_number(br, bn, i, v0, &be);
		if (av != bv)
			return av < bv ? -1 : 1;
		if (ae != be)
			return ae < be ? -1 : 1;
		return ar[i] < br[i] ? -1 : 1;
	}
	if (an != bn)
		return an < bn ? -1 : 1;
	return strcmp(a, b);
}

/* ---- block structure ------------------------------------------------- */

/* A key of an object being written, with its value. */
struct map_key {
	const char *key;
	const json_t *value;
};

static int cmp_keys(const void *a, const void *b)
{
	return yamlout_key_compare(((const struct map_key *)a)->key,
	                           ((const struct map_key *)b)->key);
}

/* Sorts the keys of an object being written (an array of n elements of
 * size bytes, at most SORT_ELEM_MAX each).  A chart's objects have about 20
 * keys at most: those are sorted by insertion, cheaper for so few than
 * qsort's merge sort and its copying (the indexer sorts some 40 objects per
 * chart, twice: YAML and JSON).  Keys are unique, so any correct sort gives
 * the same order. */
#define INSERTION_SORT_MAX 32
#define SORT_ELEM_MAX 32

static void sort_object_keys(void *base, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
	if (n > INSERTION_SORT_MAX || size > SORT_ELEM_MAX) {
		qsort(base, n, size, cmp);
		return;
	}
	char *a = base, k[SORT_ELEM_MAX];
	for (size_t i = 1; i < n; i++) {
		memcpy(k, a + i * size, size);
		size_t j = i;
		while (j > 0 && cmp(a + (j - 1) * size, k) > 0) {
			memcpy(a + j * size, a + (j - 1) * size, size);
			j--;
		}
		memcpy(a + j * size, k, size);
	}
}

#define KEYS_ON_STACK 64
#define IMPLICIT_KEY_MAX 1000 /* YAML limits implicit keys to 1024 chars */

static cd_rc put_map(struct buf *out, const json_t *obj, int indent, bool inline_first);
static cd_rc put_seq(struct buf *out, const json_t *arr, int indent, bool inline_first);

static bool is_nonempty_container(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

/* Appends "key:" (or "? key\n<indent>:" for a key too long to be implicit)
 * and the value: inline scalar, nested mapping at indent+2, or sequence at
 * the key's own indentation as go-yaml v2 writes it. */
static cd_rc put_entry(struct buf *out, const char *key, const json_t *v, int indent)
{
	size_t klen = strlen(key);
	cd_rc rc;
	if (klen > IMPLICIT_KEY_MAX) {
		if ((rc = buf_append(out, "? ", 2)) != CD_OK ||
		    (rc = yamlout_string(out, key, klen)) != CD_OK ||
		    (rc = buf_append(out, "\n", 1)) != CD_OK ||
		    (rc = buf_spaces(out, indent)) != CD_OK)
			return rc;
	} else if ((rc = yamlout_string(out, key, klen)) != CD_OK) {
		return rc;
	}
	if ((rc = buf_append(out, ":", 1)) != CD_OK)
		return rc;
	if (!is_nonempty_container(v)) {
		if ((rc = buf_append(out, " ", 1)) != CD_OK || (rc = put_scalar(out, v)) != CD_OK)
			return rc;
		return buf_append(out, "\n", 1);
	}
	if ((rc = buf_append(out, "\n", 1)) != CD_OK)
		return rc;
	if (json_is_object(v))
		return put_map(out, v, indent + 2, false);
	return put_seq(out, v, indent, false);
}

/* Appends the entries of a non-empty object, keys sorted.  With
 * inline_first the first line's indentation is already written ("- "). */
static cd_rc put_map(struct buf *out, const json_t *obj, int indent, bool inline_first)
{
	struct map_key stack_keys[KEYS_ON_STACK], *keys = stack_keys;
	size_t n = json_object_size(obj), i = 0;
	cd_rc rc = CD_OK;

	if (n > KEYS_ON_STACK && (keys = malloc(n * sizeof *keys)) == NULL)
		return CD_ENOMEM;
	for (void *it = json_object_iter((json_t *)obj); it && i < n;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		keys[i].key = json_object_iter_key(it);
		keys[i].value = json_object_iter_value(it);
	}
	n = i;
	sort_object_keys(keys, n, sizeof *keys, cmp_keys);
	for (i = 0; i < n && rc == CD_OK; i++) {
		if ((i > 0 || !inline_first) && (rc = buf_spaces(out, indent)) != CD_OK)
			break;
		rc = put_entry(out, keys[i].key, keys[i].value, indent);
	}
	if (keys != stack_keys)
		free(keys);
	return rc;
}

/* Appends "- item" (its indentation already written); an object item
 * starts on the dash line with its other keys at indent+2. */
static cd_rc put_item(struct buf *out, const json_t *v, int indent)
{
	cd_rc rc = buf_append(out, "- ", 2);
	if (rc != CD_OK)
		return rc;
	if (json_is_object(v) && json_object_size(v) > 0)
		return put_map(out, v, indent + 2, true);
	if (json_is_array(v) && json_array_size(v) > 0)
		return put_seq(out, v, indent + 2, true);
	if ((rc = put_scalar(out, v)) != CD_OK)
		return rc;
	return buf_append(out, "\n", 1);
}

/* Appends the items of a non-empty array at indent.  With inline_first
 * the first line's indentation is already written. */
static cd_rc put_seq(struct buf *out, const json_t *arr, int indent, bool inline_first)
{
	size_t n = json_array_size(arr);
	cd_rc rc = CD_OK;
	for (size_t i = 0; i < n && rc == CD_OK; i++) {
		if ((i > 0 || !inline_first) && (rc = buf_spaces(out, indent)) != CD_OK)
			break;
		rc = put_item(out, json_array_get(arr, i), indent);
	}
	return rc;
}

cd_rc yamlout_value(struct buf *out, const json_t *value, int indent)
{
	if (value == NULL)
		return CD_EINVAL;
	if (json_is_object(value) && json_object_size(value) > 0)
		return put_map(out, value, indent, false);
	if (json_is_array(value) && json_array_size(value) > 0)
		return put_seq(out, value, indent, false);
	cd_rc rc = buf_spaces(out, indent);
	if (rc == CD_OK)
		rc = put_scalar(out, value);
	if (rc == CD_OK)
		rc = buf_append(out, "\n", 1);
	return rc;
}

cd_rc yamlout_seq_item(struct buf *out, const json_t *object, int indent)
{
	if (object == NULL)
		return CD_EINVAL;
	cd_rc rc = buf_spaces(out, indent);
	if (rc != CD_OK)
		return rc;
	return put_item(out, object, indent);
}

/* ---- compact JSON ----------------------------------------------------- */

/* A JSON string as jansson writes it: '"', '\\' and controls escaped
 * (\b \f \n \r \t, else \u00XX), everything else (UTF-8 included) as is.
 * jansson strings are valid UTF-8, so no other byte needs care. */
static cd_rc json_put_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;
	cd_rc rc = buf_reserve(out, len + 2);
	if (rc != CD_OK)
		return rc;
	out->data[out->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		/* Eight bytes at a time while none needs an escape (the indexer
		 * writes two of these texts per version): exact per-byte tests,
		 * no carry crosses a byte. */
		const uint64_t ones = 0x0101010101010101u, high = ones * 0x80, low7 = ones * 0x7F;
		while (len - i >= 8) {
			uint64_t w, q, b;
			memcpy(&w, s + i, 8);
			q = w ^ (ones * '"');
			b = w ^ (ones * '\\');
			uint64_t control = ~(((w & low7) + ones * 0x60) | w) & high;
			uint64_t quote = ~(((q & low7) + low7) | q) & high;
			uint64_t bslash = ~(((b & low7) + low7) | b) & high;
			if (control | quote | bslash)
				break;
			i += 8;
		}
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		char esc[6] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if ((rc = buf_append(out, s + run, i - run)) != CD_OK ||
		    (rc = buf_append(out, esc, n)) != CD_OK)
			return rc;
		run = i + 1;
	}
	if ((rc = buf_append(out, s + run, len - run)) != CD_OK)
		return rc;
	return buf_append(out, "\"", 1);
}

struct json_key {
	const char *key;
	size_t len;
	json_t *value;
};

/* jansson's SORT_KEYS order: bytes, then length. */
static int json_key_cmp(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static cd_rc json_put_object(struct buf *out, const json_t *obj, bool sort_keys)
{
	struct json_key stack_keys[KEYS_ON_STACK], *keys = stack_keys;
	size_t n = json_object_size(obj), i = 0;
	cd_rc rc;
	if (n > KEYS_ON_STACK && (keys = malloc(n * sizeof *keys)) == NULL)
		return CD_ENOMEM;
	for (void *it = json_object_iter((json_t *)obj); it && i < n;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		keys[i].key = json_object_iter_key(it);
		keys[i].len = json_object_iter_key_len(it);
		keys[i].value = json_object_iter_value(it);
	}
	n = i;
	if (sort_keys)
		sort_object_keys(keys, n, sizeof *keys, json_key_cmp);
	rc = buf_append(out, "{", 1);
	for (i = 0; i < n && rc == CD_OK; i++) {
		if (i > 0)
			rc = buf_append(out, ",", 1);
		if (rc == CD_OK)
			rc = json_put_string(out, keys[i].key, keys[i].len);
		if (rc == CD_OK)
			rc = buf_append(out, ":", 1);
		if (rc == CD_OK)
			rc = yamlout_json(out, keys[i].value, sort_keys);
	}
	if (rc == CD_OK)
		rc = buf_append(out, "}", 1);
	if (keys != stack_keys)
		free(keys);
	return rc;
}

cd_rc yamlout_json(struct buf *out, const json_t *value, bool sort_keys)
{
	cd_rc rc;
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return json_put_object(out, value, sort_keys);
	case JSON_ARRAY:
		rc = buf_append(out, "[", 1);
		for (size_t i = 0; i < json_array_size(value) && rc == CD_OK; i++) {
			if (i > 0)
				rc = buf_append(out, ",", 1);
			if (rc == CD_OK)
				rc = yamlout_json(out, json_array_get(value, i), sort_keys);
		}
		return rc == CD_OK ? buf_append(out, "]", 1) : rc;
	case JSON_STRING:
		return json_put_string(out, json_string_value(value), json_string_length(value));
	case JSON_INTEGER:
		return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
	case JSON_TRUE:
		return buf_append(out, "true", 4);
	case JSON_FALSE:
		return buf_append(out, "false", 5);
	case JSON_NULL:
		return buf_append(out, "null", 4);
	case JSON_REAL:
	default: {
		/* Rare in chart metadata: jansson's own real formatting. */
		char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			return CD_ENOMEM;
		rc = buf_puts(out, text);
		jarena_free_text(text);
		return rc;
	}
	}
}
