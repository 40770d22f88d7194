/* conns.c — a worker's listening socket and parked keep-alive connections
 * in one epoll set (see conns.h). */
#include "conns.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conns {
	int epfd;
	int listen_fd;
	int parked[CONNS_MAX_PARKED]; /* oldest first */
	int nparked;
	bool tcp;                     /* FCGI_SOCKET is host:port, not a path */
	int serving;                  /* the parked connection conns_next last
	                               * returned, still in the epoll set (no
	                               * event comes while no one waits), or -1 */
};

cd_rc conns_open(int listen_fd, struct conns **out, cd_err *err)
{
	struct conns *c = calloc(1, sizeof *c);
	if (c == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	c->listen_fd = listen_fd;
	c->serving = -1;
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	c->tcp = getsockname(listen_fd, (struct sockaddr *)&sa, &len) == 0 &&
	         (sa.ss_family == AF_INET || sa.ss_family == AF_INET6);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	int fl = fcntl(listen_fd, F_GETFL);
	/* EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd };
	if (c->epfd < 0 || fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		int e = errno;
		if (c->epfd >= 0)
			close(c->epfd);
		free(c);
		return cd_fail(err, CD_EIO, "cannot wait on the FastCGI socket: %s", strerror(e));
	}
	*out = c;
	return CD_OK;
}

/* Takes parked[i] off the list; the fd stays open and in the epoll set,
 * which closing it leaves. */
static int unpark(struct conns *c, int i)
{
	int fd = c->parked[i];
	memmove(&c->parked[i], &c->parked[i + 1], (size_t)(c->nparked - i - 1) * sizeof c->parked[0]);
	c->nparked--;
	return fd;
}

static int parked_index(const struct conns *c, int fd)
{
	for (int i = 0; i < c->nparked; i++)
		if (c->parked[i] == fd)
			return i;
	return -1;
}

void conns_release(struct conns *c)
{
	while (c != NULL && c->nparked > 0)
		close(unpark(c, c->nparked - 1));
}

void conns_close(struct conns *c)
{
	if (c == NULL)
		return;
	conns_release(c);
	close(c->epfd);
	free(c);
}

void conns_park(struct conns *c, int fd)
{
	if (c->nparked == CONNS_MAX_PARKED)
		close(unpark(c, 0));
	/* EPOLLRDHUP: nginx closing a kept connection is told apart from a
	 * request arriving on it without reading. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };
	if (fd != c->serving && epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	c->serving = -1;
	c->parked[c->nparked++] = fd;
}

/* A new connection, or -1 when another worker took it first. */
static int accept_one(const struct conns *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	/* As libfcgi does for TCP: the records of a response are written as
	 * they are made, and nothing answers them, so Nagle only delays. */
	int one = 1;
	if (c->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static bool accept_error_is_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED ||
	       e == EPROTO || e == EPERM || e == EMFILE || e == ENFILE || e == ENOBUFS ||
	       e == ENOMEM;
}

int conns_next(struct conns *c, const sigset_t *wait_mask)
{
	/* The connection served last was closed, or parked (then it is on
	 * the list): either way it is not being served now. */
	c->serving = -1;
	for (;;) {
		struct epoll_event ev;
		int n = epoll_pwait(c->epfd, &ev, 1, -1, wait_mask);
		if (n < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		if (n == 0)
			continue;
		if (ev.data.fd == c->listen_fd) {
			int fd = accept_one(c);
			if (fd >= 0)
				return fd;
			if (!accept_error_is_transient(errno))
				return -errno;
			if (errno == EMFILE || errno == ENFILE)
				conns_release(c); /* make room before trying again */
			continue;
		}
		int i = parked_index(c, ev.data.fd);
		if (i < 0)
			continue;
		int fd = unpark(c, i);
		if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			close(fd); /* nginx closed it */
			continue;
		}
		c->serving = fd;
		return fd;
	}
}
