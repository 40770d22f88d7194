/* main.c — chartdepot-indexer: keeps the SQLite index equal to storage.
 *
 * At start it reconciles every repo directory, writes <state>/indexer.ready
 * and pre-renders the index files; then it follows inotify events (debounced)
 * and reconciles everything again every CACHE_INTERVAL, on SIGHUP and when
 * inotify drops events.  SIGTERM/SIGINT: the current batch is committed and
 * the program exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gzthread.h"
#include "index.h"
#include "jarena.h"
#include "log.h"
#include "reconcile.h"
#include "storage.h"
#include "store.h"
#include "watch.h"

/* Events are gathered this long before the touched files are reconciled. */
#define DEBOUNCE_S 0.2
/* After a failed pass (db busy, unreadable directory) the next comes soon. */
#define RETRY_S 5.0
/* Files that were still being written are looked at again after this. */
#define SETTLE_S 2.0
/* Blocks that uploads or a bulk load left stale are rebuilt this long
 * after a change, REFRESH_BATCH names per write transaction (readers render
 * stale names from their rows meanwhile, so this only keeps renders cheap). */
#define REFRESH_S 1.0
#define REFRESH_BATCH 200
/* Past this many changed files at once, one full pass is cheaper than
 * checking each (a bulk copy into storage). */
#define MAX_PENDING_FILES 20000

static volatile sig_atomic_t got_stop, got_hup;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
	if (sig_pipe[1] >= 0)
		(void)!write(sig_pipe[1], "s", 1);
	errno = saved;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_unix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fputs("usage: chartdepot-indexer [--config PATH] [--once | --print-index [repo]]\n"
	      "\n"
	      "Keeps chartdepot's index (STATE_DIR/chartdepot.db) equal to the chart\n"
	      "files under STORAGE_LOCAL_ROOTDIR: reconciles at start, then follows\n"
	      "inotify events and reconciles everything every CACHE_INTERVAL and on\n"
	      "SIGHUP.  Configuration comes from the environment and the optional\n"
	      "ChartMuseum config file (see README).\n"
	      "\n"
	      "  -c, --config PATH    ChartMuseum-style YAML config file\n"
	      "  --once               reconcile, write STATE_DIR/indexer.ready, exit\n"
	      "  --print-index [repo] reconcile, print the repo's index.yaml, exit\n"
	      "  -h, --help           this text\n",
	      f);
}

/* mkdir -p for an absolute path. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	struct stat sb;
	return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

static int write_ready(const char *state_dir, const struct pass_stats *ps)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/indexer.ready", state_dir);
	snprintf(tmp, sizeof tmp, "%s/.indexer.ready.%d", state_dir, (int)getpid());
	FILE *f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	fprintf(f, "pid %d\nversions %ld\nrepos %ld\n", (int)getpid(),
	        ps->unchanged + ps->indexed, ps->repos);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void log_pass(const char *what, const struct pass_stats *ps, double secs, bool always)
{
	bool changed = ps->hashed || ps->removed;
	if (!always && !changed) {
		log_debug("%s: nothing changed (%ld chart versions in %ld repos) in %.3f s", what,
		          ps->unchanged, ps->repos, secs);
		return;
	}
	log_info("%s %ld chart versions in %ld repos (%ld hashed, %ld skipped unchanged, "
	         "%ld invalid) in %.3f s", what, ps->unchanged + ps->indexed, ps->repos,
	         ps->hashed, ps->unchanged, ps->bad, secs);
	if (ps->removed)
		log_info("dropped %ld index rows whose files are gone from storage", ps->removed);
}

/* Totals since this indexer started, kept in the db for the workers'
 * /metrics (they cannot see the indexer's memory). */
static struct {
	long passes, hashed, invalid, removed;
} indexer_totals;

/* Adds a pass to the totals and records them with the pass's duration;
 * a failure to record is only logged: statistics never stop indexing. */
static void record_pass(struct store *s, const struct pass_stats *ps, double secs)
{
	cd_err err;
	char text[256];
	indexer_totals.passes++;
	indexer_totals.hashed += ps->hashed;
	indexer_totals.invalid += ps->bad;
	indexer_totals.removed += ps->removed;
	snprintf(text, sizeof text,
	         "{\"passes\":%ld,\"hashed\":%ld,\"invalid\":%ld,\"removed\":%ld,"
	         "\"last_pass_seconds\":%.6f,\"last_pass_unix\":%.3f}",
	         indexer_totals.passes, indexer_totals.hashed, indexer_totals.invalid,
	         indexer_totals.removed, secs, now_unix());
	if (s != NULL && store_setting_put(s, "indexer.stats", text, &err) != CD_OK)
		log_warn("cannot record the indexer statistics: %s", err.msg);
}

