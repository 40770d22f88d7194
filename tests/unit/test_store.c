/* test_store.c — the SQLite index: rows, rendered blocks, generations. */
#include "unit.h"
#include "store.h"
#include "yamlout.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh state directory with an open store in it. */
struct fixture {
	char dir[64];
	char db[128];
	struct store *s;
};

static void setup(struct fixture *f)
{
	cd_err err;
	snprintf(f->dir, sizeof f->dir, "/tmp/cd-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		perror("mkdtemp");
	snprintf(f->db, sizeof f->db, "%s/chartdepot.db", f->dir);
	f->s = NULL;
	if (store_open(f->db, &f->s, &err) != CD_OK)
		printf("    store_open: %s\n", err.msg);
}

static void teardown(struct fixture *f)
{
	char cmd[128];
	store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		perror("rm");
}

/* Stores name-version in repo with a minimal Metadata. */
static cd_rc put(struct store *s, const char *repo, const char *name, const char *version)
{
	char file[256];
	cd_err err;
	snprintf(file, sizeof file, "%s-%s.tgz", name, version);
	struct store_chart c = {
		.repo = (char *)repo, .name = (char *)name, .version = (char *)version,
		.file = file, .st = { 10, 20, 30 }, .digest = "abc",
		.created = "2026-01-02T03:04:05Z",
		.meta = json_pack("{s:s,s:s,s:s}", "apiVersion", "v2", "name", name,
		                  "version", version),
	};
	cd_rc rc = store_put(s, &c, "", &err);
	json_decref(c.meta);
	return rc;
}

/* Concatenates each_block output as "name=text|" for easy comparison. */
static int collect_block(const char *name, const char *text, size_t len, void *ctx)
{
	struct buf *b = ctx;
	buf_printf(b, "%s=", name);
	buf_append(b, text, len);
	buf_puts(b, "|");
	return 0;
}

/* Appends "name@version " for each chart. */
static int collect_chart(const struct store_chart *c, void *ctx)
{
	buf_printf(ctx, "%s@%s ", c->name, c->version);
	return 0;
}

static int collect_file(const char *file, const struct storage_stat *st, void *ctx)
{
	buf_printf(ctx, "%s:%lld ", file, (long long)st->size);
	return 0;
}

static int collect_repo(const char *repo, void *ctx)
{
	buf_printf(ctx, "[%s]", repo);
	return 0;
}

TEST(store_put_then_get_returns_the_record)
{
	struct fixture f;
	struct store_chart c;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "mychart", "0.1.0") == CD_OK);
	CHECK(store_get(f.s, "", "mychart", "0.1.0", &c, &err) == CD_OK);
	CHECK_STR(c.file, "mychart-0.1.0.tgz");
	CHECK_STR(c.digest, "abc");
	CHECK_STR(c.created, "2026-01-02T03:04:05Z");
	CHECK(c.st.size == 10 && c.st.mtime_ns == 20 && c.st.ino == 30);
	CHECK_STR(json_string_value(json_object_get(c.meta, "name")), "mychart");
	store_chart_free(&c);
	CHECK(store_get(f.s, "", "mychart", "9.9.9", &c, &err) == CD_ENOTFOUND);
	teardown(&f);
}

TEST(store_remove_deletes_and_second_remove_is_not_found)
{
	struct fixture f;
	struct store_chart c;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "mychart", "0.1.0") == CD_OK);
	CHECK(store_remove(f.s, "", "mychart", "0.1.0", "", &err) == CD_OK);
	CHECK(store_get(f.s, "", "mychart", "0.1.0", &c, &err) == CD_ENOTFOUND);
	CHECK(store_remove(f.s, "", "mychart", "0.1.0", "", &err) == CD_ENOTFOUND);
	teardown(&f);
}

TEST(store_block_lists_versions_newest_first_by_semver)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.9.0") == CD_OK);
	CHECK(put(f.s, "", "a", "1.10.0") == CD_OK);
	CHECK(put(f.s, "", "a", "1.10.0-rc.1") == CD_OK);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	const char *y = b.data;
	CHECK(y != NULL && strncmp(y, "a=  a:\n  - apiVersion: v2\n", 26) == 0);
	const char *v10 = strstr(y, "version: 1.10.0\n");
	const char *rc1 = strstr(y, "version: 1.10.0-rc.1\n");
	const char *v9 = strstr(y, "version: 1.9.0\n");
	CHECK(v10 && rc1 && v9 && v10 < rc1 && rc1 < v9);
	b.len = 0;
	CHECK(store_each_block(f.s, "", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(b.data[2] == '[' && b.data[b.len - 2] == ']');
	CHECK(strstr(b.data, "\"urls\":[\"charts/a-1.10.0.tgz\"]") != NULL);
	buf_free(&b);
	teardown(&f);
}

TEST(store_block_text_is_the_exact_index_entry)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "mychart", "0.1.0") == CD_OK);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK_STR(b.data, "mychart=  mychart:\n"
	                  "  - apiVersion: v2\n"
	                  "    created: \"2026-01-02T03:04:05Z\"\n"
	                  "    digest: abc\n"
	                  "    name: mychart\n"
	                  "    urls:\n"
	                  "    - charts/mychart-0.1.0.tgz\n"
	                  "    version: 0.1.0\n|");
	buf_free(&b);
	teardown(&f);
}

