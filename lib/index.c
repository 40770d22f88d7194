/* index.c — index entries and the rendered index files.
 *
 * An index file is concatenated from the blocks the store keeps rendered,
 * streamed to the file so a 130,000-entry index never sits in memory.
 * Files are named by the repo generation they show and rendered once per
 * generation under flock(2): readers that find the file missing wait for
 * the one render instead of starting their own.  A render after a change
 * copies the blocks unchanged since the previous file from that file (its
 * map says where they are) and reads only the changed ones from the db. */
#include "index.h"
#include "indexgz.h"
#include "log.h"
#include "storage.h"
#include "yamlout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An older generation's file stays this long after a newer one replaced
 * it, so a reader that was handed it just before (nginx opens it within
 * milliseconds) does not get a 404.  Short, because a 170 MB file that
 * lives for long is written back to disk for nothing, and because the
 * pages of a file removed just before a render are what that render
 * writes into (render_file): on a virtual machine that hands free memory
 * back to its host, pages left free for a few seconds cost a fault in the
 * host each when touched again, and a render of L took 250-500 ms instead
 * of 70 (docs/benchmarks.md, figure 7). */
#define INDEX_KEEP_OLD_MS 1000
/* A compressed copy's temp file untouched this long was left by a crash
 * (a live one grows every few milliseconds). */
#define GZ_TEMP_STALE_S 3600

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
	int err;      /* errno of the first failed write, 0 when none */
	bool no_cfr;  /* copy_file_range cannot serve this pair of files */
	uint64_t pos; /* bytes given so far: the file offset of the next one */
	uint64_t copied; /* of which copied from another file */
	size_t len;
	char buf[32768];
};

/* A zeroed writer to fd (malloc'd: the buffer is too big for a stack). */
static struct out *out_new(int fd)
{
	struct out *o = malloc(sizeof *o);
	if (o != NULL) {
		memset(o, 0, offsetof(struct out, buf));
		o->fd = fd;
	}
	return o;
}

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
	o->pos += len;
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

/* Appends len bytes of in_fd from offset off: copy_file_range, so the
 * kernel moves them (or shares them, on a file system with reflinks);
 * pread and write where it cannot. */
