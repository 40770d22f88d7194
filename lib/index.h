/* index.h — index entries and rendered index files.
 *
 * An entry is Helm's repo.ChartVersion: the chart's Metadata plus urls,
 * created and digest.  An index file is "apiVersion: v1", the entries of
 * every name in name order (blocks kept rendered by the store), generated
 * and serverInfo — concatenated, never re-marshalled.  Rendered files live
 * in <state>/index/<repo-dir>/ named by the repo generation they show, and
 * are made once per generation: concurrent readers wait on a lock for the
 * one render instead of starting their own. */
#ifndef CD_INDEX_H
#define CD_INDEX_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>
#include "cd_err.h"
#include "store.h"

/* The ChartVersion JSON for one stored version (new reference):
 * meta + "urls": [chart_url + "/" (repo + "/")? "charts/" + file, or relative
 * "charts/" + file when chart_url is ""], "created", "digest". */
json_t *index_entry(const json_t *meta, const char *repo, const char *file,
                    const char *digest, const char *created, const char *chart_url);

/* The rendered-file options that do not change per request. */
struct index_opts {
	const char *state_dir;
	const char *context_path;  /* "" or "/prefix": serverInfo.contextPath */
	bool json;                 /* also (and preferably) render index.json */
};

/* Makes sure the index file of repo for its current generation exists and
 * writes its path relative to <state>/index ("<repo-dir>/<gen>.yaml") into
 * rel (malloc'd).  Renders it when missing, under a lock so that only one
 * process renders a generation. */
cd_rc index_ensure(struct store *s, const struct index_opts *o, const char *repo,
                   enum store_format fmt, char **rel, cd_err *err);

/* A worker's memory of what index_ensure answered, for a few repos and
 * formats at once: the same answer is given again without reading the
 * database or the disk while the database's change count (store_changes)
 * stays what it was before that answer, and for at most ttl_ms (which
 * bounds what a crash between a commit and its count, or a write by
 * another program, can leave unseen).  Zero it, set ttl_ms, free with
 * index_cache_clear. */
#define INDEX_CACHE_SLOTS 8
struct index_cache {
	long ttl_ms;
	struct index_cache_slot {
		char *repo;             /* NULL: unused */
		enum store_format fmt;
		uint64_t changes;       /* store_changes before the answer */
		struct timespec at;     /* CLOCK_MONOTONIC, before the answer */
		char *rel;
	} slot[INDEX_CACHE_SLOTS];
	unsigned next;              /* the slot a new repo takes */
};

/* index_ensure through c (NULL: straight to index_ensure). */
cd_rc index_ensure_cached(struct index_cache *c, struct store *s, const struct index_opts *o,
                          const char *repo, enum store_format fmt, char **rel, cd_err *err);

void index_cache_clear(struct index_cache *c);

/* True with *found = the newest generation below gen that has a
 * "<found>.<ext>" file in dir (a repo's index directory). */
bool index_newest_below(const char *dir, const char *ext, int64_t gen, int64_t *found);

/* Writes the whole index of repo to fd (used by --print-index). */
cd_rc index_write_fd(struct store *s, const struct index_opts *o, const char *repo,
                     enum store_format fmt, int fd, cd_err *err);

/* The current time in Helm's RFC 3339 form with nanoseconds, UTC. */
void index_now_rfc3339(char out[64]);
/* A file time in the same form. */
void index_time_rfc3339(int64_t unix_ns, char out[64]);

#endif
