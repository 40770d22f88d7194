/* test_index.c — index entries, rendered index text and files. */
#include "unit.h"
#include "index.h"
#include "yamlout.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static cd_rc iput(struct store *s, const char *repo, const char *name, const char *version)
{
	char file[256];
	cd_err err;
	snprintf(file, sizeof file, "%s-%s.tgz", name, version);
	struct store_chart c = {
		.repo = (char *)repo, .name = (char *)name, .version = (char *)version,
		.file = file, .st = { 1, 2, 3 }, .digest = "d1",
		.created = "2026-01-02T03:04:05Z",
		.meta = json_pack("{s:s,s:s,s:s}", "apiVersion", "v2", "name", name,
		                  "version", version),
	};
	cd_rc rc = store_put(s, &c, "", &err);
	json_decref(c.meta);
	return rc;
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
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s/index/root/@' | wc -l) -eq 2", f.dir);
	CHECK(system(cmd) == 0); /* .lock and one <gen>.yaml, no temp files */
	iteardown(&f);
}
