/* yamlout.h — rendering JSON values as YAML the way Helm writes index.yaml.
 *
 * Helm marshals through sigs.k8s.io/yaml: mapping keys sorted, block style,
 * sequences of a mapping's value at the key's own indentation.  Strings are
 * written double-quoted when a plain scalar would change type or meaning
 * ("1.10", "true", "", "null", ": x"), so every string stays a string. */
#ifndef CD_YAMLOUT_H
#define CD_YAMLOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "cd_err.h"

/* A growable byte buffer; buf_free releases it.  Zero-initialise it; once
 * anything is appended, data stays NUL-terminated (usable as a string). */
struct buf {
	char *data;
	size_t len, cap;
};
cd_rc buf_append(struct buf *b, const void *data, size_t len);
cd_rc buf_puts(struct buf *b, const char *s);
cd_rc buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
/* Makes room for n more bytes (so callers can write into data + len). */
cd_rc buf_reserve(struct buf *b, size_t n);

/* Appends an object as "key: value" lines at the given indentation
 * (spaces), keys sorted, nested values in block style below them. */
cd_rc yamlout_value(struct buf *out, const json_t *value, int indent);

/* Appends one sequence item "<indent>- key: ..." for an object, the way an
 * index entry sits under its chart name ("  - apiVersion: v2\n    ..."). */
cd_rc yamlout_seq_item(struct buf *out, const json_t *object, int indent);

/* Appends s as a YAML scalar, quoted when needed. */
cd_rc yamlout_string(struct buf *out, const char *s, size_t len);

/* True when s[0..len) can be written as a plain scalar and still read back
 * as the same string under YAML 1.1 and 1.2 (no quotes needed). */
bool yamlout_plain_ok(const char *s, size_t len);

/* Appends value as compact JSON, byte for byte what jansson's
 * json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY, plus JSON_SORT_KEYS when
 * sort_keys) writes, without its per-character dump callbacks: the indexer
 * writes two of these per chart version. */
cd_rc yamlout_json(struct buf *out, const json_t *value, bool sort_keys);

/* Orders mapping keys as go-yaml v2 does when Helm marshals (sorter.go):
 * letters by code point, other characters before letters, runs of digits
 * by numeric value ("a2" < "a10").  strcmp-like result.  The store uses it
 * for chart names too, so entries come in the order Helm writes them. */
int yamlout_key_compare(const char *a, const char *b);

#endif
