/* index.c — index entries and the rendered index files.
 *
 * An index file is concatenated from the blocks the store keeps rendered,
 * streamed to the file so a 130,000-entry index never sits in memory.
 * Files are named by the repo generation they show and rendered once per
 * generation under flock(2): readers that find the file missing wait for
 * the one render instead of starting their own. */
#include "index.h"
#include "log.h"
#include "storage.h"
#include "yamlout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Older generations' files stay this long so a reader that was just handed
 * one (nginx is about to open it) does not get a 404. */
#define INDEX_KEEP_OLD_S 30

/* ---- entries --------------------------------------------------------- */

/* The chart's download URL the way ChartMuseum writes it: relative
 * "charts/<file>" without CHART_URL, else absolute with the repo path. */
static char *entry_url(const char *repo, const char *file, const char *chart_url)
{
	char *url = NULL;
	int n;
	if (chart_url == NULL || *chart_url == '\0')
		n = asprintf(&url, "charts/%s", file);
	else if (repo == NULL || *repo == '\0')
		n = asprintf(&url, "%s/charts/%s", chart_url, file);
	else
		n = asprintf(&url, "%s/%s/charts/%s", chart_url, repo, file);
	return n < 0 ? NULL : url;
}

json_t *index_entry(const json_t *meta, const char *repo, const char *file,
                    const char *digest, const char *created, const char *chart_url)
{
	/* A shallow copy: the entry shares meta's values (never modified),
	 * which spares a deep copy per entry when the indexer renders 130k. */
	json_t *e = meta && !json_is_object(meta) ? NULL : json_object();
	const char *key;
	json_t *value;
	if (e != NULL && meta != NULL)
		json_object_foreach((json_t *)meta, key, value)
			if (json_object_set(e, key, value) != 0) {
				json_decref(e);
				return NULL;
			}
	char *url = entry_url(repo, file, chart_url);
	json_t *urls = url ? json_pack("[s]", url) : NULL;
	free(url);
	if (e == NULL || urls == NULL || json_object_set_new(e, "urls", urls) != 0) {
		if (e == NULL)
			json_decref(urls);
		json_decref(e);
		return NULL;
	}
	if (json_object_set_new(e, "created", json_string(created ? created : "")) != 0) {
		json_decref(e);
		return NULL;
	}
	if (digest && *digest && json_object_set_new(e, "digest", json_string(digest)) != 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

/* ---- time ------------------------------------------------------------ */

void index_time_rfc3339(int64_t unix_ns, char out[64])
{
	int64_t sec = unix_ns / 1000000000, ns = unix_ns % 1000000000;
	if (ns < 0)
		ns += 1000000000, sec -= 1;
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ns > 0) {
		char frac[16];
		int len = snprintf(frac, sizeof frac, "%09" PRId64, ns);
		while (len > 0 && frac[len - 1] == '0')
			frac[--len] = '\0';
		n += (size_t)snprintf(out + n, 64 - n, ".%s", frac);
	}
	snprintf(out + n, 64 - n, "Z");
}

void index_now_rfc3339(char out[64])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	index_time_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, out);
}

/* ---- streaming output ------------------------------------------------ */

/* A buffered writer to a file descriptor; the first error sticks. */
struct out {
	int fd;
	int err;  /* errno of the first failed write, 0 when none */
	size_t len;
	char buf[32768];
};

static void out_flush(struct out *o)
{
	const char *p = o->buf;
	while (o->len > 0 && o->err == 0) {
		ssize_t n = write(o->fd, p, o->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			o->err = errno;
			break;
		}
		p += n;
		o->len -= (size_t)n;
	}
	o->len = 0;
}

static void out_write(struct out *o, const char *s, size_t len)
{
	if (o->len + len > sizeof o->buf)
		out_flush(o);
	if (len >= sizeof o->buf) { /* a big block goes straight out */
		while (len > 0 && o->err == 0) {
			ssize_t n = write(o->fd, s, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				o->err = errno;
				break;
			}
			s += n;
			len -= (size_t)n;
		}
		return;
	}
	memcpy(o->buf + o->len, s, len);
	o->len += len;
}

static void out_puts(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

/* Writes s as a JSON string (UTF-8 kept, controls escaped). */
static void out_json_string(struct out *o, const char *s)
{
	char esc[8];
	out_write(o, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c != 0 && c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_write(o, run, (size_t)(s - run));
		if (c == 0)
			break;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
		} else {
			snprintf(esc, sizeof esc, "\\u%04x", c);
		}
		out_puts(o, esc);
		run = s + 1;
	}
	out_write(o, "\"", 1);
}

