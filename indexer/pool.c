/* pool.c — hash worker threads: one read per file, sha256 + chart_read. */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "jarena.h"
#include "storage.h"
#include "threads.h"

/* The hash threads' nice value above the process's.  When the single
 * writer thread (SQLite) is the bottleneck of a cold index, equal priority
 * shares 2 cores evenly between it and 2 hash threads that only refill the
 * ring it empties, and the writer gets 2/3 of a core.  Since bulk loads
 * leave the blocks to the daemon (session 8) the writer no longer is, and
 * nice 0 measured the same; lower priority still keeps a big index from
 * slowing the workers. */
#define POOL_NICE 5

/* The ring holds this many results per thread.  The writer is woken once
 * POOL_WAKE_WRITER results wait (not for each: that was 4x the context
 * switches), the threads once the ring is down to half: with a ring that
 * deep neither side waits for the other in lockstep (with 8 per thread the
 * writer of a cold index slept a third of the time). */
#define POOL_RING_PER_THREAD 512
#define POOL_WAKE_WRITER 8

/* A thread keeps its read buffer between files unless it grew past this. */
#define POOL_KEEP_BUF (8L << 20)

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;     /* a job or ring space became available */
	pthread_cond_t result;   /* a result arrived or the work ran out */
	pthread_t *threads;
	int nthreads;
	const char *root;
	int rootfd;              /* root, opened by pool_run for its pass: files
	                            are opened relative to it, which spares the
	                            kernel walking root's path for each */
	const char *chart_url;

	struct hash_job *jobs;
	size_t njobs, next;
	bool aborted, quit;
	int busy;                /* threads reading a file right now */

	struct hash_result **ring;
	size_t cap, head, len;

	int started;                 /* threads that took their index */
	struct hash_result **spent;  /* per thread: results to free (pool_release) */
};

/* Renders the entry texts of a parsed chart ahead of the writer; without
 * memory for them the writer renders them itself (r->prepared false). */
static void pool_prepare(struct pool *p, const struct hash_job *job, struct hash_result *r)
{
	cd_err err = { "" };
	index_time_rfc3339(r->st.mtime_ns, r->created);
	struct store_chart c = {
		.repo = (char *)job->repo,
		.name = r->ci.name,
		.version = r->ci.version,
		.file = job->file,
		.st = r->st,
		.created = r->created,
		.meta = r->ci.meta,
	};
	memcpy(c.digest, r->digest, sizeof c.digest);
	r->prepared = store_prepare(&c, p->chart_url, &r->prep, &err) == CD_OK;
	if (r->prepared)
		r->ci.meta = NULL; /* in the thread's arena: the next file's jarena_begin takes it back */
}

/* Called with the thread's arena paused.  A result the writer must render
 * itself (not prepared) keeps its Metadata in a copy outside the arena,
 * which the next file takes back. */
static void keep_meta_outside_arena(struct hash_result *r)
{
	if (r->kind != HASH_OK || r->ci.meta == NULL)
		return;
	r->ci.meta = json_deep_copy(r->ci.meta);
	if (r->ci.meta == NULL) {
		chart_info_free(&r->ci);
		r->kind = HASH_ERR;
		snprintf(r->reason, sizeof r->reason, "out of memory");
	}
}

/* Reads the file of job into *buf (grown as needed) and fills r; rootfd
 * is the pass's descriptor of the storage root (-1: use the path). */
