/* chart.h — reading and validating a chart archive as Helm's loader does.
 *
 * A chart is a gzip'd tar whose entries all sit under one top directory,
 * with Chart.yaml exactly one directory deep ("mychart/Chart.yaml").
 * Validation follows helm/pkg/chart/v2/loader and Metadata.Validate. */
#ifndef CD_CHART_H
#define CD_CHART_H

#include <jansson.h>
#include <stddef.h>
#include "cd_err.h"

#define CHART_MAX_DECOMPRESSED (100L << 20) /* Helm's MaxDecompressedChartSize */
#define CHART_MAX_FILE (5L << 20)           /* Helm's MaxDecompressedFileSize */

struct chart_info {
	char *name;     /* metadata.name */
	char *version;  /* metadata.version, exactly as written in Chart.yaml */
	json_t *meta;   /* Helm's chart.Metadata as JSON, keys as Helm marshals
	                   them, empty fields omitted, apiVersion defaulted to "v1" */
};

/* Reads the archive in buf and fills out (owned by the caller, released
 * with chart_info_free).  Rejects, with CD_EINVAL and a message that says
 * what is wrong: not gzip, not tar, truncated data, absolute or ".." entry
 * paths, links, no Chart.yaml or one at the wrong depth, a file over
 * CHART_MAX_FILE, more than CHART_MAX_DECOMPRESSED in all, invalid YAML,
 * and metadata that chart_validate_meta rejects. */
cd_rc chart_read(const void *buf, size_t len, struct chart_info *out, cd_err *err);

/* The indexer's read: the same result as chart_read, except that an
 * archive laid out as `helm package` writes it — a POSIX ustar whose first
 * entry is "<name>/Chart.yaml", <name> being the chart's name, apiVersion
 * not v1 — is decompressed only as far as that entry.  Its Chart.yaml gets
 * every check chart_read makes; the rest of the archive is not looked at,
 * so damage, links, extra top directories, oversize files or a second
 * Chart.yaml after it go unnoticed (Helm's loader and uploads refuse such
 * files; chart_read still reads any other layout whole).  The index needs
 * only Chart.yaml and the file's digest; for v1 charts requirements.yaml,
 * which may come anywhere, so those are read whole.  Any failure is
 * reported by chart_read's full read, so messages match an upload's. */
cd_rc chart_read_meta(const void *buf, size_t len, struct chart_info *out, cd_err *err);

/* Parses Chart.yaml text into Helm's Metadata JSON (*meta, new reference).
 * Scalars in string fields stay strings exactly as written ("1.10" stays
 * "1.10"); aliases are bounded so an alias bomb fails instead of growing. */
cd_rc chart_parse_yaml(const char *text, size_t len, json_t **meta, cd_err *err);

/* The Metadata part of an index entry's JSON text (a ChartVersion, or a
 * Metadata itself): the Metadata fields only, in Helm's struct order at
 * every level (maintainers and dependencies too), so that marshalling it
 * gives chart_read's bytes again.  urls, created, digest and any other key
 * that is not a Metadata field are left out.  *meta: a new reference. */
cd_rc chart_meta_from_entry(const char *json, json_t **meta, cd_err *err);

/* Parses values.yaml text as Helm's chartutil.ReadValues does into a JSON
 * object (*values, new reference): scalars resolved as YAML 1.1 reads them
 * into interface{}, an empty document gives {}.  CD_EINVAL for invalid
 * YAML or a top level that is not a mapping. */
cd_rc chart_parse_values(const char *text, size_t len, json_t **values, cd_err *err);

/* For tests and fuzzing: reads text with chart.c's fast YAML reader and
 * with libyaml and compares the trees.  1 when they agree, 0 when the fast
 * reader declined (libyaml alone reads such text), -1 when they differ or
 * libyaml rejects what the fast reader took — a bug. */
int chart_yaml_fast_agrees(const char *text, size_t len);

/* Helm's Metadata.Validate: name present, a single path segment, not "."
 * or ".."; version valid SemVer; type "", "application" or "library";
 * dependency and maintainer entries well formed. */
cd_rc chart_validate_meta(const json_t *meta, cd_err *err);

/* Calls fn for every regular file of the archive with its path below the
 * chart's top directory ("templates/x.yaml") — for the templates and values
 * API.  Stops early when fn returns non-zero.  Same limits as chart_read. */
typedef int (*chart_file_fn)(const char *path, const void *data, size_t len, void *ctx);
cd_rc chart_each_file(const void *buf, size_t len, chart_file_fn fn, void *ctx, cd_err *err);

/* "<name>-<version>.tgz", malloc'd. */
char *chart_filename(const char *name, const char *version);

void chart_info_free(struct chart_info *ci);

#endif
