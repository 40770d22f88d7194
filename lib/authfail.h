/* authfail.h — slows down password guessing: counts failed credential
 * checks per client address and refuses an address that reached the limit.
 *
 * One fixed table per process (each FastCGI worker holds its own; nginx's
 * limit_req is the shared, coarser brake).  A zeroed struct authfail is an
 * empty table, so it needs no set-up and no release.  Times are passed in
 * (seconds of authfail_now()) so the tests can move the clock.
 *
 * At AUTH_FAILURE_LIMIT failures within AUTHFAIL_WINDOW_S seconds the
 * address is refused for AUTHFAIL_WINDOW_S seconds counted from the failure
 * that reached the limit.  A refused address is not checked at all, right
 * password or not: a brute force learns nothing during the pause and cannot
 * spend the server's CPU on bcrypt.  A verified check forgets the address's
 * failures (others' counts stay). */
#ifndef CD_AUTHFAIL_H
#define CD_AUTHFAIL_H

#include <stdbool.h>
#include <stdint.h>

/* AUTH_FAILURE_LIMIT's default: a person mistyping a password a few times
 * stays well below it; a guesser gets 10 tries a minute per worker. */
#define AUTHFAIL_DEFAULT_LIMIT 10
#define AUTHFAIL_WINDOW_S 60      /* counting window and pause, seconds */
#define AUTHFAIL_SLOTS 256        /* addresses remembered per worker */
#define AUTHFAIL_WAYS 4           /* slots an address may occupy (one set) */
#define AUTHFAIL_ADDR_MAX 64      /* longer address strings are cut */

struct authfail_slot {
	char addr[AUTHFAIL_ADDR_MAX];  /* REMOTE_ADDR; "" with first == 0 */
	int64_t first;                 /* start of the counting window; 0 = empty */
	int64_t last;                  /* latest failure, for eviction */
	int64_t until;                 /* refused before this time; 0 = not refused */
	int count;                     /* failures since first */
};

struct authfail {
	struct authfail_slot slot[AUTHFAIL_SLOTS];
};

/* CLOCK_MONOTONIC seconds, never 0. */
int64_t authfail_now(void);

/* Seconds addr must still wait before its credentials are checked again,
 * 0 when they may be.  limit <= 0 disables the limiter (always 0). */
int authfail_wait(const struct authfail *t, const char *addr, int limit, int64_t now);

/* Counts a failed check from addr.  True when this failure reached limit
 * and started a pause (once per pause: the caller logs it). */
bool authfail_record(struct authfail *t, const char *addr, int limit, int64_t now);

/* A verified check from addr: its failures are forgotten. */
void authfail_clear(struct authfail *t, const char *addr);

#endif
