/* pool.h — the indexer's hash workers.
 *
 * INDEX_LIMIT threads take jobs from one array and, for each file, read it
 * once, compute its sha256 and parse its Chart.yaml from the same buffer.
 * Results come back to the caller's thread (the only one that touches the
 * database) through a ring of 512 x threads parsed charts (deep enough to
 * absorb a batch commit); a thread waits while the ring is full, so memory
 * stays bounded: one file buffer per thread, ~5 KB per parsed chart.  The threads also render the index
 * entry texts (store_prepare), so the writer only binds and inserts; they
 * never touch SQLite. */
#ifndef CD_INDEXER_POOL_H
#define CD_INDEXER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include "chart.h"
#include "digest.h"
#include "storage.h"
#include "store.h"

/* Files larger than this are not charts (Helm caps the decompressed size). */
#define POOL_MAX_FILE (CHART_MAX_DECOMPRESSED + (1L << 20))

struct hash_job {
	const char *repo;       /* borrowed from the caller's pass */
	char *file;             /* owned by the caller's pass */
	struct storage_stat st; /* identity at scan time */
	bool had_row;           /* the index had a row for this file */
	bool cold;              /* the repo had no rows at scan time */
	bool whole;             /* the repo was scanned whole in this pass */
	bool recheck;           /* a known-bad file read again because a file
	                           it may duplicate went away */
	bool bad_checked;       /* store_is_known_bad already said no */
};

enum hash_kind {
	HASH_OK,    /* digest and ci filled */
	HASH_BAD,   /* not a valid chart: reason */
	HASH_GONE,  /* the file vanished or is no longer a regular file */
	HASH_ERR,   /* could not read it (EACCES, EIO...): reason */
};

struct hash_result {
	struct hash_job *job;
	enum hash_kind kind;
	struct storage_stat st; /* identity of the bytes read (fstat) */
	char digest[DIGEST_HEX_LEN + 1];
	struct chart_info ci;   /* HASH_OK only; meta is NULL when prepared */
	char created[64];       /* HASH_OK: the entry's "created" (file mtime) */
	bool prepared;          /* HASH_OK: prep holds the rendered texts */
	struct store_prepared prep;
	char reason[512];
	int owner;              /* the thread that made it (pool_release) */
	struct hash_result *next_spent;
};

struct pool;

/* Starts n threads reading files under root (borrowed, must outlive the
 * pool) and rendering entries for chart_url (borrowed, NULL for "").
 * NULL when a thread cannot be created. */
struct pool *pool_start(int n, const char *root, const char *chart_url);

/* Hands the jobs (borrowed until pool_next reports the end) to the threads,
 * once the last pass has been reported done; opens the root for this pass. */
void pool_run(struct pool *p, struct hash_job *jobs, size_t njobs);

/* Waits up to timeout_ms for the next result (caller frees it with
 * pool_result_free).  NULL on timeout, or, with *done set, when every job
 * taken has been reported. */
struct hash_result *pool_next(struct pool *p, int timeout_ms, bool *done);

/* Stops handing out jobs; those being read are still reported. */
void pool_abort(struct pool *p);

void pool_result_free(struct hash_result *r);

/* Frees a result from pool_next later, in the thread that allocated it:
 * freed by the caller, its large blocks went back to that thread's malloc
 * arena under the arena's lock, against which the thread itself was
 * allocating (a third of the writer's waits on a cold index). */
void pool_release(struct pool *p, struct hash_result *r);

/* Stops and joins the threads. */
void pool_stop(struct pool *p);

#endif
