/* prov.c — the structure of Helm provenance files (pkg/provenance): a PGP
 * clear-signed message whose body is Chart.yaml, "...", and "files:". */
#include "prov.h"
#include "chart.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PROV_BEGIN "-----BEGIN PGP SIGNED MESSAGE-----"
#define PROV_SIG_BEGIN "-----BEGIN PGP SIGNATURE-----"
#define PROV_SIG_END "-----END PGP SIGNATURE-----"

/* A cursor over the lines of a buffer; lines end at "\n" or "\r\n". */
struct lines {
	const char *p, *end;
	const char *line; /* current line, not NUL-terminated */
	size_t len;
};

/* Advances to the next line; false at the end of the buffer. */
static bool lines_next(struct lines *l)
{
	if (l->p >= l->end)
		return false;
	const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	const char *stop = nl ? nl : l->end;
	l->line = l->p;
	l->len = (size_t)(stop - l->p);
	if (l->len > 0 && l->line[l->len - 1] == '\r')
		l->len--;
	l->p = nl ? nl + 1 : l->end;
	return true;
}

/* True when the current line is exactly s (trailing blanks allowed, as
 * OpenPGP armor lines may carry them). */
static bool lines_is(const struct lines *l, const char *s)
{
	size_t n = strlen(s), len = l->len;
	while (len > n && (l->line[len - 1] == ' ' || l->line[len - 1] == '\t'))
		len--;
	return len == n && memcmp(l->line, s, n) == 0;
}

/* Moves to the line equal to s; false when there is none. */
static bool lines_find(struct lines *l, const char *s)
{
	while (lines_next(l))
		if (lines_is(l, s))
			return true;
	return false;
}

/* Extracts the dash-unescaped signed body into a new buffer (*body, owned
 * by the caller) and checks the signature block around it. */
static cd_rc prov_body(const char *buf, size_t len, char **body, size_t *body_len, cd_err *err)
{
	struct lines l = { buf, buf + len, NULL, 0 };
	if (!lines_find(&l, PROV_BEGIN))
		return cd_fail(err, CD_EINVAL, "provenance file has no \"" PROV_BEGIN "\" line");
	while (lines_next(&l) && l.len > 0) /* armor headers: "Hash: SHA512" */
		;
	char *out = malloc(len + 1);
	size_t o = 0;
	bool signature = false;
	if (out == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	while (!signature && lines_next(&l)) {
		if ((signature = lines_is(&l, PROV_SIG_BEGIN)))
			break;
		size_t skip = l.len >= 2 && l.line[0] == '-' && l.line[1] == ' ' ? 2 : 0;
		memcpy(out + o, l.line + skip, l.len - skip);
		o += l.len - skip;
		out[o++] = '\n';
	}
	out[o] = '\0';
	if (!signature || !lines_find(&l, PROV_SIG_END)) {
		free(out);
		return cd_fail(err, CD_EINVAL, signature ? "provenance file has no \"" PROV_SIG_END "\" line"
		                                         : "provenance file has no PGP signature block");
	}
	*body = out, *body_len = o;
	return CD_OK;
}

/* Copies a string member of meta into dst; CD_EINVAL when absent or long. */
static cd_rc prov_copy_field(const json_t *meta, const char *key, char *dst, size_t cap,
                             cd_err *err)
{
	const char *s = json_string_value(json_object_get(meta, key));
	if (s == NULL || *s == '\0')
		return cd_fail(err, CD_EINVAL, "provenance Chart.yaml has no %s", key);
	if (strlen(s) >= cap)
		return cd_fail(err, CD_EINVAL, "provenance Chart.yaml %s is too long", key);
	strcpy(dst, s);
	return CD_OK;
}

/* Name and version from the signed Chart.yaml text. */
static cd_rc prov_chart(const char *text, size_t len, struct prov_info *out, cd_err *err)
{
	json_t *meta = NULL;
	cd_rc rc = chart_parse_yaml(text, len, &meta, err);
	if (rc != CD_OK)
		return rc;
	rc = prov_copy_field(meta, "name", out->name, sizeof out->name, err);
	if (rc == CD_OK)
		rc = prov_copy_field(meta, "version", out->version, sizeof out->version, err);
	json_decref(meta);
	return rc;
}

/* Stores one "files:" entry: the file name and a "sha256:<64 hex>" value. */
static cd_rc prov_set_file(struct prov_info *out, const char *file, const char *value,
                           cd_err *err)
{
	const char *hex = strncmp(value, "sha256:", 7) == 0 ? value + 7 : NULL;
	if (hex == NULL || strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64)
		return cd_fail(err, CD_EINVAL, "provenance digest for \"%.200s\" is not sha256:<64 hex digits>",
		               file);
	if (*file == '\0' || strlen(file) >= sizeof out->file)
		return cd_fail(err, CD_EINVAL, "provenance file name is empty or too long");
	strcpy(out->file, file);
	for (int i = 0; i < 64; i++)
		out->sha256[i] = (char)tolower((unsigned char)hex[i]);
	out->sha256[64] = '\0';
	return CD_OK;
}

/* State while walking the events of the files part: a top mapping whose
 * "files" key holds a mapping of scalar pairs.  Counts entries in n and
 * keeps the first. */
struct files_scan {
	int depth;            /* mapping/sequence nesting */
	bool in_files;        /* inside the value of top-level "files" */
	bool want_files;      /* last top-level key was "files" */
	bool top_key_next;    /* next depth-1 scalar is a key */
	char *key;            /* pending key inside files (owned) */
	int n;
	cd_rc rc;
};

/* One scalar of the files part. */
static void files_scalar(struct files_scan *s, const char *v, struct prov_info *out, cd_err *err)
{
	if (s->depth == 1) {
		if (s->top_key_next)
			s->want_files = strcmp(v, "files") == 0;
		s->top_key_next = !s->top_key_next;
	} else if (s->in_files && s->depth == 2) {
		if (s->key == NULL) {
			s->key = strdup(v);
			if (s->key == NULL)
				s->rc = cd_fail(err, CD_ENOMEM, "out of memory");
			return;
		}
		if (s->n++ == 0 && s->rc == CD_OK)
			s->rc = prov_set_file(out, s->key, v, err);
		free(s->key);
		s->key = NULL;
	}
}

/* One event of the files part. */
static void files_event(struct files_scan *s, const yaml_event_t *ev, struct prov_info *out,
                        cd_err *err)
{
	bool nested = s->in_files && s->depth == 2;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		if (nested && s->rc == CD_OK)
			s->rc = cd_fail(err, CD_EINVAL, "provenance files: entries must be \"name: digest\"");
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (nested && s->rc == CD_OK)
			s->rc = cd_fail(err, CD_EINVAL, "provenance files: entries must be \"name: digest\"");
		if (s->depth == 1 && s->want_files)
			s->in_files = ev->type == YAML_MAPPING_START_EVENT;
		if (s->depth == 1)
			s->top_key_next = true, s->want_files = false;
		if (s->depth == 0)
			s->top_key_next = true;
		s->depth++;
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (--s->depth == 1)
			s->in_files = false;
		break;
	case YAML_SCALAR_EVENT:
		files_scalar(s, (const char *)ev->data.scalar.value, out, err);
		break;
	default:
		break;
	}
}

