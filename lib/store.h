/* store.h — the SQLite index of every chart version (one db, WAL mode).
 *
 * Shared by every worker and the indexer.  Open a connection after fork.
 * Writes are short BEGIN IMMEDIATE transactions; all hashing, parsing and
 * file renames happen before one opens.  No statement stays open between
 * calls.  Each chart name's index entries are kept rendered (YAML and JSON)
 * in a block row, rewritten when that name changes, and every change bumps
 * the repo's generation so readers know when a rendered index is stale;
 * the block records the generation of the change that last rewrote it, so
 * a render knows which blocks an earlier index file still has right. */
#ifndef CD_STORE_H
#define CD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "cd_err.h"
#include "storage.h"

struct store;

/* Opens (creating when needed) the database at path: WAL, busy timeout,
 * schema.  A file that is not a usable database gives CD_EDB with the
 * reason; the indexer then moves it aside with store_recreate.  A db that
 * cannot be opened or read at all (permissions, I/O) gives CD_EIO. */
cd_rc store_open(const char *path, struct store **out, cd_err *err);
void store_close(struct store *s);

/* Sets the connection's page cache to kib KiB and turns off mmap (the
 * workers: see store.c; the default suits the indexer's batches). */
cd_rc store_set_cache_kib(struct store *s, int kib, cd_err *err);

/* Frees the page cache pages not in use (after a big read, such as an
 * index render, so a long-lived process does not keep them). */
void store_release_memory(struct store *s);

/* Renames a corrupt database (and its -wal/-shm) to *.corrupt-<time> and
 * opens a fresh one. */
cd_rc store_recreate(const char *path, struct store **out, cd_err *err);

/* One chart version as stored. */
struct store_chart {
	char *repo, *name, *version, *file;
	struct storage_stat st;
	char digest[65];
	char *created;   /* RFC 3339 */
	json_t *meta;    /* Helm Metadata JSON */
};
void store_chart_free(struct store_chart *c);

/* Inserts or replaces the version (keyed by repo+name+version; a row for
 * the same repo+file is replaced too), rewrites the name's block and bumps
 * the repo's generation, in one transaction.  chart_url is "" or the
 * CHART_URL prefix used to build the entry's urls. */
cd_rc store_put(struct store *s, const struct store_chart *c, const char *chart_url,
                cd_err *err);

/* The texts store_put writes for a version, rendered ahead of the write
 * transaction.  store_prepare needs no store and touches nothing shared, so
 * the indexer's hash threads call it and the writer only binds and inserts.
 * Owned by the caller; store_prepared_free releases it. */
struct store_prepared {
	char *entry_json;    /* compact ChartVersion JSON, keys sorted */
	size_t entry_json_len;
	char *entry_yaml;    /* ChartVersion as a sequence item at indent 2 */
	size_t entry_yaml_len;
};
cd_rc store_prepare(const struct store_chart *c, const char *chart_url,
                    struct store_prepared *out, cd_err *err);
void store_prepared_free(struct store_prepared *p);

/* store_put with texts from store_prepare (for c and the same chart_url). */
cd_rc store_put_prepared(struct store *s, const struct store_chart *c,
                         const struct store_prepared *p, cd_err *err);

/* Entries are stored rendered with the CHART_URL of the put that wrote
 * them.  When chart_url differs from the one recorded, re-renders every
 * entry and block and bumps every generation, then records chart_url.
 * The indexer calls it at start (CHART_URL may change between runs). */
cd_rc store_sync_chart_url(struct store *s, const char *chart_url, cd_err *err);

/* Bulk mode, for the indexer while it loads many versions at once: the
 * WAL is checkpointed every 64 MB instead of every 4 MB.  Durability is
 * unchanged (synchronous=NORMAL).  Off restores the default and runs a
 * passive checkpoint. */
void store_bulk(struct store *s, bool on);

/* synchronous=OFF on this connection (true) or back to NORMAL (false):
 * neither commits nor checkpoints wait for the disk.  A killed process
 * loses nothing (WAL); the machine stopping may leave the file damaged in
 * ways no check finds, so only a caller that then rebuilds the database
 * may turn it off (the indexer's bulk loads: see indexer/reconcile.c).
 * Not inside a transaction. */
cd_rc store_set_unsynced(struct store *s, bool unsynced, cd_err *err);

/* Many puts and removals in one transaction (the indexer's batches). */
cd_rc store_begin(struct store *s, cd_err *err);
cd_rc store_commit(struct store *s, cd_err *err);
void store_rollback(struct store *s);

/* Deletes the version; CD_ENOTFOUND when absent.  Rewrites the block and
 * bumps the generation. */
cd_rc store_remove(struct store *s, const char *repo, const char *name,
                   const char *version, const char *chart_url, cd_err *err);

/* Deletes the row for repo+file, if any (a file removed behind our back). */
cd_rc store_remove_file(struct store *s, const char *repo, const char *file,
                        const char *chart_url, cd_err *err);

/* Looks a version up; CD_ENOTFOUND when absent.  out owned by the caller. */
cd_rc store_get(struct store *s, const char *repo, const char *name,
                const char *version, struct store_chart *out, cd_err *err);

/* The repo's generation (0 for an unknown repo).  A new repo starts at the
 * current time in microseconds and each change adds one, so generations
 * keep growing even across a recreated database. */
cd_rc store_generation(struct store *s, const char *repo, int64_t *gen, cd_err *err);

