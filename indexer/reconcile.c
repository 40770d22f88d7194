/* reconcile.c — directory scans, hash results to rows, write batches. */
#include "reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "yamlout.h"

/* A write transaction ends after this many changes or this much time, so
 * an upload waiting on the lock never waits long. */
#define BATCH_MAX 2000
#define BATCH_MAX_S 0.25

/* Set on a map entry of the directory's row table when the file was seen. */
#define ROW_SEEN 1

/* A cold repo (no rows) with at most this many files still has each one
 * checked against the known-bad list before it is read. */
#define COLD_PRECHECK_MAX 2000

/* A pass with at least this many files to read runs the store in bulk
 * mode (store_bulk): a cold start or a bulk copy into storage. */
#define BULK_MIN_JOBS 5000

/* A directory with at least this many files is stat'ed by INDEX_LIMIT
 * threads (at most STAT_THREADS_MAX): at 130,000 files the fstatat calls
 * are most of the work of a restart with nothing changed. */
#define PAR_STAT_MIN 4096
#define STAT_THREADS_MAX 8

/* A file named by an event that is invalid and younger than this is looked
 * at again later instead of being reported (see reconcile.h, retry). */
#define RETRY_SETTLE_S 2LL

struct pass {
	struct indexer *ix;
	struct pass_stats *ps;
	struct hash_job *jobs;
	size_t njobs, capjobs;
	struct map repos;       /* repo keys of this pass: jobs borrow them */
	struct map pending_nc;  /* "<repo>\n<name>\n<version>" -> the non-canonical
	                           file (ptr) put for it in this pass */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "repo/file" or "file": how files are named in the log. */
static const char *rel_name(char *out, size_t sz, const char *repo, const char *file)
{
	if (repo[0])
		snprintf(out, sz, "%s/%s", repo, file);
	else
		snprintf(out, sz, "%s", file);
	return out;
}

static int dir_path(char *out, size_t sz, const char *root, const char *repo)
{
	int n = repo[0] ? snprintf(out, sz, "%s/%s", root, repo) : snprintf(out, sz, "%s", root);
	return (n < 0 || (size_t)n >= sz) ? -1 : 0;
}

static void stat_identity(const struct stat *sb, struct storage_stat *st)
{
	st->size = (int64_t)sb->st_size;
	st->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
	st->ino = (uint64_t)sb->st_ino;
}

static bool same_identity(const struct storage_stat *a, const struct storage_stat *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino;
}

/* The identity of <root>/<repo>/<file> when it is a regular file (no
 * symlink followed). */
static bool file_identity(const char *root, const char *repo, const char *file,
                          struct storage_stat *st)
{
	char path[PATH_MAX];
	struct stat sb;
	int n = repo[0] ? snprintf(path, sizeof path, "%s/%s/%s", root, repo, file)
	                : snprintf(path, sizeof path, "%s/%s", root, file);
	if (n < 0 || (size_t)n >= sizeof path || lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return false;
	stat_identity(&sb, st);
	return true;
}

bool reconcile_wanted_file(const char *name)
{
	size_t n = strlen(name);
	/* Dot files include STORAGE_TMP_PREFIX, the uploads in flight. */
	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".tgz") == 0;
}

/* ---- the write batch ---------------------------------------------------- */

static bool batch_open(struct indexer *ix)
{
	if (ix->in_txn)
		return true;
	cd_err err = { "" };
	if (store_begin(ix->s, &err) != CD_OK) {
		log_error("cannot start an index transaction: %s", err.msg);
		ix->failed = true;
		return false;
	}
	ix->in_txn = true;
	ix->batch_n = 0;
	ix->batch_t0 = now_s();
	/* Others commit only between this connection's batches. */
	int64_t v = -1;
	if (store_data_version(ix->s, &v, &err) != CD_OK || v != ix->data_version)
		ix->others_wrote = true;
	ix->data_version = v;
	return true;
}

/* At the start of a pass: nobody else has written yet, as far as it knows. */
static void track_others_from_now(struct indexer *ix)
{
	cd_err err = { "" };
	ix->others_wrote = store_data_version(ix->s, &ix->data_version, &err) != CD_OK;
}

static void batch_commit(struct indexer *ix)
{
	if (!ix->in_txn)
		return;
	ix->in_txn = false;
	cd_err err = { "" };
	if (store_commit(ix->s, &err) != CD_OK) {
		log_error("cannot commit %d index changes: %s (retrying soon)", ix->batch_n,
		          err.msg);
		store_rollback(ix->s);
		ix->failed = true;
	}
	/* Without syncs nothing is written back until the kernel's flusher
	 * wakes (30 s) or the load's final sync, which then waited half a
	 * second for the whole db: start its writeback now, without waiting. */
	if (ix->bulk_db_open)
		(void)sync_file_range(ix->bulk_db_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static void batch_count(struct indexer *ix)
{
	if (++ix->batch_n >= BATCH_MAX || now_s() - ix->batch_t0 >= BATCH_MAX_S)
		batch_commit(ix);
}

static void mark_changed(struct indexer *ix, const char *repo)
{
	map_put(&ix->changed, repo, NULL);
}

static void w_check(struct indexer *ix, cd_rc rc, const cd_err *err, const char *what,
                    const char *repo, const char *file)
{
	char rel[PATH_MAX];
	if (rc != CD_OK && rc != CD_ENOTFOUND) {
		log_error("index: %s %s failed: %s", what, rel_name(rel, sizeof rel, repo, file),
		          err->msg);
		ix->failed = true;
	}
}

static void w_remove_file(struct indexer *ix, const char *repo, const char *file)
{
	cd_err err = { "" };
	if (!batch_open(ix))
		return;
	cd_rc rc = store_remove_file(ix->s, repo, file, ix->cfg->chart_url, &err);
	w_check(ix, rc, &err, "removing the row of", repo, file);
	mark_changed(ix, repo);
	batch_count(ix);
}

/* Whether <repo>/<file> is still as the pass saw it (with identity *seen,
 * or absent when seen is NULL), looked at inside the write transaction,
 * where no upload or delete can commit meanwhile.  A worker that replaced
 * or removed the file after the pass looked also caused an event, and the
 * pass for that event indexes what is there now.  Writing what this pass
 * saw would bring back, until then, the bytes an upload replaced or the
 * version a delete removed (tests/integration/51-indexer-races.sh).  Left
 * open: an overwrite and a delete commit their row before they rename or
 * unlink, and a pass that looks in those microseconds still writes; the
 * rename's or unlink's own event puts that right.  False as well when no
 * transaction can be opened. */
static bool still_as_seen(struct indexer *ix, const char *repo, const char *file,
                          const struct storage_stat *seen)
{
	struct storage_stat now;
	if (!batch_open(ix))
		return false;
	bool exists = file_identity(ix->cfg->storage_root, repo, file, &now);
	bool same = seen != NULL ? exists && same_identity(&now, seen) : !exists;
	if (!same)
		log_debug("index: %s%s%s changed while it was being indexed: left to its own event",
		          repo, repo[0] ? "/" : "", file);
	return same;
}

static void w_put_bad(struct indexer *ix, const char *repo, const char *file,
                      const struct storage_stat *st, const char *reason)
{
	cd_err err = { "" };
	if (!batch_open(ix))
		return;
	cd_rc rc = store_put_bad_file(ix->s, repo, file, st, reason, &err);
	w_check(ix, rc, &err, "recording invalid file", repo, file);
	batch_count(ix);
}

static void w_put(struct indexer *ix, const char *repo, struct hash_result *r)
{
	char created[64];
	cd_err err = { "" };
	if (r->prepared)
		memcpy(created, r->created, sizeof created);
	else
		index_time_rfc3339(r->st.mtime_ns, created);
	struct store_chart c = {
		.repo = (char *)repo,
		.name = r->ci.name,
		.version = r->ci.version,
		.file = r->job->file,
		.st = r->st,
		.created = created,
		.meta = r->ci.meta,
	};
	memcpy(c.digest, r->digest, sizeof c.digest);
	if (!batch_open(ix))
		return;
	cd_rc rc = r->prepared ? store_put_prepared(ix->s, &c, &r->prep, &err)
	                       : store_put(ix->s, &c, ix->cfg->chart_url, &err);
	w_check(ix, rc, &err, "indexing", repo, r->job->file);
	mark_changed(ix, repo);
	batch_count(ix);
}

static void ensure_registered(struct indexer *ix, const char *repo)
{
	if (map_get(&ix->registered, repo))
		return;
	cd_err err = { "" };
	if (!batch_open(ix))
		return;
	cd_rc rc = store_add_repo(ix->s, repo, &err);
	if (rc == CD_OK || rc == CD_EEXIST)
		map_put(&ix->registered, repo, NULL);
	else
		w_check(ix, rc, &err, "registering repo", repo, "");
	batch_count(ix);
}

/* ---- scanning ------------------------------------------------------------ */

static const char *pass_repo(struct pass *p, const char *repo)
{
	struct map_entry *e = map_put(&p->repos, repo, NULL);
	return e ? e->key : NULL;
}

static bool pass_add_job(struct pass *p, const char *repo, const char *file,
                         const struct storage_stat *st, bool had_row, bool cold,
                         bool bad_checked, bool whole)
{
	if (p->njobs == p->capjobs) {
		size_t ncap = p->capjobs ? p->capjobs * 2 : 256;
		struct hash_job *nj = realloc(p->jobs, ncap * sizeof *nj);
		if (nj == NULL)
			return false;
		p->jobs = nj;
		p->capjobs = ncap;
	}
	const char *r = pass_repo(p, repo);
	char *f = strdup(file);
	if (r == NULL || f == NULL) {
		free(f);
		return false;
	}
	p->jobs[p->njobs++] = (struct hash_job){
		.repo = r, .file = f, .st = *st, .had_row = had_row, .cold = cold,
		.bad_checked = bad_checked, .whole = whole,
	};
	return true;
}

/* The files of a directory recorded invalid, kept while it is scanned. */
struct bad_seen {
	struct {
		char *file;
		struct storage_stat st;
	} *v;
	size_t n, cap;
};

static void bad_seen_add(struct bad_seen *b, const char *file, const struct storage_stat *st)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		void *nv = realloc(b->v, ncap * sizeof *b->v);
		if (nv == NULL)
			return; /* only a recheck is lost */
		b->v = nv;
		b->cap = ncap;
	}
	if ((b->v[b->n].file = strdup(file)) != NULL)
		b->v[b->n++].st = *st;
}

static void bad_seen_free(struct bad_seen *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].file);
	free(b->v);
}