TEST(store_blocks_come_in_helm_name_order)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "app10", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "app2", "1.0.0") == CD_OK);
	CHECK(store_each_block(f.s, "", STORE_JSON, collect_block, &b, &err) == CD_OK);
	const char *a2 = strstr(b.data, "app2="), *a10 = strstr(b.data, "app10="),
		   *bb = strstr(b.data, "b=");
	CHECK(a2 && a10 && bb && a2 < a10 && a10 < bb);
	buf_free(&b);
	teardown(&f);
}

TEST(store_every_change_bumps_the_generation)
{
	struct fixture f;
	int64_t g0, g1, g2, g3, other;
	cd_err err;
	setup(&f);
	CHECK(store_generation(f.s, "team", &g0, &err) == CD_OK && g0 == 0);
	CHECK(put(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "team", &g1, &err) == CD_OK && g1 > g0);
	CHECK(put(f.s, "team", "a", "1.0.1") == CD_OK);
	CHECK(store_generation(f.s, "team", &g2, &err) == CD_OK && g2 == g1 + 1);
	CHECK(store_remove(f.s, "team", "a", "1.0.1", "", &err) == CD_OK);
	CHECK(store_generation(f.s, "team", &g3, &err) == CD_OK && g3 == g2 + 1);
	CHECK(store_remove(f.s, "team", "a", "7.0.0", "", &err) == CD_ENOTFOUND);
	CHECK(store_generation(f.s, "team", &g3, &err) == CD_OK && g3 == g2 + 1);
	CHECK(store_generation(f.s, "other", &other, &err) == CD_OK && other == 0);
	teardown(&f);
}

TEST(store_batch_commits_many_puts_at_once)
{
	struct fixture f;
	int64_t g1, g2;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g1, &err) == CD_OK);
	CHECK(store_begin(f.s, &err) == CD_OK);
	for (int i = 1; i <= 50; i++) {
		char v[32];
		snprintf(v, sizeof v, "1.0.%d", i);
		CHECK(put(f.s, "", "a", v) == CD_OK);
	}
	CHECK(store_commit(f.s, &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g2, &err) == CD_OK && g2 > g1);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	const char *v50 = strstr(b.data, "version: 1.0.50\n"), *v9 = strstr(b.data, "version: 1.0.9\n");
	CHECK(v50 && v9 && v50 < v9);
	buf_free(&b);
	teardown(&f);
}

TEST(store_rollback_forgets_the_batch)
{
	struct fixture f;
	struct store_chart c;
	cd_err err;
	setup(&f);
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	store_rollback(f.s);
	CHECK(store_get(f.s, "", "a", "1.0.0", &c, &err) == CD_ENOTFOUND);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	CHECK(store_get(f.s, "", "b", "1.0.0", &c, &err) == CD_OK);
	store_chart_free(&c);
	teardown(&f);
}

/* The count a worker reads instead of the database (index cache): every
 * handle on the file sees each commit, and nothing else moves it. */
TEST(store_changes_counts_commits_across_handles)
{
	struct fixture f;
	struct store *other = NULL;
	struct store_chart c;
	uint64_t before = 0, now = 0, seen = 0;
	int64_t gen = 0;
	cd_err err;
	setup(&f);
	CHECK(store_open(f.db, &other, &err) == CD_OK);
	CHECK(store_changes(f.s, &before) && store_changes(other, &seen) && before == seen);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_changes(other, &now) && now == before + 1);
	CHECK(store_get(other, "", "a", "1.0.0", &c, &err) == CD_OK); /* reads: no change */
	store_chart_free(&c);
	CHECK(store_generation(other, "", &gen, &err) == CD_OK);
	CHECK(store_changes(f.s, &seen) && seen == now);
	CHECK(store_begin(other, &err) == CD_OK); /* a batch rolled back: none */
	CHECK(put(other, "", "b", "1.0.0") == CD_OK);
	store_rollback(other);
	CHECK(store_changes(f.s, &seen) && seen == now);
	CHECK(store_begin(other, &err) == CD_OK); /* a batch committed: one */
	CHECK(put(other, "", "b", "1.0.0") == CD_OK);
	CHECK(put(other, "", "c", "1.0.0") == CD_OK);
	CHECK(store_commit(other, &err) == CD_OK);
	CHECK(store_changes(f.s, &seen) && seen == now + 1);
	CHECK(store_remove(f.s, "", "a", "1.0.0", "", &err) == CD_OK);
	CHECK(store_changes(other, &seen) && seen == now + 2);
	store_close(other);
	teardown(&f);
}

TEST(store_each_chart_sorts_names_then_newest_versions)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "zeta", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "alpha", "0.9.0") == CD_OK);
	CHECK(put(f.s, "", "alpha", "0.10.0") == CD_OK);
	CHECK(put(f.s, "other", "beta", "1.0.0") == CD_OK);
	CHECK(store_each_chart(f.s, "", NULL, collect_chart, &b, &err) == CD_OK);
	CHECK_STR(b.data, "alpha@0.10.0 alpha@0.9.0 zeta@1.0.0 ");
	b.len = 0;
	CHECK(store_each_chart(f.s, "", "zeta", collect_chart, &b, &err) == CD_OK);
	CHECK_STR(b.data, "zeta@1.0.0 ");
	buf_free(&b);
	teardown(&f);
}