static void out_copy(struct out *o, int in_fd, uint64_t off, uint64_t len)
{
	out_flush(o);
	o->pos += len;
	o->copied += len;
	while (len > 0 && o->err == 0) {
		ssize_t n;
		if (!o->no_cfr) {
			loff_t from = (loff_t)off;
			n = copy_file_range(in_fd, &from, o->fd, NULL, len, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP)) {
				o->no_cfr = true;
				continue;
			}
		} else {
			n = pread(in_fd, o->buf, len < sizeof o->buf ? len : sizeof o->buf, (off_t)off);
			if (n > 0) {
				o->len = (size_t)n;
				out_flush(o);
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* 0: the file is shorter than its map said */
			o->err = n < 0 ? errno : EIO;
			break;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
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

/* ---- maps of rendered files ------------------------------------------ */

/* Beside each rendered <gen>.<ext> lies <gen>.<ext>.map, saying where each
 * name's block sits in it, so the next generation's file copies the blocks
 * that did not change since (out_copy) and takes only the changed ones
 * from the db: a render costs what changed, not the repo.  Native byte
 * order (the file never leaves this machine):
 *   "cdmap01\n", u64 gen, format, size, inode and mtime_ns of the file,
 *   str context path, str CHART_URL the blocks were rendered with,
 *   u64 count, count × (u64 offset, u64 length, str name) in file order,
 *   u64 FNV-1a of all the bytes before it;
 * a str is a u32 length, the bytes and a NUL.  An entry spans the name's
 * block without the separator before it ("entries:\n" or nothing in YAML,
 * "{" or "," in JSON): the renderer writes that one, so a copied run of
 * blocks only carries the "," between them, which never changes. */

#define MAP_MAGIC "cdmap01\n"
#define MAP_MAX_BYTES (1 << 30)

/* One block of an earlier file. */
struct map_ent {
	const char *name; /* in base.raw */
	uint64_t off, len;
	size_t idx;       /* its place in the file */
};

/* The file of an earlier generation and its map, checked against each
 * other: the base a render copies unchanged blocks from. */
struct base {
	int64_t gen;
	int fd;
	char *raw;                /* the map file */
	struct map_ent *ent;      /* file (and name) order */
	struct map_ent **by_name; /* sorted by strcmp, for lookups */
	size_t n;
};

/* The map of the file being rendered. */
struct newmap {
	struct buf b; /* its entries */
	uint64_t n;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}
#define FNV_SEED 14695981039346656037ULL

static uint64_t stat_mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

static cd_rc put_u64(struct buf *b, uint64_t v)
{
	return buf_append(b, &v, sizeof v);
}

static cd_rc put_str(struct buf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	cd_rc rc = buf_append(b, &n, sizeof n);
	return rc != CD_OK ? rc : buf_append(b, s, (size_t)n + 1);
}

/* A cursor over map bytes; every read checks the bounds. */
struct rd {
	const char *p, *end;
};

static bool get_u64(struct rd *r, uint64_t *v)
{
	if ((size_t)(r->end - r->p) < sizeof *v)
		return false;
	memcpy(v, r->p, sizeof *v);
	r->p += sizeof *v;
	return true;
}

static bool get_str(struct rd *r, const char **s)
{
	uint32_t n;
	if ((size_t)(r->end - r->p) < sizeof n)
		return false;
	memcpy(&n, r->p, sizeof n);
	r->p += sizeof n;
	if ((size_t)(r->end - r->p) <= n || r->p[n] != '\0' || memchr(r->p, '\0', n) != NULL)
		return false;
	*s = r->p;
	r->p += n + 1;
	return true;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp((*(struct map_ent *const *)a)->name, (*(struct map_ent *const *)b)->name);
}

static void base_free(struct base *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b->raw);
	free(b->ent);
	free(b->by_name);
	free(b);
}

/* Checks b->raw (size bytes) as the map of the file data shows, for the
 * settings in effect; NULL when it holds, else why not.  *odd tells a
 * damaged or inconsistent map from one rendered with other settings. */
static const char *map_parse(struct base *b, size_t size, enum store_format fmt,
                             const struct stat *data, const char *ctxp, const char *url,
                             bool *odd)
{
	struct rd r = { b->raw, b->raw + size };
	uint64_t gen, f, fsize, ino, mtime, count, sum, end = 0, sep = fmt == STORE_JSON;
	const char *c, *u;

	*odd = true;
	if (size < sizeof MAP_MAGIC - 1 + sizeof sum || memcmp(b->raw, MAP_MAGIC, 8) != 0)
		return "its map is not a map";
	memcpy(&sum, b->raw + size - sizeof sum, sizeof sum);
	if (fnv1a(FNV_SEED, b->raw, size - sizeof sum) != sum)
		return "its map is damaged";
	r.p += 8;
	r.end -= sizeof sum;
	if (!get_u64(&r, &gen) || !get_u64(&r, &f) || !get_u64(&r, &fsize) || !get_u64(&r, &ino) ||
	    !get_u64(&r, &mtime) || !get_str(&r, &c) || !get_str(&r, &u) || !get_u64(&r, &count))
		return "its map is truncated";
	if ((int64_t)gen != b->gen || fsize != (uint64_t)data->st_size ||
	    ino != (uint64_t)data->st_ino || mtime != stat_mtime_ns(data))
		return "its map describes another file";
	*odd = false;
	if (f != (uint64_t)fmt || strcmp(c, ctxp) != 0 || strcmp(u, url) != 0)
		return "it was rendered with other settings";
	*odd = true;
	if (count > (uint64_t)(r.end - r.p) / (2 * sizeof(uint64_t) + sizeof(uint32_t) + 1))
		return "its map is truncated";
	if (count > 0 && ((b->ent = malloc(count * sizeof *b->ent)) == NULL ||
	                  (b->by_name = malloc(count * sizeof *b->by_name)) == NULL))
		return "out of memory";
	for (size_t i = 0; i < count; i++) {
		struct map_ent *e = &b->ent[i];
		if (!get_u64(&r, &e->off) || !get_u64(&r, &e->len) || !get_str(&r, &e->name))
			return "its map is truncated";
		if (e->len == 0 || (i == 0 ? e->off == 0 : e->off != end + sep) ||
		    e->off > fsize || e->len > fsize - e->off)
			return "its map does not fit its file";
		end = e->off + e->len;
		e->idx = i;
		b->by_name[i] = e;
	}
	if (r.p != r.end)
		return "its map is longer than its entries";
	b->n = count;
	if (count > 0)
		qsort(b->by_name, count, sizeof *b->by_name, ent_cmp);
	for (size_t i = 1; i < count; i++)
		if (strcmp(b->by_name[i - 1]->name, b->by_name[i]->name) == 0)
			return "its map names a chart twice";
	return NULL;
}

bool index_newest_below(const char *dir, const char *ext, int64_t gen, int64_t *found)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool any = false;
	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		char *end;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		errno = 0;
		long long n = strtoll(de->d_name, &end, 10);
		if (errno != 0 || *end != '.' || strcmp(end + 1, ext) != 0 || n >= gen)
			continue;
		if (!any || n > *found)
			*found = n;
		any = true;
	}
	closedir(d);
	return any;
}