/* A duplicate stays recorded invalid while the file that won is there; when
 * a file of the repo went away, the repo's known-bad files are read again
 * (quietly) so that a duplicate takes over the version it carries. */
static void recheck_bad(struct pass *p, const char *repo, const struct bad_seen *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (!pass_add_job(p, repo, b->v[i].file, &b->v[i].st, false, false, true, true))
			break;
		p->jobs[p->njobs - 1].recheck = true;
		p->ps->bad--; /* counted again from the result */
	}
}

/* A file the URL layer could never serve is reported like an invalid chart. */
static bool check_servable_name(struct pass *p, const char *repo, const char *file,
                                const struct storage_stat *st, bool had_row)
{
	struct indexer *ix = p->ix;
	char rel[PATH_MAX];
	if (storage_filename_valid(file))
		return true;
	if (had_row)
		w_remove_file(ix, repo, file);
	if (!store_is_known_bad(ix->s, repo, file, st)) {
		const char *why = "file name has characters other than A-Z a-z 0-9 . _ + -";
		log_warn("skipping chart file %s: %s", rel_name(rel, sizeof rel, repo, file), why);
		w_put_bad(ix, repo, file, st, why);
	}
	p->ps->bad++;
	return false;
}

/* The wanted files of a directory, read whole before they are compared. */
struct dir_file {
	size_t name;             /* offset of the name in dir_list.names */
	struct storage_stat st;  /* all 0 when not looked up (see dir_list_read) */
	bool regular;            /* lstat worked and it is a regular file */
};

