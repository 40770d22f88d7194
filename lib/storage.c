/* storage.c — the chart storage directory (ChartMuseum's local layout).
 *
 * Every path is walked one validated component at a time with openat and
 * O_NOFOLLOW from the root directory, so neither a crafted name nor a
 * symlink planted inside the storage can lead outside it.  Writes go to an
 * unnamed O_TMPFILE (or a ".cd-tmp-*" file where that is not supported) in
 * the target directory, fsync'd, and are published by link(2) (create-only:
 * of racing writers exactly one wins) or rename(2), then the directory is
 * fsync'd. */
#include "storage.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN 255
#define REPO_MAX_SEGMENTS 16

/* ---- validation ------------------------------------------------------ */

/* One repo path segment: [A-Za-z0-9._-]+, not hidden (so not "." or "..",
 * nor a temp file), at most NAME_MAX_LEN bytes. */
static bool segment_valid(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* Counts the segments of a repo key; -1 when any segment is invalid. */
static int repo_segments(const char *repo)
{
	int n = 0;
	if (repo == NULL)
		return -1;
	if (*repo == '\0')
		return 0;
	for (const char *p = repo;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!segment_valid(p, len) || ++n > REPO_MAX_SEGMENTS)
			return -1;
		if (slash == NULL)
			return n;
		p = slash + 1;
	}
}

bool storage_repo_valid(const char *repo, int depth)
{
	return repo_segments(repo) == depth;
}

bool storage_repo_key_valid(const char *repo)
{
	return repo_segments(repo) >= 0;
}

bool storage_filename_valid(const char *file)
{
	size_t len = file ? strlen(file) : 0;
	if (len == 0 || len > NAME_MAX_LEN || file[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = file[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		          c == '+';
		if (!ok)
			return false;
	}
	return true;
}

/* Checks a repo key and file name from any caller; the client-facing
 * message names which of the two is wrong. */
static cd_rc check_names(const char *repo, const char *file, cd_err *err)
{
	if (repo_segments(repo) < 0)
		return cd_fail(err, CD_EINVAL, "invalid repository name");
	if (!storage_filename_valid(file))
		return cd_fail(err, CD_EINVAL, "invalid file name");
	return CD_OK;
}

/* ---- directories ----------------------------------------------------- */

static bool errno_is_nospace(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

/* Maps a failed system call to the error kind a client sees. */
static cd_rc fs_fail(cd_err *err, int e, const char *what)
{
	if (errno_is_nospace(e))
		return cd_fail(err, CD_ENOSPC, "not enough space on the storage device");
	log_error("storage: %s: %s", what, strerror(e));
	return cd_fail(err, CD_EIO, "storage error while trying to %s", what);
}

/* Opens the directory of repo below root, segment by segment without
 * following symlinks; with create, makes missing directories and fsyncs
 * each parent so the new entry survives a crash.  Returns the fd, or -1
 * with errno set. */
static int open_repo_dir(const char *root, const char *repo, bool create)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char seg[NAME_MAX_LEN + 1];
	const char *p = repo;

	while (fd >= 0 && p && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		memcpy(seg, p, len);
		seg[len] = '\0';
		p = slash ? slash + 1 : NULL;

		int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, seg, 0755) == 0) {
				if (fsync(fd) != 0) {
					int e = errno;
					close(fd);
					errno = e;
					return -1;
				}
			} else if (errno != EEXIST) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = errno;
		close(fd);
		fd = next;
		errno = e;
	}
	return fd;
}

/* ---- writing --------------------------------------------------------- */

/* Fills name with STORAGE_TMP_PREFIX and 16 random hex digits. */
static void tmp_name(char name[64])
{
	unsigned long long r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (unsigned long long)ts.tv_nsec * 6364136223846793005ULL ^
		    (unsigned long long)getpid() << 32 ^ (unsigned long long)ts.tv_sec;
	}
	snprintf(name, 64, "%s%016llx", STORAGE_TMP_PREFIX, r);
}

