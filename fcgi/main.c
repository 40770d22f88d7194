/* main.c — chartdepot-fcgi: the prefork master.
 *
 * Checks the configuration, the database and the user table once, opens
 * the FastCGI socket (or takes it from systemd, sd_listen_fds(3) protocol),
 * forks WORKERS workers, restarts any that die (backing off when they die
 * young) and on SIGTERM or SIGINT stops them all and removes the socket. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "storage.h"
#include "store.h"
#include "route.h"
#include "worker.h"

#ifndef CHARTDEPOT_VERSION
#define CHARTDEPOT_VERSION "0.1.0"
#endif

#define SD_LISTEN_FDS_START 3
#define STOP_GRACE_MS 10000    /* then SIGKILL */
#define YOUNG_DEATH_MS 2000    /* a worker dying sooner counts as a failure */
#define MAX_BACKOFF_MS 5000

struct child {
	pid_t pid;
	int64_t started_ms;
	int64_t restart_at_ms;
	int fails;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_sigchld(int sig)
{
	(void)sig; /* only so that SIGCHLD is never discarded; sigtimedwait takes it */
}

/* mkdir -p with mode for the missing parts. */
static int make_dirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		buf[i] = c;
	}
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* A path with ':' is host:port for FCGX_OpenSocket; else a unix socket. */
static bool is_unix_path(const char *s)
{
	return strchr(s, ':') == NULL;
}

/* Removes a socket file left by a dead master; refuses when something
 * still answers on it or the path is not a socket. */
static int clear_stale_socket(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("FCGI_SOCKET %s exists and is not a socket", path);
		return -1;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		log_error("FCGI_SOCKET %s: path too long for a unix socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (live) {
			log_error("FCGI_SOCKET %s: another process is listening on it", path);
			return -1;
		}
	}
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* The listening socket: inherited from systemd when LISTEN_PID is ours,
 * else opened on FCGI_SOCKET.  *owned says whether we must unlink it. */
static int open_listener(const struct cd_config *cfg, bool *owned)
{
	const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
	*owned = false;
	if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid()) {
		long n = strtol(lfds, NULL, 10);
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		if (n != 1) {
			log_error("systemd passed %ld sockets; chartdepot-fcgi needs exactly one", n);
			return -1;
		}
		log_info("using the socket passed by systemd");
		return SD_LISTEN_FDS_START;
	}
	const char *path = cfg->fcgi_socket;
	bool local = is_unix_path(path);
	if (local && clear_stale_socket(path) != 0)
		return -1;
	mode_t old = umask(0077);
	int fd = FCGX_OpenSocket(path, 1024);
	umask(old);
	if (fd < 0) {
		log_error("cannot listen on FCGI_SOCKET %s", path);
		return -1;
	}
	/* nginx often runs as another user; the state directory guards access. */
	if (local && chmod(path, 0666) != 0)
		log_warn("cannot chmod FCGI_SOCKET %s: %s", path, strerror(errno));
	*owned = local;
	log_info("listening on %s", path);
	return fd;
}

/* Refuses to start on what would make every worker fail: a database that
 * cannot be opened or a bad htpasswd file.  Nothing stays open. */
