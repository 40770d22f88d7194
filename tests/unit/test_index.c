/* test_index.c — index entries, rendered index text and files. */
#include "unit.h"
#include "index.h"
#include "indexgz.h"
#include "yamlout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct ifix {
	char dir[64];
	char db[128];
	struct store *s;
	struct index_opts o;
};

static void isetup(struct ifix *f, const char *context_path)
{
	cd_err err;
	snprintf(f->dir, sizeof f->dir, "/tmp/cd-index-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		perror("mkdtemp");
	snprintf(f->db, sizeof f->db, "%s/chartdepot.db", f->dir);
	if (store_open(f->db, &f->s, &err) != CD_OK)
		printf("    store_open: %s\n", err.msg);
	f->o.state_dir = f->dir;
	f->o.context_path = context_path;
	f->o.json = false;
}

static void iteardown(struct ifix *f)
{
	char cmd[128];
	store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		perror("rm");
}

/* Stores name-version in repo with a minimal Metadata and that digest. */
static cd_rc iput_digest(struct store *s, const char *repo, const char *name,
                         const char *version, const char *digest)
{
	char file[256];
	cd_err err;
	snprintf(file, sizeof file, "%s-%s.tgz", name, version);
	struct store_chart c = {
		.repo = (char *)repo, .name = (char *)name, .version = (char *)version,
		.file = file, .st = { 1, 2, 3 },
		.created = "2026-01-02T03:04:05Z",
		.meta = json_pack("{s:s,s:s,s:s}", "apiVersion", "v2", "name", name,
		                  "version", version),
	};
	snprintf(c.digest, sizeof c.digest, "%s", digest);
	cd_rc rc = store_put(s, &c, "", &err);
	json_decref(c.meta);
	return rc;
}

static cd_rc iput(struct store *s, const char *repo, const char *name, const char *version)
{
	return iput_digest(s, repo, name, version, "d1");
}

/* The whole index of repo as text, with the generated time replaced by T. */
static char *whole_index(struct ifix *f, const char *repo, enum store_format fmt)
{
	char path[128];
	cd_err err;
	snprintf(path, sizeof path, "%s/print.out", f->dir);
	FILE *fp = fopen(path, "w+");
	if (fp == NULL)
		return NULL;
	if (index_write_fd(f->s, &f->o, repo, fmt, fileno(fp), &err) != CD_OK) {
		fclose(fp);
		return NULL;
	}
	rewind(fp);
	static char text[8192];
	size_t n = fread(text, 1, sizeof text - 1, fp);
	text[n] = '\0';
	fclose(fp);
	const char *key = fmt == STORE_YAML ? "generated: \"" : "\"generated\":\"";
	char *g = strstr(text, key);
	if (g != NULL) {
		char *start = g + strlen(key), *end = strchr(start, '"');
		memmove(start + 1, end, strlen(end) + 1);
		*start = 'T';
	}
	return text;
}

TEST(index_entry_url_is_relative_without_chart_url)
{
	json_t *meta = json_pack("{s:s}", "name", "a");
	json_t *e = index_entry(meta, "team", "a-1.0.0.tgz", "d", "2026-01-02T03:04:05Z", "");
	CHECK_STR(json_string_value(json_array_get(json_object_get(e, "urls"), 0)),
	          "charts/a-1.0.0.tgz");
	CHECK_STR(json_string_value(json_object_get(e, "digest")), "d");
	CHECK_STR(json_string_value(json_object_get(e, "created")), "2026-01-02T03:04:05Z");
	CHECK(json_object_get(meta, "urls") == NULL);
	json_decref(e);
	json_decref(meta);
}

TEST(index_entry_url_with_chart_url_includes_repo_like_chartmuseum)
{
	json_t *meta = json_pack("{s:s}", "name", "a");
	json_t *e = index_entry(meta, "org/team", "a-1.0.0.tgz", "d", "t", "https://c.example");
	CHECK_STR(json_string_value(json_array_get(json_object_get(e, "urls"), 0)),
	          "https://c.example/org/team/charts/a-1.0.0.tgz");
	json_decref(e);
	e = index_entry(meta, "", "a-1.0.0.tgz", "d", "t", "https://c.example");
	CHECK_STR(json_string_value(json_array_get(json_object_get(e, "urls"), 0)),
	          "https://c.example/charts/a-1.0.0.tgz");
	json_decref(e);
	json_decref(meta);
}

TEST(index_times_use_go_rfc3339nano)
{
	char t[64];
	index_time_rfc3339(1795444502123450000LL, t);
	CHECK_STR(t, "2026-11-23T14:35:02.12345Z");
	index_time_rfc3339(1795444502000000000LL, t);
	CHECK_STR(t, "2026-11-23T14:35:02Z");
	index_time_rfc3339(1795444502000000001LL, t);
	CHECK_STR(t, "2026-11-23T14:35:02.000000001Z");
	index_now_rfc3339(t);
	CHECK(strlen(t) >= 20 && t[strlen(t) - 1] == 'Z');
}

TEST(index_of_empty_repo_has_empty_entries)
{
	struct ifix f;
	isetup(&f, "");
	CHECK_STR(whole_index(&f, "", STORE_YAML),
	          "apiVersion: v1\nentries: {}\ngenerated: \"T\"\nserverInfo: {}\n");
	CHECK_STR(whole_index(&f, "", STORE_JSON),
	          "{\"apiVersion\":\"v1\",\"entries\":{},\"generated\":\"T\",\"serverInfo\":{}}\n");
	iteardown(&f);
}

TEST(index_with_two_names_lists_both_in_order)
{
	struct ifix f;
	isetup(&f, "");
	CHECK(iput(f.s, "", "zeta", "1.0.0") == CD_OK);
	CHECK(iput(f.s, "", "alpha", "1.0.0") == CD_OK);
	CHECK_STR(whole_index(&f, "", STORE_YAML),
	          "apiVersion: v1\n"
	          "entries:\n"
	          "  alpha:\n"
	          "  - apiVersion: v2\n"
	          "    created: \"2026-01-02T03:04:05Z\"\n"
	          "    digest: d1\n"
	          "    name: alpha\n"
	          "    urls:\n"
	          "    - charts/alpha-1.0.0.tgz\n"
	          "    version: 1.0.0\n"
	          "  zeta:\n"
	          "  - apiVersion: v2\n"
	          "    created: \"2026-01-02T03:04:05Z\"\n"
	          "    digest: d1\n"
	          "    name: zeta\n"
	          "    urls:\n"
	          "    - charts/zeta-1.0.0.tgz\n"
	          "    version: 1.0.0\n"
	          "generated: \"T\"\n"
	          "serverInfo: {}\n");
	iteardown(&f);
}

TEST(index_json_is_valid_json_with_entries_by_name)
{
	struct ifix f;
	isetup(&f, "/prefix");
	CHECK(iput(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(iput(f.s, "", "a", "2.0.0") == CD_OK);
	CHECK(iput(f.s, "", "b", "1.0.0") == CD_OK);
	json_t *doc = json_loads(whole_index(&f, "", STORE_JSON), 0, NULL);
	CHECK(doc != NULL);
	json_t *a = json_object_get(json_object_get(doc, "entries"), "a");
	CHECK(json_array_size(a) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(a, 0), "version")), "2.0.0");
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "serverInfo"), "contextPath")),
	          "/prefix");
	json_decref(doc);
	iteardown(&f);
}

