/* worker.c — the FastCGI accept loop of one prefork worker.
 *
 * SIGTERM and SIGINT are only deliverable while the worker waits in
 * accept (FCGI_FAIL_ACCEPT_ON_INTR makes that wait return); during a
 * request they stay blocked, so a stop never cuts a response in half. */
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
 * the req_end at the bottom. */
static void serve(struct app *app, FCGX_Request *fx)
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
	req_end(&r);
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

/* When the indexer has moved a damaged database aside and made a new one,
 * this connection still points at the old file: reopen on the new one
 * (one stat per request; keeps the old connection if the new one fails). */
static void follow_db(const struct cd_config *cfg, struct store **s, struct db_identity *id)
{
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
	log_info("the database file was replaced: reopened it");
}

/* libfcgi ends a connection with a lingering close (shutdown, then read
 * until nginx closes too) so that a TCP reset cannot destroy a response
 * that nginx has not read yet.  A reset only happens when unread input
 * is left in our receive buffer; nginx sends nothing after the end of
 * FCGI_STDIN (no keep-alive, no abort records), so once req_end has read
 * stdin to its end the plain close of a detached request is just as safe,
 * and the worker takes the next connection at once instead of idling until
 * nginx has read the response and closed its end. */
static void close_plainly_if_drained(FCGX_Request *fx)
{
	if (fx->in != NULL && FCGX_HasSeenEOF(fx->in) == EOF && FCGX_GetError(fx->in) == 0)
		FCGX_Detach(fx);
}

int worker_main(const struct cd_config *cfg, const struct fcgi_options *opts,
                struct metrics *metrics, int listen_fd)
{
	struct app app = { .cfg = cfg, .opts = opts, .metrics = metrics };
	struct sigaction sa;
	sigset_t stops, all;
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
	sigprocmask(SIG_BLOCK, &stops, NULL);

	struct db_identity db_id;
	if (open_db(cfg, &app.store, &db_id, &err) != CD_OK) {
		log_error("cannot open the database: %s", err.msg);
		return 1;
	}
	if (auth_open(cfg->basic_user, cfg->basic_pass, cfg->htpasswd_file, &app.auth,
	              &err) != CD_OK) {
		log_error("%s", err.msg);
		store_close(app.store);
		return 1;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("cannot initialise libfcgi");
		auth_close(app.auth);
		store_close(app.store);
		return 1;
	}
	log_debug("worker ready");

	while (!worker_stop) {
		sigprocmask(SIG_UNBLOCK, &stops, NULL);
		int rc = worker_stop ? -EINTR : FCGX_Accept_r(&fx);
		sigprocmask(SIG_BLOCK, &stops, NULL);
		if (rc < 0) {
			if (worker_stop || rc == -EINTR)
				continue;
			log_error("accept on the FastCGI socket failed: %s", strerror(-rc));
			status = 1;
			break;
		}
		follow_db(cfg, &app.store, &db_id);
		serve(&app, &fx);
		close_plainly_if_drained(&fx);
		FCGX_Finish_r(&fx);
	}

	FCGX_Free(&fx, 1);
	auth_close(app.auth);
	store_close(app.store);
	return status;
}