static void pool_hash(struct pool *p, int rootfd, struct hash_job *job, char **buf,
                      size_t *bufcap, struct hash_result *r)
{
	char path[PATH_MAX];
	const char *parts[] = { rootfd >= 0 ? "" : p->root, rootfd >= 0 ? "" : "/", job->repo,
		                job->repo[0] ? "/" : "", job->file };
	if (!storage_join(path, sizeof path, parts, sizeof parts / sizeof parts[0])) {
		r->kind = HASH_BAD;
		snprintf(r->reason, sizeof r->reason, "path too long");
		return;
	}
	/* O_NOFOLLOW: a symlink put in place since the scan is never followed;
	 * O_NONBLOCK: nor does a FIFO put there block the thread. */
	int fd = openat(rootfd >= 0 ? rootfd : AT_FDCWD, path,
	                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
			r->kind = HASH_GONE;
		} else {
			r->kind = HASH_ERR;
			snprintf(r->reason, sizeof r->reason, "cannot open: %s", strerror(errno));
		}
		return;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		r->kind = HASH_GONE;
		return;
	}
	r->st.size = (int64_t)sb.st_size;
	r->st.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	r->st.ino = (uint64_t)sb.st_ino;
	if (sb.st_size > POOL_MAX_FILE) {
		close(fd);
		r->kind = HASH_BAD;
		snprintf(r->reason, sizeof r->reason,
		         "file is %lld bytes, larger than any chart may be (%ld)",
		         (long long)sb.st_size, (long)POOL_MAX_FILE);
		return;
	}
	size_t want = (size_t)sb.st_size + 1; /* +1 notices a file that grew */
	if (*bufcap < want) {
		char *nb = realloc(*buf, want);
		if (nb == NULL) {
			close(fd);
			r->kind = HASH_ERR;
			snprintf(r->reason, sizeof r->reason, "out of memory");
			return;
		}
		*buf = nb;
		*bufcap = want;
	}
	size_t len = 0;
	while (len < want) {
		ssize_t got = read(fd, *buf + len, want - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			r->kind = HASH_ERR;
			snprintf(r->reason, sizeof r->reason, "read error: %s", strerror(e));
			return;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		/* A regular file reads short only at its end: no read for the
		 * 0 that would confirm it. */
		if (len == (size_t)sb.st_size)
			break;
	}
	close(fd);
	if (len > (size_t)sb.st_size)
		len = (size_t)sb.st_size; /* still being written: the next event re-reads it */

	digest_sha256_hex(*buf, len, r->digest);
	cd_err err = { "" };
	cd_rc rc = chart_read_meta(*buf, len, &r->ci, &err);
	if (rc == CD_OK) {
		r->kind = HASH_OK;
		pool_prepare(p, job, r);
	} else if (rc == CD_EINVAL || rc == CD_ETOOBIG) {
		r->kind = HASH_BAD;
		snprintf(r->reason, sizeof r->reason, "%s", err.msg[0] ? err.msg : cd_rc_name(rc));
	} else {
		r->kind = HASH_ERR;
		snprintf(r->reason, sizeof r->reason, "%s", err.msg[0] ? err.msg : cd_rc_name(rc));
	}
}

