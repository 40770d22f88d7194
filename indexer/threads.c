/* threads.c — see threads.h. */
#include "threads.h"

#include <signal.h>
#include <time.h>

int threads_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int r = pthread_condattr_init(&ca);
	if (r != 0)
		return r;
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

int threads_spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	/* A new thread inherits the creator's mask: block everything around
	 * the create, so no signal can land in the new thread before it runs. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