/* Reads the single "files:" entry from the YAML after "...". */
static cd_rc prov_files(const char *text, size_t len, struct prov_info *out, cd_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct files_scan s = { 0 };
	bool done = false;
	if (!yaml_parser_initialize(&parser))
		return cd_fail(err, CD_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (s.rc == CD_OK && !done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			s.rc = cd_fail(err, CD_EINVAL, "provenance files section is not valid YAML: %s",
			               parser.problem ? parser.problem : "syntax error");
			break;
		}
		done = ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT;
		files_event(&s, &ev, out, err);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(s.key);
	if (s.rc == CD_OK && s.n == 0)
		s.rc = cd_fail(err, CD_EINVAL, "provenance file has no files: entry");
	else if (s.rc == CD_OK && s.n > 1)
		s.rc = cd_fail(err, CD_EINVAL, "provenance file has more than one files: entry");
	return s.rc;
}

/* Finds the "..." line that ends the Chart.yaml part of body. */
static const char *prov_split(const char *body)
{
	if (strncmp(body, "...\n", 4) == 0)
		return body;
	const char *sep = strstr(body, "\n...\n");
	return sep ? sep + 1 : NULL;
}

cd_rc prov_parse(const char *buf, size_t len, struct prov_info *out, cd_err *err)
{
	char *body = NULL;
	size_t body_len = 0;
	memset(out, 0, sizeof *out);
	if (len == 0)
		return cd_fail(err, CD_EINVAL, "provenance file is empty; no \"" PROV_BEGIN "\" line");
	if (memchr(buf, '\0', len) != NULL)
		return cd_fail(err, CD_EINVAL, "provenance file contains a NUL byte");
	cd_rc rc = prov_body(buf, len, &body, &body_len, err);
	if (rc != CD_OK)
		return rc;
	const char *sep = prov_split(body);
	if (sep == NULL)
		rc = cd_fail(err, CD_EINVAL, "provenance body has no \"...\" line before files:");
	if (rc == CD_OK)
		rc = prov_chart(body, (size_t)(sep - body), out, err);
	if (rc == CD_OK)
		rc = prov_files(sep + 4, body_len - (size_t)(sep + 4 - body), out, err);
	free(body);
	return rc;
}
