/* storage.h — the chart storage directory, ChartMuseum's local layout.
 *
 * <root>/[<repo>/]<name>-<version>.tgz and <name>-<version>.tgz.prov, where
 * <repo> has DEPTH segments.  Nothing here can name a path outside root:
 * repo keys and file names are validated before any system call.  Writes
 * are atomic: an unnamed O_TMPFILE (or a ".cd-tmp-*" file) in the target
 * directory, fsync, link or rename onto the final name, fsync of the
 * directory. */
#ifndef CD_STORAGE_H
#define CD_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cd_err.h"

#define STORAGE_TMP_PREFIX ".cd-tmp-"

/* A repo key: "" at depth 0, else "seg" / "seg/seg" ... with each segment
 * [A-Za-z0-9._-]+ and not "." or "..".  True when valid for that depth. */
bool storage_repo_valid(const char *repo, int depth);

/* A repo key of any depth ("" or valid segments joined by "/"). */
bool storage_repo_key_valid(const char *repo);

/* A stored file name: [A-Za-z0-9._+-]+, not starting with '.', no "/". */
bool storage_filename_valid(const char *file);

/* File identity used to skip unchanged files. */
struct storage_stat {
	int64_t size;
	int64_t mtime_ns;
	uint64_t ino;
};

/* Writes data to <root>/<repo>/<file> atomically, creating the repo
 * directories.  With overwrite false and the file present: CD_EEXIST and
 * nothing changes (link(2), so of racing writers exactly one wins).  A full
 * disk gives CD_ENOSPC; nothing half-written is ever left under file.
 * st, when not NULL, receives the identity of the final file. */
cd_rc storage_write(const char *root, const char *repo, const char *file,
                    const void *data, size_t len, bool overwrite,
                    struct storage_stat *st, cd_err *err);

/* A file written and fsync'd but not yet visible under its name: lets a
 * caller commit the index row between writing and publishing (an
 * overwrite that the index refuses then changes nothing).  data must
 * stay valid until storage_discard. */
struct storage_staged {
	int dirfd;               /* the repo directory */
	int fd;                  /* the staged file */
	char tmp[64];            /* its temp name, "" while unnamed */
	const void *data;        /* borrowed: rewritten where O_TMPFILE can't be linked */
	size_t len;
	struct storage_stat st;  /* identity of the staged (= final) file */
	enum {
		STAGED_UNPUBLISHED,
		STAGED_KEPT_OLD,     /* storage_replace swapped: tmp names the old file */
		STAGED_CREATED,      /* storage_replace found no file to replace */
		STAGED_REPLACED,     /* replaced where nothing could be kept */
	} replaced;
};

/* Writes data to a new file in <root>/<repo> (created as needed) without
 * naming it file yet.  On failure nothing is left and *out needs no
 * discard (it is safe to call). */
cd_rc storage_stage(const char *root, const char *repo, const char *file,
                    const void *data, size_t len, struct storage_staged *out, cd_err *err);

/* Makes the staged file visible as file: create-only (CD_EEXIST when
 * present, nothing changed) or replacing; then fsyncs the directory. */
cd_rc storage_publish(struct storage_staged *s, const char *file, bool overwrite, cd_err *err);

/* Releases a staged file; one never published is removed, and so is the
 * old file storage_replace kept (or the staged one storage_unpublish took
 * back). */
void storage_discard(struct storage_staged *s);

/* An overwrite that can be undone until its index row commits: makes the
 * staged file visible as file and keeps the file it replaced, unlinked but
 * whole, under the staged temp name (renameat2 RENAME_EXCHANGE: readers
 * see the old bytes or the new, never no file).  A caller holding the
 * index's write transaction across this call and its commit leaves no
 * moment in which another writer of the index sees a committed row beside
 * the file it replaced.  Not yet durable: storage_sync after the commit,
 * so that the directory's fsync is not made while the index is locked. */
cd_rc storage_replace(struct storage_staged *s, const char *file, cd_err *err);

/* The create-only counterpart of storage_replace: makes the staged file
 * visible as file unless that name exists (CD_EEXIST, nothing changed).
 * A caller holding the index's write transaction across this call and its
 * commit leaves no moment in which another writer of the index sees the
 * file without its row.  storage_unpublish takes it back; storage_sync
 * after the commit makes it durable. */
cd_rc storage_create(struct storage_staged *s, const char *file, cd_err *err);

/* Fsyncs the directory of a file storage_replace or storage_create
 * published or storage_set_aside moved (nothing when there is none).  Before it, a
 * crash may bring the old name back; the index then follows storage at
 * the next start, and no client was answered yet. */
cd_rc storage_sync(struct storage_staged *s, cd_err *err);

/* Undoes storage_replace (the index refused the row): the old file is back
 * under file, or, when there was none, the staged file is removed from
 * file unless someone replaced it meanwhile.  Where the file system can
 * not exchange names (STAGED_REPLACED) the new file stays: CD_EIO. */
cd_rc storage_unpublish(struct storage_staged *s, const char *file, cd_err *err);

/* A delete that can be undone until its index row commits: renames
 * <root>/<repo>/<file> to a temp name in its directory (storage_sync makes
 * it durable).  CD_ENOTFOUND when absent.  storage_put_back restores it; storage_discard
 * deletes it for good. */
cd_rc storage_set_aside(const char *root, const char *repo, const char *file,
                        struct storage_staged *out, cd_err *err);

/* Puts a file set aside back under file, unless a new file took the name
 * meanwhile (that one stays, and the set-aside one goes at discard). */
cd_rc storage_put_back(struct storage_staged *s, const char *file, cd_err *err);

/* Removes <root>/<repo>/<file>; CD_ENOTFOUND when absent. */
cd_rc storage_remove(const char *root, const char *repo, const char *file, cd_err *err);

/* True and fills st when <root>/<repo>/<file> is a regular file. */
bool storage_exists(const char *root, const char *repo, const char *file,
                    struct storage_stat *st);

/* Reads the whole file into *data (malloc'd, caller frees); fails with
 * CD_ETOOBIG past max bytes. */
cd_rc storage_read(const char *root, const char *repo, const char *file,
                   size_t max, void **data, size_t *len, struct storage_stat *st,
                   cd_err *err);

/* Concatenates n parts into out (size bytes); false when they do not fit.
 * For paths made per file or per request, where snprintf's format parsing
 * showed up in profiles (the indexer's hash threads, small-file reads). */
bool storage_join(char *out, size_t size, const char *const *parts, size_t n);

/* "<root>/<repo>/<file>" or "<root>/<file>", malloc'd; file NULL or ""
 * gives the repo directory.  NULL when repo or file is not valid. */
char *storage_path(const char *root, const char *repo, const char *file);

/* Counts the .tgz and .prov files of a repo directory (MAX_STORAGE_OBJECTS):
 * 0 when the directory does not exist, -1 when it cannot be read. */
long storage_count_objects(const char *root, const char *repo);

/* Deletes leftover STORAGE_TMP_PREFIX files under root (to depth levels of
 * repo directories): call only when no upload can be in flight. */
void storage_clean_tmp(const char *root, int depth);

#endif