/* ---- rendering ------------------------------------------------------- */

struct render {
	struct out *out;
	enum store_format fmt;
	size_t blocks;
};

/* Appends one name's block: YAML text as stored, or "name":[...] in JSON. */
static int render_block(const char *name, const char *text, size_t len, void *ctx)
{
	struct render *r = ctx;
	if (r->fmt == STORE_YAML) {
		if (r->blocks == 0)
			out_puts(r->out, "entries:\n");
		out_write(r->out, text, len);
	} else {
		out_puts(r->out, r->blocks == 0 ? "{" : ",");
		out_json_string(r->out, name);
		out_write(r->out, ":", 1);
		out_write(r->out, text, len);
	}
	r->blocks++;
	return r->out->err != 0;
}

/* Streams the whole index of repo (as of the caller's read snapshot). */
static cd_rc render_index(struct store *s, const struct index_opts *o, const char *repo,
                          enum store_format fmt, struct out *out, cd_err *err)
{
	struct render r = { out, fmt, 0 };
	char now[64];
	const char *ctxp = o->context_path ? o->context_path : "";

	out_puts(out, fmt == STORE_YAML ? "apiVersion: v1\n" : "{\"apiVersion\":\"v1\",\"entries\":");
	cd_rc rc = store_each_block(s, repo, fmt, render_block, &r, err);
	if (rc != CD_OK)
		return rc;
	index_now_rfc3339(now);
	if (fmt == STORE_YAML) {
		if (r.blocks == 0)
			out_puts(out, "entries: {}\n");
		out_puts(out, "generated: \"");
		out_puts(out, now);
		out_puts(out, "\"\n");
		if (*ctxp) {
			struct buf b = { 0 };
			if (yamlout_string(&b, ctxp, strlen(ctxp)) != CD_OK) {
				buf_free(&b);
				return cd_fail(err, CD_ENOMEM, "out of memory");
			}
			out_puts(out, "serverInfo:\n  contextPath: ");
			out_write(out, b.data, b.len);
			out_puts(out, "\n");
			buf_free(&b);
		} else {
			out_puts(out, "serverInfo: {}\n");
		}
	} else {
		out_puts(out, r.blocks == 0 ? "{}" : "}");
		out_puts(out, ",\"generated\":\"");
		out_puts(out, now);
		out_puts(out, "\",\"serverInfo\":{");
		if (*ctxp) {
			out_puts(out, "\"contextPath\":");
			out_json_string(out, ctxp);
		}
		out_puts(out, "}}\n");
	}
	out_flush(out);
	if (out->err == ENOSPC || out->err == EDQUOT)
		return cd_fail(err, CD_ENOSPC, "not enough space to write the index");
	if (out->err != 0) {
		log_error("index: write: %s", strerror(out->err));
		return cd_fail(err, CD_EIO, "could not write the index");
	}
	return CD_OK;
}

cd_rc index_write_fd(struct store *s, const struct index_opts *o, const char *repo,
                     enum store_format fmt, int fd, cd_err *err)
{
	struct out *out = malloc(sizeof *out);
	if (out == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	out->fd = fd;
	out->err = 0;
	out->len = 0;
	cd_rc rc = store_read_begin(s, err);
	if (rc == CD_OK) {
		rc = render_index(s, o, repo, fmt, out, err);
		store_read_end(s);
	}
	free(out);
	return rc;
}

/* ---- rendered files -------------------------------------------------- */

/* "root/@" or "r/<repo>/@", malloc'd: '@' cannot occur in a repo segment,
 * so repo "a" and repo "a/b" never share a directory. */
static char *repo_dir(const char *repo)
{
	char *d = NULL;
	int n = *repo ? asprintf(&d, "r/%s/@", repo) : asprintf(&d, "root/@");
	return n < 0 ? NULL : d;
}

/* mkdir -p of path (the state directory is ours; no fsync needed). */
static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = c;
		if (r != 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
	}
}

/* Unlinks "<n>.<ext>" files in dir for generations below gen that were
 * last written more than INDEX_KEEP_OLD_S ago, and temp files a crashed
 * render left (called under the lock, so no render is in progress). */
