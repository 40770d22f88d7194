/* worker.c — the request loop of one prefork worker.
 *
 * The worker picks its connections itself (conns.h) and hands each to
 * libfcgi, which reads the request from it.  SIGTERM and SIGINT are only
 * deliverable while the worker waits for a connection; during a request
 * they stay blocked, so a stop never cuts a response in half. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "auth.h"
#include "conns.h"
#include "index.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "route.h"
#include "store.h"

/* SQLite page cache per worker: small, so a worker's memory does not grow
 * with the repo (renders stream every block past it; the OS caches the db). */
#define WORKER_CACHE_KIB 2048

static volatile sig_atomic_t worker_stop;

static void on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The request path made safe for one log line: printable ASCII only. */
static void log_path(const char *path, char *out, size_t sz)
{
	size_t o = 0;
	for (; *path && o + 1 < sz; path++)
		out[o++] = (*path > 0x20 && *path < 0x7f) ? *path : '?';
	out[o] = '\0';
}

/* One request from parse to the log line; all its memory is released by
 * the req_end at the bottom.  Returns whether the connection may carry
 * nginx's next request: only GETs are sent on kept connections
 * (nginx/chartdepot.conf.in), and nginx drops the connection after an
 * X-Accel-Redirect whatever the worker does. */
static bool serve(struct app *app, FCGX_Request *fx)
{
	struct req r;
	cd_err err;
	struct timespec t0;
	char path[256];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err.msg[0] = '\0';
	req_init(&r, app, fx);
	cd_rc rc = req_parse(&r, &err);
	if (rc == CD_OK)
		rc = route_dispatch(&r, &err);
	if (rc != CD_OK)
		respond_error(&r, rc, err.msg);
	else if (!r.responded)
		respond_error(&r, CD_EIO, "handler sent no response");

	double ms = ms_since(&t0);
	metrics_request(app->metrics, r.route < 0 ? route_count() : (size_t)r.route, r.status,
	                ms / 1e3);
	if (r.route_flags & RF_UPLOAD)
		metrics_upload(app->metrics, r.status);

	/* Every request at debug level (DEBUG); /health only with LOG_HEALTH,
	 * at info level, as ChartMuseum; failures of the server always. */
	log_path(r.path, path, sizeof path);
	if (r.status >= 500)
		log_error("%s %s -> %d id=%s %.1fms: %s", r.method_name, path, r.status,
		          r.request_id, ms, r.error);
	else if (r.route_flags & RF_HEALTH) {
		if (r.cfg->log_health)
			log_info("%s %s -> %d id=%s %.1fms", r.method_name, path, r.status,
			         r.request_id, ms);
	} else
		log_debug("%s %s -> %d id=%s %.1fms", r.method_name, path, r.status,
		          r.request_id, ms);
	bool reusable = r.method == M_GET && !r.accel;
	req_end(&r);
	return reusable;
}

/* The database file a connection was opened on. */
struct db_identity {
	dev_t dev;
	ino_t ino;
};

/* Opens the database with the worker's small page cache and notes which
 * file it is.  The file is identified before opening: if the indexer swaps
 * it in between, the next request sees a change and reopens once more,
 * whereas identifying it after could miss a swap for good. */
static cd_rc open_db(const struct cd_config *cfg, struct store **s, struct db_identity *id,
                     cd_err *err)
{
	struct stat st;
	memset(id, 0, sizeof *id);
	if (stat(cfg->db_path, &st) == 0) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
	cd_rc rc = store_open(cfg->db_path, s, err);
	if (rc != CD_OK)
		return rc;
	if (store_set_cache_kib(*s, WORKER_CACHE_KIB, err) != CD_OK)
		log_warn("keeping the default database cache size: %s", err->msg);
	/* An upload writes its own row; the indexer rebuilds the name's block. */
	store_set_lazy(*s, true);
	store_set_block_json(*s, cfg->json_index);
	return CD_OK;
}

/* The file this worker's connection is on (one worker per process). */
static struct db_identity worker_db_id;

/* When the indexer has moved a damaged database aside and made a new one,
 * this connection still points at the old file: reopen on the new one
 * (one stat per request that reads the database; keeps the old connection
 * if the new one fails).  app->follow_db. */
static void follow_db(struct app *app)
{
	const struct cd_config *cfg = app->cfg;
	struct store **s = &app->store;
	struct db_identity *id = &worker_db_id;
	struct stat st;
	if (stat(cfg->db_path, &st) != 0 || (st.st_dev == id->dev && st.st_ino == id->ino))
		return;
	struct store *fresh;
	struct db_identity fresh_id;
	cd_err err;
	if (open_db(cfg, &fresh, &fresh_id, &err) != CD_OK) {
		log_warn("the database file was replaced but cannot be opened yet: %s", err.msg);
		return;
	}
	store_close(*s);
	*s = fresh;
	*id = fresh_id;
	index_cache_clear(app->index_cache);
	log_info("the database file was replaced: reopened it");
}