/* Reads all of fd (size bytes) into p. */
static bool read_all(int fd, char *p, size_t size)
{
	while (size > 0) {
		ssize_t n = read(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		size -= (size_t)n;
	}
	return true;
}

/* The newest earlier file of dir with its map, when both can be trusted
 * for a render of gen with these settings; NULL makes a full render. */
static struct base *base_open(const char *dir, const char *ext, enum store_format fmt,
                              int64_t gen, const char *ctxp, const char *url)
{
	struct base *b;
	struct stat data, mst;
	char path[4096];
	const char *why = NULL;
	bool odd = false;
	int mfd = -1;
	int64_t p = 0;

	/* Only the newest counts: a file without a map (written by an older
	 * chartdepot) stands for every older one. */
	if (!index_newest_below(dir, ext, gen, &p) || (b = calloc(1, sizeof *b)) == NULL)
		return NULL;
	b->gen = p;
	snprintf(path, sizeof path, "%s/%" PRId64 ".%s", dir, p, ext);
	if ((b->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(b->fd, &data) != 0) {
		why = "its file cannot be read";
		odd = true;
		goto fail;
	}
	snprintf(path, sizeof path, "%s/%" PRId64 ".%s.map", dir, p, ext);
	if ((mfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		why = "it has no map";
		odd = errno != ENOENT;
		goto fail;
	}
	if (fstat(mfd, &mst) != 0 || mst.st_size > MAP_MAX_BYTES ||
	    (b->raw = malloc((size_t)mst.st_size + 1)) == NULL ||
	    !read_all(mfd, b->raw, (size_t)mst.st_size)) {
		why = "its map cannot be read";
		odd = true;
		goto fail;
	}
	why = map_parse(b, (size_t)mst.st_size, fmt, &data, ctxp, url, &odd);
	if (why != NULL)
		goto fail;
	close(mfd);
	return b;
fail:
	if (odd)
		log_warn("index: not reusing the index file of generation %" PRId64 " in %s: %s",
		         p, dir, why);
	else
		log_debug("index: not reusing the index file of generation %" PRId64 " in %s: %s",
		          p, dir, why);
	if (mfd >= 0)
		close(mfd);
	base_free(b);
	return NULL;
}

/* The entry of b for name: hint (the entry after the last one used) when
 * it is that name, as it is while the names go on in the same order. */
static const struct map_ent *base_find(const struct base *b, const char *name, size_t hint)
{
	if (hint < b->n && strcmp(b->ent[hint].name, name) == 0)
		return &b->ent[hint];
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, b->by_name[mid]->name);
		if (c == 0)
			return b->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Writes all of p to fd. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Publishes <gen>.<ext>.map for the file just rendered to fd (before the
 * file itself).  Best effort: without a map the next render is a full one,
 * so a failure is logged and the index still served. */
static bool write_map(const char *dir, const char *ext, int64_t gen, enum store_format fmt,
                      int fd, const char *ctxp, const char *url, const struct newmap *m)
{
	struct stat st;
	struct buf h = { 0 };
	char tmp[4096], final[4096];
	int mfd = -1, e = 0;

	snprintf(tmp, sizeof tmp, "%s/.render-XXXXXX", dir);
	snprintf(final, sizeof final, "%s/%" PRId64 ".%s.map", dir, gen, ext);
	if (fstat(fd, &st) != 0 || buf_append(&h, MAP_MAGIC, 8) != CD_OK ||
	    put_u64(&h, (uint64_t)gen) != CD_OK || put_u64(&h, (uint64_t)fmt) != CD_OK ||
	    put_u64(&h, (uint64_t)st.st_size) != CD_OK || put_u64(&h, (uint64_t)st.st_ino) != CD_OK ||
	    put_u64(&h, stat_mtime_ns(&st)) != CD_OK || put_str(&h, ctxp) != CD_OK ||
	    put_str(&h, url) != CD_OK || put_u64(&h, m->n) != CD_OK) {
		e = ENOMEM;
		goto done;
	}
	uint64_t sum = fnv1a(fnv1a(FNV_SEED, h.data, h.len), m->b.data ? m->b.data : "", m->b.len);
	if ((mfd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		e = errno;
		goto done;
	}
	fchmod(mfd, 0644);
	if ((e = write_all(mfd, h.data, h.len)) == 0 && (e = write_all(mfd, m->b.data, m->b.len)) == 0)
		e = write_all(mfd, (const char *)&sum, sizeof sum);
	if (close(mfd) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, final) != 0)
		e = errno;
	if (e != 0)
		unlink(tmp);
done:
	if (e != 0)
		log_warn("index: cannot write the map of an index file in %s (the next render"
		         " will be a full one): %s", dir, strerror(e));
	buf_free(&h);
	return e == 0;
}

/* ---- rendering ------------------------------------------------------- */

struct render {
	struct out *out;
	enum store_format fmt;
	size_t blocks;
	const struct base *base; /* NULL: every block comes from the db */
	struct newmap *map;      /* NULL: no map wanted */
	bool mismatch;           /* the db says base holds a block that it lacks */
	bool nomem;
	/* adjacent blocks of base not copied yet: from run_from, run_len bytes,
	 * to go at run_at in the new file */
	bool run;
	uint64_t run_from, run_len, run_at;
	size_t hint; /* the base entry after the last one used */
};

static void map_add(struct render *r, const char *name, uint64_t off, uint64_t len)
{
	if (r->map == NULL)
		return;
	if (put_u64(&r->map->b, off) != CD_OK || put_u64(&r->map->b, len) != CD_OK ||
	    put_str(&r->map->b, name) != CD_OK)
		r->nomem = true;
	r->map->n++;
}

static void run_flush(struct render *r)
{
	if (r->run)
		out_copy(r->out, r->base->fd, r->run_from, r->run_len);
	r->run = false;
}

/* What goes before a block: "entries:" in YAML, "{" or "," in JSON. */
static void put_separator(struct render *r)
{
	if (r->fmt == STORE_JSON)
		out_puts(r->out, r->blocks == 0 ? "{" : ",");
	else if (r->blocks == 0)
		out_puts(r->out, "entries:\n");
}

/* Appends one name's block: YAML text as stored, or "name":[...] in JSON;
 * without text (unchanged since base) the block of base, copied in one
 * piece with its unchanged neighbours. */
static int render_block(const char *name, int64_t gen, const char *text, size_t len, void *ctx)
{
	struct render *r = ctx;
	(void)gen;
	if (text == NULL) {
		const struct map_ent *e = r->base ? base_find(r->base, name, r->hint) : NULL;
		if (e == NULL) {
			r->mismatch = true;
			return 1;
		}
		if (!r->run || e->idx != r->hint) {
			run_flush(r);
			put_separator(r);
			r->run = true;
			r->run_from = e->off;
			r->run_at = r->out->pos;
		}
		r->run_len = e->off + e->len - r->run_from;
		map_add(r, name, r->run_at + (e->off - r->run_from), e->len);
		r->hint = e->idx + 1;
	} else {
		run_flush(r);
		put_separator(r);
		uint64_t at = r->out->pos;
		if (r->fmt == STORE_JSON) {
			out_json_string(r->out, name);
			out_write(r->out, ":", 1);
		}
		out_write(r->out, text, len);
		map_add(r, name, at, r->out->pos - at);
	}
	r->blocks++;
	return r->out->err != 0 || r->nomem;
}

/* Streams the whole index of repo (as of the caller's read snapshot), with
 * the blocks unchanged since base copied from its file, and records their
 * places in map.  *mismatch says the db and base disagree: nothing usable
 * was written then, and the caller renders again without base. */
static cd_rc render_index(struct store *s, const struct index_opts *o, const char *repo,
                          enum store_format fmt, struct out *out, const struct base *base,
                          struct newmap *map, bool *mismatch, cd_err *err)
{
	struct render r = { .out = out, .fmt = fmt, .base = base, .map = map };
	char now[64];
	const char *ctxp = o->context_path ? o->context_path : "";

	out_puts(out, fmt == STORE_YAML ? "apiVersion: v1\n" : "{\"apiVersion\":\"v1\",\"entries\":");
	cd_rc rc = store_each_block_since(s, repo, fmt, base ? base->gen : INT64_MIN, render_block,
	                                  &r, err);
	if (rc != CD_OK)
		return rc;
	if ((*mismatch = r.mismatch))
		return CD_OK;
	run_flush(&r);
	if (r.nomem)
		return cd_fail(err, CD_ENOMEM, "out of memory");
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
	struct out *out = out_new(fd);
	bool mismatch;
	if (out == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = store_read_begin(s, err);
	if (rc == CD_OK) {
		rc = render_index(s, o, repo, fmt, out, NULL, NULL, &mismatch, err);
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

struct old_file {
	long long gen;
	struct timespec mtime;
};

/* Milliseconds from t to now (negative when the clock went back). */
static long long ms_since(const struct timespec *t, const struct timespec *now)
{
	return (long long)(now->tv_sec - t->tv_sec) * 1000 + (now->tv_nsec - t->tv_nsec) / 1000000;
}

static int old_file_cmp(const void *a, const void *b)
{
	const struct old_file *x = a, *y = b;
	return (x->gen > y->gen) - (x->gen < y->gen);
}

/* Unlinks "<n>.<ext>" files in dir for generations below gen that were
 * replaced more than INDEX_KEEP_OLD_MS ago (when the next newer file was
 * written: a file that stayed current for an hour is still kept that long
 * once replaced) with their compressed copy "<n>.<ext>.gz", a copy whose
 * file is gone (indexgz.c compressed it as it was removed), and temp files
 * a crashed render left (called under the lock, so no render is in
 * progress) or a crashed compression.  With maps, also every
 * "<n>.<ext>.map" below gen (only a render reads a map, and the next one
 * starts from gen's file); a render about to start passes false, since it
 * reads the map of the newest file below its own gen. */
static void remove_old(const char *dir, int64_t gen, const char *ext, bool maps)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	time_t now_s = now.tv_sec;
	size_t extlen = strlen(ext), n = 0, cap = 0;
	struct old_file *v = NULL;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		struct stat sb;
		if (strncmp(de->d_name, ".render-", 8) == 0) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (strncmp(de->d_name, INDEXGZ_TEMP_PREFIX, strlen(INDEXGZ_TEMP_PREFIX)) == 0) {
			if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now_s - sb.st_mtime > GZ_TEMP_STALE_S)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		long long g = strtoll(de->d_name, &end, 10);
		if (*end != '.')
			continue;
		if (g < gen && strncmp(end + 1, ext, extlen) == 0 &&
		    strcmp(end + 1 + extlen, ".map") == 0) {
			if (maps)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (g < gen && strncmp(end + 1, ext, extlen) == 0 &&
		    strcmp(end + 1 + extlen, INDEXGZ_SUFFIX) == 0) {
			char file[64];
			snprintf(file, sizeof file, "%lld.%s", g, ext);
			if (faccessat(dirfd(d), file, F_OK, 0) != 0)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (strcmp(end + 1, ext) != 0 ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct old_file *nv = realloc(v, ncap * sizeof *nv);
			if (nv == NULL)
				break;
			v = nv;
			cap = ncap;
		}
		v[n].gen = g;
		v[n++].mtime = sb.st_mtim;
	}
	if (n > 1) /* v is NULL when there is none: before a repo's first render */
		qsort(v, n, sizeof *v, old_file_cmp);
	for (size_t i = 0; i + 1 < n && v[i].gen < gen; i++) {
		char name[64];
		if (ms_since(&v[i + 1].mtime, &now) < INDEX_KEEP_OLD_MS)
			continue;
		snprintf(name, sizeof name, "%lld.%s" INDEXGZ_SUFFIX, v[i].gen, ext);
		unlinkat(dirfd(d), name, 0); /* the copy first: never one without its file */
		snprintf(name, sizeof name, "%lld.%s", v[i].gen, ext);
		unlinkat(dirfd(d), name, 0);
	}
	free(v);
	closedir(d);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Reads the generation and, when <gen>.<ext> is missing, renders it from
 * the same read snapshot into a temp file renamed into place, with its map
 * beside it; the blocks unchanged since the newest earlier file are copied
 * from that file when its map allows.  Called with the directory lock
 * held.  *gen receives the generation shown. */
static cd_rc render_file(struct store *s, const struct index_opts *o, const char *repo,
                         enum store_format fmt, const char *dir, const char *ext,
                         int64_t *gen, cd_err *err)
{
	char *tmp = NULL, *final = NULL, *url = NULL, mapfile[4096];
	const char *ctxp = o->context_path ? o->context_path : "";
	struct out *out = NULL;
	struct base *base = NULL;
	struct newmap map = { { 0 }, 0 };
	bool mismatch = false, mapped = false;
	int fd = -1;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
	/* the CHART_URL the blocks were rendered with: a base must share it */
	if ((rc = store_setting_get(s, "chart_url", &url, err)) != CD_OK)
		goto done;
	/* Frees the pages of the files old enough to go just before this
	 * render needs as many (INDEX_KEEP_OLD_MS). */
	remove_old(dir, *gen, ext, false);
	if (asprintf(&tmp, "%s/.render-XXXXXX", dir) < 0) {
		tmp = NULL;
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
		goto done;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = errno == ENOSPC || errno == EDQUOT
			? cd_fail(err, CD_ENOSPC, "not enough space to write the index")
			: cd_fail(err, CD_EIO, "could not create the index file");
		log_error("index: create a temp file in %s: %s", dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	if ((out = out_new(fd)) == NULL) {
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
		goto done;
	}
	fchmod(fd, 0644);
	base = base_open(dir, ext, fmt, *gen, ctxp, url ? url : "");
	rc = render_index(s, o, repo, fmt, out, base, &map, &mismatch, err);
	if (rc == CD_OK && mismatch) {
		log_warn("index: the index file of generation %" PRId64 " in %s lacks a chart"
		         " the database says it has; rendering in full", base ? base->gen : 0, dir);
		map.b.len = 0;
		map.n = 0;
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			log_error("index: truncate a temp file in %s: %s", dir, strerror(errno));
			rc = cd_fail(err, CD_EIO, "could not write the index");
		} else {
			memset(out, 0, offsetof(struct out, buf));
			out->fd = fd;
			rc = render_index(s, o, repo, fmt, out, NULL, &map, &mismatch, err);
		}
	}
	if (rc == CD_OK) {
		mapped = write_map(dir, ext, *gen, fmt, fd, ctxp, url ? url : "", &map);
		log_debug("index: rendered generation %" PRId64 " in %s: %" PRIu64 " bytes, %" PRIu64
		          " copied from generation %" PRId64 " in %.1f ms", *gen, dir, out->pos,
		          out->copied, out->copied > 0 ? base->gen : 0, elapsed_ms(&t0));
	}
	if (close(fd) != 0 && rc == CD_OK)
		rc = cd_fail(err, CD_EIO, "could not write the index");
	fd = -1;
	if (rc == CD_OK && rename(tmp, final) != 0) {
		log_error("index: rename into %s: %s", dir, strerror(errno));
		rc = cd_fail(err, CD_EIO, "could not publish the index");
	}
	if (rc != CD_OK && mapped) {
		snprintf(mapfile, sizeof mapfile, "%s.map", final);
		unlink(mapfile);
	}
done:
	if (fd >= 0)
		close(fd);
	if (rc != CD_OK && tmp != NULL)
		unlink(tmp);
	store_read_end(s);
	base_free(base);
	buf_free(&map.b);
	free(out);
	free(tmp);
	free(final);
	free(url);
	return rc;
}

static bool cache_slot_fresh(const struct index_cache *c, const struct index_cache_slot *e,
                             uint64_t changes, const struct timespec *now)
{
	long long ms = ms_since(&e->at, now);
	return e->changes == changes && ms >= 0 && ms < c->ttl_ms;
}

cd_rc index_ensure_cached(struct index_cache *c, struct store *s, const struct index_opts *o,
                          const char *repo, enum store_format fmt, char **rel, cd_err *err)
{
	uint64_t changes = 0;
	struct timespec now;
	if (c == NULL || repo == NULL || !store_changes(s, &changes))
		return index_ensure(s, o, repo, fmt, rel, err);
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct index_cache_slot *e = NULL;
	for (int i = 0; i < INDEX_CACHE_SLOTS && e == NULL; i++)
		if (c->slot[i].repo != NULL && c->slot[i].fmt == fmt && strcmp(c->slot[i].repo, repo) == 0)
			e = &c->slot[i];
	if (e != NULL && cache_slot_fresh(c, e, changes, &now)) {
		*rel = strdup(e->rel);
		return *rel != NULL ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
	}
	/* The count and the time are taken before the database is read: a
	 * commit in between only makes the next request read it again. */
	cd_rc rc = index_ensure(s, o, repo, fmt, rel, err);
	if (rc != CD_OK)
		return rc;
	if (e == NULL) {
		e = &c->slot[c->next];
		c->next = (c->next + 1) % INDEX_CACHE_SLOTS;
		free(e->repo);
		e->repo = strdup(repo);
	}
	free(e->rel);
	e->rel = e->repo != NULL ? strdup(*rel) : NULL;
	if (e->rel == NULL) { /* out of memory: forget the slot, keep the answer */
		free(e->repo);
		e->repo = NULL;
		return CD_OK;
	}
	e->fmt = fmt;
	e->changes = changes;
	e->at = now;
	return CD_OK;
}

void index_cache_clear(struct index_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < INDEX_CACHE_SLOTS; i++) {
		free(c->slot[i].repo);
		free(c->slot[i].rel);
		c->slot[i].repo = c->slot[i].rel = NULL;
	}
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
		remove_old(dir, gen, ext, true);
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