static void remove_old(const char *dir, int64_t gen, const char *ext)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		struct stat sb;
		if (strncmp(de->d_name, ".render-", 8) == 0) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		long long n = strtoll(de->d_name, &end, 10);
		if (*end != '.' || strcmp(end + 1, ext) != 0 || n >= gen)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    now - sb.st_mtime < INDEX_KEEP_OLD_S)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* Reads the generation and, when <gen>.<ext> is missing, renders it from
 * the same read snapshot into a temp file renamed into place.  Called with
 * the directory lock held.  *gen receives the generation shown. */
static cd_rc render_file(struct store *s, const struct index_opts *o, const char *repo,
                         enum store_format fmt, const char *dir, const char *ext,
                         int64_t *gen, cd_err *err)
{
	char *tmp = NULL, *final = NULL;
	struct out *out = NULL;
	cd_rc rc = store_read_begin(s, err);
	if (rc != CD_OK)
		return rc;
	if ((rc = store_generation(s, repo, gen, err)) != CD_OK)
		goto done;
	if (asprintf(&final, "%s/%" PRId64 ".%s", dir, *gen, ext) < 0) {
		final = NULL;
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
		goto done;
	}
	if (access(final, F_OK) == 0)
		goto done;
	if (asprintf(&tmp, "%s/.render-XXXXXX", dir) < 0 || (out = malloc(sizeof *out)) == NULL) {
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
		goto done;
	}
	out->err = 0;
	out->len = 0;
	if ((out->fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = errno == ENOSPC || errno == EDQUOT
			? cd_fail(err, CD_ENOSPC, "not enough space to write the index")
			: cd_fail(err, CD_EIO, "could not create the index file");
		log_error("index: create a temp file in %s: %s", dir, strerror(errno));
		goto done;
	}
	fchmod(out->fd, 0644);
	rc = render_index(s, o, repo, fmt, out, err);
	if (close(out->fd) != 0 && rc == CD_OK)
		rc = cd_fail(err, CD_EIO, "could not write the index");
	if (rc == CD_OK && rename(tmp, final) != 0) {
		log_error("index: rename into %s: %s", dir, strerror(errno));
		rc = cd_fail(err, CD_EIO, "could not publish the index");
	}
	if (rc != CD_OK)
		unlink(tmp);
done:
	store_read_end(s);
	free(out);
	free(tmp);
	free(final);
	return rc;
}

/* True when <dir>/<gen>.<ext> of the current generation exists. */
static bool current_exists(struct store *s, const char *repo, const char *dir,
                           const char *ext, int64_t *gen)
{
	char path[4096];
	if (store_generation(s, repo, gen, NULL) != CD_OK)
		return false;
	snprintf(path, sizeof path, "%s/%" PRId64 ".%s", dir, *gen, ext);
	return access(path, F_OK) == 0;
}

cd_rc index_ensure(struct store *s, const struct index_opts *o, const char *repo,
                   enum store_format fmt, char **rel, cd_err *err)
{
	const char *ext = fmt == STORE_JSON ? "json" : "yaml";
	char *rdir = NULL, *dir = NULL, *lock = NULL;
	int64_t gen = 0;
	int lfd = -1;
	cd_rc rc = CD_OK;

	*rel = NULL;
	if (repo == NULL || !storage_repo_key_valid(repo))
		return cd_fail(err, CD_EINVAL, "invalid repository name");
	if ((rdir = repo_dir(repo)) == NULL ||
	    asprintf(&dir, "%s/index/%s", o->state_dir, rdir) < 0 ||
	    asprintf(&lock, "%s/.lock", dir) < 0) {
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
		goto done;
	}
	if (!current_exists(s, repo, dir, ext, &gen)) {
		if (mkdir_p(dir) != 0 ||
		    (lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
		    flock(lfd, LOCK_EX) != 0) {
			log_error("index: prepare %s: %s", dir, strerror(errno));
			rc = errno == ENOSPC || errno == EDQUOT
				? cd_fail(err, CD_ENOSPC, "not enough space to write the index")
				: cd_fail(err, CD_EIO, "could not prepare the index directory");
			goto done;
		}
		rc = render_file(s, o, repo, fmt, dir, ext, &gen, err);
		store_release_memory(s); /* a render read every block: give the pages back */
		if (rc != CD_OK)
			goto done;
		remove_old(dir, gen, ext);
	}
	if (asprintf(rel, "%s/%" PRId64 ".%s", rdir, gen, ext) < 0) {
		*rel = NULL;
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
	}
done:
	if (lfd >= 0)
		close(lfd); /* releases the flock */
	free(rdir);
	free(dir);
	free(lock);
	return rc;
}
