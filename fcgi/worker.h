/* worker.h — one prefork worker: accepts and answers requests until told
 * to stop. */
#ifndef CD_WORKER_H
#define CD_WORKER_H

#include "config.h"

/* Runs in a forked child: opens its own database connection and user
 * table, then serves listen_fd until SIGTERM or SIGINT.  Returns the exit
 * status for the child. */
int worker_main(const struct cd_config *cfg, int listen_fd);

#endif
