/* indexgz.c — gzip copies of the rendered index files (see indexgz.h).
 *
 * Rendered files live in <state>/index/root/@ and <state>/index/r/<repo>/@
 * (index.c), named <gen>.<ext> with generations that only grow.  A copy is
 * written to a temp file and renamed to <gen>.<ext>.gz, so nginx sees a
 * whole copy or none; a file is never changed once renamed into place, so
 * a copy stays equal to its file for as long as both exist. */
#include "indexgz.h"
#include "index.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* zlib's default level: 178 MB of index YAML become 12 MB in ~1.9 s of one
 * core here (level 1: 15 MB in 1.3 s); paid once per settled generation. */
#define GZ_LEVEL 6
#define GZ_CHUNK (256 * 1024)
/* Repo directories nest one level per path segment of a repo name. */
#define GZ_MAX_DEPTH 16

/* Deflates all of in_fd into out_fd in gzip format; false on a read,
 * write or zlib error (errno set where there is one) or when *stop. */
static bool gzip_fd(int in_fd, int out_fd, const volatile sig_atomic_t *stop)
{
	unsigned char *in = malloc(GZ_CHUNK), *out = malloc(GZ_CHUNK);
	z_stream zs;
	int flush = Z_NO_FLUSH;
	memset(&zs, 0, sizeof zs);
	/* windowBits 15 + 16: a gzip header and trailer around the deflate data */
	bool inited = in != NULL && out != NULL &&
	              deflateInit2(&zs, GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
	bool ok = inited;
	while (ok && flush != Z_FINISH) {
		if (*stop) {
			ok = false;
			break;
		}
		ssize_t n = read(in_fd, in, GZ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ok = false;
			break;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = out;
			zs.avail_out = GZ_CHUNK;
			int r = deflate(&zs, flush);
			if (r == Z_STREAM_ERROR) {
				ok = false;
				break;
			}
			size_t have = GZ_CHUNK - zs.avail_out;
			for (const unsigned char *p = out; ok && have > 0;) {
				ssize_t w = write(out_fd, p, have);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					ok = false;
					break;
				}
				p += w;
				have -= (size_t)w;
			}
		} while (ok && zs.avail_out == 0);
	}
	if (inited)
		deflateEnd(&zs);
	free(in);
	free(out);
	return ok;
}

/* Writes <name>.gz in the directory (fd dfd) through a temp file; the
 * copy is dropped again if its file vanished meanwhile (an old generation
 * removed while it was compressed).  0 when written, 1 when stopped or the
 * file is gone, -1 on an error (logged). */
static int compress_one(int dfd, const char *dir, const char *name,
                        const volatile sig_atomic_t *stop)
{
	char tmp[64], gz[300];
	static unsigned long counter;
	snprintf(gz, sizeof gz, "%s" INDEXGZ_SUFFIX, name);
	snprintf(tmp, sizeof tmp, INDEXGZ_TEMP_PREFIX "%ld-%lu", (long)getpid(), ++counter);
	int in = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return 1; /* replaced and removed since the listing */
	int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		int e = errno;
		close(in);
		log_warn("index: cannot create a compressed copy in %s: %s", dir, strerror(e));
		return -1;
	}
	bool ok = gzip_fd(in, out, stop);
	int e = errno;
	close(in);
	if (close(out) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && renameat(dfd, tmp, dfd, gz) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		unlinkat(dfd, tmp, 0);
		if (*stop)
			return 1;
		log_warn("index: cannot write %s/%s: %s", dir, gz, e ? strerror(e) : "compression failed");
		return -1;
	}
	if (faccessat(dfd, name, F_OK, 0) != 0) {
		unlinkat(dfd, gz, 0);
		return 1;
	}
	log_debug("index: wrote %s/%s", dir, gz);
	return 0;
}

/* Compresses the newest settled file of each extension in one index
 * directory; adds the copies written to *written, sets *failed. */
static void compress_dir(int dfd, const char *dir, int settle_s,
                         const volatile sig_atomic_t *stop, int *written, bool *failed)
{
	static const char *const exts[] = { "yaml", "json" };
	for (size_t i = 0; i < sizeof exts / sizeof exts[0] && !*stop; i++) {
		char name[64], gz[80];
		int64_t gen;
		struct stat st;
		if (!index_newest_below(dir, exts[i], INT64_MAX, &gen))
			continue;
		snprintf(name, sizeof name, "%" PRId64 ".%s", gen, exts[i]);
		snprintf(gz, sizeof gz, "%s" INDEXGZ_SUFFIX, name);
		if (faccessat(dfd, gz, F_OK, 0) == 0 || fstatat(dfd, name, &st, 0) != 0 ||
		    time(NULL) - st.st_mtime < settle_s)
			continue;
		int r = compress_one(dfd, dir, name, stop);
		if (r == 0)
			(*written)++;
		else if (r < 0)
			*failed = true;
	}
}

/* Visits dir (fd dfd, path for messages): an index directory ("@") is
 * compressed; every subdirectory is visited, as repo names nest. */
static void walk(int dfd, const char *path, int depth, int settle_s,
                 const volatile sig_atomic_t *stop, int *written, bool *failed)
{
	const char *base = strrchr(path, '/');
	if (strcmp(base ? base + 1 : path, "@") == 0)
		compress_dir(dfd, path, settle_s, stop, written, failed);
	if (depth >= GZ_MAX_DEPTH)
		return;
	int lfd = dup(dfd);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	struct dirent *de;
	if (d == NULL) {
		if (lfd >= 0)
			close(lfd);
		return;
	}
	while (!*stop && (de = readdir(d)) != NULL) {
		char sub[4096];
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		int sfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) < sizeof sub)
			walk(sfd, sub, depth + 1, settle_s, stop, written, failed);
		close(sfd);
	}
	closedir(d);
}

int indexgz_run(const char *state_dir, int settle_s, const volatile sig_atomic_t *stop)
{
	char root[4096];
	int written = 0;
	bool failed = false;
	if ((size_t)snprintf(root, sizeof root, "%s/index", state_dir) >= sizeof root)
		return -1;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* nothing rendered yet */
	walk(fd, root, 0, settle_s, stop, &written, &failed);
	close(fd);
	return failed ? -1 : written;
}