/* Appends each block's name and the length of its text. */
static int collect_block_name(const char *name, const char *text, size_t len, void *ctx)
{
	(void)text;
	buf_printf(ctx, "%s:%zu ", name, len > 0 ? (size_t)1 : (size_t)0);
	return 0;
}

static int first_chart_only(const struct store_chart *c, void *ctx)
{
	collect_chart(c, ctx);
	return 1;
}

TEST(store_worker_cache_walks_blocks_and_versions_in_helm_order)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(store_set_cache_kib(f.s, 64, &err) == CD_OK);
	CHECK(put(f.s, "", "app10", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "app9", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "app9", "1.1.0-rc.1") == CD_OK);
	CHECK(put(f.s, "", "app9", "1.1.0") == CD_OK);
	CHECK(put(f.s, "", "App", "2.0.0") == CD_OK);
	CHECK(put(f.s, "other", "app1", "1.0.0") == CD_OK);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block_name, &b, &err) == CD_OK);
	CHECK_STR(b.data, "App:1 app9:1 app10:1 ");
	b.len = 0;
	CHECK(store_each_chart(f.s, "", NULL, collect_chart, &b, &err) == CD_OK);
	CHECK_STR(b.data, "App@2.0.0 app9@1.1.0 app9@1.1.0-rc.1 app9@1.0.0 app10@1.0.0 ");
	b.len = 0;
	CHECK(store_each_chart(f.s, "", "app9", collect_chart, &b, &err) == CD_OK);
	CHECK_STR(b.data, "app9@1.1.0 app9@1.1.0-rc.1 app9@1.0.0 ");
	b.len = 0;
	CHECK(store_each_chart(f.s, "", "app9", first_chart_only, &b, &err) == CD_OK);
	CHECK(store_each_chart(f.s, "", NULL, first_chart_only, &b, &err) == CD_OK);
	CHECK_STR(b.data, "app9@1.1.0 App@2.0.0 ");
	b.len = 0;
	CHECK(store_each_chart(f.s, "", "absent", collect_chart, &b, &err) == CD_OK);
	CHECK(store_each_chart(f.s, "nowhere", NULL, collect_chart, &b, &err) == CD_OK);
	CHECK(b.len == 0);
	store_release_memory(f.s);
	buf_free(&b);
	teardown(&f);
}

TEST(store_same_file_replaces_the_old_row)
{
	struct fixture f;
	struct buf b = { 0 };
	struct store_chart c = {
		.repo = "", .name = "renamed", .version = "2.0.0", .file = "a-1.0.0.tgz",
		.digest = "d", .created = "2026-01-02T03:04:05Z",
	};
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	c.meta = json_pack("{s:s}", "name", "renamed");
	CHECK(store_put(f.s, &c, "", &err) == CD_OK);
	json_decref(c.meta);
	CHECK(store_each_chart(f.s, "", NULL, collect_chart, &b, &err) == CD_OK);
	CHECK_STR(b.data, "renamed@2.0.0 ");
	b.len = 0;
	CHECK(store_each_block(f.s, "", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(strncmp(b.data, "renamed=", 8) == 0 && strstr(b.data, "a=") == NULL);
	buf_free(&b);
	teardown(&f);
}

TEST(store_remove_file_drops_the_row_and_its_block)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_remove_file(f.s, "", "a-1.0.0.tgz", "", &err) == CD_OK);
	CHECK(store_remove_file(f.s, "", "a-1.0.0.tgz", "", &err) == CD_OK);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK(b.len == 0);
	buf_free(&b);
	teardown(&f);
}

TEST(store_each_file_lists_identities)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "r", "b", "1.0.0") == CD_OK);
	CHECK(put(f.s, "r", "a", "1.0.0") == CD_OK);
	CHECK(store_each_file(f.s, "r", collect_file, &b, &err) == CD_OK);
	CHECK_STR(b.data, "a-1.0.0.tgz:10 b-1.0.0.tgz:10 ");
	buf_free(&b);
	teardown(&f);
}

TEST(store_each_repo_lists_registered_repos_sorted)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(store_add_repo(f.s, "team-b", &err) == CD_OK);
	CHECK(put(f.s, "team-a", "x", "1.0.0") == CD_OK);
	CHECK(store_add_repo(f.s, "team-b", &err) == CD_OK);
	CHECK(store_each_repo(f.s, collect_repo, &b, &err) == CD_OK);
	CHECK_STR(b.data, "[team-a][team-b]");
	buf_free(&b);
	teardown(&f);
}

TEST(store_remembers_bad_files_until_they_change)
{
	struct fixture f;
	struct storage_stat st = { 5, 6, 7 }, changed = { 5, 8, 7 };
	cd_err err;
	setup(&f);
	CHECK(!store_is_known_bad(f.s, "", "x-1.0.0.tgz", &st));
	CHECK(store_put_bad_file(f.s, "", "x-1.0.0.tgz", &st, "not gzip", &err) == CD_OK);
	CHECK(store_is_known_bad(f.s, "", "x-1.0.0.tgz", &st));
	CHECK(!store_is_known_bad(f.s, "", "x-1.0.0.tgz", &changed));
	CHECK(!store_is_known_bad(f.s, "other", "x-1.0.0.tgz", &st));
	CHECK(store_remove_file(f.s, "", "x-1.0.0.tgz", "", &err) == CD_OK);
	CHECK(!store_is_known_bad(f.s, "", "x-1.0.0.tgz", &st));
	teardown(&f);
}