struct dir_list {
	int dfd;
	struct buf names;
	struct dir_file *v;
	size_t n, cap;
};

static void dir_list_free(struct dir_list *l)
{
	buf_free(&l->names);
	free(l->v);
}

static bool dir_list_add(struct dir_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct dir_file *nv = realloc(l->v, ncap * sizeof *nv);
		if (nv == NULL)
			return false;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n] = (struct dir_file){ .name = l->names.len };
	if (buf_append(&l->names, name, strlen(name) + 1) != CD_OK)
		return false;
	l->n++;
	return true;
}

struct stat_slice {
	struct dir_list *l;
	size_t from, to;
};

static void *stat_slice(void *arg)
{
	struct stat_slice *sl = arg;
	for (size_t i = sl->from; i < sl->to; i++) {
		struct dir_file *f = &sl->l->v[i];
		struct stat sb;
		f->regular = fstatat(sl->l->dfd, sl->l->names.data + f->name, &sb,
		                     AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
		if (f->regular)
			stat_identity(&sb, &f->st);
	}
	return NULL;
}

/* Calls lstat on every file of l, split over nthreads threads for a big l. */
static void dir_list_stat(struct dir_list *l, int nthreads)
{
	pthread_t t[STAT_THREADS_MAX];
	struct stat_slice sl[STAT_THREADS_MAX];
	bool started[STAT_THREADS_MAX] = { false };
	if (nthreads > STAT_THREADS_MAX)
		nthreads = STAT_THREADS_MAX;
	if (l->n < PAR_STAT_MIN || nthreads < 2)
		nthreads = 1;
	size_t per = (l->n + (size_t)nthreads - 1) / (size_t)nthreads;
	for (int k = 0; k < nthreads; k++) {
		size_t from = per * (size_t)k, to = from + per;
		sl[k] = (struct stat_slice){ l, from < l->n ? from : l->n, to < l->n ? to : l->n };
	}
	/* Signals stay with the main thread, as for the pool's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int k = 1; k < nthreads; k++)
		started[k] = pthread_create(&t[k], NULL, stat_slice, &sl[k]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	stat_slice(&sl[0]);
	for (int k = 1; k < nthreads; k++) {
		if (started[k])
			pthread_join(t[k], NULL);
		else
			stat_slice(&sl[k]);
	}
}

/* Reads the wanted file names of dir and their identities into l; false
 * when the listing is incomplete (a read error, or no memory: *oom).  For
 * a cold repo (no rows) of more than COLD_PRECHECK_MAX files whose every
 * entry readdir typed a regular file, no lstat is made and every identity
 * is left 0: such a first load reads every file anyway and learns each
 * identity from the fstat of its read (one system call per file fewer).
 * A smaller cold repo asks about each file whether it is known bad, which
 * needs the identity first. */
static bool dir_list_read(DIR *dir, const char *repo, int nthreads, bool cold,
                          struct dir_list *l, bool *oom)
{
	bool names_only = cold;
	*oom = false;
	bool complete = true;
	l->dfd = dirfd(dir);
	for (struct dirent *de;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0) {
				log_warn("cannot read storage directory \"%s\": %s", repo,
				         strerror(errno));
				complete = false;
			}
			break;
		}
		if (!reconcile_wanted_file(de->d_name))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (!dir_list_add(l, de->d_name)) {
			log_error("out of memory listing repo \"%s\"", repo);
			*oom = true;
			complete = false;
			break;
		}
		names_only = names_only && de->d_type == DT_REG;
	}
	if (!names_only || l->n <= COLD_PRECHECK_MAX) {
		dir_list_stat(l, nthreads);
		return complete;
	}
	for (size_t i = 0; i < l->n; i++)
		l->v[i].regular = true;
	return complete;
}

