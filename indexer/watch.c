/* watch.c — inotify(7) bookkeeping for the indexer. */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

/* Repo directories: any change to a file.  IN_ATTRIB catches `touch`,
 * IN_CREATE a hard link (storage_write's create-only link). */
#define WATCH_REPO_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
                         IN_CREATE | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW |      \
                         IN_EXCL_UNLINK)
/* Directories above the repo level: only sub-directories come and go. */
#define WATCH_TREE_MASK (IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | \
                         IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

void watch_init(struct watch *w, const char *root)
{
	memset(w, 0, sizeof *w);
	w->root = root;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		log_warn("inotify unavailable (%s): changes in storage are picked up "
		         "every CACHE_INTERVAL only", strerror(errno));
}

static void watch_forget(struct watch *w, struct map_entry *e)
{
	struct watch_dir *d = e->ptr;
	free(d->rel);
	free(d);
	map_del(&w->wds, e);
}

void watch_close(struct watch *w)
{
	size_t i = 0;
	struct map_entry *e;
	while ((e = map_next(&w->wds, &i)) != NULL) {
		struct watch_dir *d = e->ptr;
		free(d->rel);
		free(d);
	}
	map_clear(&w->wds);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void watch_add(struct watch *w, const char *rel, int level, bool repo)
{
	if (w->fd < 0)
		return;
	char path[PATH_MAX];
	int n = rel[0] ? snprintf(path, sizeof path, "%s/%s", w->root, rel)
	               : snprintf(path, sizeof path, "%s", w->root);
	if (n < 0 || (size_t)n >= sizeof path)
		return;
	int wd = inotify_add_watch(w->fd, path, repo ? WATCH_REPO_MASK : WATCH_TREE_MASK);
	if (wd < 0) {
		if (errno == ENOSPC && !w->warned_limit) {
			w->warned_limit = true;
			log_warn("out of inotify watches (fs.inotify.max_user_watches): some "
			         "directories are picked up every CACHE_INTERVAL only");
		} else if (errno != ENOENT && errno != ENOTDIR && errno != ENOSPC) {
			log_warn("cannot watch storage directory \"%s\": %s", rel, strerror(errno));
		}
		return;
	}
	char key[16];
	snprintf(key, sizeof key, "%d", wd);
	bool added;
	struct map_entry *e = map_put(&w->wds, key, &added);
	if (e == NULL)
		return;
	struct watch_dir *d = e->ptr;
	if (added) {
		d = calloc(1, sizeof *d);
		if (d == NULL) {
			map_del(&w->wds, e);
			return;
		}
		e->ptr = d;
		d->wd = wd;
	}
	/* The same inode keeps its wd: a directory moved within the root
	 * gets its new path here. */
	char *nrel = strdup(rel);
	if (nrel != NULL) {
		free(d->rel);
		d->rel = nrel;
	}
	d->level = level;
	d->repo = repo;
	d->gen = w->gen;
}

void watch_begin_pass(struct watch *w)
{
	w->gen++;
}

void watch_prune(struct watch *w)
{
	size_t i = 0;
	struct map_entry *e;
	while ((e = map_next(&w->wds, &i)) != NULL) {
		struct watch_dir *d = e->ptr;
		if (d->gen != w->gen) {
			inotify_rm_watch(w->fd, d->wd);
			watch_forget(w, e);
		}
	}
}

static struct watch_dir *watch_find(struct watch *w, int wd, struct map_entry **pe)
{
	char key[16];
	snprintf(key, sizeof key, "%d", wd);
	struct map_entry *e = map_get(&w->wds, key);
	if (pe)
		*pe = e;
	return e ? e->ptr : NULL;
}

bool watch_read(struct watch *w, watch_fn fn, void *ctx)
{
	if (w->fd < 0)
		return true;
	_Alignas(struct inotify_event) char buf[64 * 1024];
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) {
			log_error("inotify read failed (%s): falling back to CACHE_INTERVAL",
			          n < 0 ? strerror(errno) : "end of file");
			return false;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				fn(WATCH_OVERFLOW, NULL, NULL, ctx);
				continue;
			}
			struct map_entry *e;
			struct watch_dir *d = watch_find(w, ev->wd, &e);
			if (d == NULL)
				continue;
			if (ev->mask & IN_IGNORED) {
				/* The directory itself is gone; its parent reported it. */
				watch_forget(w, e);
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->mask & IN_ISDIR) {
				if (ev->mask & (IN_CREATE | IN_MOVED_TO))
					fn(WATCH_DIR_ADDED, d, ev->name, ctx);
				else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
					fn(WATCH_DIR_REMOVED, d, ev->name, ctx);
				continue;
			}
			if (d->repo)
				fn(WATCH_FILE, d, ev->name, ctx);
		}
	}
}
