/* indexgz.h — gzip copies of the rendered index files.
 *
 * nginx's gzip_static sends <gen>.<ext>.gz in place of <gen>.<ext> to a
 * client that accepts gzip (Flux, `curl --compressed`, proxies; Helm asks
 * for none): 170 MB of YAML leave as 12 MB.  The indexer writes them in the
 * background, once a file has been the newest of its directory for a few
 * seconds, so a generation replaced at once is never compressed and no
 * reader ever waits for a copy: a file without its .gz is sent as it is.
 * index.c removes each .gz together with its file. */
#ifndef CD_INDEXGZ_H
#define CD_INDEXGZ_H

#include <signal.h>

/* The suffix of a compressed copy, and the prefix of its temp file while
 * it is written (index.c removes temps a crashed writer left). */
#define INDEXGZ_SUFFIX ".gz"
#define INDEXGZ_TEMP_PREFIX ".gz-"

/* Writes the missing .gz of the newest "<gen>.yaml" and "<gen>.json" in
 * every repo directory under <state_dir>/index when that file is at least
 * settle_s seconds old.  Checks *stop between chunks of a file and gives
 * up at once when it is set (the temp file is removed).  Returns the number
 * of copies written, or -1 when one could not be written (logged; the
 * caller waits before trying again, e.g. on a full disk). */
int indexgz_run(const char *state_dir, int settle_s, const volatile sig_atomic_t *stop);

#endif