/* The count of writes committed to this database by any process (a
 * shared page, <db>-changes, that each commit adds one to before its
 * writer answers anyone), into *count: while it stays the same, nothing a
 * reader sees has changed, and no read transaction is needed to know it.
 * A write made by another program (the sqlite3 shell) does not count.
 * False when the page could not be mapped: take every call as a change. */
bool store_changes(struct store *s, uint64_t *count);

/* SQLite's PRAGMA data_version into *version: it changes when another
 * connection (a worker, say) has committed since this connection last
 * asked, never for this connection's own commits. */
cd_rc store_data_version(struct store *s, int64_t *version, cd_err *err);

/* The number of chart names and of versions in repo (0 and 0 when none). */
cd_rc store_count(struct store *s, const char *repo, int64_t *names, int64_t *versions,
                  cd_err *err);

/* Registers a repo (so "GET /" lists it even while empty). */
cd_rc store_add_repo(struct store *s, const char *repo, cd_err *err);

/* A read snapshot: the calls between store_read_begin and store_read_end
 * see one consistent state of the db (say a generation and the blocks of
 * exactly that generation).  Not inside store_begin/store_commit. */
cd_rc store_read_begin(struct store *s, cd_err *err);
void store_read_end(struct store *s);

/* PRAGMA quick_check: CD_EDB with SQLite's first complaint when the file
 * is damaged.  Linear in the db size: for the indexer at start, not for
 * every worker (store_open only checks that the schema can be read). */
cd_rc store_check(struct store *s, cd_err *err);

/* The store_each_* walks stop early when fn returns non-zero.  Repos and
 * files are read in full before fn runs, so their fn may write to the
 * store; blocks and charts are streamed and their fn must not write. */

/* Calls fn for each repo key, sorted. */
cd_rc store_each_repo(struct store *s, int (*fn)(const char *repo, void *ctx),
                      void *ctx, cd_err *err);

/* Calls fn for each block of a repo in name order: the name and its
 * rendered YAML ("  name:\n  - ...") or JSON ("[{...},...]") text (a
 * stale block is rendered from its rows, as store_refresh_blocks would). */
enum store_format { STORE_YAML, STORE_JSON };
cd_rc store_each_block(struct store *s, const char *repo, enum store_format fmt,
                       int (*fn)(const char *name, const char *text, size_t len, void *ctx),
                       void *ctx, cd_err *err);

/* Calls fn for each block of repo in name order, as store_each_block, with
 * the generation whose change last rewrote it (0: before schema 4).  text
 * is given only when gen > since (NULL otherwise), so a walk that only
 * needs the texts changed after an earlier render reads no other text. */
cd_rc store_each_block_since(struct store *s, const char *repo, enum store_format fmt,
                             int64_t since,
                             int (*fn)(const char *name, int64_t gen, const char *text,
                                       size_t len, void *ctx),
                             void *ctx, cd_err *err);

/* Lazy (the upload path, and the indexer's bulk loads): a write marks the
 * blocks of the names it touched stale instead of rebuilding them, so its
 * cost does not grow with the number of versions of the chart.  Readers see
 * the same index either way; store_refresh_blocks rebuilds them later. */
void store_set_lazy(struct store *s, bool lazy);

/* Whether rewritten blocks keep their JSON text as well as the YAML (the
 * default).  Only a JSON index (JSON_INDEX) reads it on every render; with
 * it off, a block stores '' and the rare whole-repo JSON read (GET
 * /api/charts) assembles each block from its versions' entries instead, as
 * it does for any block whose JSON was not kept.  Either setting reads a
 * database written with the other. */
void store_set_block_json(struct store *s, bool keep);

/* Rebuilds up to max stale blocks in one write transaction (the indexer
 * calls it in the background); *refreshed receives how many. */
cd_rc store_refresh_blocks(struct store *s, int max, int *refreshed, cd_err *err);

/* Calls fn for every version of repo (or, when name is not NULL, of that
 * name), names sorted, versions newest first by SemVer. */
cd_rc store_each_chart(struct store *s, const char *repo, const char *name,
                       int (*fn)(const struct store_chart *c, void *ctx), void *ctx,
                       cd_err *err);

/* Calls fn for every file the index knows in repo, with its identity. */
cd_rc store_each_file(struct store *s, const char *repo,
                      int (*fn)(const char *file, const struct storage_stat *st, void *ctx),
                      void *ctx, cd_err *err);

/* Whether a row of repo names file with exactly this identity (the
 * chart_ident index answers it); false on any error, so a caller that
 * skips work on true never skips it for a failed lookup. */
bool store_has_file(struct store *s, const char *repo, const char *file,
                    const struct storage_stat *st);

/* Files found invalid are remembered with their identity so they are
 * reported once and not re-read until they change. */
cd_rc store_put_bad_file(struct store *s, const char *repo, const char *file,
                         const struct storage_stat *st, const char *reason, cd_err *err);
bool store_is_known_bad(struct store *s, const char *repo, const char *file,
                        const struct storage_stat *st);

/* A small key/value row (*value malloc'd, NULL when the key is absent):
 * the CHART_URL the entries were rendered with, the indexer's statistics. */
cd_rc store_setting_get(struct store *s, const char *key, char **value, cd_err *err);
cd_rc store_setting_put(struct store *s, const char *key, const char *value, cd_err *err);

#endif