/* The identity of a file listed without one (dir_list_read's names_only):
 * false when it is no longer a regular file. */
static bool dir_file_identity(const struct dir_list *l, struct dir_file *f)
{
	struct stat sb;
	if (f->st.ino != 0)
		return true;
	if (fstatat(l->dfd, l->names.data + f->name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode))
		return false;
	stat_identity(&sb, &f->st);
	return true;
}

static int collect_row(const char *file, const struct storage_stat *st, void *ctx)
{
	struct map_entry *e = map_put(ctx, file, NULL);
	if (e == NULL)
		return 1;
	e->st = *st;
	return 0;
}

/* Compares one repo directory with its rows: unchanged files are skipped,
 * new and changed ones become jobs, rows of vanished files are dropped. */
static void scan_repo(struct pass *p, const char *repo, bool exists)
{
	struct indexer *ix = p->ix;
	const char *root = ix->cfg->storage_root;
	struct map rows = { 0 };
	cd_err err = { "" };

	if (store_each_file(ix->s, repo, collect_row, &rows, &err) != CD_OK) {
		log_error("cannot list the index of repo \"%s\": %s", repo, err.msg[0] ? err.msg : "out of memory");
		ix->failed = true;
		map_clear(&rows);
		return;
	}
	bool cold = rows.len == 0;
	struct bad_seen bs = { 0 };
	size_t first = p->njobs;

	char path[PATH_MAX];
	DIR *dir = NULL;
	if (exists && dir_path(path, sizeof path, root, repo) == 0) {
		/* Below the root no symlinked directory is followed. */
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (repo[0] ? O_NOFOLLOW : 0));
		if (dfd >= 0 && (dir = fdopendir(dfd)) == NULL)
			close(dfd);
		if (dir == NULL && errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
			log_warn("cannot read storage directory \"%s\": %s", repo, strerror(errno));
			map_clear(&rows);
			return;
		}
	}
	if (dir != NULL && exists)
		ensure_registered(ix, repo);

	/* Rows are dropped only when the whole directory was read. */
	struct dir_list files = { 0 };
	bool complete = true, oom = false;
	if (dir != NULL && !dir_list_read(dir, repo, ix->cfg->index_limit, cold, &files, &oom)) {
		complete = false;
		if (oom)
			ix->failed = true;
	}
	for (size_t fi = 0; fi < files.n; fi++) {
		const char *name = files.names.data + files.v[fi].name;
		if (!files.v[fi].regular)
			continue;
		/* An invalid name is remembered with its identity. */
		if (!storage_filename_valid(name) && !dir_file_identity(&files, &files.v[fi]))
			continue;
		struct storage_stat st = files.v[fi].st;
		struct map_entry *e = map_get(&rows, name);
		if (e != NULL) {
			e->flags |= ROW_SEEN;
			if (same_identity(&e->st, &st)) {
				p->ps->unchanged++;
				continue;
			}
		}
		bool had_row = e != NULL;
		if (!check_servable_name(p, repo, name, &st, had_row))
			continue;
		if (!cold && store_is_known_bad(ix->s, repo, name, &st)) {
			if (had_row && still_as_seen(ix, repo, name, &st))
				w_remove_file(ix, repo, name);
			bad_seen_add(&bs, name, &st);
			p->ps->bad++;
			continue;
		}
		if (!pass_add_job(p, repo, name, &st, had_row, cold, !cold, true)) {
			log_error("out of memory listing repo \"%s\"", repo);
			ix->failed = true;
			complete = false;
			break;
		}
	}
	dir_list_free(&files);
	if (dir != NULL)
		closedir(dir);

	/* In a repo with no rows every file is new.  Asking about each one
	 * whether it is known bad costs a query per file, which a cold start of
	 * a big repo skips: the check then waits until a file turns out invalid
	 * (it is read once more, but not reported again). */
	if (cold && p->njobs - first <= COLD_PRECHECK_MAX) {
		size_t keep = first;
		for (size_t j = first; j < p->njobs; j++) {
			struct hash_job *job = &p->jobs[j];
			if (store_is_known_bad(ix->s, repo, job->file, &job->st)) {
				bad_seen_add(&bs, job->file, &job->st);
				p->ps->bad++;
				free(job->file);
				continue;
			}
			job->bad_checked = true;
			p->jobs[keep++] = *job;
		}
		p->njobs = keep;
	}

	size_t i = 0, removed = 0;
	struct map_entry *e;
	while ((e = map_next(&rows, &i)) != NULL) {
		if (!(e->flags & ROW_SEEN) && complete && still_as_seen(ix, repo, e->key, NULL)) {
			w_remove_file(ix, repo, e->key);
			removed++;
		}
	}
	p->ps->removed += (long)removed;
	map_clear(&rows);

	struct map_entry *rc = map_get(&ix->recheck, repo);
	if (rc != NULL)
		map_del(&ix->recheck, rc);
	if (removed > 0 || rc != NULL)
		recheck_bad(p, repo, &bs);
	bad_seen_free(&bs);
}