static int preflight(const struct cd_config *cfg)
{
	struct store *s;
	struct auth *a;
	cd_err err;

	if (make_dirs(cfg->state_dir, 0755) != 0) {
		log_error("STATE_DIR %s: cannot create: %s", cfg->state_dir, strerror(errno));
		return -1;
	}
	char idx[4096];
	snprintf(idx, sizeof idx, "%s/index", cfg->state_dir);
	if (make_dirs(idx, 0755) != 0) {
		log_error("cannot create %s: %s", idx, strerror(errno));
		return -1;
	}
	if (make_dirs(cfg->storage_root, 0755) != 0) {
		log_error("STORAGE_LOCAL_ROOTDIR %s: cannot create: %s", cfg->storage_root,
		          strerror(errno));
		return -1;
	}
	/* A damaged database is the indexer's to move aside and rebuild from
	 * storage; workers that cannot open it meanwhile exit and are
	 * restarted with backoff, so it does not stop the pool from starting. */
	cd_rc rc = store_open(cfg->db_path, &s, &err);
	if (rc == CD_EDB) {
		log_warn("database %s: %s; waiting for the indexer to rebuild it", cfg->db_path,
		         err.msg);
	} else if (rc != CD_OK) {
		log_error("database %s: %s", cfg->db_path, err.msg);
		return -1;
	} else {
		store_close(s);
	}
	if (auth_open(cfg->basic_user, cfg->basic_pass, cfg->htpasswd_file, &a, &err) != CD_OK) {
		log_error("%s", err.msg);
		return -1;
	}
	if (auth_disabled(a))
		log_warn("no BASIC_AUTH_USER or HTPASSWD_FILE: every request is allowed");
	auth_close(a);
	storage_clean_tmp(cfg->storage_root, cfg->depth_dynamic ? 3 : cfg->depth);
	return 0;
}

/* The child keeps the master's blocked signals until worker_main has
 * installed its own handlers, so an early SIGTERM is never lost. */
static void spawn(struct child *c, const struct cd_config *cfg, const struct fcgi_options *opts,
                  struct metrics *metrics, int fd)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		c->restart_at_ms = now_ms() + 1000;
		return;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		exit(worker_main(cfg, opts, metrics, fd));
	}
	c->pid = pid;
	c->started_ms = now_ms();
}

/* Reaps dead workers and schedules their restart. */
static void reap(struct child *kids, int n)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < n; i++) {
			if (kids[i].pid != pid)
				continue;
			int64_t lived = now_ms() - kids[i].started_ms;
			if (WIFSIGNALED(status))
				log_error("worker %d killed by signal %d", (int)pid, WTERMSIG(status));
			else
				log_error("worker %d exited with status %d", (int)pid,
				          WEXITSTATUS(status));
			kids[i].fails = lived < YOUNG_DEATH_MS ? kids[i].fails + 1 : 0;
			int64_t delay = 0;
			if (kids[i].fails > 0) {
				delay = 100LL << (kids[i].fails < 6 ? kids[i].fails : 6);
				if (delay > MAX_BACKOFF_MS)
					delay = MAX_BACKOFF_MS;
			}
			kids[i].pid = 0;
			kids[i].restart_at_ms = now_ms() + delay;
		}
	}
}

/* SIGTERM to every worker, repeated while they finish their request;
 * SIGKILL after STOP_GRACE_MS. */
static void stop_all(struct child *kids, int n, const sigset_t *wait_set)
{
	int64_t deadline = now_ms() + STOP_GRACE_MS;
	for (;;) {
		int live = 0;
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (int i = 0; i < n; i++)
				if (kids[i].pid == pid)
					kids[i].pid = 0;
		for (int i = 0; i < n; i++) {
			if (kids[i].pid > 0) {
				live++;
				kill(kids[i].pid, now_ms() < deadline ? SIGTERM : SIGKILL);
			}
		}
		if (live == 0)
			return;
		struct timespec ts = { 0, 200 * 1000000L };
		siginfo_t info;
		(void)sigtimedwait(wait_set, &info, &ts);
	}
}

/* The settings nginx needs too, resolved (environment over config file),
 * as NAME=value lines for scripts/run-local; a value with a line break is
 * left out rather than split. */
