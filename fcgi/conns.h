/* conns.h — the connections one worker serves: new ones from the listening
 * socket, and the ones nginx keeps open between requests (FCGI_KEEP_CONN,
 * nginx's upstream keepalive for GETs).
 *
 * A worker is single-threaded and answers one request at a time.  Between
 * requests it waits in one epoll set on the listening socket (shared with
 * the other workers, EPOLLEXCLUSIVE) and on every connection it parked;
 * whichever has input first is served next.  A parked connection is idle
 * by nginx's account, so nginx may send its next request on it while the
 * worker is busy with another one: conns_release closes them all before a
 * request that may take long, and nginx retries a GET whose kept connection
 * was closed on another connection, which an idle worker then accepts. */
#ifndef CD_CONNS_H
#define CD_CONNS_H

#include <signal.h>
#include "cd_err.h"

/* More parked connections than this close the oldest: nginx keeps at most
 * `keepalive` (nginx/chartdepot.conf.in) per nginx worker process. */
#define CONNS_MAX_PARKED 64

struct conns;

/* Sets up the epoll set on listen_fd (made non-blocking: the worker accepts
 * only when epoll says a connection is waiting, and another worker may take
 * it first). */
cd_rc conns_open(int listen_fd, struct conns **out, cd_err *err);

/* Closes every parked connection and the epoll set (not listen_fd). */
void conns_close(struct conns *c);

/* Waits for the next connection with input: a parked one, taken out of the
 * set, or a newly accepted one.  Signals outside wait_mask are deliverable
 * only during the wait.  Returns the connection's fd, which the caller now
 * owns; -EINTR when a signal interrupted the wait; another -errno when the
 * listening socket failed. */
int conns_next(struct conns *c, const sigset_t *wait_mask);

/* Parks fd, a connection whose response is complete and whose input holds
 * nothing more, until nginx sends a request on it or closes it. */
void conns_park(struct conns *c, int fd);

/* Closes every parked connection, so that no request waits on this worker
 * while it does something slow.  c may be NULL. */
void conns_release(struct conns *c);

#endif