TEST(index_with_context_path_names_it_in_server_info)
{
	struct ifix f;
	isetup(&f, "/my/prefix");
	CHECK_STR(whole_index(&f, "", STORE_YAML),
	          "apiVersion: v1\nentries: {}\ngenerated: \"T\"\n"
	          "serverInfo:\n  contextPath: /my/prefix\n");
	iteardown(&f);
}

TEST(index_ensure_renders_once_per_generation)
{
	struct ifix f;
	char *rel1 = NULL, *rel2 = NULL, *rel3 = NULL, path[512];
	struct stat st1, st2;
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel1, &err) == CD_OK);
	CHECK(rel1 != NULL && strncmp(rel1, "r/team/@/", 9) == 0);
	snprintf(path, sizeof path, "%s/index/%s", f.dir, rel1 ? rel1 : "");
	CHECK(stat(path, &st1) == 0);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel2, &err) == CD_OK);
	CHECK_STR(rel2, rel1);
	CHECK(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino);
	CHECK(iput(f.s, "team", "a", "1.0.1") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel3, &err) == CD_OK);
	CHECK(rel3 != NULL && strcmp(rel3, rel1) != 0);
	snprintf(path, sizeof path, "%s/index/%s", f.dir, rel3 ? rel3 : "");
	FILE *fp = fopen(path, "r");
	char text[4096] = "";
	if (fp) {
		text[fread(text, 1, sizeof text - 1, fp)] = '\0';
		fclose(fp);
	}
	CHECK(strstr(text, "version: 1.0.1\n") != NULL);
	free(rel1);
	free(rel2);
	free(rel3);
	iteardown(&f);
}

/* The file of rel under the fixture's index dir exists. */
static bool index_file_exists(struct ifix *f, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/index/%s", f->dir, rel ? rel : "");
	return access(path, F_OK) == 0;
}

/* Sets the mtime of the file at path to ago_ms milliseconds in the past. */
static void age_path_ms(const char *path, long ago_ms)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec - ago_ms * 1000000LL;
	struct timespec t = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	struct timespec times[2] = { t, t };
	CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
}

/* Sets the mtime of the file of rel to ago_ms milliseconds in the past. */
static void age_index_file_ms(struct ifix *f, const char *rel, long ago_ms)
{
	char path[512];
	snprintf(path, sizeof path, "%s/index/%s", f->dir, rel ? rel : "");
	age_path_ms(path, ago_ms);
}