/* ---- the watch loop ---------------------------------------------------------- */

struct pending {
	struct indexer *ix;
	struct map dirs;    /* repo directories to scan whole */
	struct map files;   /* "<repo>/<file>" to check */
	bool full;
	double due;         /* 0: nothing pending */
};

static void on_event(enum watch_what what, const struct watch_dir *d, const char *name,
                     void *ctx)
{
	struct pending *pd = ctx;
	const struct cd_config *cfg = pd->ix->cfg;
	char key[PATH_MAX];

	switch (what) {
	case WATCH_OVERFLOW:
		log_warn("inotify queue overflowed: reconciling all of storage");
		pd->full = true;
		break;
	case WATCH_FILE:
		if (!reconcile_wanted_file(name) || pd->full)
			return;
		if (pd->files.len >= MAX_PENDING_FILES) {
			pd->full = true;
			map_clear(&pd->files);
			break;
		}
		snprintf(key, sizeof key, "%s/%s", d->rel, name);
		map_put(&pd->files, key, NULL);
		break;
	case WATCH_DIR_ADDED:
		if (d->level >= cfg->depth || name[0] == '.' || !storage_repo_valid(name, 1))
			return;
		if (d->rel[0])
			snprintf(key, sizeof key, "%s/%s", d->rel, name);
		else
			snprintf(key, sizeof key, "%s", name);
		/* Watch it at once, so files written into it from now on are
		 * seen; what is already there is found by the scan. */
		reconcile_walk(pd->ix, key, d->level + 1, &pd->dirs);
		break;
	case WATCH_DIR_REMOVED:
		if (d->level >= cfg->depth || name[0] == '.')
			return;
		pd->full = true;
		break;
	}
	if (pd->due == 0)
		pd->due = now_s() + DEBOUNCE_S;
}

static void pending_clear(struct pending *pd)
{
	map_clear(&pd->dirs);
	map_clear(&pd->files);
	pd->full = false;
	pd->due = 0;
}

/* Rebuilds the blocks uploads left stale, a batch per write transaction so
 * uploads get the lock in between. */
static void refresh_blocks(struct indexer *ix)
{
	cd_err err;
	int n = 0;
	long total = 0;
	double t0 = now_s();
	do {
		if (store_refresh_blocks(ix->s, REFRESH_BATCH, &n, &err) != CD_OK) {
			log_warn("cannot rebuild the stale index blocks: %s", err.msg);
			break;
		}
		total += n;
	} while (n == REFRESH_BATCH && !got_stop);
	/* More than a transaction's worth follows a bulk load (reconcile.c
	 * bulk_mode), not uploads: worth a line. */
	if (total > REFRESH_BATCH)
		log_info("rebuilt %ld stale index blocks in %.3f s", total, now_s() - t0);
	else if (total > 0)
		log_debug("rebuilt %ld stale index blocks in %.3f s", total, now_s() - t0);
}

