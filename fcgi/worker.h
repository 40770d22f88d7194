/* worker.h — one prefork worker: accepts and answers requests until told
 * to stop. */
#ifndef CD_WORKER_H
#define CD_WORKER_H

#include "config.h"
#include "metrics.h"
#include "options.h"

/* Runs in a forked child: opens its own database connection and user
 * table, then serves listen_fd until SIGTERM or SIGINT.  metrics (NULL
 * without ENABLE_METRICS) is the master's shared mapping.  Returns the
 * exit status for the child. */
int worker_main(const struct cd_config *cfg, const struct fcgi_options *opts,
                struct metrics *metrics, int listen_fd);

#endif