/* One file named by inotify: gone, known bad, or to be hashed. */
static void check_file(struct pass *p, const char *repo, const char *file)
{
	struct indexer *ix = p->ix;
	struct storage_stat st;
	if (!reconcile_wanted_file(file))
		return;
	if (!file_identity(ix->cfg->storage_root, repo, file, &st)) {
		if (still_as_seen(ix, repo, file, NULL)) {
			w_remove_file(ix, repo, file);
			p->ps->removed++; /* or was already gone from the index */
		}
		map_put(&ix->recheck, repo, NULL);
		return;
	}
	ensure_registered(ix, repo);
	if (!check_servable_name(p, repo, file, &st, true))
		return;
	/* As in scan_repo, a row with the file's identity is current.  Every
	 * upload lands here (its own link or rename event) after the worker
	 * wrote that row: reading the archive again would cost the daemon a
	 * gunzip per upload, on the cores the uploads need. */
	if (store_has_file(ix->s, repo, file, &st)) {
		p->ps->unchanged++;
		return;
	}
	if (store_is_known_bad(ix->s, repo, file, &st)) {
		p->ps->bad++;
		return;
	}
	/* Whether a row exists is unknown here: had_row makes the invalid
	 * paths drop one if there is. */
	if (!pass_add_job(p, repo, file, &st, true, false, true, false)) {
		log_error("out of memory queueing %s", file);
		ix->failed = true;
	}
}

/* ---- results -------------------------------------------------------------- */

static bool is_canonical(const char *file, const char *name, const char *version)
{
	char *want = chart_filename(name, version);
	bool yes = want != NULL && strcmp(want, file) == 0;
	free(want);
	return yes;
}

/* Records file as a duplicate of winner: reported once, then skipped. */
static void lose(struct pass *p, const char *repo, const char *file,
                 const struct storage_stat *st, const char *name, const char *version,
                 const char *winner, bool quiet)
{
	char rel[PATH_MAX], reason[PATH_MAX + 512];
	snprintf(reason, sizeof reason, "chart %s version %s is already indexed from %s",
	         name, version, winner);
	if (!quiet)
		log_warn("skipping chart file %s: %s", rel_name(rel, sizeof rel, repo, file),
		         reason);
	w_put_bad(p->ix, repo, file, st, reason);
	p->ps->bad++;
}

static char *nc_key(const char *repo, const char *name, const char *version)
{
	char *k;
	if (asprintf(&k, "%s\n%s\n%s", repo, name, version) < 0)
		return NULL;
	return k;
}

static void remember_nc(struct pass *p, const struct hash_result *r, const char *repo)
{
	char *k = nc_key(repo, r->ci.name, r->ci.version);
	struct map_entry *e = k ? map_put(&p->pending_nc, k, NULL) : NULL;
	free(k);
	if (e == NULL)
		return;
	char *f = strdup(r->job->file);
	if (f == NULL)
		return;
	free(e->ptr);
	e->ptr = f;
	e->st = r->st;
}

/* A valid chart: index it unless another file already holds its name and
 * version.  Of two such files the one named "<name>-<version>.tgz" wins;
 * of two others, the one indexed first. */
static void handle_chart(struct pass *p, struct hash_result *r)
{
	struct indexer *ix = p->ix;
	struct hash_job *job = r->job;
	const char *repo = job->repo, *file = job->file;
	const char *name = r->ci.name, *version = r->ci.version;
	bool canonical = is_canonical(file, name, version);

	if (job->cold && canonical) {
		/* A cold repo has no other rows: only a non-canonical file put
		 * earlier in this pass can hold the same version. */
		char *k = nc_key(repo, name, version);
		struct map_entry *e = k ? map_get(&p->pending_nc, k) : NULL;
		free(k);
		w_put(ix, repo, r);
		if (e != NULL) {
			lose(p, repo, e->ptr, &e->st, name, version, file, false);
			free(e->ptr);
			map_del(&p->pending_nc, e);
		} else {
			p->ps->indexed++;
		}
		return;
	}

	struct store_chart ex;
	cd_err err = { "" };
	memset(&ex, 0, sizeof ex);
	cd_rc rc = store_get(ix->s, repo, name, version, &ex, &err);
	if (rc == CD_ENOTFOUND) {
		w_put(ix, repo, r);
		p->ps->indexed++;
		if (!canonical)
			remember_nc(p, r, repo);
		return;
	}
	if (rc != CD_OK) {
		log_error("index: looking up chart %s %s failed: %s", name, version, err.msg);
		ix->failed = true;
		return;
	}
	struct storage_stat est;
	if (strcmp(ex.file, file) == 0) {
		/* The same file: rewrite only when it really changed (an upload
		 * whose event came before the worker's row committed comes
		 * through here unchanged). */
		if (!same_identity(&ex.st, &r->st) || strcmp(ex.digest, r->digest) != 0)
			w_put(ix, repo, r);
		p->ps->indexed++;
	} else if (!file_identity(ix->cfg->storage_root, repo, ex.file, &est)) {
		w_put(ix, repo, r);
		p->ps->indexed++;
		if (!canonical)
			remember_nc(p, r, repo);
	} else if (canonical) {
		w_put(ix, repo, r);
		lose(p, repo, ex.file, &est, name, version, file, false);
		/* The loser was counted when it was put in this pass, or as
		 * unchanged by the scan: it is one version, not two. */
		char *k = nc_key(repo, name, version);
		struct map_entry *e = k ? map_get(&p->pending_nc, k) : NULL;
		free(k);
		if (e != NULL && strcmp(e->ptr, ex.file) == 0) {
			free(e->ptr);
			map_del(&p->pending_nc, e);
		} else if (!(job->whole && same_identity(&ex.st, &est))) {
			p->ps->indexed++;
		} else {
			p->ps->unchanged--, p->ps->indexed++;
		}
	} else {
		if (job->had_row)
			w_remove_file(ix, repo, file);
		lose(p, repo, file, &r->st, name, version, ex.file, job->recheck);
	}
	store_chart_free(&ex);
}