TEST(store_garbage_file_is_edb_and_recreate_moves_it_aside)
{
	struct fixture f;
	cd_err err;
	struct store *s = NULL;
	int64_t gen;
	setup(&f);
	store_close(f.s);
	f.s = NULL;
	FILE *fp = fopen(f.db, "w");
	for (int i = 0; fp && i < 200; i++)
		fputs("this is not a database, just some garbage text\n", fp);
	if (fp)
		fclose(fp);
	CHECK(store_open(f.db, &s, &err) == CD_EDB);
	CHECK(s == NULL);
	CHECK(strstr(err.msg, f.dir) == NULL);
	CHECK(store_recreate(f.db, &f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &gen, &err) == CD_OK && gen > 0);
	CHECK(store_check(f.s, &err) == CD_OK);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'chartdepot.db.corrupt-'", f.dir);
	CHECK(system(cmd) == 0);
	teardown(&f);
}

TEST(store_reopen_keeps_data_and_generation)
{
	struct fixture f;
	cd_err err;
	int64_t g1, g2;
	struct store_chart c;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g1, &err) == CD_OK);
	store_close(f.s);
	CHECK(store_open(f.db, &f.s, &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g2, &err) == CD_OK && g1 == g2);
	CHECK(store_get(f.s, "", "a", "1.0.0", &c, &err) == CD_OK);
	store_chart_free(&c);
	teardown(&f);
}

TEST(store_data_version_moves_for_other_connections_commits_only)
{
	struct fixture f;
	struct store *other;
	cd_err err;
	int64_t v0, v1, v2, v3;
	setup(&f);
	CHECK(store_open(f.db, &other, &err) == CD_OK);
	CHECK(store_data_version(f.s, &v0, &err) == CD_OK);
	/* Its own commits, a batch included, leave it as it was. */
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	CHECK(store_commit(f.s, &err) == CD_OK);
	CHECK(store_data_version(f.s, &v1, &err) == CD_OK);
	CHECK(v1 == v0);
	/* Another connection's commit moves it, once. */
	CHECK(put(other, "", "c", "1.0.0") == CD_OK);
	CHECK(store_data_version(f.s, &v2, &err) == CD_OK);
	CHECK(v2 != v1);
	CHECK(store_data_version(f.s, &v3, &err) == CD_OK);
	CHECK(v3 == v2);
	store_close(other);
	teardown(&f);
}

TEST(store_two_connections_see_each_others_writes)
{
	struct fixture f;
	struct store *other;
	struct store_chart c;
	cd_err err;
	setup(&f);
	CHECK(store_open(f.db, &other, &err) == CD_OK);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_get(other, "", "a", "1.0.0", &c, &err) == CD_OK);
	store_chart_free(&c);
	CHECK(put(other, "", "a", "1.0.1") == CD_OK);
	CHECK(store_get(f.s, "", "a", "1.0.1", &c, &err) == CD_OK);
	store_chart_free(&c);
	store_close(other);
	teardown(&f);
}