/* The same, in seconds. */
static void age_index_file(struct ifix *f, const char *rel, int ago)
{
	age_index_file_ms(f, rel, ago * 1000L);
}

TEST(index_old_files_are_removed_some_seconds_after_they_were_replaced)
{
	struct ifix f;
	char *rel1 = NULL, *rel2 = NULL, *rel3 = NULL;
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel1, &err) == CD_OK);
	age_index_file(&f, rel1, 3600); /* current for an hour */
	CHECK(iput(f.s, "team", "a", "1.0.1") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel2, &err) == CD_OK);
	CHECK(index_file_exists(&f, rel1)); /* just replaced: a reader may be opening it */
	age_index_file(&f, rel2, 60);      /* rel1 was replaced a minute ago */
	CHECK(iput(f.s, "team", "a", "1.0.2") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel3, &err) == CD_OK);
	CHECK(!index_file_exists(&f, rel1));
	CHECK(index_file_exists(&f, rel2)); /* replaced just now */
	CHECK(index_file_exists(&f, rel3));
	free(rel1);
	free(rel2);
	free(rel3);
	iteardown(&f);
}

/* A second is enough for nginx to open a file it was handed; the pages of
 * a file let go sooner are what the next render writes into. */
TEST(index_old_files_are_kept_a_second_measured_in_milliseconds)
{
	struct ifix f;
	char *rel1 = NULL, *rel2 = NULL, *rel3 = NULL, *rel4 = NULL;
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel1, &err) == CD_OK);
	CHECK(iput(f.s, "team", "a", "1.0.1") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel2, &err) == CD_OK);
	age_index_file_ms(&f, rel2, 400); /* rel1 replaced 0.4 s ago */
	CHECK(iput(f.s, "team", "a", "1.0.2") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel3, &err) == CD_OK);
	CHECK(index_file_exists(&f, rel1));
	age_index_file_ms(&f, rel2, 1500); /* now 1.5 s ago */
	CHECK(iput(f.s, "team", "a", "1.0.3") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "team", STORE_YAML, &rel4, &err) == CD_OK);
	CHECK(!index_file_exists(&f, rel1));
	CHECK(index_file_exists(&f, rel2) && index_file_exists(&f, rel3) &&
	      index_file_exists(&f, rel4));
	free(rel1);
	free(rel2);
	free(rel3);
	free(rel4);
	iteardown(&f);
}

/* Sets repo's generation to gen the way another program would: straight
 * in the database, without the count a commit of ours adds. */
static void set_gen_behind_our_back(struct ifix *f, const char *repo, long long gen)
{
	sqlite3 *db = NULL;
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE repo SET gen = %lld WHERE repo = '%s'", gen, repo);
	CHECK(sqlite3_open(f->db, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/* The cache answers without the database while the count stands, a
 * counted commit is seen at once, an uncounted one within ttl_ms. */
TEST(index_cache_answers_until_a_commit_or_its_time_is_up)
{
	struct ifix f;
	struct index_cache c = { .ttl_ms = 60000 };
	char *a = NULL, *b = NULL, *j = NULL, *other = NULL;
	int64_t gen = 0;
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_YAML, &a, &err) == CD_OK);
	CHECK(store_generation(f.s, "team", &gen, &err) == CD_OK);
	set_gen_behind_our_back(&f, "team", (long long)gen + 100);
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_YAML, &b, &err) == CD_OK);
	CHECK(a != NULL && b != NULL && strcmp(a, b) == 0); /* from the cache */
	free(b);
	/* Another format and another repo have their own answers. */
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_JSON, &j, &err) == CD_OK);
	CHECK(j != NULL && strstr(j, ".json") != NULL);
	CHECK(iput(f.s, "other", "x", "1.0.0") == CD_OK); /* counted */
	CHECK(index_ensure_cached(&c, f.s, &f.o, "other", STORE_YAML, &other, &err) == CD_OK);
	CHECK(other != NULL && strcmp(other, a) != 0);
	/* A counted commit: the next answer reads the database. */
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_YAML, &b, &err) == CD_OK);
	CHECK(b != NULL && strcmp(b, a) != 0);
	CHECK(store_generation(f.s, "team", &gen, &err) == CD_OK);
	char want[64];
	snprintf(want, sizeof want, "/%lld.yaml", (long long)gen);
	CHECK(b != NULL && strstr(b, want) != NULL);
	free(b);
	/* An uncounted one: seen once ttl_ms has passed, not before. */
	set_gen_behind_our_back(&f, "team", (long long)gen + 7);
	c.ttl_ms = 50;
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_YAML, &b, &err) == CD_OK);
	CHECK(b != NULL && strstr(b, want) != NULL);
	free(b);
	sleep_ms(80);
	snprintf(want, sizeof want, "/%lld.yaml", (long long)gen + 7);
	CHECK(index_ensure_cached(&c, f.s, &f.o, "team", STORE_YAML, &b, &err) == CD_OK);
	CHECK(b != NULL && strstr(b, want) != NULL);
	free(b);
	/* No cache: straight to the database. */
	set_gen_behind_our_back(&f, "team", (long long)gen + 9);
	snprintf(want, sizeof want, "/%lld.yaml", (long long)gen + 9);
	CHECK(index_ensure_cached(NULL, f.s, &f.o, "team", STORE_YAML, &b, &err) == CD_OK);
	CHECK(b != NULL && strstr(b, want) != NULL);
	free(b);
	index_cache_clear(&c);
	free(a);
	free(j);
	free(other);
	iteardown(&f);
}

