/* reconcile.h — making the index equal to the storage directory.
 *
 * A pass compares directories (or single files named by inotify) with the
 * database by (size, mtime_ns, inode), hashes new and changed files in the
 * pool, writes the results in large transactions, drops rows whose files
 * are gone and records invalid files once.  Only this thread uses the
 * store. */
#ifndef CD_INDEXER_RECONCILE_H
#define CD_INDEXER_RECONCILE_H

#include <signal.h>
#include <stdbool.h>
#include "config.h"
#include "index.h"
#include "map.h"
#include "pool.h"
#include "store.h"
#include "watch.h"

struct indexer {
	const struct cd_config *cfg;
	struct store *s;
	struct pool *pool;
	struct watch *w;            /* NULL: no watches wanted (--once) */
	struct index_opts iopts;
	volatile sig_atomic_t *stop;

	struct map registered;      /* repos passed to store_add_repo */
	struct map changed;         /* repos written to since the last render */
	struct map recheck;         /* repos where a file went away: their known-bad
	                               files (duplicates of it, maybe) are read
	                               again on the next full pass */
	struct map retry;           /* "<repo>/<file>" that looked invalid right
	                               after an event while still being written:
	                               checked again a little later */

	/* The open write batch. */
	bool in_txn;
	int batch_n;
	double batch_t0;
	bool failed;                /* a store error: retry the pass later */

	/* The store's data_version as of the pass's start or its last batch,
	 * and whether another connection (a worker) has committed since the
	 * pass began: a first load then checks what it writes as well. */
	int64_t data_version;
	bool others_wrote;

	/* During a bulk load without syncs: the db file, whose writeback each
	 * commit starts (see reconcile.c). */
	bool bulk_db_open;
	int bulk_db_fd;
};

/* What a pass did, for the log. */
struct pass_stats {
	long unchanged;   /* skipped by identity */
	long hashed;      /* files read */
	long indexed;     /* hashed files that are now rows */
	long bad;         /* invalid files, new or already known */
	long removed;     /* rows dropped because the file is gone */
	long repos;       /* repo directories seen */
	bool interrupted; /* stopped by SIGTERM/SIGINT */
};

/* Reconciles every repo directory (and drops repos that vanished),
 * refreshing the watches when ix->w is set. */
cd_rc reconcile_full(struct indexer *ix, struct pass_stats *ps);

/* Reconciles the listed repo directories entirely and the listed files
 * (keys "<repo>/<file>", "/<file>" at depth 0) one by one. */
cd_rc reconcile_some(struct indexer *ix, const struct map *dirs, const struct map *files,
                     struct pass_stats *ps);

/* Lists the repo directories under rel (level segments below the root)
 * into out, adding watches on the way; used for a directory that appeared. */
void reconcile_walk(struct indexer *ix, const char *rel, int level, struct map *out);

/* Makes sure the rendered index of every repo in ix->changed (or of every
 * repo, with all) exists for its current generation. */
void reconcile_render(struct indexer *ix, bool all);

/* Bulk loads run with SQLite's syncs off while <state>/indexer.bulk says
 * so (see reconcile.c).  At start: true when such a load was cut short by
 * the machine stopping (the marker is from another boot), so the database
 * must be rebuilt from storage; a marker from this boot (only the process
 * was killed) is removed.  reconcile_bulk_forget removes the marker once
 * the database has been replaced. */
bool reconcile_bulk_interrupted(const struct cd_config *cfg);
void reconcile_bulk_forget(const struct cd_config *cfg);

/* True when a file name is one the indexer looks at (a .tgz, no dot file). */
bool reconcile_wanted_file(const char *name);

#endif
