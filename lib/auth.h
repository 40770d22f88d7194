/* auth.h — HTTP Basic credentials (RFC 7617) against the configured users.
 *
 * Users come from BASIC_AUTH_USER/BASIC_AUTH_PASS (ChartMuseum's single
 * user) and HTPASSWD_FILE (bcrypt, yescrypt, sha512-crypt through libcrypt).
 * Every comparison is constant-time.  A verified credential is remembered
 * under a keyed hash until it goes unused for a minute (15 minutes at
 * most), so Helm's per-request credentials do not cost a bcrypt each time;
 * the password itself is never stored. */
#ifndef CD_AUTH_H
#define CD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cd_err.h"

struct auth;

/* Loads the users; CD_EINVAL naming the file and line of a bad entry. */
cd_rc auth_open(const char *basic_user, const char *basic_pass,
                const char *htpasswd_file, struct auth **out, cd_err *err);
void auth_close(struct auth *a);

/* True when no users are configured: every request is allowed. */
bool auth_disabled(const struct auth *a);

/* Decodes "Basic base64(user:pass)" into user and pass buffers.  CD_EINVAL
 * for another scheme, bad base64, no colon, or a field too long. */
cd_rc auth_parse_basic(const char *header, char *user, size_t user_sz,
                       char *pass, size_t pass_sz);

/* Checks an Authorization header value (NULL when absent).  CD_OK when it
 * names a configured user with the right password; CD_EAUTH otherwise. */
cd_rc auth_check(struct auth *a, const char *header);

/* fn(ctx) runs each time auth_check is about to compute a password hash
 * (a credential not in the cache: a bcrypt takes tens of milliseconds), so
 * a worker can first let go of what others would wait for meanwhile.
 * NULL for none. */
void auth_before_hash(struct auth *a, void (*fn)(void *ctx), void *ctx);

/* For tests: the clock the cache reads, in monotonic seconds that are
 * never 0 (NULL restores CLOCK_MONOTONIC), and how many password hashes
 * auth_check has computed so far. */
void auth_set_clock(struct auth *a, int64_t (*clock)(void));
unsigned long auth_hashes_computed(const struct auth *a);

/* Constant-time equality of two byte strings (length leaks, content not). */
bool auth_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