static void print_nginx_settings(const struct cd_config *cfg)
{
	const struct {
		const char *name, *value;
	} v[] = {
		{ "STORAGE_LOCAL_ROOTDIR", cfg->storage_root },
		{ "STATE_DIR", cfg->state_dir },
		{ "FCGI_SOCKET", cfg->fcgi_socket },
		{ "TLS_CERT", cfg->tls_cert },
		{ "TLS_KEY", cfg->tls_key },
		{ "TLS_CA_CERT", cfg->tls_ca_cert },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (v[i].value != NULL && v[i].value[0] != '\0' && strchr(v[i].value, '\n') == NULL)
			printf("%s=%s\n", v[i].name, v[i].value);
	printf("PORT=%d\nMAX_UPLOAD_SIZE=%lld\n", cfg->port, cfg->max_upload_size);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: chartdepot-fcgi [--config FILE] [--version] [--print-nginx-settings]\n"
	        "Serves the chartdepot FastCGI API; configured by environment variables\n"
	        "(STORAGE_LOCAL_ROOTDIR, STATE_DIR, FCGI_SOCKET, WORKERS, ...) over the\n"
	        "ChartMuseum YAML config file that --config or CONFIG names.\n");
}

int main(int argc, char **argv)
{
	struct cd_config cfg;
	cd_err err;
	sigset_t set;
	bool owned = false;
	bool print_settings = false;

	for (int i = 1; i < argc; i++) {
		int w = config_option_width(argc, argv, i);
		if (w > 0) {
			i += w - 1; /* read by config_from_args */
		} else if (strcmp(argv[i], "--print-nginx-settings") == 0) {
			print_settings = true;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("chartdepot-fcgi %s\n", CHARTDEPOT_VERSION);
			return 0;
		} else {
			usage();
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (config_from_args(argc, argv, &cfg, &err) != CD_OK) {
		fprintf(stderr, "chartdepot-fcgi: %s\n", err.msg);
		return 1;
	}
	if (print_settings) {
		print_nginx_settings(&cfg);
		config_free(&cfg);
		return 0;
	}
	log_setup("chartdepot-fcgi", cfg.log_json, cfg.debug);
	struct fcgi_options opts;
	if (options_load(&opts, &cfg, &err) != CD_OK) {
		log_error("%s", err.msg);
		config_free(&cfg);
		return 1;
	}

	/* Signals the master waits for are taken by sigtimedwait only. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (preflight(&cfg) != 0) {
		options_free(&opts);
		config_free(&cfg);
		return 1;
	}
	/* Mapped before the first fork, so every worker shares the counters. */
	struct metrics *metrics = NULL;
	if (cfg.enable_metrics && metrics_create(route_count(), &metrics, &err) != CD_OK) {
		log_error("ENABLE_METRICS: %s", err.msg);
		options_free(&opts);
		config_free(&cfg);
		return 1;
	}
	int fd = open_listener(&cfg, &owned);
	if (fd < 0) {
		metrics_destroy(metrics);
		options_free(&opts);
		config_free(&cfg);
		return 1;
	}

	int n = cfg.workers;
	struct child *kids = calloc((size_t)n, sizeof *kids);
	if (kids == NULL) {
		log_error("out of memory");
		return 1;
	}
	for (int i = 0; i < n; i++)
		spawn(&kids[i], &cfg, &opts, metrics, fd);
	log_info("chartdepot-fcgi %s: %d workers, depth %d", CHARTDEPOT_VERSION, n, cfg.depth);

	for (;;) {
		int64_t now = now_ms(), wake = now + 1000;
		for (int i = 0; i < n; i++)
			if (kids[i].pid == 0 && kids[i].restart_at_ms < wake)
				wake = kids[i].restart_at_ms;
		int64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
		siginfo_t info;
		int sig = sigtimedwait(&set, &info, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("stopping on signal %d", sig);
			break;
		}
		if (sig == SIGHUP)
			log_info("SIGHUP ignored (restart the service to reload the configuration)");
		reap(kids, n);
		now = now_ms();
		for (int i = 0; i < n; i++)
			if (kids[i].pid == 0 && kids[i].restart_at_ms <= now)
				spawn(&kids[i], &cfg, &opts, metrics, fd);
	}

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	stop_all(kids, n, &chld);
	close(fd);
	if (owned)
		unlink(cfg.fcgi_socket);
	free(kids);
	log_info("stopped");
	metrics_destroy(metrics);
	options_free(&opts);
	config_free(&cfg);
	return 0;
}