static void *pool_thread(void *arg)
{
	struct pool *p = arg;
	char *buf = NULL;
	size_t bufcap = 0;
	struct jarena arena = { 0 };

	/* Per thread on Linux; without permission it simply stays as it is. */
	errno = 0;
	int nice_now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), nice_now + POOL_NICE);

	pthread_mutex_lock(&p->mu);
	int me = p->started++;
	for (;;) {
		while (!p->quit && (p->aborted || p->next >= p->njobs ||
		                    p->len + (size_t)p->busy >= p->cap))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		struct hash_job *job = &p->jobs[p->next++];
		int rootfd = p->rootfd;
		struct hash_result *spent = p->spent[me];
		p->spent[me] = NULL;
		p->busy++;
		pthread_mutex_unlock(&p->mu);

		while (spent != NULL) {
			struct hash_result *next = spent->next_spent;
			pool_result_free(spent);
			spent = next;
		}
		struct hash_result *r = calloc(1, sizeof *r);
		if (r != NULL) {
			r->job = job;
			r->owner = me;
			/* A file's jansson values (its Metadata, its entry) are
			 * allocated in the arena and dropped together. */
			jarena_begin(&arena);
			pool_hash(p, rootfd, job, &buf, &bufcap, r);
			jarena_pause(&arena);
			keep_meta_outside_arena(r);
		}
		if (bufcap > POOL_KEEP_BUF) {
			free(buf);
			buf = NULL;
			bufcap = 0;
		}

		pthread_mutex_lock(&p->mu);
		p->busy--;
		if (r != NULL) {
			p->ring[(p->head + p->len) % p->cap] = r;
			p->len++;
		}
		/* Without memory for a result the job is dropped; the next
		 * reconcile finds the file unindexed and tries again.
		 * The caller is woken at once when no job is left to hand out,
		 * so the last results of a pass are never held back.  It is
		 * woken with the lock released: woken under it, it ran at once
		 * and blocked on the lock this thread still held. */
		if (p->len >= POOL_WAKE_WRITER || p->next >= p->njobs || p->aborted) {
			pthread_mutex_unlock(&p->mu);
			pthread_cond_signal(&p->result);
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	free(buf);
	jarena_release(&arena);
	return NULL;
}

struct pool *pool_start(int n, const char *root, const char *chart_url)
{
	if (n < 1)
		n = 1;
	struct pool *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->root = root;
	p->rootfd = -1;
	p->chart_url = chart_url ? chart_url : "";
	p->cap = POOL_RING_PER_THREAD * (size_t)n;
	p->ring = calloc(p->cap, sizeof *p->ring);
	p->threads = calloc((size_t)n, sizeof *p->threads);
	p->spent = calloc((size_t)n, sizeof *p->spent);
	if (p->ring == NULL || p->threads == NULL || p->spent == NULL ||
	    threads_cond_init_monotonic(&p->result) != 0) {
		free(p->ring);
		free(p->threads);
		free(p->spent);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	/* Signals are for the main thread. */
	for (int i = 0; i < n; i++) {
		if (threads_spawn(&p->threads[i], pool_thread, p) != 0) {
			p->nthreads = i;
			pool_stop(p);
			return NULL;
		}
	}
	p->nthreads = n;
	return p;
}

void pool_run(struct pool *p, struct hash_job *jobs, size_t njobs)
{
	/* The root is opened again for each pass (no thread uses the last
	 * pass's descriptor any more), so a storage root replaced while the
	 * daemon runs is followed as a path would be. */
	int fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pthread_mutex_lock(&p->mu);
	if (p->rootfd >= 0)
		close(p->rootfd);
	p->rootfd = fd;
	p->jobs = jobs;
	p->njobs = njobs;
	p->next = 0;
	p->aborted = false;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

struct hash_result *pool_next(struct pool *p, int timeout_ms, bool *done)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}

	struct hash_result *r = NULL;
	bool wake = false;
	*done = false;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->len > 0) {
			r = p->ring[p->head];
			p->head = (p->head + 1) % p->cap;
			p->len--;
			wake = p->len + (size_t)p->busy <= p->cap / 2;
			break;
		}
		if ((p->aborted || p->next >= p->njobs) && p->busy == 0) {
			*done = true;
			break;
		}
		if (pthread_cond_timedwait(&p->result, &p->mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	if (wake) /* the ring is down to half: refill it (lock released first) */
		pthread_cond_broadcast(&p->work);
	return r;
}

void pool_abort(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->aborted = true;
	pthread_mutex_unlock(&p->mu);
}

void pool_release(struct pool *p, struct hash_result *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (r->owner >= 0 && r->owner < p->nthreads && !p->quit) {
		r->next_spent = p->spent[r->owner];
		p->spent[r->owner] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	pool_result_free(r);
}

void pool_result_free(struct hash_result *r)
{
	if (r == NULL)
		return;
	if (r->kind == HASH_OK)
		chart_info_free(&r->ci);
	store_prepared_free(&r->prep);
	free(r);
}

void pool_stop(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (size_t i = 0; i < p->len; i++)
		pool_result_free(p->ring[(p->head + i) % p->cap]);
	for (int t = 0; t < p->started && t < p->nthreads; t++)
		for (struct hash_result *r = p->spent[t], *next; r != NULL; r = next) {
			next = r->next_spent;
			pool_result_free(r);
		}
	if (p->rootfd >= 0)
		close(p->rootfd);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->result);
	pthread_mutex_destroy(&p->mu);
	free(p->ring);
	free(p->threads);
	free(p->spent);
	free(p);
}