/* Writes all of data to fd; -1 with errno on failure. */
static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fill_stat(struct storage_stat *out, const struct stat *st)
{
	out->size = (int64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ino = (uint64_t)st->st_ino;
}

/* Opens a file for the data in dirfd: unnamed (O_TMPFILE) where the file
 * system allows it, so a failed or crashed upload leaves nothing behind
 * and publishing frees no inode (ext4 pays for every recently freed inode
 * at the next create); else a new STORAGE_TMP_PREFIX file whose name goes
 * to tmp.  Returns the fd, or -1 with errno. */
static int open_tmp(int dirfd, char tmp[64])
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0) {
		tmp[0] = '\0';
		return fd;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
		return -1;
	for (int tries = 0; tries < 8; tries++) {
		tmp_name(tmp);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Gives an unnamed staged file the temp name s->tmp (linkat through
 * /proc/self/fd: AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).  Without
 * /proc the data is written again to a named temp file.  0 or -1/errno. */
static int name_staged(struct storage_staged *s)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
	for (int tries = 0; tries < 8; tries++) {
		tmp_name(s->tmp);
		if (linkat(AT_FDCWD, proc, s->dirfd, s->tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	if (errno != ENOENT && errno != EPERM && errno != ENOTSUP)
		return -1;
	/* No /proc: a named copy (the unnamed one vanishes at close). */
	struct stat sb;
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		tmp_name(s->tmp);
		fd = openat(s->dirfd, s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0 || write_all(fd, s->data, s->len) != 0 || fsync(fd) != 0 || fstat(fd, &sb) != 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlinkat(s->dirfd, s->tmp, 0);
		}
		s->tmp[0] = '\0';
		errno = e;
		return -1;
	}
	close(s->fd);
	s->fd = fd;
	fill_stat(&s->st, &sb);
	return 0;
}

/* Publishes the named temp file without replacing an existing file:
 * link(2), or renameat2(RENAME_NOREPLACE) where the file system has no
 * hard links.  Returns 0, or -1 with errno (EEXIST when the file is
 * there). */
static int publish_new(int dirfd, const char *tmp, const char *file)
{
	if (linkat(dirfd, tmp, dirfd, file, 0) == 0) {
		unlinkat(dirfd, tmp, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOTSUP && errno != EMLINK && errno != ENOSYS)
		return -1;
	return renameat2(dirfd, tmp, dirfd, file, RENAME_NOREPLACE);
}

cd_rc storage_stage(const char *root, const char *repo, const char *file,
                    const void *data, size_t len, struct storage_staged *out, cd_err *err)
{
	struct stat sb;
	memset(out, 0, sizeof *out);
	out->fd = out->dirfd = -1;
	cd_rc rc = check_names(repo, file, err);
	if (rc != CD_OK)
		return rc;
	if ((out->dirfd = open_repo_dir(root, repo, true)) < 0)
		return fs_fail(err, errno, "create the repository directory");
	out->data = data;
	out->len = len;
	if ((out->fd = open_tmp(out->dirfd, out->tmp)) < 0 ||
	    write_all(out->fd, data, len) != 0 || fsync(out->fd) != 0 ||
	    fstat(out->fd, &sb) != 0) {
		rc = fs_fail(err, errno, "write the file");
		storage_discard(out);
		return rc;
	}
	fill_stat(&out->st, &sb);
	return CD_OK;
}

/* Gives the staged file its name (see storage_publish), without the
 * directory's fsync. */
static cd_rc name_file(struct storage_staged *s, const char *file, bool overwrite, cd_err *err)
{
	char proc[64];
	int r;
	if (s->tmp[0] == '\0' && !overwrite) {
		/* Create-only straight from the unnamed file: one link(2). */
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
		r = linkat(AT_FDCWD, proc, s->dirfd, file, AT_SYMLINK_FOLLOW);
		if (r != 0 && errno != EEXIST) {
			r = name_staged(s);
			if (r == 0)
				r = publish_new(s->dirfd, s->tmp, file);
		}
	} else {
		r = s->tmp[0] == '\0' ? name_staged(s) : 0;
		if (r == 0)
			r = overwrite ? renameat(s->dirfd, s->tmp, s->dirfd, file)
			              : publish_new(s->dirfd, s->tmp, file);
	}
	if (r != 0) {
		if (errno == EEXIST)
			return cd_fail(err, CD_EEXIST, "file already exists");
		return fs_fail(err, errno, "publish the file");
	}
	s->tmp[0] = '\0'; /* the name is the file's now */
	return CD_OK;
}

cd_rc storage_publish(struct storage_staged *s, const char *file, bool overwrite, cd_err *err)
{
	cd_rc rc = name_file(s, file, overwrite, err);
	if (rc == CD_OK && fsync(s->dirfd) != 0)
		return fs_fail(err, errno, "sync the repository directory");
	return rc;
}

cd_rc storage_create(struct storage_staged *s, const char *file, cd_err *err)
{
	cd_rc rc = name_file(s, file, false, err);
	if (rc == CD_OK)
		s->replaced = STAGED_CREATED;
	return rc;
}

void storage_discard(struct storage_staged *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0) {
		if (s->tmp[0] != '\0')
			unlinkat(s->dirfd, s->tmp, 0);
		close(s->dirfd);
	}
	s->fd = s->dirfd = -1;
	s->tmp[0] = '\0';
}

/* True when renameat2 failed because the file system (or kernel) does not
 * know the flag asked for: the caller falls back to a plain renameat. */
static bool rename_flags_unsupported(int e)
{
	return e == EINVAL || e == ENOSYS || e == ENOTSUP;
}

cd_rc storage_replace(struct storage_staged *s, const char *file, cd_err *err)
{
	int r = s->tmp[0] == '\0' ? name_staged(s) : 0;
	/* Twice: a file may appear or vanish between the two renames. */
	for (int tries = 0; r == 0 && tries < 2; tries++) {
		if (renameat2(s->dirfd, s->tmp, s->dirfd, file, RENAME_EXCHANGE) == 0) {
			s->replaced = STAGED_KEPT_OLD; /* tmp now names the old file */
			break;
		}
		if (errno == ENOENT) { /* nothing to replace: create */
			if (renameat2(s->dirfd, s->tmp, s->dirfd, file, RENAME_NOREPLACE) == 0) {
				s->tmp[0] = '\0';
				s->replaced = STAGED_CREATED;
				break;
			}
			if (errno == EEXIST)
				continue;
		}
		if (!rename_flags_unsupported(errno)) {
			r = -1;
			break;
		}
		/* A file system without RENAME_EXCHANGE or RENAME_NOREPLACE. */
		r = renameat(s->dirfd, s->tmp, s->dirfd, file);
		if (r == 0) {
			s->tmp[0] = '\0';
			s->replaced = STAGED_REPLACED;
		}
		break;
	}
	if (r != 0)
		return fs_fail(err, errno, "publish the file");
	return CD_OK;
}

cd_rc storage_sync(struct storage_staged *s, cd_err *err)
{
	if (s->dirfd >= 0 && fsync(s->dirfd) != 0)
		return fs_fail(err, errno, "sync the repository directory");
	return CD_OK;
}

cd_rc storage_unpublish(struct storage_staged *s, const char *file, cd_err *err)
{
	struct stat sb;
	int r = 0;
	switch (s->replaced) {
	case STAGED_UNPUBLISHED:
		return CD_OK;
	case STAGED_KEPT_OLD: /* tmp names the staged file again afterwards */
		r = renameat2(s->dirfd, s->tmp, s->dirfd, file, RENAME_EXCHANGE);
		break;
	case STAGED_CREATED: /* only if the name still holds our file */
		if (fstatat(s->dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (uint64_t)sb.st_ino == s->st.ino)
			r = unlinkat(s->dirfd, file, 0);
		break;
	case STAGED_REPLACED:
		log_error("storage: %s stays replaced: this file system cannot exchange names",
		          file);
		return cd_fail(err, CD_EIO, "the replaced file cannot be restored");
	}
	s->replaced = STAGED_UNPUBLISHED;
	if (r != 0)
		return fs_fail(err, errno, "restore the replaced file");
	return storage_sync(s, err);
}

cd_rc storage_set_aside(const char *root, const char *repo, const char *file,
                        struct storage_staged *out, cd_err *err)
{
	memset(out, 0, sizeof *out);
	out->fd = out->dirfd = -1;
	cd_rc rc = check_names(repo, file, err);
	if (rc != CD_OK)
		return rc;
	if ((out->dirfd = open_repo_dir(root, repo, false)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return cd_fail(err, CD_ENOTFOUND, "file not found");
		return fs_fail(err, errno, "open the repository directory");
	}
	int r = -1;
	for (int tries = 0; tries < 8; tries++) {
		tmp_name(out->tmp);
		r = renameat2(out->dirfd, file, out->dirfd, out->tmp, RENAME_NOREPLACE);
		if (r == 0 || errno != EEXIST)
			break;
	}
	if (r != 0 && rename_flags_unsupported(errno))
		r = renameat(out->dirfd, file, out->dirfd, out->tmp); /* random name */
	if (r != 0) {
		int e = errno;
		out->tmp[0] = '\0';
		storage_discard(out);
		if (e == ENOENT)
			return cd_fail(err, CD_ENOTFOUND, "file not found");
		return fs_fail(err, e, "remove the file");
	}
	return CD_OK;
}

cd_rc storage_put_back(struct storage_staged *s, const char *file, cd_err *err)
{
	if (s->dirfd < 0 || s->tmp[0] == '\0')
		return CD_OK;
	if (renameat2(s->dirfd, s->tmp, s->dirfd, file, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST) /* a newer file has the name: it stays */
			return CD_OK;
		if (!rename_flags_unsupported(errno) ||
		    renameat(s->dirfd, s->tmp, s->dirfd, file) != 0)
			return fs_fail(err, errno, "restore the removed file");
	}
	s->tmp[0] = '\0';
	return storage_sync(s, err);
}

cd_rc storage_write(const char *root, const char *repo, const char *file,
                    const void *data, size_t len, bool overwrite,
                    struct storage_stat *st, cd_err *err)
{
	struct storage_staged s;
	cd_rc rc = storage_stage(root, repo, file, data, len, &s, err);
	if (rc == CD_OK)
		rc = storage_publish(&s, file, overwrite, err);
	if (rc == CD_OK && st != NULL)
		*st = s.st;
	storage_discard(&s);
	return rc;
}

/* ---- reading and removing ------------------------------------------- */

cd_rc storage_remove(const char *root, const char *repo, const char *file, cd_err *err)
{
	cd_rc rc = check_names(repo, file, err);
	if (rc != CD_OK)
		return rc;
	int dirfd = open_repo_dir(root, repo, false);
	if (dirfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return cd_fail(err, CD_ENOTFOUND, "file not found");
		return fs_fail(err, errno, "open the repository directory");
	}
	if (unlinkat(dirfd, file, 0) != 0) {
		if (errno == ENOENT)
			rc = cd_fail(err, CD_ENOTFOUND, "file not found");
		else
			rc = fs_fail(err, errno, "remove the file");
	} else if (fsync(dirfd) != 0) {
		rc = fs_fail(err, errno, "sync the repository directory");
	}
	close(dirfd);
	return rc;
}

bool storage_exists(const char *root, const char *repo, const char *file,
                    struct storage_stat *st)
{
	struct stat sb;
	if (check_names(repo, file, NULL) != CD_OK)
		return false;
	int dirfd = open_repo_dir(root, repo, false);
	if (dirfd < 0)
		return false;
	bool ok = fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
	close(dirfd);
	if (ok && st != NULL)
		fill_stat(st, &sb);
	return ok;
}

bool storage_join(char *out, size_t size, const char *const *parts, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);
		if (l >= size - len)
			return false;
		memcpy(out + len, parts[i], l);
		len += l;
	}
	out[len] = '\0';
	return true;
}

/* Opens a stored regular file read-only without following symlinks;
 * -1 with errno (ENOENT for anything that is not a regular file). */
static int open_file(const char *root, const char *repo, const char *file, struct stat *sb)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	char path[PATH_MAX];
	int fd, e;

	/* In the root itself one open of the joined path does what openat in
	 * the opened root does (file has no '/', and O_NOFOLLOW guards its
	 * last component as it does there), with two system calls less: a
	 * worker serves small files this way (fcgi/h_repo.c). */
	const char *parts[] = { root, "/", file };
	if (repo[0] == '\0' && storage_join(path, sizeof path, parts, sizeof parts / sizeof parts[0])) {
		fd = open(path, flags);
		e = errno;
	} else {
		int dirfd = open_repo_dir(root, repo, false);
		if (dirfd < 0)
			return -1;
		fd = openat(dirfd, file, flags);
		e = errno;
		close(dirfd);
	}
	if (fd < 0) {
		errno = e == ELOOP ? ENOENT : e;
		return -1;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/* Reads fd to its end, at most max bytes (one more means "too big") into a
 * NUL-terminated malloc'd buffer. */
static cd_rc read_capped(int fd, size_t hint, size_t max, void **data, size_t *len,
                         cd_err *err)
{
	size_t cap = (hint < max ? hint : max) + 1, n = 0;
	char *p = malloc(cap + 1);
	if (p == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	for (;;) {
		if (n == cap) {
			if (n > max)
				break;
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *q = realloc(p, ncap + 1);
			if (q == NULL) {
				free(p);
				return cd_fail(err, CD_ENOMEM, "out of memory");
			}
			p = q;
			cap = ncap;
		}
		ssize_t r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(p);
			return fs_fail(err, errno, "read the file");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* A regular file reads short only at its end (signals are
		 * blocked or restart): no second read to be told so. */
		if (n < cap)
			break;
	}
	if (n > max) {
		free(p);
		return cd_fail(err, CD_ETOOBIG, "file is larger than %zu bytes", max);
	}
	p[n] = '\0';
	*data = p;
	*len = n;
	return CD_OK;
}

cd_rc storage_read(const char *root, const char *repo, const char *file,
                   size_t max, void **data, size_t *len, struct storage_stat *st,
                   cd_err *err)
{
	struct stat sb;
	cd_rc rc = check_names(repo, file, err);
	if (rc != CD_OK)
		return rc;
	int fd = open_file(root, repo, file, &sb);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cd_fail(err, CD_ENOTFOUND, "file not found");
		return fs_fail(err, errno, "open the file");
	}
	if ((uint64_t)sb.st_size > (uint64_t)max) {
		close(fd);
		return cd_fail(err, CD_ETOOBIG, "file is larger than %zu bytes", max);
	}
	rc = read_capped(fd, (size_t)sb.st_size, max, data, len, err);
	close(fd);
	if (rc == CD_OK && st != NULL)
		fill_stat(st, &sb);
	return rc;
}

char *storage_path(const char *root, const char *repo, const char *file)
{
	char *path = NULL;
	if (repo_segments(repo) < 0 || (file && *file && !storage_filename_valid(file)))
		return NULL;
	const char *f = file ? file : "";
	int n = asprintf(&path, "%s%s%s%s%s", root, *repo ? "/" : "", repo, *f ? "/" : "", f);
	return n < 0 ? NULL : path;
}

/* ---- directory scans ------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

long storage_count_objects(const char *root, const char *repo)
{
	if (repo_segments(repo) < 0)
		return -1;
	int fd = open_repo_dir(root, repo, false);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!storage_filename_valid(de->d_name))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (has_suffix(de->d_name, ".tgz") || has_suffix(de->d_name, ".prov"))
			n++;
	}
	closedir(d);
	return n;
}

/* Removes temp files in the directory fd and, while levels remain, in its
 * valid subdirectories (never following symlinks).  Takes fd. */
static void clean_dir(int fd, int levels)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strncmp(name, STORAGE_TMP_PREFIX, strlen(STORAGE_TMP_PREFIX)) == 0) {
			if (unlinkat(dirfd(d), name, 0) == 0)
				log_info("storage: removed leftover temp file %s", name);
			continue;
		}
		if (levels <= 0 || !segment_valid(name, strlen(name)))
			continue;
		int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			clean_dir(sub, levels - 1);
	}
	closedir(d);
}

void storage_clean_tmp(const char *root, int depth)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		clean_dir(fd, depth < 0 ? 0 : depth);
}