TEST(store_new_chart_url_rerenders_every_entry_once)
{
	struct fixture f;
	struct buf b = { 0 };
	int64_t g1, g2, g3;
	cd_err err;
	setup(&f);
	CHECK(store_sync_chart_url(f.s, "", &err) == CD_OK);
	CHECK(store_begin(f.s, &err) == CD_OK);
	for (int i = 0; i < 300; i++) { /* more rows than one re-render chunk */
		char v[32];
		snprintf(v, sizeof v, "0.0.%d", i);
		CHECK(put(f.s, "team", "z", v) == CD_OK);
	}
	CHECK(store_commit(f.s, &err) == CD_OK);
	CHECK(put(f.s, "team", "a", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "team", &g1, &err) == CD_OK);
	CHECK(store_sync_chart_url(f.s, "", &err) == CD_OK);
	CHECK(store_generation(f.s, "team", &g2, &err) == CD_OK && g2 == g1);
	CHECK(store_sync_chart_url(f.s, "https://c.example", &err) == CD_OK);
	CHECK(store_generation(f.s, "team", &g3, &err) == CD_OK && g3 > g2);
	CHECK(store_each_block(f.s, "team", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK(strstr(b.data, "    - https://c.example/team/charts/a-1.0.0.tgz\n") != NULL);
	b.len = 0;
	CHECK(store_each_block(f.s, "team", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(strstr(b.data, "\"https://c.example/team/charts/a-1.0.0.tgz\"") != NULL);
	CHECK(strstr(b.data, "\"https://c.example/team/charts/z-0.0.299.tgz\"") != NULL);
	CHECK(strstr(b.data, "\"charts/") == NULL);
	buf_free(&b);
	teardown(&f);
}

TEST(store_concurrent_writers_lose_no_version_and_no_generation)
{
	struct fixture f;
	struct buf b = { 0 };
	int64_t g0, g1;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "0.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g0, &err) == CD_OK);
	for (int p = 0; p < 4; p++) {
		if (fork() == 0) {
			struct store *s;
			int bad = store_open(f.db, &s, &err) != CD_OK;
			for (int i = 0; !bad && i < 25; i++) {
				char v[32];
				snprintf(v, sizeof v, "%d.0.%d", p + 1, i);
				bad = put(s, "", "a", v) != CD_OK;
			}
			_exit(bad);
		}
	}
	int failed = 0;
	for (int p = 0; p < 4; p++) {
		int status = 0;
		wait(&status);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	CHECK(failed == 0);
	CHECK(store_generation(f.s, "", &g1, &err) == CD_OK && g1 == g0 + 100);
	CHECK(store_each_block(f.s, "", STORE_JSON, collect_block, &b, &err) == CD_OK);
	json_t *arr = json_loads(b.data + 2, JSON_DISABLE_EOF_CHECK, NULL);
	CHECK(json_array_size(arr) == 101);
	json_decref(arr);
	buf_free(&b);
	teardown(&f);
}

TEST(store_open_in_a_missing_directory_is_eio_not_corruption)
{
	struct store *s = NULL;
	cd_err err;
	CHECK(store_open("/nonexistent-cd-dir/x/chartdepot.db", &s, &err) == CD_EIO);
	CHECK(s == NULL);
}

TEST(store_put_prepared_stores_what_store_put_stores)
{
	struct fixture f, g;
	struct buf a = { 0 }, b = { 0 };
	struct store_prepared p;
	cd_err err;
	struct store_chart c = {
		.repo = "team", .name = "a", .version = "1.0.0", .file = "a-1.0.0.tgz",
		.st = { 10, 20, 30 }, .digest = "abc", .created = "2026-01-02T03:04:05Z",
		.meta = json_pack("{s:s,s:s,s:s,s:[s]}", "apiVersion", "v2", "name", "a",
		                  "version", "1.0.0", "keywords", "x\ty"),
	};
	setup(&f);
	setup(&g);
	CHECK(store_put(f.s, &c, "https://c.example", &err) == CD_OK);
	CHECK(store_prepare(&c, "https://c.example", &p, &err) == CD_OK);
	CHECK(store_begin(g.s, &err) == CD_OK);
	CHECK(store_put_prepared(g.s, &c, &p, &err) == CD_OK);
	CHECK(store_commit(g.s, &err) == CD_OK);
	store_prepared_free(&p);
	CHECK(store_each_block(f.s, "team", STORE_YAML, collect_block, &a, &err) == CD_OK);
	CHECK(store_each_block(g.s, "team", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK(a.data && b.data && strcmp(a.data, b.data) == 0);
	a.len = b.len = 0;
	CHECK(store_each_block(f.s, "team", STORE_JSON, collect_block, &a, &err) == CD_OK);
	CHECK(store_each_block(g.s, "team", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(a.data && b.data && strcmp(a.data, b.data) == 0);
	struct store_chart got;
	CHECK(store_get(g.s, "team", "a", "1.0.0", &got, &err) == CD_OK);
	CHECK(json_equal(got.meta, c.meta));
	store_chart_free(&got);
	json_decref(c.meta);
	buf_free(&a);
	buf_free(&b);
	teardown(&f);
	teardown(&g);
}

TEST(store_batch_moving_a_file_to_another_name_rebuilds_both_blocks)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	struct store_chart c = {
		.repo = "", .name = "b", .version = "1.0.0", .file = "a-1.0.0.tgz",
		.digest = "d", .created = "2026-01-02T03:04:05Z",
	};
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "a", "2.0.0") == CD_OK);
	c.meta = json_pack("{s:s,s:s}", "name", "b", "version", "1.0.0");
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(store_put(f.s, &c, "", &err) == CD_OK);
	CHECK(store_commit(f.s, &err) == CD_OK);
	json_decref(c.meta);
	CHECK(store_each_block(f.s, "", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(strstr(b.data, "a=[") == b.data && strstr(b.data, "a-2.0.0.tgz") != NULL);
	CHECK(strstr(b.data, "\"version\":\"1.0.0\"") != NULL && strstr(b.data, "|b=[") != NULL);
	CHECK(strstr(b.data, "charts/a-1.0.0.tgz\"],\"version\":\"1.0.0\"") != NULL);
	char *bblock = strstr(b.data, "|b=[");
	CHECK(bblock != NULL);
	if (bblock != NULL) {
		*bblock = '\0'; /* a's block alone: only 2.0.0 is left */
		CHECK(strstr(b.data, "\"version\":\"1.0.0\"") == NULL);
	}
	buf_free(&b);
	teardown(&f);
}

TEST(store_rolled_back_batch_does_not_leave_a_repo_half_known)
{
	struct fixture f;
	int64_t gen = -1;
	cd_err err;
	setup(&f);
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "new", "a", "1.0.0") == CD_OK);
	store_rollback(f.s);
	CHECK(store_generation(f.s, "new", &gen, &err) == CD_OK && gen == 0);
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "new", "a", "1.0.0") == CD_OK);
	CHECK(put(f.s, "new", "a", "1.0.1") == CD_OK);
	CHECK(store_commit(f.s, &err) == CD_OK);
	CHECK(store_generation(f.s, "new", &gen, &err) == CD_OK && gen > 0);
	teardown(&f);
}

TEST(store_bulk_mode_keeps_every_write)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	store_bulk(f.s, true);
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(store_commit(f.s, &err) == CD_OK);
	store_bulk(f.s, false);
	CHECK(store_each_file(f.s, "", collect_file, &b, &err) == CD_OK);
	CHECK_STR(b.data, "a-1.0.0.tgz:10 ");
	buf_free(&b);
	teardown(&f);
}

/* The restart scan reads (repo, file, identity) from an index only. */
TEST(store_schema_2_db_gets_the_identity_index_on_open)
{
	struct fixture f;
	sqlite3 *db;
	int64_t found = 0;
	setup(&f);
	store_close(f.s);
	f.s = NULL;
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP INDEX chart_ident; PRAGMA user_version = 2;",
	                   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	cd_err err;
	CHECK(store_open(f.db, &f.s, &err) == CD_OK);
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT file, size, mtime_ns, ino"
	                         " FROM chart WHERE repo = '' ORDER BY file", -1, &st,
	                         NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (strstr((const char *)sqlite3_column_text(st, 3), "COVERING INDEX chart_ident"))
			found = 1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(found == 1);
	teardown(&f);
}

/* The first column of the first row of sql (a count, a pragma), read
 * with a second connection; -1 when it cannot be read. */
static int64_t count_rows(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_open(f->db, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

/* The Metadata is kept once, inside the entry: meta stays empty, and what
 * is read back keeps Helm's field order (the API marshals it as it is). */
TEST(store_keeps_the_metadata_only_inside_the_entry)
{
	struct fixture f;
	cd_err err;
	struct store_chart c = {
		.repo = "", .name = "a", .version = "1.0.0", .file = "a-1.0.0.tgz",
		.st = { 10, 20, 30 }, .digest = "abc", .created = "2026-01-02T03:04:05Z",
		.meta = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:s}", "name", "a", "version",
		                  "1.0.0", "description", "d", "maintainers", "name", "n",
		                  "email", "e", "apiVersion", "v2"),
	};
	setup(&f);
	CHECK(store_put(f.s, &c, "", &err) == CD_OK);
	CHECK(count_rows(&f, "SELECT count(*) FROM chart WHERE meta = ''") == 1);
	struct store_chart got;
	CHECK(store_get(f.s, "", "a", "1.0.0", &got, &err) == CD_OK);
	char *want = json_dumps(c.meta, JSON_COMPACT), *s = json_dumps(got.meta, JSON_COMPACT);
	CHECK_STR(s, want);
	free(s);
	free(want);
	store_chart_free(&got);
	json_decref(c.meta);
	teardown(&f);
}

/* Rows written by earlier versions carry their own meta: it is still read. */
TEST(store_reads_the_meta_of_rows_from_earlier_versions)
{
	struct fixture f;
	sqlite3 *db;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE chart SET meta = '{\"name\":\"a\",\"version\":\"1.0.0\","
	                   "\"description\":\"from meta\",\"apiVersion\":\"v2\"}'",
	                   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	struct store_chart got;
	CHECK(store_get(f.s, "", "a", "1.0.0", &got, &err) == CD_OK);
	CHECK_STR(json_string_value(json_object_get(got.meta, "description")), "from meta");
	store_chart_free(&got);
	teardown(&f);
}

/* Without block JSON a block stores '' for it, and a JSON read assembles
 * the same text from the versions' entries; a connection that keeps JSON
 * reads such a database the same way, and rewrites what it touches. */
TEST(store_blocks_without_json_read_as_json_all_the_same)
{
	struct fixture f, g;
	struct buf a = { 0 }, b = { 0 };
	cd_err err;
	setup(&f);
	setup(&g);
	store_set_block_json(g.s, false);
	const char *names[] = { "b", "a", "b", "c", "a" }, *versions[] = { "1.0.0", "2.0.0", "1.1.0",
	                                                                  "0.1.0", "1.0.0" };
	for (int i = 0; i < 5; i++) {
		CHECK(put(f.s, "team", names[i], versions[i]) == CD_OK);
		CHECK(put(g.s, "team", names[i], versions[i]) == CD_OK);
	}
	CHECK(count_rows(&f, "SELECT count(*) FROM block WHERE json = ''") == 0);
	CHECK(count_rows(&g, "SELECT count(*) FROM block WHERE json = ''") == 3);
	CHECK(store_each_block(f.s, "team", STORE_JSON, collect_block, &a, &err) == CD_OK);
	CHECK(store_each_block(g.s, "team", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(a.data && b.data && strcmp(a.data, b.data) == 0);
	CHECK(a.data && strstr(a.data, "b=[{") != NULL);
	/* YAML blocks are kept whole either way. */
	a.len = b.len = 0;
	CHECK(store_each_block(f.s, "team", STORE_YAML, collect_block, &a, &err) == CD_OK);
	CHECK(store_each_block(g.s, "team", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK(a.data && b.data && strcmp(a.data, b.data) == 0);
	/* Switched on, the next write of a name keeps its JSON again. */
	store_set_block_json(g.s, true);
	CHECK(put(g.s, "team", "c", "0.2.0") == CD_OK);
	CHECK(put(f.s, "team", "c", "0.2.0") == CD_OK);
	CHECK(count_rows(&g, "SELECT count(*) FROM block WHERE json = ''") == 2);
	a.len = b.len = 0;
	CHECK(store_each_block(f.s, "team", STORE_JSON, collect_block, &a, &err) == CD_OK);
	CHECK(store_each_block(g.s, "team", STORE_JSON, collect_block, &b, &err) == CD_OK);
	CHECK(a.data && b.data && strcmp(a.data, b.data) == 0);
	buf_free(&a);
	buf_free(&b);
	teardown(&f);
	teardown(&g);
}

/* New databases get 16 KiB pages; one made with SQLite's 4 KiB (every db
 * before this change) keeps them and is read and written as before. */
TEST(store_new_db_has_16k_pages_and_an_old_4k_db_keeps_working)
{
	struct fixture f;
	struct buf b = { 0 };
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(count_rows(&f, "PRAGMA page_size") == 16384);
	store_close(f.s);
	f.s = NULL;

	/* an old db: 4 KiB pages, written before this store opened it */
	CHECK(unlink(f.db) == 0);
	sqlite3 *db;
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
	                   " CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_open(f.db, &f.s, &err) == CD_OK);
	for (int i = 0; i < 40; i++) {
		char v[16];
		snprintf(v, sizeof v, "1.0.%d", i);
		CHECK(put(f.s, "", "a", v) == CD_OK);
	}
	CHECK(store_each_chart(f.s, "", "a", collect_chart, &b, &err) == CD_OK);
	CHECK(strstr(b.data ? b.data : "", "a@1.0.39 ") != NULL);
	CHECK(count_rows(&f, "PRAGMA page_size") == 4096);
	buf_free(&b);
	teardown(&f);
}

/* Appends "name:gen " for each block, text "+" when given (gen > since). */
static int collect_gen(const char *name, int64_t gen, const char *text, size_t len, void *ctx)
{
	(void)len;
	buf_printf(ctx, "%s:%lld%s ", name, (long long)gen, text ? "+" : "");
	return 0;
}

/* "a:<gen>+ b:<gen> ..." of repo's blocks, texts of those after since. */
static const char *gens(struct fixture *f, const char *repo, int64_t since, struct buf *b)
{
	cd_err err;
	b->len = 0;
	buf_puts(b, "");
	if (store_each_block_since(f->s, repo, STORE_YAML, since, collect_gen, b, &err) != CD_OK)
		return "(error)";
	return b->data;
}

TEST(store_each_rewritten_block_records_the_generation_of_its_change)
{
	struct fixture f;
	struct buf b = { 0 }, want = { 0 };
	int64_t g1, g2, g3, g4, g5, g6;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g1, &err) == CD_OK);
	buf_printf(&want, "a:%lld+ b:%lld+ ", (long long)(g1 - 1), (long long)g1);
	CHECK_STR(gens(&f, "", INT64_MIN, &b), want.data);
	want.len = 0;
	buf_printf(&want, "a:%lld b:%lld+ ", (long long)(g1 - 1), (long long)g1);
	CHECK_STR(gens(&f, "", g1 - 1, &b), want.data); /* only b's text: it changed since */
	/* a batch */
	CHECK(store_begin(f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "c", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "c", "1.1.0") == CD_OK);
	CHECK(store_commit(f.s, &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g2, &err) == CD_OK && g2 == g1 + 1);
	/* a removal that leaves a version, a removal of a file */
	CHECK(store_remove(f.s, "", "c", "1.1.0", "", &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g3, &err) == CD_OK && g3 == g2 + 1);
	CHECK(put(f.s, "", "a", "2.0.0") == CD_OK);
	CHECK(store_remove_file(f.s, "", "a-2.0.0.tgz", "", &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g4, &err) == CD_OK && g4 == g3 + 2);
	want.len = 0;
	buf_printf(&want, "a:%lld+ b:%lld c:%lld+ ", (long long)g4, (long long)g1, (long long)g3);
	CHECK_STR(gens(&f, "", g3 - 1, &b), want.data);
	/* the last version of b goes: so does its block */
	CHECK(store_remove(f.s, "", "b", "1.0.0", "", &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g5, &err) == CD_OK);
	want.len = 0;
	buf_printf(&want, "a:%lld c:%lld ", (long long)g4, (long long)g3);
	CHECK_STR(gens(&f, "", g5, &b), want.data);
	/* a new CHART_URL rewrites every block */
	CHECK(store_sync_chart_url(f.s, "https://c.example", &err) == CD_OK);
	CHECK(store_generation(f.s, "", &g6, &err) == CD_OK && g6 == g5 + 1);
	want.len = 0;
	buf_printf(&want, "a:%lld+ c:%lld+ ", (long long)g6, (long long)g6);
	CHECK_STR(gens(&f, "", g5, &b), want.data);
	buf_free(&b);
	buf_free(&want);
	teardown(&f);
}

TEST(store_lazy_writes_mark_blocks_stale_and_the_refresh_keeps_their_generation)
{
	struct fixture f;
	struct buf b = { 0 }, want = { 0 }, eager = { 0 };
	int64_t g1, g2;
	int n;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	store_set_lazy(f.s, true);
	CHECK(put(f.s, "", "a", "1.1.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g1, &err) == CD_OK);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g2, &err) == CD_OK && g2 == g1 + 1);
	/* nothing rebuilt: a's block still holds one version, b has none */
	CHECK(count_rows(&f, "SELECT count(*) FROM block_stale") == 2);
	CHECK(count_rows(&f, "SELECT count(*) FROM block") == 1);
	CHECK(count_rows(&f, "SELECT length(yaml) - length(replace(yaml, 'version:', ''))"
	                     " FROM block WHERE name = 'a'") == 8);
	/* ... yet readers see both versions, with the generations of the changes */
	buf_printf(&want, "a:%lld+ b:%lld+ ", (long long)g1, (long long)g2);
	CHECK_STR(gens(&f, "", INT64_MIN, &b), want.data);
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &eager, &err) == CD_OK);
	CHECK(strstr(eager.data, "version: 1.1.0") != NULL && strstr(eager.data, "b:") != NULL);
	CHECK(store_refresh_blocks(f.s, 100, &n, &err) == CD_OK && n == 2);
	CHECK(count_rows(&f, "SELECT count(*) FROM block_stale") == 0);
	CHECK_STR(gens(&f, "", INT64_MIN, &b), want.data);
	b.len = 0;
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK_STR(b.data, eager.data);
	/* the last version of a name deleted lazily: gone at once, block later */
	CHECK(store_remove(f.s, "", "b", "1.0.0", "", &err) == CD_OK);
	b.len = 0;
	CHECK(store_each_block(f.s, "", STORE_YAML, collect_block, &b, &err) == CD_OK);
	CHECK(strstr(b.data, "b:") == NULL && strstr(b.data, "a:") != NULL);
	CHECK(store_refresh_blocks(f.s, 100, &n, &err) == CD_OK && n == 1);
	CHECK(count_rows(&f, "SELECT count(*) FROM block") == 1);
	buf_free(&b);
	buf_free(&want);
	buf_free(&eager);
	teardown(&f);
}

/* Turns f's db back into schema 3 (block without gen), as a chartdepot
 * before this one left it. */
static void make_schema_3(struct fixture *f)
{
	sqlite3 *db;
	store_close(f->s);
	f->s = NULL;
	CHECK(sqlite3_open(f->db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "DROP TRIGGER block_gen_unset; DROP INDEX block_gen;"
	                   " ALTER TABLE block DROP COLUMN gen; PRAGMA user_version = 3;",
	                   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* A stand-in for the yamlkey collation, enough to plan a query. */
static int byte_order(void *ctx, int an, const void *a, int bn, const void *b)
{
	(void)ctx;
	int c = memcmp(a, b, (size_t)(an < bn ? an : bn));
	return c != 0 ? c : an - bn;
}

TEST(store_schema_3_db_gets_block_generations_on_open)
{
	struct fixture f;
	struct buf b = { 0 }, want = { 0 };
	int64_t version = 0, g;
	sqlite3 *db;
	sqlite3_stmt *st;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	CHECK(put(f.s, "", "b", "1.0.0") == CD_OK);
	make_schema_3(&f);
	CHECK(store_open(f.db, &f.s, &err) == CD_OK);
	/* old blocks read as generation 0: older than any file rendered since */
	CHECK_STR(gens(&f, "", 0, &b), "a:0 b:0 ");
	CHECK(put(f.s, "", "b", "2.0.0") == CD_OK);
	CHECK(store_generation(f.s, "", &g, &err) == CD_OK);
	buf_printf(&want, "a:0 b:%lld+ ", (long long)g);
	CHECK_STR(gens(&f, "", 0, &b), want.data);
	CHECK(sqlite3_open(f.db, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	CHECK(version == 5);
	/* the (name, gen) walk reads the covering index only */
	CHECK(sqlite3_create_collation(db, "yamlkey", SQLITE_UTF8, NULL, byte_order) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT name, gen, rowid FROM block"
	                         " WHERE repo = '' ORDER BY name COLLATE yamlkey", -1, &st,
	                         NULL) == SQLITE_OK);
	int covering = 0;
	while (sqlite3_step(st) == SQLITE_ROW)
		covering |= strstr((const char *)sqlite3_column_text(st, 3),
		                   "COVERING INDEX block_gen") != NULL;
	sqlite3_finalize(st);
	CHECK(covering);
	/* a schema-3 writer still running names no gen: the change's is used */
	CHECK(sqlite3_exec(db, "INSERT OR REPLACE INTO block(repo, name, yaml, json)"
	                   " VALUES('', 'a', '  a:\n', '[]')", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	want.len = 0;
	buf_printf(&want, "a:%lld b:%lld ", (long long)(g + 1), (long long)g);
	CHECK_STR(gens(&f, "", INT64_MAX, &b), want.data);
	buf_free(&b);
	buf_free(&want);
	teardown(&f);
}

TEST(store_schema_3_db_opened_by_two_processes_at_once_is_upgraded_once)
{
	struct fixture f;
	cd_err err;
	setup(&f);
	CHECK(put(f.s, "", "a", "1.0.0") == CD_OK);
	make_schema_3(&f);
	for (int i = 0; i < 4; i++) {
		if (fork() == 0) {
			struct store *s;
			cd_err e;
			int ok = store_open(f.db, &s, &e) == CD_OK;
			store_close(s);
			_exit(ok ? 0 : 1);
		}
	}
	int failed = 0;
	for (int i = 0; i < 4; i++) {
		int status = 0;
		wait(&status);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	CHECK(failed == 0);
	CHECK(store_open(f.db, &f.s, &err) == CD_OK);
	CHECK(put(f.s, "", "a", "1.0.1") == CD_OK);
	teardown(&f);
}
