/* gzthread.c — runs indexgz_run every GZ_PERIOD_S until stopped. */
#include "gzthread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "indexgz.h"
#include "log.h"
#include "threads.h"

/* How often the index directories are looked at; a file is compressed
 * once it has been the newest of its directory for GZ_SETTLE_S (a burst of
 * uploads replaces files faster, and compressing each would be waste). */
#define GZ_PERIOD_S 1
#define GZ_SETTLE_S 2
/* After a copy could not be written (a full disk, say) the next try waits. */
#define GZ_BACKOFF_S 60
/* Below the hash threads' +5: compression is the least urgent work here. */
#define GZ_NICE 10

struct gzthread {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	const char *state_dir;
	volatile sig_atomic_t stop; /* also read by indexgz_run between chunks */
};

/* Waits up to seconds or until stopped; true when stopped. */
static bool pause_for(struct gzthread *t, int seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&t->mu);
	while (!t->stop && pthread_cond_timedwait(&t->wake, &t->mu, &until) != ETIMEDOUT)
		;
	bool stop = t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

static void *gz_main(void *arg)
{
	struct gzthread *t = arg;
	errno = 0;
	int nice_now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), nice_now + GZ_NICE);
	int wait_s = GZ_PERIOD_S;
	while (!pause_for(t, wait_s))
		wait_s = indexgz_run(t->state_dir, GZ_SETTLE_S, &t->stop) < 0 ? GZ_BACKOFF_S
		                                                               : GZ_PERIOD_S;
	return NULL;
}

struct gzthread *gzthread_start(const char *state_dir)
{
	struct gzthread *t = calloc(1, sizeof *t);
	if (t == NULL) {
		log_warn("cannot start the index compression thread: out of memory");
		return NULL;
	}
	t->state_dir = state_dir;
	pthread_mutex_init(&t->mu, NULL);
	int r = threads_cond_init_monotonic(&t->wake);
	/* Signals are for the main thread. */
	if (r == 0 && (r = threads_spawn(&t->thread, gz_main, t)) != 0)
		pthread_cond_destroy(&t->wake);
	if (r != 0) {
		log_warn("cannot start the index compression thread: %s", strerror(r));
		pthread_mutex_destroy(&t->mu);
		free(t);
		return NULL;
	}
	return t;
}

void gzthread_stop(struct gzthread *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