/* The bytes of the file of rel (gunzipped when gz), malloc'd into *out. */
static size_t read_index_file(struct ifix *f, const char *rel, bool gz, char **out)
{
	char path[512];
	size_t len = 0, cap = 1 << 16;
	snprintf(path, sizeof path, "%s/index/%s%s", f->dir, rel, gz ? INDEXGZ_SUFFIX : "");
	gzFile g = gzopen(path, "rb"); /* reads a plain file as it is */
	*out = malloc(cap);
	if (g == NULL || *out == NULL) {
		if (g != NULL)
			gzclose(g);
		return 0;
	}
	int n;
	while ((n = gzread(g, *out + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap)
			*out = realloc(*out, cap *= 2);
	}
	gzclose(g);
	return len;
}

/* The number of entries of the repo's index directory whose name starts
 * with prefix. */
static int count_index_entries(struct ifix *f, const char *rdir, const char *prefix)
{
	char cmd[512], out[32] = "";
	snprintf(cmd, sizeof cmd, "ls -A '%s/index/%s' | grep -c '^%s'", f->dir, rdir, prefix);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	if (fgets(out, sizeof out, p) == NULL)
		out[0] = '\0';
	pclose(p);
	return atoi(out);
}

/* The newest file of each repo directory gets a gzip copy with the same
 * bytes once it has settled; not before, and not when stopped. */
TEST(indexgz_writes_a_copy_of_the_settled_newest_file_only)
{
	struct ifix f;
	char *rel = NULL, *plain = NULL, *unzipped = NULL;
	volatile sig_atomic_t stop = 0;
	cd_err err;
	isetup(&f, "");
	f.o.json = true;
	CHECK(iput(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(iput(f.s, "team/x", "b", "2.0.0") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "", STORE_YAML, &rel, &err) == CD_OK);
	free(rel);
	CHECK(index_ensure(f.s, &f.o, "", STORE_JSON, &rel, &err) == CD_OK);
	free(rel);
	CHECK(index_ensure(f.s, &f.o, "team/x", STORE_YAML, &rel, &err) == CD_OK);

	CHECK(indexgz_run(f.dir, 3600, &stop) == 0); /* nothing settled an hour */
	CHECK(count_index_entries(&f, "root/@", "[0-9].*gz$") == 0);
	stop = 1;
	CHECK(indexgz_run(f.dir, 0, &stop) == 0);     /* stopped: nothing, no temp */
	CHECK(count_index_entries(&f, "root/@", ".*gz") == 0);
	stop = 0;
	CHECK(indexgz_run(f.dir, 0, &stop) == 3);     /* root yaml and json, team/x yaml */
	CHECK(indexgz_run(f.dir, 0, &stop) == 0);     /* each once */

	size_t n = read_index_file(&f, rel, false, &plain);
	size_t m = read_index_file(&f, rel, true, &unzipped);
	CHECK(n > 0 && n == m && memcmp(plain, unzipped, n) == 0);
	char path[512];
	struct stat st;
	snprintf(path, sizeof path, "%s/index/%s" INDEXGZ_SUFFIX, f.dir, rel);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size < n); /* really compressed */
	CHECK(count_index_entries(&f, "r/team/x/@", INDEXGZ_TEMP_PREFIX) == 0);
	free(plain);
	free(unzipped);
	free(rel);
	iteardown(&f);
}

/* A copy goes with its file; a copy whose file is gone (compressed while
 * it was removed) goes at the next render, and so does a crashed writer's
 * temp file once it is old. */
TEST(indexgz_copies_are_removed_with_their_files)
{
	struct ifix f;
	char *rel1 = NULL, *rel2 = NULL, *rel3 = NULL, path[512], gzrel[128];
	volatile sig_atomic_t stop = 0;
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "", STORE_YAML, &rel1, &err) == CD_OK);
	CHECK(indexgz_run(f.dir, 0, &stop) == 1);
	age_index_file(&f, rel1, 3600);
	/* a crashed compression's temp file, and an orphaned copy */
	snprintf(path, sizeof path, "%s/index/root/@/" INDEXGZ_TEMP_PREFIX "1-1", f.dir);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0);
	struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
	snprintf(path, sizeof path, "%s/index/root/@/" INDEXGZ_TEMP_PREFIX "1-2", f.dir);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0); /* a live one */
	snprintf(path, sizeof path, "%s/index/root/@/5.yaml" INDEXGZ_SUFFIX, f.dir);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0644)) == 0);

	CHECK(iput(f.s, "", "a", "1.0.1") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "", STORE_YAML, &rel2, &err) == CD_OK);
	CHECK(access(path, F_OK) != 0);                          /* orphan gone */
	CHECK(count_index_entries(&f, "root/@", INDEXGZ_TEMP_PREFIX) == 1); /* the live temp */
	snprintf(gzrel, sizeof gzrel, "%s" INDEXGZ_SUFFIX, rel1);
	CHECK(index_file_exists(&f, gzrel)); /* rel1 just replaced: kept, copy too */
	age_index_file(&f, rel2, 60);
	CHECK(iput(f.s, "", "a", "1.0.2") == CD_OK);
	CHECK(index_ensure(f.s, &f.o, "", STORE_YAML, &rel3, &err) == CD_OK);
	CHECK(!index_file_exists(&f, rel1));
	CHECK(!index_file_exists(&f, gzrel)); /* its copy went with it */
	free(rel1);
	free(rel2);
	free(rel3);
	iteardown(&f);
}

