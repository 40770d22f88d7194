/* storage.c — the chart storage directory (ChartMuseum's local layout).
 *
 * Every path is walked one validated component at a time with openat and
 * O_NOFOLLOW from the root directory, so neither a crafted name nor a
 * symlink planted inside the storage can lead outside it.  Writes go to a
 * ".cd-tmp-*" file in the target directory and are published by link(2)
 * (create-only: of racing writers exactly one wins) or rename(2). */
#include "storage.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* Creates a new temp file in dirfd holding data, fsync'd and closed; its
 * name goes to tmp and its identity to st.  -1 with errno, and no temp
 * file left, on failure. */
static int write_tmp(int dirfd, const void *data, size_t len, char tmp[64],
                     struct stat *st)
{
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		tmp_name(tmp);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0 || fstat(fd, st) != 0) {
		int e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	if (close(fd) != 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* Publishes tmp as file without replacing an existing one: link(2), or
 * renameat2(RENAME_NOREPLACE) where the file system has no hard links.
 * Returns 0, or -1 with errno (EEXIST when the file is there). */
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

static void fill_stat(struct storage_stat *out, const struct stat *st)
{
	out->size = (int64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ino = (uint64_t)st->st_ino;
}

cd_rc storage_write(const char *root, const char *repo, const char *file,
                    const void *data, size_t len, bool overwrite,
                    struct storage_stat *st, cd_err *err)
{
	char tmp[64];
	struct stat sb;
	cd_rc rc = check_names(repo, file, err);
	if (rc != CD_OK)
		return rc;

	int dirfd = open_repo_dir(root, repo, true);
	if (dirfd < 0)
		return fs_fail(err, errno, "create the repository directory");
	if (write_tmp(dirfd, data, len, tmp, &sb) != 0) {
		rc = fs_fail(err, errno, "write the file");
		close(dirfd);
		return rc;
	}
	int r = overwrite ? renameat(dirfd, tmp, dirfd, file) : publish_new(dirfd, tmp, file);
	if (r != 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		if (e == EEXIST)
			rc = cd_fail(err, CD_EEXIST, "file already exists");
		else
			rc = fs_fail(err, e, "publish the file");
		close(dirfd);
		return rc;
	}
	if (fsync(dirfd) != 0)
		rc = fs_fail(err, errno, "sync the repository directory");
	close(dirfd);
	if (rc == CD_OK && st != NULL)
		fill_stat(st, &sb);
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

/* Opens a stored regular file read-only without following symlinks;
 * -1 with errno (ENOENT for anything that is not a regular file). */
static int open_file(const char *root, const char *repo, const char *file, struct stat *sb)
{
	int dirfd = open_repo_dir(root, repo, false);
	if (dirfd < 0)
		return -1;
	int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int e = errno;
	close(dirfd);
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
