/* gzthread.h — the indexer's background thread that writes the gzip copies
 * of settled index files (lib/indexgz.h), at low priority, so the main
 * loop never waits for a compression. */
#ifndef CD_INDEXER_GZTHREAD_H
#define CD_INDEXER_GZTHREAD_H

struct gzthread;

/* Starts the thread for <state_dir>/index (state_dir borrowed: it must
 * outlive the thread); NULL when it cannot be started (logged: the index
 * is then served uncompressed only). */
struct gzthread *gzthread_start(const char *state_dir);

/* Stops the thread (a compression in progress is abandoned within one
 * chunk) and frees it; NULL is accepted. */
void gzthread_stop(struct gzthread *t);

#endif