/* True when the file changed in the last RETRY_SETTLE_S seconds. */
static bool just_written(const struct storage_stat *st)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	int64_t age = now - st->mtime_ns;
	return age > -RETRY_SETTLE_S * 1000000000LL && age < RETRY_SETTLE_S * 1000000000LL;
}

/* Whether a hash result may be written (see still_as_seen).  Not looked
 * at again: the results of a first load (a repo with no rows) while no
 * one else has written since the pass began, which would cost a cold index
 * one more stat per file in its serial writer for nothing. */
static bool result_current(struct indexer *ix, const struct hash_result *r)
{
	if (!batch_open(ix))
		return false;
	if (r->job->cold && !ix->others_wrote)
		return true;
	return still_as_seen(ix, r->job->repo, r->job->file,
	                     r->kind == HASH_GONE ? NULL : &r->st);
}

static void handle_result(struct pass *p, struct hash_result *r)
{
	struct indexer *ix = p->ix;
	struct hash_job *job = r->job;
	char rel[PATH_MAX];

	if (r->kind != HASH_GONE)
		p->ps->hashed++; /* read, whatever becomes of it */
	if (r->kind != HASH_ERR && !result_current(ix, r))
		return;
	switch (r->kind) {
	case HASH_OK:
		handle_chart(p, r);
		break;
	case HASH_BAD:
		if (!job->whole && just_written(&r->st)) {
			/* An event can come while the file is still being
			 * written (IN_CREATE): not reported before it settles. */
			char key[PATH_MAX];
			snprintf(key, sizeof key, "%s/%s", job->repo, job->file);
			map_put(&ix->retry, key, NULL);
			break;
		}
		p->ps->bad++;
		if (job->recheck)
			break; /* still invalid, already reported */
		if (job->had_row)
			w_remove_file(ix, job->repo, job->file);
		if (!job->bad_checked && store_is_known_bad(ix->s, job->repo, job->file, &r->st))
			break;
		log_warn("skipping invalid chart file %s: %s",
		         rel_name(rel, sizeof rel, job->repo, job->file), r->reason);
		w_put_bad(ix, job->repo, job->file, &r->st, r->reason);
		break;
	case HASH_GONE:
		map_put(&ix->recheck, job->repo, NULL);
		if (job->had_row) {
			w_remove_file(ix, job->repo, job->file);
			p->ps->removed++;
		}
		break;
	case HASH_ERR:
		/* Not recorded: tried again on the next pass. */
		log_warn("cannot index chart file %s: %s",
		         rel_name(rel, sizeof rel, job->repo, job->file), r->reason);
		break;
	}
}

/* Repo names are interned (pass_repo): the same repo is the same pointer,
 * so a cold start's 130,000 jobs in one repo compare file names only. */
static int job_order(const void *a, const void *b)
{
	const struct hash_job *x = a, *y = b;
	int c = x->repo == y->repo ? 0 : strcmp(x->repo, y->repo);
	return c ? c : strcmp(x->file, y->file);
}

/* ---- bulk loads without syncs -------------------------------------------- */

/* A bulk load runs with SQLite's syncs off (store_set_unsynced): the
 * checkpoints' fdatasync calls, seconds of the writer's time in a cold
 * index of 130,000 charts, are skipped.  A killed indexer loses nothing
 * that way (the OS keeps every write); only the machine stopping during
 * the load can leave a database damaged in ways no check finds.  So while
 * the load runs, <state>/indexer.bulk holds the boot id: a start that finds
 * it from another boot rebuilds the database from storage (the source of
 * truth), one from this boot removes it.  At the end the database and its
 * WAL are fsync'ed before the marker goes. */

/* This boot's id into out (or "unknown": never equal at the next start). */
static void boot_id(char out[64])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, 63) : -1;
	if (fd >= 0)
		close(fd);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	if (n <= 0)
		snprintf(out, 64, "unknown");
	else
		out[n] = '\0';
}

static void bulk_marker_path(const struct cd_config *cfg, char *out, size_t sz)
{
	snprintf(out, sz, "%s/indexer.bulk", cfg->state_dir);
}

