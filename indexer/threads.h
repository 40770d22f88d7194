/* threads.h — how the indexer starts its helper threads (the hash pool,
 * the index compression thread): signals stay with the main thread, and
 * timed waits run on the monotonic clock so a clock change cannot stretch
 * or cut them. */
#ifndef CD_INDEXER_THREADS_H
#define CD_INDEXER_THREADS_H

#include <pthread.h>

/* Initialises *cond for pthread_cond_timedwait with CLOCK_MONOTONIC
 * deadlines.  Returns 0 or an errno value. */
int threads_cond_init_monotonic(pthread_cond_t *cond);

/* Starts fn(arg) in *thread with every signal blocked in it (the caller's
 * mask is left as it was).  Returns 0 or pthread_create's errno value. */
int threads_spawn(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
