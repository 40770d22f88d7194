/* watch.h — inotify watches on the storage root and its repo directories.
 *
 * Every directory from the root down to the repo level is watched; a
 * directory is known by its path relative to the root ("" for the root).
 * When inotify is unavailable (or out of watches) the indexer still works
 * on its interval; watch_ok says which. */
#ifndef CD_INDEXER_WATCH_H
#define CD_INDEXER_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "map.h"

struct watch {
	int fd;                /* -1 without inotify */
	const char *root;      /* borrowed */
	struct map wds;        /* "<wd>" -> struct watch_dir */
	unsigned gen;          /* bumped by each full pass (watch_prune) */
	bool warned_limit;
};

struct watch_dir {
	int wd;
	char *rel;             /* "" or "a" or "a/b" */
	int level;             /* number of segments of rel */
	bool repo;             /* charts live here (files matter) */
	unsigned gen;          /* last full pass that saw it */
};

/* What a watched directory reported. */
enum watch_what {
	WATCH_FILE,        /* name changed (written, moved, deleted, touched) */
	WATCH_DIR_ADDED,   /* sub-directory name created or moved in */
	WATCH_DIR_REMOVED, /* sub-directory name deleted or moved away */
	WATCH_OVERFLOW,    /* events were lost: reconcile everything */
};

typedef void (*watch_fn)(enum watch_what what, const struct watch_dir *d,
                         const char *name, void *ctx);

/* Opens inotify; fd stays -1 (with a warning) when it cannot. */
void watch_init(struct watch *w, const char *root);
void watch_close(struct watch *w);

/* Watches the directory rel (level segments below root). */
void watch_add(struct watch *w, const char *rel, int level, bool repo);

/* Starts a full pass: directories not watch_add'ed again before
 * watch_prune are dropped (moved away or deleted). */
void watch_begin_pass(struct watch *w);
void watch_prune(struct watch *w);

/* Reads the pending events and calls fn for each; false when the fd broke. */
bool watch_read(struct watch *w, watch_fn fn, void *ctx);

#endif