TEST(index_ensure_for_root_repo_uses_root_dir_and_json_ext)
{
	struct ifix f;
	char *rel = NULL;
	cd_err err;
	isetup(&f, "");
	CHECK(index_ensure(f.s, &f.o, "", STORE_JSON, &rel, &err) == CD_OK);
	CHECK_STR(rel, "root/@/0.json");
	free(rel);
	CHECK(index_ensure(f.s, &f.o, "../x", STORE_YAML, &rel, &err) == CD_EINVAL);
	iteardown(&f);
}

TEST(index_ensure_from_racing_processes_agrees_on_one_file)
{
	struct ifix f;
	char cmd[256];
	isetup(&f, "");
	for (int i = 0; i < 20; i++) {
		char v[32];
		snprintf(v, sizeof v, "1.0.%d", i);
		CHECK(iput(f.s, "", "a", v) == CD_OK);
	}
	for (int i = 0; i < 6; i++) {
		if (fork() == 0) {
			struct store *s;
			char *rel = NULL;
			cd_err err;
			int ok = store_open(f.db, &s, &err) == CD_OK &&
			         index_ensure(s, &f.o, "", STORE_YAML, &rel, &err) == CD_OK;
			_exit(ok ? 0 : 1);
		}
	}
	int failed = 0;
	for (int i = 0; i < 6; i++) {
		int status = 0;
		wait(&status);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	CHECK(failed == 0);
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s/index/root/@' | wc -l) -eq 3", f.dir);
	CHECK(system(cmd) == 0); /* .lock, one <gen>.yaml and its map, no temp files */
	iteardown(&f);
}

/* ---- renders after a change: splices of the previous file ------------ */

/* The text of the file at path (malloc'd), NULL when unreadable. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;
	if (fp == NULL)
		return NULL;
	buf_puts(&b, "");
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	return b.data;
}

/* text with its generated time replaced by T (in place). */
static char *ungenerated(char *text, enum store_format fmt)
{
	const char *key = fmt == STORE_YAML ? "generated: \"" : "\"generated\":\"";
	char *g = text ? strstr(text, key) : NULL;
	if (g != NULL) {
		char *start = g + strlen(key), *end = strchr(start, '"');
		memmove(start + 1, end, strlen(end) + 1);
		*start = 'T';
	}
	return text;
}

/* The file index_ensure serves for repo now (path into path), ungenerated. */
static char *served(struct ifix *f, const char *repo, enum store_format fmt, char path[512])
{
	char *rel = NULL;
	cd_err err;
	if (index_ensure(f->s, &f->o, repo, fmt, &rel, &err) != CD_OK)
		return NULL;
	snprintf(path, 512, "%s/index/%s", f->dir, rel);
	free(rel);
	return ungenerated(slurp(path), fmt);
}

/* What a full render of repo writes now, ungenerated. */
static char *full(struct ifix *f, const char *repo, enum store_format fmt)
{
	char path[128];
	cd_err err;
	snprintf(path, sizeof path, "%s/full.out", f->dir);
	FILE *fp = fopen(path, "w");
	if (fp == NULL)
		return NULL;
	cd_rc rc = index_write_fd(f->s, &f->o, repo, fmt, fileno(fp), &err);
	fclose(fp);
	return rc == CD_OK ? ungenerated(slurp(path), fmt) : NULL;
}

/* Replaces from by to (as long) in the file at path, keeping its size,
 * inode and mtime: only a copy of its bytes can show the change.  A file
 * without from (already tampered, or without that chart) is left alone. */
static void tamper(const char *path, const char *from, const char *to)
{
	char *text = slurp(path);
	char *at = text ? strstr(text, from) : NULL;
	struct stat st;
	CHECK(text != NULL);
	if (at == NULL) {
		free(text);
		return;
	}
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK(pwrite(fd, to, strlen(to), at - text) == (ssize_t)strlen(to));
	struct timespec times[2] = { st.st_atim, st.st_mtim };
	CHECK(futimens(fd, times) == 0);
	close(fd);
	free(text);
}

#define B_URL "charts/b-1.0.0.tgz"
#define B_TAMPERED "charts/b-1.0.0.tgX"

/* How many rendered files the directory of path holds, path included;
 * with age_others_ms > 0 it also ages every other file there by that much
 * (not path, whose map must keep describing it). */
static int rendered_in_dir(const char *path, long age_others_ms)
{
	char dir[512], entry[1024];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	DIR *d = opendir(dir);
	struct dirent *de;
	int rendered = 0;
	CHECK(d != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		const char *ext = strchr(de->d_name, '.');
		if (strcmp(ext, ".yaml") == 0 || strcmp(ext, ".json") == 0)
			rendered++;
		snprintf(entry, sizeof entry, "%s/%s", dir, de->d_name);
		if (age_others_ms > 0 && strcmp(entry, path) != 0)
			age_path_ms(entry, age_others_ms);
	}
	if (d != NULL)
		closedir(d);
	return rendered;
}

/* With lazy writes (the upload path) every other render is followed by a
 * refresh of the stale blocks, so splices start from stale and from fresh
 * blocks alike. */
static bool splice_lazy;
static int splice_renders;

/* A full render from stale blocks (read from the chart rows) equals one
 * from the blocks store_refresh_blocks rebuilds, and nothing stays stale. */
static void check_refresh(struct ifix *f, enum store_format fmt, const char *what)
{
	char msg[600];
	cd_err err;
	int n = 0, again = -1;
	char *before = full(f, "team", fmt);
	CHECK(store_refresh_blocks(f->s, 1000, &n, &err) == CD_OK);
	CHECK(store_refresh_blocks(f->s, 1000, &again, &err) == CD_OK && again == 0);
	char *after = full(f, "team", fmt);
	if (before == NULL || after == NULL || strcmp(before, after) != 0) {
		snprintf(msg, sizeof msg, "%s: refreshing %d stale blocks changed the index:\n%.200s\n---\n%.200s",
		         what, n, before ? before : "", after ? after : "");
		unit_fail(__FILE__, __LINE__, msg);
	}
	free(before);
	free(after);
}

/* Renders the repo's current generation after tampering with b's block in
 * the previous file (prev, "" for none): when copied, b must show the
 * tampering (its bytes came from that file); apart from it and the time,
 * the file must equal a full render.  prev receives the new path. */
static void check_render(struct ifix *f, enum store_format fmt, char prev[512], bool copied,
                         const char *what)
{
	char path[512], msg[600];
	if (*prev) {
		tamper(prev, B_URL, B_TAMPERED);
		/* The files before the one prev replaced were replaced long enough
		 * ago to go before the render starts; prev's map stays for it. */
		(void)rendered_in_dir(prev, 5000);
	}
	char *got = served(f, "team", fmt, path);
	/* What is left: the new file, prev, and the one prev replaced. */
	CHECK(rendered_in_dir(path, 0) <= 3);
	char *want = full(f, "team", fmt);
	char *t = got ? strstr(got, B_TAMPERED) : NULL;
	if (got == NULL || want == NULL || (t != NULL) != copied) {
		snprintf(msg, sizeof msg, "%s: rendered %s, b %s", what, got ? "" : "nothing",
		         t ? "copied" : "not copied");
		unit_fail(__FILE__, __LINE__, msg);
	}
	if (t != NULL)
		memcpy(t, B_URL, strlen(B_URL));
	if (got != NULL && want != NULL && strcmp(got, want) != 0) {
		snprintf(msg, sizeof msg, "%s: differs from a full render:\n%.200s\n---\n%.200s", what,
		         got, want);
		unit_fail(__FILE__, __LINE__, msg);
	}
	if (got != NULL && fmt == STORE_JSON) {
		json_t *doc = json_loads(got, 0, NULL);
		if (doc == NULL) {
			snprintf(msg, sizeof msg, "%s: not JSON", what);
			unit_fail(__FILE__, __LINE__, msg);
		}
		json_decref(doc);
	}
	snprintf(prev, 512, "%s", path);
	free(got);
	free(want);
	if (splice_lazy && ++splice_renders % 2 == 0)
		check_refresh(f, fmt, what);
}

/* Every kind of change, each rendered from the file before it. */
static void check_splices(enum store_format fmt, const char *context_path, bool lazy)
{
	struct ifix f;
	char prev[512] = "";
	cd_err err;
	isetup(&f, context_path);
	store_set_lazy(f.s, lazy);
	splice_lazy = lazy;
	splice_renders = 0;
	check_render(&f, fmt, prev, false, "an empty repo");
	CHECK(iput(f.s, "team", "b", "1.0.0") == CD_OK);
	CHECK(iput(f.s, "team", "d", "1.0.0") == CD_OK);
	check_render(&f, fmt, prev, false, "names added to an empty repo");
	CHECK(iput(f.s, "team", "d", "1.1.0") == CD_OK);
	CHECK(iput(f.s, "team", "f", "1.0.0") == CD_OK);
	check_render(&f, fmt, prev, true, "a version and a name added");
	CHECK(iput(f.s, "team", "d", "1.2.0") == CD_OK);
	check_render(&f, fmt, prev, true, "a version added");
	CHECK(iput_digest(f.s, "team", "d", "1.1.0", "d2") == CD_OK);
	check_render(&f, fmt, prev, true, "a version replaced");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	check_render(&f, fmt, prev, true, "a name that sorts first");
	CHECK(iput(f.s, "team", "g", "1.0.0") == CD_OK);
	check_render(&f, fmt, prev, true, "a name that sorts last");
	CHECK(iput(f.s, "team", "c", "1.0.0") == CD_OK);
	check_render(&f, fmt, prev, true, "a name that sorts in the middle");
	CHECK(store_remove(f.s, "team", "d", "1.0.0", "", &err) == CD_OK);
	check_render(&f, fmt, prev, true, "a version deleted");
	CHECK(store_remove(f.s, "team", "c", "1.0.0", "", &err) == CD_OK);
	check_render(&f, fmt, prev, true, "the last version of a name deleted");
	char *text = full(&f, "team", fmt);
	CHECK(text != NULL && strstr(text, "charts/c-") == NULL);
	free(text);
	CHECK(store_remove(f.s, "team", "a", "1.0.0", "", &err) == CD_OK);
	CHECK(store_remove(f.s, "team", "g", "1.0.0", "", &err) == CD_OK);
	check_render(&f, fmt, prev, true, "the first and the last name deleted");
	CHECK(store_remove(f.s, "team", "d", "1.1.0", "", &err) == CD_OK);
	CHECK(store_remove(f.s, "team", "d", "1.2.0", "", &err) == CD_OK);
	CHECK(store_remove(f.s, "team", "f", "1.0.0", "", &err) == CD_OK);
	check_render(&f, fmt, prev, true, "all names but one deleted");
	CHECK(store_remove(f.s, "team", "b", "1.0.0", "", &err) == CD_OK);
	check_render(&f, fmt, prev, false, "every name deleted");
	iteardown(&f);
}

TEST(index_yaml_after_each_kind_of_change_copies_the_rest_and_equals_a_full_render)
{
	check_splices(STORE_YAML, "", false);
}

TEST(index_json_after_each_kind_of_change_copies_the_rest_and_equals_a_full_render)
{
	check_splices(STORE_JSON, "", false);
}

TEST(index_with_context_path_after_changes_equals_a_full_render)
{
	check_splices(STORE_YAML, "/my/prefix", false);
	check_splices(STORE_JSON, "/my \"prefix\"", false);
}

TEST(index_after_lazy_writes_splices_stale_and_refreshed_blocks_like_a_full_render)
{
	check_splices(STORE_YAML, "", true);
	check_splices(STORE_JSON, "", true);
}

/* Adds name to team and renders, expecting b copied or not. */
static void change_and_render(struct ifix *f, const char *name, char prev[512], bool copied,
                              const char *what)
{
	CHECK(iput(f->s, "team", name, "1.0.0") == CD_OK);
	check_render(f, STORE_YAML, prev, copied, what);
}

/* Makes the first block of the map at path (no context path, no
 * CHART_URL) longer than its file, with a checksum that still holds. */
static bool reshape_map(const char *path)
{
	char raw[4096];
	FILE *fp = fopen(path, "r+");
	size_t n = fp ? fread(raw, 1, sizeof raw, fp) : 0;
	const size_t first_len = 8 + 5 * 8 + 5 + 5 + 8 + 8; /* magic, header, 2 strs, count, off */
	uint64_t len = (uint64_t)1 << 40, h = 14695981039346656037ULL;
	if (n < first_len + 16 || n == sizeof raw) {
		if (fp)
			fclose(fp);
		return false;
	}
	memcpy(raw + first_len, &len, sizeof len);
	for (size_t i = 0; i < n - 8; i++) {
		h ^= (unsigned char)raw[i];
		h *= 1099511628211ULL;
	}
	memcpy(raw + n - 8, &h, sizeof h);
	rewind(fp);
	bool ok = fwrite(raw, 1, n, fp) == n;
	return fclose(fp) == 0 && ok;
}

TEST(index_with_a_damaged_or_missing_map_renders_in_full)
{
	struct ifix f;
	char prev[512] = "", map[600], cmd[1300];
	isetup(&f, "");
	change_and_render(&f, "b", prev, false, "the first render");
	change_and_render(&f, "c", prev, true, "a splice");
	snprintf(map, sizeof map, "%s.map", prev);
	snprintf(cmd, sizeof cmd, "printf X | dd of='%s' bs=1 seek=100 conv=notrunc 2>/dev/null", map);
	CHECK(system(cmd) == 0);
	change_and_render(&f, "d", prev, false, "a damaged map");
	snprintf(map, sizeof map, "%s.map", prev);
	CHECK(unlink(map) == 0);
	change_and_render(&f, "e", prev, false, "no map");
	snprintf(map, sizeof map, "%s.map", prev);
	CHECK(truncate(map, 60) == 0);
	change_and_render(&f, "f", prev, false, "a truncated map");
	snprintf(cmd, sizeof cmd, "printf '\\n' >>'%s'", prev);
	CHECK(system(cmd) == 0);
	change_and_render(&f, "g", prev, false, "a map of another file");
	snprintf(map, sizeof map, "%s.map", prev);
	CHECK(reshape_map(map));
	change_and_render(&f, "h", prev, false, "a map whose blocks overrun its file");
	change_and_render(&f, "i", prev, true, "a splice again");
	iteardown(&f);
}

TEST(index_with_other_settings_than_the_previous_file_renders_in_full)
{
	struct ifix f;
	char prev[512] = "";
	cd_err err;
	isetup(&f, "/one");
	change_and_render(&f, "b", prev, false, "the first render");
	f.o.context_path = "/two";
	change_and_render(&f, "c", prev, false, "a new context path");
	char *text = full(&f, "team", STORE_YAML);
	CHECK(text != NULL && strstr(text, "contextPath: /two\n") != NULL);
	free(text);
	change_and_render(&f, "d", prev, true, "a splice");
	CHECK(store_setting_put(f.s, "chart_url", "https://c.example", &err) == CD_OK);
	change_and_render(&f, "e", prev, false, "a new CHART_URL recorded");
	CHECK(store_sync_chart_url(f.s, "https://d.example", &err) == CD_OK);
	check_render(&f, STORE_YAML, prev, false, "every entry re-rendered for a new CHART_URL");
	iteardown(&f);
}

TEST(index_whose_previous_file_lacks_a_block_renders_in_full)
{
	struct ifix f;
	char prev[512] = "";
	sqlite3 *db;
	isetup(&f, "");
	change_and_render(&f, "b", prev, false, "the first render");
	CHECK(iput(f.s, "team", "c", "1.0.0") == CD_OK);
	/* c's block claims to be older than the previous file, which lacks it */
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE block SET gen = 0 WHERE name = 'c'", NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(db);
	check_render(&f, STORE_YAML, prev, false, "a block the previous file lacks");
	change_and_render(&f, "d", prev, true, "a splice");
	iteardown(&f);
}

TEST(index_after_a_recreated_database_drops_the_names_it_lost)
{
	struct ifix f;
	char prev[512] = "";
	cd_err err;
	isetup(&f, "");
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	change_and_render(&f, "b", prev, false, "the first render");
	CHECK(iput(f.s, "team", "c", "1.0.0") == CD_OK);
	check_render(&f, STORE_YAML, prev, true, "a splice");
	/* the indexer moves a damaged db aside and loads storage again, which
	 * lost b meanwhile: every block is newer than any earlier file */
	store_close(f.s);
	CHECK(store_recreate(f.db, &f.s, &err) == CD_OK);
	CHECK(iput(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(iput(f.s, "team", "c", "1.0.0") == CD_OK);
	tamper(prev, "charts/a-1.0.0.tgz", "charts/a-1.0.0.tgX");
	char path[512];
	char *got = served(&f, "team", STORE_YAML, path);
	CHECK(got != NULL && strcmp(path, prev) != 0);
	char *want = full(&f, "team", STORE_YAML);
	CHECK_STR(got, want);
	free(want);
	CHECK(got != NULL && strstr(got, "charts/b-") == NULL && strstr(got, "tgX") == NULL);
	free(got);
	iteardown(&f);
}

TEST(index_keeps_only_the_newest_map)
{
	struct ifix f;
	char prev[512] = "", cmd[300];
	isetup(&f, "");
	change_and_render(&f, "b", prev, false, "the first render");
	change_and_render(&f, "c", prev, true, "a splice");
	/* the first file stays a while for readers just sent to it; its map goes */
	snprintf(cmd, sizeof cmd,
	         "cd '%s/index/r/team/@' && test $(ls -A | wc -l) -eq 4 && test $(ls *.map | wc -l) -eq 1",
	         f.dir);
	CHECK(system(cmd) == 0);
	iteardown(&f);
}