/* fsync of a file or directory by path; false when it fails. */
static bool sync_path(const char *path, bool dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	bool ok = fd >= 0 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Writes the marker durably; false (the load then keeps its syncs) when
 * it cannot. */
static bool bulk_mark(const struct cd_config *cfg)
{
	char path[PATH_MAX], id[64];
	bulk_marker_path(cfg, path, sizeof path);
	boot_id(id);
	size_t n = strlen(id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	bool ok = fd >= 0 && write(fd, id, n) == (ssize_t)n && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok)
		ok = sync_path(cfg->state_dir, true);
	if (!ok) {
		log_warn("cannot write %s (%s): loading the index with syncs on", path, strerror(errno));
		unlink(path);
	}
	return ok;
}

/* Makes what the load wrote durable, then removes the marker (kept when
 * that fails: the next boot then rebuilds). */
static void bulk_unmark(const struct cd_config *cfg)
{
	char path[PATH_MAX], wal[PATH_MAX];
	snprintf(wal, sizeof wal, "%s-wal", cfg->db_path);
	bulk_marker_path(cfg, path, sizeof path);
	if (!sync_path(cfg->db_path, false) || (!sync_path(wal, false) && errno != ENOENT)) {
		log_warn("cannot sync the index database after a bulk load: %s", strerror(errno));
		return;
	}
	if (unlink(path) == 0)
		sync_path(cfg->state_dir, true);
}

bool reconcile_bulk_interrupted(const struct cd_config *cfg)
{
	char path[PATH_MAX], id[64], was[64];
	bulk_marker_path(cfg, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, was, sizeof was - 1);
	close(fd);
	was[n > 0 ? n : 0] = '\0';
	boot_id(id);
	if (strcmp(id, "unknown") != 0 && strcmp(was, id) == 0) {
		unlink(path); /* only the process stopped: every write is in the OS */
		return false;
	}
	return true;
}

void reconcile_bulk_forget(const struct cd_config *cfg)
{
	char path[PATH_MAX];
	bulk_marker_path(cfg, path, sizeof path);
	if (unlink(path) == 0)
		sync_path(cfg->state_dir, true);
}

/* Starts or ends bulk mode around a pass with many files to read.  The
 * store is lazy meanwhile, as the workers are: a batch marks the names it
 * touched stale instead of rebuilding their blocks, the pass's render reads
 * those names from their rows, and the daemon rebuilds the blocks in the
 * background after the pass (refresh_blocks), 200 names per transaction.
 * On a cold index of 130,000 versions the blocks were a third of the
 * writer's bytes and the index is served about 10 % sooner without them;
 * rebuilding them afterwards takes about a second of the idle daemon. */
static void bulk_mode(struct indexer *ix, bool on, bool *unsynced)
{
	cd_err err = { "" };
	batch_commit(ix); /* the pragmas cannot change inside a transaction */
	store_set_lazy(ix->s, on);
	if (on) {
		store_bulk(ix->s, true);
		*unsynced = bulk_mark(ix->cfg) && store_set_unsynced(ix->s, true, &err) == CD_OK;
		if (*unsynced) {
			ix->bulk_db_fd = open(ix->cfg->db_path, O_RDONLY | O_CLOEXEC);
			ix->bulk_db_open = ix->bulk_db_fd >= 0;
		}
		return;
	}
	if (ix->bulk_db_open) {
		close(ix->bulk_db_fd);
		ix->bulk_db_open = false;
	}
	bool synced = !*unsynced || store_set_unsynced(ix->s, false, &err) == CD_OK;
	store_bulk(ix->s, false);
	if (!synced) /* the marker stays: a rebuild if the machine stops */
		log_warn("cannot turn syncs back on after a bulk load: %s", err.msg);
	else if (*unsynced)
		bulk_unmark(ix->cfg);
}

static void run_jobs(struct pass *p)
{
	struct indexer *ix = p->ix;
	if (p->njobs == 0)
		return;
	/* What the scan wrote (a repo registered, rows of files gone) is
	 * committed first: uploads need not wait for the first results. */
	batch_commit(ix);
	/* In name order a chart's versions land in the same batch, so the
	 * store rebuilds each name's block once, not once per batch. */
	qsort(p->jobs, p->njobs, sizeof *p->jobs, job_order);
	bool bulk = p->njobs >= BULK_MIN_JOBS, unsynced = false;
	if (bulk)
		bulk_mode(ix, true, &unsynced);
	pool_run(ix->pool, p->jobs, p->njobs);
	bool aborted = false;
	for (;;) {
		if (!aborted && *ix->stop) {
			pool_abort(ix->pool);
			aborted = true;
			p->ps->interrupted = true;
		}
		bool done;
		struct hash_result *r = pool_next(ix->pool, 100, &done);
		if (r != NULL) {
			handle_result(p, r);
			pool_release(ix->pool, r);
		} else if (done) {
			break;
		} else if (ix->in_txn && now_s() - ix->batch_t0 >= BATCH_MAX_S) {
			batch_commit(ix);
		}
	}
	if (bulk)
		bulk_mode(ix, false, &unsynced);
}

static void pass_free(struct pass *p)
{
	for (size_t i = 0; i < p->njobs; i++)
		free(p->jobs[i].file);
	free(p->jobs);
	size_t i = 0;
	struct map_entry *e;
	while ((e = map_next(&p->pending_nc, &i)) != NULL)
		free(e->ptr);
	map_clear(&p->pending_nc);
	map_clear(&p->repos);
}

/* ---- passes --------------------------------------------------------------- */

void reconcile_walk(struct indexer *ix, const char *rel, int level, struct map *out)
{
	const struct cd_config *cfg = ix->cfg;
	bool is_repo = level == cfg->depth || cfg->depth_dynamic;
	if (ix->w)
		watch_add(ix->w, rel, level, is_repo);
	if (is_repo)
		map_put(out, rel, NULL);
	if (level >= cfg->depth)
		return;

	char path[PATH_MAX];
	if (dir_path(path, sizeof path, cfg->storage_root, rel) != 0)
		return;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (rel[0] ? O_NOFOLLOW : 0));
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (dir == NULL) {
		if (dfd >= 0)
			close(dfd);
		else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			log_warn("cannot read storage directory \"%s\": %s", rel, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		if (name[0] == '.')
			continue;
		if (de->d_type != DT_DIR) {
			struct stat sb;
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(dirfd(dir), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISDIR(sb.st_mode))
				continue;
		}
		if (!storage_repo_valid(name, 1))
			continue;
		char child[PATH_MAX];
		int n = rel[0] ? snprintf(child, sizeof child, "%s/%s", rel, name)
		               : snprintf(child, sizeof child, "%s", name);
		if (n > 0 && (size_t)n < sizeof child)
			reconcile_walk(ix, child, level + 1, out);
	}
	closedir(dir);
}

static int collect_repo(const char *repo, void *ctx)
{
	return map_put(ctx, repo, NULL) == NULL;
}

cd_rc reconcile_full(struct indexer *ix, struct pass_stats *ps)
{
	struct pass p = { .ix = ix, .ps = ps };
	struct map found = { 0 }, known = { 0 };
	cd_err err = { "" };

	memset(ps, 0, sizeof *ps);
	ix->failed = false;
	track_others_from_now(ix);
	if (ix->w)
		watch_begin_pass(ix->w);
	reconcile_walk(ix, "", 0, &found);
	if (ix->w)
		watch_prune(ix->w);
	ps->repos = (long)found.len;

	if (store_each_repo(ix->s, collect_repo, &known, &err) != CD_OK) {
		log_error("cannot list the repos of the index: %s", err.msg);
		ix->failed = true;
	}
	size_t i = 0;
	struct map_entry *e;
	while ((e = map_next(&known, &i)) != NULL && !*ix->stop)
		if (map_get(&found, e->key) == NULL)
			scan_repo(&p, e->key, false);
	i = 0;
	while ((e = map_next(&found, &i)) != NULL && !*ix->stop)
		scan_repo(&p, e->key, true);
	if (*ix->stop)
		ps->interrupted = true;
	else
		run_jobs(&p);
	batch_commit(ix);
	pass_free(&p);
	map_clear(&found);
	map_clear(&known);
	return ix->failed ? CD_EIO : CD_OK;
}

cd_rc reconcile_some(struct indexer *ix, const struct map *dirs, const struct map *files,
                     struct pass_stats *ps)
{
	struct pass p = { .ix = ix, .ps = ps };
	size_t i = 0;
	struct map_entry *e;

	memset(ps, 0, sizeof *ps);
	ix->failed = false;
	track_others_from_now(ix);
	while ((e = map_next(dirs, &i)) != NULL && !*ix->stop) {
		scan_repo(&p, e->key, true);
		ps->repos++;
	}
	i = 0;
	while ((e = map_next(files, &i)) != NULL && !*ix->stop) {
		char repo[PATH_MAX];
		const char *slash = strrchr(e->key, '/');
		size_t n = slash ? (size_t)(slash - e->key) : 0;
		if (slash == NULL || n >= sizeof repo)
			continue;
		memcpy(repo, e->key, n);
		repo[n] = '\0';
		if (map_get(dirs, repo) == NULL) /* else scanned whole above */
			check_file(&p, repo, slash + 1);
	}
	if (*ix->stop)
		ps->interrupted = true;
	else
		run_jobs(&p);
	batch_commit(ix);
	pass_free(&p);
	return ix->failed ? CD_EIO : CD_OK;
}

void reconcile_render(struct indexer *ix, bool all)
{
	struct map list = { 0 };
	cd_err err = { "" };

	if (all && store_each_repo(ix->s, collect_repo, &list, &err) != CD_OK)
		log_warn("cannot list the repos of the index: %s", err.msg);
	const struct map *m = all ? &list : &ix->changed;
	size_t i = 0;
	struct map_entry *e;
	while ((e = map_next(m, &i)) != NULL && !*ix->stop) {
		enum store_format fmts[2] = { STORE_YAML, STORE_JSON };
		for (int f = 0; f < (ix->cfg->json_index ? 2 : 1); f++) {
			char *rel = NULL;
			if (index_ensure(ix->s, &ix->iopts, e->key, fmts[f], &rel, &err) != CD_OK)
				log_warn("cannot render the index of repo \"%s\": %s", e->key, err.msg);
			free(rel);
		}
	}
	map_clear(&list);
	map_clear(&ix->changed);
}