static void watch_loop(struct indexer *ix, struct watch *w)
{
	const struct cd_config *cfg = ix->cfg;
	struct pending pd = { .ix = ix };
	struct pass_stats ps;
	double next_full = now_s() + cfg->cache_interval_s;
	double retry_due = 0;
	double refresh_due = now_s(); /* blocks left stale before this start */

	while (!got_stop) {
		if (retry_due != 0 && now_s() >= retry_due) {
			size_t i = 0;
			struct map_entry *e;
			while ((e = map_next(&ix->retry, &i)) != NULL)
				map_put(&pd.files, e->key, NULL);
			map_clear(&ix->retry);
			retry_due = 0;
			if (pd.due == 0)
				pd.due = now_s();
		}
		if (got_hup) {
			got_hup = 0;
			log_info("SIGHUP: reconciling all of storage");
			pd.full = true;
			pd.due = now_s();
		}
		double now = now_s();
		if (now >= next_full || (pd.full && pd.due != 0 && now >= pd.due)) {
			pending_clear(&pd);
			map_clear(&ix->retry);
			retry_due = 0;
			double t0 = now_s();
			cd_rc rc = reconcile_full(ix, &ps);
			log_pass("reconciled:", &ps, now_s() - t0, false);
			record_pass(ix->s, &ps, now_s() - t0);
			if (ps.interrupted)
				break;
			reconcile_render(ix, false);
			next_full = now_s() + (rc == CD_OK ? cfg->cache_interval_s : RETRY_S);
			if (refresh_due == 0)
				refresh_due = now_s() + REFRESH_S;
			continue;
		}
		if (refresh_due != 0 && now >= refresh_due) {
			refresh_due = 0;
			refresh_blocks(ix);
			continue;
		}
		if (pd.due != 0 && now >= pd.due) {
			double t0 = now_s();
			cd_rc rc = reconcile_some(ix, &pd.dirs, &pd.files, &ps);
			pending_clear(&pd);
			if (ps.hashed || ps.removed || ps.bad) {
				log_debug("changes: %ld hashed, %ld invalid, %ld removed in %.3f s",
				          ps.hashed, ps.bad, ps.removed, now_s() - t0);
				record_pass(ix->s, &ps, now_s() - t0);
			}
			if (ps.interrupted)
				break;
			reconcile_render(ix, false);
			if (rc != CD_OK && next_full > now_s() + RETRY_S)
				next_full = now_s() + RETRY_S;
			if (ix->retry.len > 0 && retry_due == 0)
				retry_due = now_s() + SETTLE_S;
			if (refresh_due == 0)
				refresh_due = now_s() + REFRESH_S;
			continue;
		}

		double until = next_full;
		if (refresh_due != 0 && refresh_due < until)
			until = refresh_due;
		if (pd.due != 0 && pd.due < until)
			until = pd.due;
		if (retry_due != 0 && retry_due < until)
			until = retry_due;
		int timeout = (int)((until - now) * 1000) + 1;
		struct pollfd fds[2] = {
			{ .fd = sig_pipe[0], .events = POLLIN },
			{ .fd = w->fd, .events = POLLIN },
		};
		int n = poll(fds, w->fd >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		if (n > 0 && (fds[0].revents & POLLIN)) {
			char drain[64];
			while (read(sig_pipe[0], drain, sizeof drain) > 0)
				;
		}
		if (n > 0 && w->fd >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
			if (!watch_read(w, on_event, &pd)) {
				watch_close(w);
				ix->w = NULL;
			}
		}
	}
	pending_clear(&pd);
}

/* ---- main ----------------------------------------------------------------- */

/* Moves a damaged database aside and opens a fresh one; the caller then
 * reconciles all of storage into it (storage is the source of truth). */
static cd_rc rebuild_index_db(const struct cd_config *cfg, struct store **s, const char *why,
                              cd_err *err)
{
	log_error("the index database is corrupt (%s): moving it aside and rebuilding "
	          "the index from storage", why);
	if (*s != NULL)
		store_close(*s);
	*s = NULL;
	cd_rc rc = store_recreate(cfg->db_path, s, err);
	if (rc == CD_OK)
		store_set_block_json(*s, cfg->json_index);
	return rc;
}

/* Opens the database and brings its rendered urls up to CHART_URL (entries
 * carry them rendered, so a change since the last run re-renders them
 * before anything is served).  Damage found on the way means a rebuild. */
static cd_rc open_index_db(const struct cd_config *cfg, struct store **s, cd_err *err)
{
	*s = NULL;
	cd_rc rc;
	if (reconcile_bulk_interrupted(cfg)) {
		log_warn("the machine stopped during a bulk load of the index (which runs without "
		         "syncs): moving the database aside and rebuilding the index from storage");
		if ((rc = store_recreate(cfg->db_path, s, err)) == CD_OK)
			reconcile_bulk_forget(cfg);
	} else {
		rc = store_open(cfg->db_path, s, err);
	}
	if (rc == CD_OK)
		store_set_block_json(*s, cfg->json_index); /* only a JSON index reads it */
	if (rc == CD_EDB)
		rc = rebuild_index_db(cfg, s, err->msg, err);
	if (rc == CD_OK && (rc = store_sync_chart_url(*s, cfg->chart_url, err)) == CD_EDB &&
	    (rc = rebuild_index_db(cfg, s, err->msg, err)) == CD_OK)
		rc = store_sync_chart_url(*s, cfg->chart_url, err);
	if (rc != CD_OK && *s != NULL) {
		store_close(*s);
		*s = NULL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	bool once = false, print = false;
	const char *print_repo = "";

	for (int i = 1; i < argc; i++) {
		int w = config_option_width(argc, argv, i);
		if (w > 0) {
			i += w - 1; /* read by config_from_args */
		} else if (strcmp(argv[i], "--once") == 0) {
			once = true;
		} else if (strcmp(argv[i], "--print-index") == 0) {
			print = true;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				print_repo = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "chartdepot-indexer: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	struct cd_config cfg;
	cd_err err = { "" };
	log_setup("chartdepot-indexer", false, false);
	if (config_from_args(argc, argv, &cfg, &err) != CD_OK) {
		log_error("configuration: %s", err.msg);
		return 2;
	}
	log_setup("chartdepot-indexer", cfg.log_json, cfg.debug);
	if (print && !storage_repo_valid(print_repo, cfg.depth)) {
		log_error("--print-index: \"%s\" is not a repo at DEPTH=%d", print_repo, cfg.depth);
		config_free(&cfg);
		return 2;
	}
	if (mkdir_p(cfg.state_dir) != 0 || mkdir_p(cfg.storage_root) != 0) {
		log_error("cannot create STATE_DIR or STORAGE_LOCAL_ROOTDIR: %s", strerror(errno));
		config_free(&cfg);
		return 1;
	}

	struct store *s = NULL;
	cd_rc rc = open_index_db(&cfg, &s, &err);
	if (rc != CD_OK) {
		log_error("cannot open the index database: %s", err.msg);
		config_free(&cfg);
		return 1;
	}

	char ready[PATH_MAX];
	snprintf(ready, sizeof ready, "%s/indexer.ready", cfg.state_dir);
	if (!print)
		unlink(ready);

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		store_close(s);
		config_free(&cfg);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* jansson seeds its hash function once, and takes its allocator, before
	 * the threads (the hash threads allocate a file's values in an arena). */
	json_object_seed(0);
	jarena_install();
	struct pool *pool = pool_start(cfg.index_limit, cfg.storage_root, cfg.chart_url);
	if (pool == NULL) {
		log_error("cannot start %d hash threads", cfg.index_limit);
		store_close(s);
		config_free(&cfg);
		return 1;
	}

	struct watch w;
	memset(&w, 0, sizeof w);
	w.fd = -1;
	if (!once && !print)
		watch_init(&w, cfg.storage_root);
	struct indexer ix = {
		.cfg = &cfg,
		.s = s,
		.pool = pool,
		.w = w.fd >= 0 ? &w : NULL,
		.iopts = { .state_dir = cfg.state_dir, .context_path = cfg.context_path,
		           .json = cfg.json_index },
		.stop = &got_stop,
	};

	int status = 0;
	struct pass_stats ps;
	double t0 = now_s();
	rc = reconcile_full(&ix, &ps);
	if (rc == CD_EDB && !ps.interrupted) {
		rc = rebuild_index_db(&cfg, &ix.s, "found while reconciling", &err);
		if (rc == CD_OK)
			rc = reconcile_full(&ix, &ps);
	}
	if (ix.s == NULL) {
		log_error("cannot rebuild the index database: %s", err.msg);
		status = 1;
	} else if (!ps.interrupted) {
		if (print) {
			log_pass("indexed", &ps, now_s() - t0, false);
			if (index_write_fd(ix.s, &ix.iopts, print_repo, STORE_YAML, STDOUT_FILENO, &err) != CD_OK) {
				log_error("--print-index: %s", err.msg);
				status = 1;
			}
		} else {
			if (write_ready(cfg.state_dir, &ps) != 0)
				log_error("cannot write %s: %s", ready, strerror(errno));
			log_pass("indexed", &ps, now_s() - t0, true);
			record_pass(ix.s, &ps, now_s() - t0);
			reconcile_render(&ix, true);
			if (rc != CD_OK)
				status = once ? 1 : 0;
			/* Damage in pages the reconcile did not touch shows only in a
			 * full check, run once the index is already being served. */
			if (!once && store_check(ix.s, &err) == CD_EDB) {
				char why[sizeof err.msg];
				snprintf(why, sizeof why, "%s", err.msg);
				if (rebuild_index_db(&cfg, &ix.s, why, &err) == CD_OK &&
				    reconcile_full(&ix, &ps) == CD_OK && !ps.interrupted)
					reconcile_render(&ix, true);
			}
			if (ix.s == NULL) {
				log_error("cannot rebuild the index database: %s", err.msg);
				status = 1;
			} else if (!once) {
				struct gzthread *gz = gzthread_start(cfg.state_dir);
				watch_loop(&ix, &w);
				gzthread_stop(gz);
			}
		}
	}
	if (got_stop)
		log_info("stopping: index committed");

	watch_close(&w);
	pool_stop(pool);
	if (ix.s != NULL)
		store_close(ix.s);
	map_clear(&ix.registered);
	map_clear(&ix.changed);
	map_clear(&ix.recheck);
	map_clear(&ix.retry);
	config_free(&cfg);
	return status;
}