/* A credential missing from the cache costs a bcrypt (tens of ms): the
 * GETs nginx queues meanwhile on parked connections go elsewhere. */
static void release_parked(void *conns)
{
	conns_release(conns);
}

/* Whether req_end has read the request's input to its end, without error. */
static bool input_drained(FCGX_Request *fx)
{
	return fx->in != NULL && FCGX_HasSeenEOF(fx->in) == EOF && FCGX_GetError(fx->in) == 0;
}

/* Ends the request on fx and parks its connection when nginx asked to keep
 * it (FCGI_KEEP_CONN), the response allows it and no input is left over
 * (which libfcgi would read as the next request).  keepConnection, ipcFd:
 * libfcgi's "don't use" fields; this file and the FCGX_InitRequest below
 * are the only places that touch them (libfcgi 2.4, as in Debian 12). */
static void finish(FCGX_Request *fx, struct conns *conns, bool reusable)
{
	bool park = fx->keepConnection && reusable && input_drained(fx);
	/* libfcgi ends a connection with a lingering close (shutdown, then read
	 * until nginx closes too) so that a TCP reset cannot destroy a response
	 * that nginx has not read yet.  A reset only happens when unread input
	 * is left in our receive buffer; nginx sends nothing after the end of
	 * FCGI_STDIN but its next request on a kept connection, and that only once
	 * it has read the whole response (it retries a GET whose kept connection
	 * was reset).  So once req_end has read stdin to its end the plain close of
	 * a detached request is just as safe, and the worker takes the next
	 * connection at once instead of idling until nginx closes its end. */
	if (!park) {
		fx->keepConnection = 0;
		if (input_drained(fx))
			FCGX_Detach(fx);
	}
	FCGX_Finish_r(fx);
	if (fx->ipcFd >= 0) {
		conns_park(conns, fx->ipcFd);
		fx->ipcFd = -1;
	}
}

int worker_main(const struct cd_config *cfg, const struct fcgi_options *opts,
                struct metrics *metrics, int listen_fd)
{
	/* A second bounds how long a commit whose count never came (its
	 * writer died in between) or another program's write goes unseen. */
	struct index_cache index_cache = { .ttl_ms = 1000 };
	struct app app = { .cfg = cfg, .opts = opts, .metrics = metrics,
	                   .index_cache = &index_cache };
	struct sigaction sa;
	sigset_t stops, all, wait_mask;
	FCGX_Request fx;
	cd_err err;
	int status = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop; /* no SA_RESTART: accept must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigfillset(&all);
	sigdelset(&all, SIGTERM);
	sigdelset(&all, SIGINT);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	sigprocmask(SIG_BLOCK, &stops, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);

	app.follow_db = follow_db;
	if (open_db(cfg, &app.store, &worker_db_id, &err) != CD_OK) {
		log_error("cannot open the database: %s", err.msg);
		return 1;
	}
	if (auth_open(cfg->basic_user, cfg->basic_pass, cfg->htpasswd_file, &app.auth,
	              &err) != CD_OK) {
		log_error("%s", err.msg);
		store_close(app.store);
		return 1;
	}
	/* No listening socket for libfcgi: it only reads requests from the
	 * connections conns_next gives it.  Were it to look for another one
	 * itself (a connection closed before its request), its accept fails at
	 * once instead of blocking a worker that has parked connections. */
	err.msg[0] = '\0';
	if (conns_open(listen_fd, &app.conns, &err) != CD_OK || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fx, -1, 0) != 0) {
		log_error("cannot initialise the FastCGI loop: %s", err.msg);
		conns_close(app.conns);
		auth_close(app.auth);
		store_close(app.store);
		return 1;
	}
	auth_before_hash(app.auth, release_parked, app.conns);
	log_debug("worker ready");

	while (!worker_stop) {
		int fd = conns_next(app.conns, &wait_mask);
		if (fd < 0) {
			if (worker_stop || fd == -EINTR)
				continue;
			log_error("accept on the FastCGI socket failed: %s", strerror(-fd));
			status = 1;
			break;
		}
		/* FCGX_Accept_r first ends the previous request and closes its
		 * connection unless told to keep it: keep this one.  The
		 * request's FCGI_BEGIN_REQUEST then sets keepConnection anew. */
		fx.ipcFd = fd;
		fx.keepConnection = 1;
		if (FCGX_Accept_r(&fx) < 0)
			continue; /* closed before a whole request came: libfcgi closed it */
		finish(&fx, app.conns, serve(&app, &fx));
	}

	FCGX_Free(&fx, 1);
	index_cache_clear(&index_cache);
	conns_close(app.conns);
	auth_close(app.auth);
	store_close(app.store);
	return status;
}
