/* test_chart.c — chart archives and Chart.yaml, built in memory with
 * libarchive's writer. */
#include "unit.h"
#include "chart.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

enum ent_kind { ENT_FILE, ENT_DIR, ENT_SYMLINK, ENT_HARDLINK };

/* One archive entry; zeros > 0 writes that many zero bytes instead of data. */
struct ent {
	const char *path;
	const char *data;
	enum ent_kind kind;
	const char *link;
	size_t zeros;
};

/* A growable output buffer for the writer. */
struct tgz {
	unsigned char *buf;
	size_t len, cap;
};

/* libarchive write callback: appends to the buffer. */
static la_ssize_t tgz_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct tgz *t = ctx;
	(void)a;
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n)
			cap *= 2;
		unsigned char *b = realloc(t->buf, cap);
		if (b == NULL)
			return -1;
		t->buf = b, t->cap = cap;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	return (la_ssize_t)n;
}

/* Writes one entry's header and data. */
static void write_entry(struct archive *a, const struct ent *e)
{
	static const char zero[1 << 16];
	struct archive_entry *ae = archive_entry_new();
	size_t len = e->zeros ? e->zeros : e->data ? strlen(e->data) : 0;
	archive_entry_set_pathname(ae, e->path);
	archive_entry_set_mtime(ae, 1700000000, 0);
	archive_entry_set_perm(ae, e->kind == ENT_DIR ? 0755 : 0644);
	archive_entry_set_filetype(ae, e->kind == ENT_DIR ? AE_IFDIR :
	                               e->kind == ENT_SYMLINK ? AE_IFLNK : AE_IFREG);
	if (e->kind == ENT_SYMLINK)
		archive_entry_set_symlink(ae, e->link);
	if (e->kind == ENT_HARDLINK)
		archive_entry_set_hardlink(ae, e->link);
	archive_entry_set_size(ae, e->kind == ENT_FILE ? (la_int64_t)len : 0);
	archive_write_header(a, ae);
	for (size_t done = 0; e->kind == ENT_FILE && done < len;) {
		size_t n = len - done < sizeof zero ? len - done : sizeof zero;
		archive_write_data(a, e->zeros ? zero : e->data + done, n);
		done += n;
	}
	archive_entry_free(ae);
}

/* Builds a tar of the entries, gzip'd unless plain; caller frees .buf. */
static struct tgz build(const struct ent *ents, size_t n, bool gzip)
{
	struct tgz t = { NULL, 0, 0 };
	struct archive *a = archive_write_new();
	if (gzip) {
		archive_write_add_filter_gzip(a);
		archive_write_set_filter_option(a, "gzip", "compression-level", "1");
	}
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open(a, &t, NULL, tgz_write, NULL);
	for (size_t i = 0; i < n; i++)
		write_entry(a, &ents[i]);
	archive_write_close(a);
	archive_write_free(a);
	return t;
}

#define BUILD(...)                                                          \
	({                                                                  \
		const struct ent e_[] = { __VA_ARGS__ };                    \
		build(e_, sizeof e_ / sizeof e_[0], true);                  \
	})

static const char minimal_yaml[] = "apiVersion: v2\nname: mychart\nversion: 0.1.0\n";

/* Reads t and expects rc with a message containing want; frees t. */
static void expect_read(struct tgz t, cd_rc rc, const char *want, int line)
{
	struct chart_info ci;
	cd_err err = { "" };
	cd_rc got = chart_read(t.buf, t.len, &ci, &err);
	if (got != rc || strstr(err.msg, want) == NULL) {
		char m[800];
		snprintf(m, sizeof m, "got %s \"%s\", want %s \"%s\"", cd_rc_name(got), err.msg,
		         cd_rc_name(rc), want);
		unit_fail(__FILE__, line, m);
	}
	if (got == CD_OK)
		chart_info_free(&ci);
	free(t.buf);
}

#define EXPECT_INVALID(t, want) expect_read((t), CD_EINVAL, (want), __LINE__)

/* Parses yaml and returns its compact JSON (malloc'd) or the error text. */
static char *parse_json(const char *yaml, cd_rc *rc)
{
	json_t *meta = NULL;
	cd_err err = { "" };
	*rc = chart_parse_yaml(yaml, strlen(yaml), &meta, &err);
	if (*rc != CD_OK)
		return strdup(err.msg);
	char *s = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	return s;
}

TEST(chart_minimal_archive_reads_name_version_and_meta)
{
	struct tgz t = BUILD({ "mychart/", NULL, ENT_DIR, NULL, 0 },
	                     { "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	CHECK_STR(ci.name, "mychart");
	CHECK_STR(ci.version, "0.1.0");
	char *s = json_dumps(ci.meta, JSON_COMPACT);
	CHECK_STR(s, "{\"name\":\"mychart\",\"version\":\"0.1.0\",\"apiVersion\":\"v2\"}");
	free(s);
	chart_info_free(&ci);
	free(t.buf);
}

static const char full_yaml[] =
	"type: application\n"
	"apiVersion: v2\n"
	"name: mychart\n"
	"version: 1.0\n"
	"kubeVersion: \">=1.20.0\"\n"
	"description: |\n"
	"  A chart\n"
	"  for tests\n"
	"home: https://example.com\n"
	"icon: https://example.com/icon.png\n"
	"sources:\n"
	"  - https://github.com/example/mychart\n"
	"keywords: [web, \"db\"]\n"
	"maintainers:\n"
	"  - name: Jane\n"
	"    email: jane@example.com\n"
	"    url: https://jane.example.com\n"
	"  - name: Bob\n"
	"appVersion: 1.10\n"
	"deprecated: yes\n"
	"condition: mychart.enabled\n"
	"tags: frontend\n"
	"annotations:\n"
	"  category: Web\n"
	"  count: 3\n"
	"  flag: true\n"
	"dependencies:\n"
	"  - name: redis\n"
	"    version: ~17.0\n"
	"    repository: https://charts.example.com\n"
	"    condition: redis.enabled\n"
	"    tags: [cache]\n"
	"    enabled: On\n"
	"    import-values:\n"
	"      - data\n"
	"      - child: default.data\n"
	"        parent: myimports\n"
	"    alias: cache_1\n"
	"  - name: local\n"
	"unknown: ignored\n";

static const char full_json[] =
	"{\"name\":\"mychart\",\"home\":\"https://example.com\","
	"\"sources\":[\"https://github.com/example/mychart\"],\"version\":\"1.0\","
	"\"description\":\"A chart for tests \",\"keywords\":[\"web\",\"db\"],"
	"\"maintainers\":[{\"name\":\"Jane\",\"email\":\"jane@example.com\","
	"\"url\":\"https://jane.example.com\"},{\"name\":\"Bob\"}],"
	"\"icon\":\"https://example.com/icon.png\",\"apiVersion\":\"v2\","
	"\"condition\":\"mychart.enabled\",\"tags\":\"frontend\",\"appVersion\":\"1.10\","
	"\"deprecated\":true,\"annotations\":{\"category\":\"Web\",\"count\":\"3\",\"flag\":\"true\"},"
	"\"kubeVersion\":\">=1.20.0\",\"dependencies\":[{\"name\":\"redis\",\"version\":\"~17.0\","
	"\"repository\":\"https://charts.example.com\",\"condition\":\"redis.enabled\","
	"\"tags\":[\"cache\"],\"enabled\":true,\"import-values\":[\"data\","
	"{\"child\":\"default.data\",\"parent\":\"myimports\"}],\"alias\":\"cache_1\"},"
	"{\"name\":\"local\",\"repository\":\"\"}],\"type\":\"application\"}";

TEST(chart_yaml_with_every_field_gives_helm_metadata_json)
{
	cd_rc rc;
	char *s = parse_json(full_yaml, &rc);
	CHECK(rc == CD_OK);
	CHECK_STR(s, full_json);
	free(s);
}

TEST(chart_archive_with_every_field_reads_and_validates)
{
	struct tgz t = BUILD({ "mychart/Chart.yaml", full_yaml, ENT_FILE, NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	CHECK_STR(ci.version, "1.0");
	char *s = ci.meta ? json_dumps(ci.meta, JSON_COMPACT) : NULL;
	CHECK_STR(s, full_json);
	free(s);
	chart_info_free(&ci);
	free(t.buf);
}

/* The store keeps only the entry, keys sorted at every level and with
 * urls, created and digest added; the Metadata read back out of it must
 * marshal to the very bytes chart_read gave. */
TEST(chart_meta_from_entry_gives_back_the_metadata_in_struct_order)
{
	json_t *entry = json_loads(full_json, 0, NULL);
	CHECK(entry != NULL);
	json_object_set_new(entry, "urls", json_pack("[s]", "charts/mychart-1.0.tgz"));
	json_object_set_new(entry, "created", json_string("2026-01-02T03:04:05Z"));
	json_object_set_new(entry, "digest", json_string("abc"));
	json_object_set_new(entry, "removed", json_false());
	char *sorted = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(sorted != NULL && strncmp(sorted, "{\"annotations\":", 15) == 0);
	json_t *meta = NULL;
	cd_err err = { "" };
	CHECK(chart_meta_from_entry(sorted, &meta, &err) == CD_OK);
	char *s = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	CHECK_STR(s, full_json);
	free(s);
	json_decref(meta);
	free(sorted);
	json_decref(entry);

	/* A null maintainer stays null (validation rejects it, not this). */
	CHECK(chart_meta_from_entry("{\"name\":\"a\",\"maintainers\":[null,{\"url\":\"u\",\"name\":\"n\"}]}",
	                            &meta, &err) == CD_OK);
	s = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	CHECK_STR(s, "{\"name\":\"a\",\"maintainers\":[null,{\"name\":\"n\",\"url\":\"u\"}]}");
	free(s);
	json_decref(meta);

	CHECK(chart_meta_from_entry("[1]", &meta, &err) == CD_EINVAL && meta == NULL);
	CHECK(chart_meta_from_entry("{\"name\":", &meta, &err) == CD_EINVAL && meta == NULL);
}

TEST(chart_yaml_scalars_in_string_fields_keep_their_text)
{
	cd_rc rc;
	char *s = parse_json("name: true\nversion: 010.2\nappVersion: 1e3\ndescription: ~\n"
	                     "home: 'null'\nicon: \"\"\n", &rc);
	CHECK(rc == CD_OK);
	CHECK_STR(s, "{\"name\":\"true\",\"home\":\"null\",\"version\":\"010.2\","
	             "\"apiVersion\":\"v1\",\"appVersion\":\"1e3\"}");
	free(s);
}

TEST(chart_yaml_false_bools_and_empty_lists_are_omitted)
{
	cd_rc rc;
	char *s = parse_json("name: a\nversion: 1.0.0\ndeprecated: OFF\nkeywords: []\n"
	                     "annotations: {}\nsources:\n", &rc);
	CHECK(rc == CD_OK);
	CHECK_STR(s, "{\"name\":\"a\",\"version\":\"1.0.0\",\"apiVersion\":\"v1\"}");
	free(s);
}

TEST(chart_yaml_mapping_in_string_field_names_the_field)
{
	cd_rc rc;
	char *s = parse_json("name: a\nversion: {major: 1}\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "version") != NULL);
	free(s);
	s = parse_json("name: a\nmaintainers:\n  - name: [x]\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "maintainers[0].name") != NULL);
	free(s);
}

TEST(chart_yaml_nul_in_version_is_rejected)
{
	cd_rc rc;
	char *s = parse_json("name: a\nversion: \"1.0.0\\0x\"\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "NUL") != NULL);
	free(s);
}

TEST(chart_yaml_bad_bool_is_rejected)
{
	cd_rc rc;
	char *s = parse_json("name: a\ndeprecated: maybe\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "deprecated") != NULL);
	free(s);
}

TEST(chart_yaml_top_level_list_is_rejected)
{
	cd_rc rc;
	char *s = parse_json("- name: a\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "mapping") != NULL);
	free(s);
}

TEST(chart_yaml_control_characters_are_sanitized_as_helm_does)
{
	cd_rc rc;
	char *s = parse_json("name: \"my\\x01chart\"\nversion: 1.0.0\n"
	                     "description: \"tab\\there\\u200bzero\"\n", &rc);
	CHECK(rc == CD_OK);
	CHECK_STR(s, "{\"name\":\"mychart\",\"version\":\"1.0.0\",\"description\":\"tab herezero\","
	             "\"apiVersion\":\"v1\"}");
	free(s);
}

TEST(chart_yaml_alias_bomb_is_rejected)
{
	static const char bomb[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"name: x\nversion: 1.0.0\n";
	cd_rc rc;
	char *s = parse_json(bomb, &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "too many aliases") != NULL);
	free(s);
}

TEST(chart_yaml_small_aliases_are_fine)
{
	cd_rc rc;
	char *s = parse_json("name: &n mychart\nversion: 1.0.0\nkeywords: [*n, *n]\n", &rc);
	CHECK(rc == CD_OK);
	CHECK_STR(s, "{\"name\":\"mychart\",\"version\":\"1.0.0\",\"keywords\":[\"mychart\",\"mychart\"],"
	             "\"apiVersion\":\"v1\"}");
	free(s);
}

TEST(chart_yaml_deep_nesting_is_rejected)
{
	char yaml[400] = "x: ";
	for (int i = 0; i < 100; i++)
		strcat(yaml, "[");
	for (int i = 0; i < 100; i++)
		strcat(yaml, "]");
	strcat(yaml, "\n");
	cd_rc rc;
	char *s = parse_json(yaml, &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "too deep") != NULL);
	free(s);
}

TEST(chart_yaml_recursive_alias_is_rejected)
{
	cd_rc rc;
	char *s = parse_json("a: &a [*a]\n", &rc);
	CHECK(rc == CD_EINVAL);
	free(s);
}

TEST(chart_yaml_invalid_utf8_is_rejected)
{
	cd_rc rc;
	char *s = parse_json("name: caf\xe9\nversion: 1.0.0\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "UTF-8") != NULL);
	free(s);
}

TEST(chart_yaml_syntax_error_gives_line)
{
	cd_rc rc;
	char *s = parse_json("name: a\nversion: [1\n", &rc);
	CHECK(rc == CD_EINVAL);
	CHECK(strstr(s, "line") != NULL);
	free(s);
}

/* Parses and validates yaml; the message is left in err. */
static cd_rc validate_yaml(const char *yaml, cd_err *err)
{
	json_t *meta = NULL;
	cd_rc rc = chart_parse_yaml(yaml, strlen(yaml), &meta, err);
	if (rc == CD_OK)
		rc = chart_validate_meta(meta, err);
	json_decref(meta);
	return rc;
}

TEST(chart_validate_rejects_what_helm_rejects)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "version: 1.0.0\n", "chart.metadata.name is required" },
		{ "name: a/b\nversion: 1.0.0\n", "chart.metadata.name \"a/b\" is invalid" },
		{ "name: a\\b\nversion: 1.0.0\n", "chart.metadata.name \"a\\b\" is invalid" },
		{ "name: ..\nversion: 1.0.0\n", "chart.metadata.name \"..\" is invalid" },
		{ "name: .\nversion: 1.0.0\n", "chart.metadata.name \".\" is invalid" },
		{ "name: a\n", "chart.metadata.version is required" },
		{ "name: a\nversion: 1.2.3.4\n", "chart.metadata.version \"1.2.3.4\" is invalid" },
		{ "name: a\nversion: 1.0.0\ntype: weird\n", "type must be application or library" },
		{ "name: a\nversion: 1.0.0\nmaintainers: [~]\n", "maintainers must not contain empty" },
		{ "name: a\nversion: 1.0.0\ndependencies: [~]\n", "dependencies must not contain empty" },
		{ "name: a\nversion: 1.0.0\ndependencies: [{version: 1}]\n",
		  "dependencies[0].name is required" },
		{ "name: a\nversion: 1.0.0\ndependencies: [{name: x, alias: \"a.b\"}]\n",
		  "dependency \"x\" has disallowed characters in the alias" },
		{ "name: a\nversion: 1.0.0\ndependencies: [{name: x}, {name: y, alias: x}]\n",
		  "more than one dependency with name or alias \"x\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cd_err err = { "" };
		cd_rc rc = validate_yaml(cases[i].yaml, &err);
		if (rc != CD_EINVAL || strstr(err.msg, cases[i].want) == NULL) {
			char m[600];
			snprintf(m, sizeof m, "case %zu: got %s \"%s\", want \"%s\"", i, cd_rc_name(rc),
			         err.msg, cases[i].want);
			unit_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(chart_validate_accepts_library_and_aliases)
{
	cd_err err = { "" };
	CHECK(validate_yaml("name: a\nversion: v1.0.0-rc.1+b\ntype: library\n"
	                    "dependencies: [{name: x, alias: x_1-b}, {name: x}]\n", &err) == CD_OK);
}

TEST(chart_not_gzip_is_rejected)
{
	const struct ent e[] = { { "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 } };
	EXPECT_INVALID(build(e, 1, false), "not a gzip'd tar archive");
	struct tgz text = { (unsigned char *)strdup("hello, world"), 12, 13 };
	EXPECT_INVALID(text, "not a gzip'd tar archive");
}

TEST(chart_empty_upload_is_rejected)
{
	struct tgz t = { NULL, 0, 0 };
	EXPECT_INVALID(t, "chart file is empty");
}

TEST(chart_gzip_of_non_tar_is_rejected)
{
	/* gzip of "hello\n" */
	static const unsigned char gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48,
		0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00,
		0x00, 0x00,
	};
	struct tgz t = { malloc(sizeof gz), sizeof gz, sizeof gz };
	memcpy(t.buf, gz, sizeof gz);
	EXPECT_INVALID(t, "not a gzip'd tar archive");
}

/* Fills buf with incompressible letters. */
static void fill_noise(char *buf, size_t n)
{
	uint32_t x = 2463534242u;
	for (size_t i = 0; i + 1 < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (char)('a' + x % 26);
	}
	buf[n - 1] = '\0';
}

TEST(chart_truncated_gzip_is_rejected)
{
	static char big[200000];
	fill_noise(big, sizeof big);
	struct tgz t = BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/big.txt", big, ENT_FILE, NULL, 0 });
	struct tgz head = { malloc(100), 100, 100 };
	memcpy(head.buf, t.buf, 100);
	EXPECT_INVALID(head, "truncated");
	t.len = t.len * 3 / 4;
	EXPECT_INVALID(t, "chart archive is truncated or corrupt");
}

TEST(chart_archive_without_entries_is_rejected)
{
	struct tgz t = build(NULL, 0, true);
	EXPECT_INVALID(t, "chart archive is empty");
}

TEST(chart_with_dotdot_entry_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/../x", "x", ENT_FILE, NULL, 0 }),
	               "archive entry \"mychart/../x\" escapes the chart directory");
	EXPECT_INVALID(BUILD({ "../x", "x", ENT_FILE, NULL, 0 }),
	               "archive entry \"../x\" escapes the chart directory");
}

TEST(chart_with_absolute_path_is_rejected)
{
	EXPECT_INVALID(BUILD({ "/mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }),
	               "is an absolute path");
}

TEST(chart_with_symlink_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/passwd", NULL, ENT_SYMLINK, "/etc/passwd", 0 }),
	               "archive entry \"mychart/passwd\" is a link");
}

TEST(chart_with_hardlink_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/again", NULL, ENT_HARDLINK, "mychart/Chart.yaml", 0 }),
	               "archive entry \"mychart/again\" is a link");
}

TEST(chart_with_chart_yaml_at_root_is_rejected)
{
	EXPECT_INVALID(BUILD({ "Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }),
	               "Chart.yaml is at the archive root");
}

TEST(chart_with_chart_yaml_two_levels_deep_is_missing)
{
	EXPECT_INVALID(BUILD({ "mychart/sub/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }),
	               "Chart.yaml file is missing");
}

TEST(chart_without_chart_yaml_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 }),
	               "Chart.yaml file is missing");
}

TEST(chart_with_two_top_directories_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "other/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 }),
	               "not under a single top directory");
}

TEST(chart_with_file_at_root_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "README", "hi", ENT_FILE, NULL, 0 }),
	               "archive entry \"README\" is outside the chart directory");
}

TEST(chart_with_oversize_file_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/big", NULL, ENT_FILE, NULL, CHART_MAX_FILE + 1 }),
	               "archive entry \"mychart/big\" is larger than 5 MiB");
}

TEST(chart_gzip_bomb_is_rejected_quickly)
{
	struct tgz t = BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/zeros", NULL, ENT_FILE, NULL, 200u << 20 });
	CHECK(t.len < 2u << 20);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	EXPECT_INVALID(t, "larger than 5 MiB");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(b.tv_sec - a.tv_sec < 2);
}

TEST(chart_over_100_mib_in_total_is_rejected)
{
	struct ent e[26] = { { "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 } };
	static char names[25][32];
	for (int i = 0; i < 25; i++) {
		snprintf(names[i], sizeof names[i], "mychart/part%02d", i);
		e[i + 1] = (struct ent){ names[i], NULL, ENT_FILE, NULL, 4u << 20 };
	}
	EXPECT_INVALID(build(e, 26, true), "chart is larger than 100 MiB decompressed");
}

TEST(chart_with_invalid_utf8_chart_yaml_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", "name: caf\xe9\nversion: 1.0.0\n", ENT_FILE,
	                       NULL, 0 }),
	               "UTF-8");
}

TEST(chart_with_weird_type_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", "name: a\nversion: 1.0.0\ntype: weird\n",
	                       ENT_FILE, NULL, 0 }),
	               "chart.metadata.type must be application or library");
}

TEST(chart_with_slash_in_name_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", "name: a/b\nversion: 1.0.0\n", ENT_FILE,
	                       NULL, 0 }),
	               "chart.metadata.name \"a/b\" is invalid");
}

TEST(chart_named_dotdot_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", "name: ..\nversion: 1.0.0\n", ENT_FILE,
	                       NULL, 0 }),
	               "chart.metadata.name \"..\" is invalid");
}

TEST(chart_with_four_part_version_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml", "name: a\nversion: 1.2.3.4\n", ENT_FILE,
	                       NULL, 0 }),
	               "chart.metadata.version \"1.2.3.4\" is invalid");
}

TEST(chart_with_alias_bomb_is_rejected)
{
	EXPECT_INVALID(BUILD({ "mychart/Chart.yaml",
	                       "a: &a [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x]\n"
	                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
	                       ENT_FILE, NULL, 0 }),
	               "Chart.yaml: too many aliases/too deep");
}

TEST(chart_v1_takes_dependencies_from_requirements_yaml)
{
	struct tgz t = BUILD({ "old/Chart.yaml", "name: old\nversion: 1.0.0\n", ENT_FILE, NULL, 0 },
	                     { "old/requirements.yaml",
	                       "dependencies:\n- name: mysql\n  version: 1.x\n"
	                       "  repository: https://example.com\n",
	                       ENT_FILE, NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	char *s = ci.meta ? json_dumps(ci.meta, JSON_COMPACT) : NULL;
	CHECK_STR(s, "{\"name\":\"old\",\"version\":\"1.0.0\",\"apiVersion\":\"v1\","
	             "\"dependencies\":[{\"name\":\"mysql\",\"version\":\"1.x\","
	             "\"repository\":\"https://example.com\"}]}");
	free(s);
	chart_info_free(&ci);
	free(t.buf);
}

TEST(chart_v2_ignores_requirements_yaml)
{
	struct tgz t = BUILD({ "new/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "new/requirements.yaml", "dependencies:\n- name: mysql\n", ENT_FILE,
	                       NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	CHECK(json_object_get(ci.meta, "dependencies") == NULL);
	chart_info_free(&ci);
	free(t.buf);
}

TEST(chart_with_dot_slash_prefix_reads)
{
	struct tgz t = BUILD({ "./mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	chart_info_free(&ci);
	free(t.buf);
}

/* Collects the paths chart_each_file reports, stopping after max. */
struct seen {
	char paths[512];
	int n, max;
};

/* chart_file_fn that records "path:len;" and stops after s->max files. */
static int collect(const char *path, const void *data, size_t len, void *ctx)
{
	struct seen *s = ctx;
	(void)data;
	snprintf(s->paths + strlen(s->paths), sizeof s->paths - strlen(s->paths), "%s:%zu;",
	         path, len);
	return ++s->n >= s->max;
}

TEST(chart_each_file_reports_paths_below_the_top_directory)
{
	struct tgz t = BUILD({ "mychart/", NULL, ENT_DIR, NULL, 0 },
	                     { "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/templates/", NULL, ENT_DIR, NULL, 0 },
	                     { "mychart/templates/x.yaml", "kind: A\n", ENT_FILE, NULL, 0 });
	struct seen s = { "", 0, 100 };
	cd_err err = { "" };
	CHECK(chart_each_file(t.buf, t.len, collect, &s, &err) == CD_OK);
	CHECK_STR(s.paths, "Chart.yaml:44;templates/x.yaml:8;");
	free(t.buf);
}

TEST(chart_each_file_stops_when_asked)
{
	struct tgz t = BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/a", "1", ENT_FILE, NULL, 0 },
	                     { "mychart/b", "2", ENT_FILE, NULL, 0 });
	struct seen s = { "", 0, 2 };
	cd_err err = { "" };
	CHECK(chart_each_file(t.buf, t.len, collect, &s, &err) == CD_OK);
	CHECK_STR(s.paths, "Chart.yaml:44;a:1;");
	free(t.buf);
}

TEST(chart_each_file_applies_the_archive_limits)
{
	struct tgz t = BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/l", NULL, ENT_SYMLINK, "/etc/passwd", 0 });
	struct seen s = { "", 0, 100 };
	cd_err err = { "" };
	CHECK(chart_each_file(t.buf, t.len, collect, &s, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "is a link") != NULL);
	free(t.buf);
}

TEST(chart_filename_is_name_dash_version_tgz)
{
	char *f = chart_filename("mychart", "1.2.3-rc.1");
	CHECK_STR(f, "mychart-1.2.3-rc.1.tgz");
	free(f);
}

/* ---- chart_read_meta: the indexer's read ---------------------------- */

/* chart_read and chart_read_meta on t give the same answer: the same
 * metadata, or the same error.  Frees t. */
static void expect_same_read(struct tgz t, int line)
{
	struct chart_info full, fast;
	cd_err ef = { "" }, em = { "" };
	cd_rc rf = chart_read(t.buf, t.len, &full, &ef);
	cd_rc rm = chart_read_meta(t.buf, t.len, &fast, &em);
	char *jf = rf == CD_OK ? json_dumps(full.meta, JSON_COMPACT) : strdup(ef.msg);
	char *jm = rm == CD_OK ? json_dumps(fast.meta, JSON_COMPACT) : strdup(em.msg);
	if (rf != rm || strcmp(jf, jm) != 0 ||
	    (rf == CD_OK && (strcmp(full.name, fast.name) != 0 ||
	                     strcmp(full.version, fast.version) != 0))) {
		char m[1200];
		snprintf(m, sizeof m, "chart_read %s \"%.400s\", chart_read_meta %s \"%.400s\"",
		         cd_rc_name(rf), jf, cd_rc_name(rm), jm);
		unit_fail(__FILE__, line, m);
	}
	if (rf == CD_OK)
		chart_info_free(&full);
	if (rm == CD_OK)
		chart_info_free(&fast);
	free(jf);
	free(jm);
	free(t.buf);
}

#define EXPECT_SAME_READ(t) expect_same_read((t), __LINE__)

/* What gencorpus (and helm create) put in a Chart.yaml: the fast YAML
 * reader's subset. */
static const char helm_style_yaml[] =
	"apiVersion: v2\n"
	"name: mychart\n"
	"description: A Helm chart for Kubernetes\n"
	"type: application\n"
	"version: 1.0.4\n"
	"appVersion: \"8.3.8\"\n"
	"kubeVersion: \">=1.21.0-0\"\n"
	"keywords:\n"
	"  - vault\n"
	"  - cache\n"
	"home: https://mychart.example.org\n"
	"maintainers:\n"
	"  - name: Gustavo Reyes\n"
	"    email: gustavo@example.org\n"
	"    url: https://example.org/~gustavo\n"
	"  - name: 'Ivan ''the'' Petrov'\n"
	"# a comment\n"
	"annotations:\n"
	"  artifacthub.io/license: MIT\n"
	"  artifacthub.io/changes: |\n"
	"    - kind: changed\n"
	"      description: Bump auth to 5.0\n"
	"\n"
	"    - kind: fixed   # not a comment\n"
	"dependencies:\n"
	"- name: common\n"
	"  version: 2.x.x\n"
	"  repository: https://charts.example.org/common\n"
	"  tags:\n"
	"    - example-common\n"
	"  condition: common.enabled  # a comment\n";

TEST(chart_read_meta_reads_what_chart_read_reads)
{
	static char big[200000];
	fill_noise(big, sizeof big);
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 },
	                       { "mychart/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 },
	                       { "mychart/big.txt", big, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", full_yaml, ENT_FILE, NULL, 0 }));
	/* Layouts the fast path leaves to chart_read. */
	EXPECT_SAME_READ(BUILD({ "mychart/", NULL, ENT_DIR, NULL, 0 },
	                       { "mychart/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 },
	                       { "mychart/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "other/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "./mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml",
	                         "apiVersion: v2\nname: mychart\nversion: 1.0.0\n"
	                         "description: Ünïcödé ☃\n", ENT_FILE, NULL, 0 }));
}

TEST(chart_read_meta_reads_v1_requirements_like_chart_read)
{
	EXPECT_SAME_READ(BUILD({ "old/Chart.yaml", "name: old\nversion: 1.0.0\n", ENT_FILE, NULL, 0 },
	                       { "old/requirements.yaml",
	                         "dependencies:\n- name: mysql\n  version: 1.x\n"
	                         "  repository: https://example.com\n",
	                         ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "old/Chart.yaml", "apiVersion: v1\nname: old\nversion: 1.0.0\n",
	                         ENT_FILE, NULL, 0 },
	                       { "old/requirements.yaml", "dependencies:\n- name: mysql\n",
	                         ENT_FILE, NULL, 0 }));
}

TEST(chart_read_meta_rejects_what_chart_read_rejects)
{
	struct tgz garbage = { (unsigned char *)strdup("not a chart at all\n"), 19, 20 };
	EXPECT_SAME_READ(garbage);
	struct tgz empty = { malloc(1), 0, 1 };
	EXPECT_SAME_READ(empty);
	struct tgz t = BUILD({ "mychart/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 });
	t.len = 60; /* ends inside Chart.yaml */
	EXPECT_SAME_READ(t);
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", "name: [\n", ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 1.0.0.0\n",
	                         ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", "apiVersion: v2\nname: my/chart\nversion: 1.0.0\n",
	                         ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 1.0.0\n"
	                         "type: weird\n", ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/values.yaml", "a: 1\n", ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "/mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "../mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", NULL, ENT_SYMLINK, "/etc/passwd", 0 }));
	EXPECT_SAME_READ(BUILD({ "mychart/Chart.yaml", NULL, ENT_FILE, NULL, (6L << 20) }));
	EXPECT_SAME_READ(build((const struct ent[]){ { "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 } },
	                       1, false)); /* a tar, not gzip'd */
}

/* The documented difference: past the first Chart.yaml of a helm-style
 * archive nothing is read. */
TEST(chart_read_meta_does_not_read_past_chart_yaml)
{
	static char big[200000];
	fill_noise(big, sizeof big);
	struct tgz t = BUILD({ "mychart/Chart.yaml", minimal_yaml, ENT_FILE, NULL, 0 },
	                     { "mychart/big.txt", big, ENT_FILE, NULL, 0 },
	                     { "mychart/l", NULL, ENT_SYMLINK, "/etc/passwd", 0 },
	                     { "mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 9.9.9\n",
	                       ENT_FILE, NULL, 0 });
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_EINVAL);
	CHECK(chart_read_meta(t.buf, t.len, &ci, &err) == CD_OK);
	CHECK_STR(ci.version, "0.1.0");
	chart_info_free(&ci);
	t.len = t.len / 2; /* cut inside big.txt */
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_EINVAL);
	CHECK(chart_read_meta(t.buf, t.len, &ci, &err) == CD_OK);
	chart_info_free(&ci);
	free(t.buf);
}

/* t's gzip header rewritten as helm package writes it: FEXTRA and a
 * comment ("Helm"), which the fast path must skip. */
static struct tgz helm_gzip_header(struct tgz t)
{
	static const unsigned char hdr[] = { 0x1f, 0x8b, 8, 4 | 16, 0, 0, 0, 0, 0, 255,
	                                     6, 0, 'a', 'b', 2, 0, 'x', 'y', 'H', 'e', 'l', 'm', 0 };
	struct tgz out = { malloc(t.len + sizeof hdr), 0, t.len + sizeof hdr };
	CHECK(t.len > 10 && t.buf[3] == 0); /* libarchive's plain 10-byte header */
	memcpy(out.buf, hdr, sizeof hdr);
	memcpy(out.buf + sizeof hdr, t.buf + 10, t.len - 10);
	out.len = sizeof hdr + t.len - 10;
	free(t.buf);
	return out;
}

TEST(chart_read_meta_skips_helm_gzip_header_fields)
{
	static char big[200000];
	fill_noise(big, sizeof big);
	struct tgz t = helm_gzip_header(BUILD({ "mychart/Chart.yaml", helm_style_yaml, ENT_FILE, NULL, 0 },
	                                      { "mychart/big.txt", big, ENT_FILE, NULL, 0 }));
	struct chart_info ci;
	cd_err err = { "" };
	CHECK(chart_read(t.buf, t.len, &ci, &err) == CD_OK);
	chart_info_free(&ci);
	t.len = t.len / 2; /* only the fast path can read it now */
	CHECK(chart_read_meta(t.buf, t.len, &ci, &err) == CD_OK);
	CHECK_STR(ci.version, "1.0.4");
	chart_info_free(&ci);
	free(t.buf);
}

/* ---- the fast YAML reader against libyaml ---------------------------- */

/* Documents the fast reader must take, each with the tree libyaml builds. */
static const char *const fast_yaml_docs[] = {
	helm_style_yaml,
	minimal_yaml,
	"",
	"# only a comment\n\n",
	"a : b\nc:   d   \ne: f # g\nh: i#j\nk: l:m\n",
	"a:\nb:\n",
	"a: b\n  # c\nd: e\n",
	"a: |\n  x\n\n  y\n\n\nb: 1\n",
	"a: |-\n  x\n   y\n  \n",
	"a: |\n  x",
	"a: |\n    x\n  # c\nb: 1\n",
	"a: |\n  x\n    \n  y\n",
	"a: |\n  x\n      ",
	"a:\n- x\n- y: 1\n  z: 2\nb: c\n",
	"a:\n  - x\n  -  y: 1\n     z:\n  - \"q\"\n",
	"a: 'it''s'\nb: \"\"\nc: ''\n",
	"a: []\nb: {}  # c\n",
	"a:\n  b:\n    c:\n      d: 1\n  e: 2\n",
	"x:\n  - a: 1\n    b:\n      - c\n      - d\n    e: |\n      lit\n  - f\n",
	"a: #c\n  b: 1\n",
	"key with spaces: v w  x\n",
	"a: b\n\n\n   \n",
};

/* Documents it must leave to libyaml (or that libyaml rejects). */
static const char *const slow_yaml_docs[] = {
	"a: b\n---\nc: d\n", "a: b\n...\n", "a: [ ]\n", "a: \"x\"y\n", "a: -1\n", "a: b\n c: d\n",
	"a:\n  b: 1\n c: 2\n", "a: b: c\n", "- a\n- b\n", "a\n", "a:\n-\n", "\"a\": b\n",
	"a: |\n\n  x\n", "a: |\nb: 1\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a:\tb\n",
	"a: b\r\n", "a: >\n  x\n", "a: |+\n  x\n", "a: \"x\\ny\"\n", "a: \"x\n  y\"\n",
	"a: b\n  c\n", "? a\n: b\n", "%YAML 1.1\n---\na: b\n", "a: é\n", full_yaml,
};

TEST(chart_yaml_fast_reader_builds_libyaml_s_tree)
{
	for (size_t i = 0; i < sizeof fast_yaml_docs / sizeof fast_yaml_docs[0]; i++) {
		int r = chart_yaml_fast_agrees(fast_yaml_docs[i], strlen(fast_yaml_docs[i]));
		if (r != 1) {
			char m[200];
			snprintf(m, sizeof m, "fast_yaml_docs[%zu]: %d, want 1", i, r);
			unit_fail(__FILE__, __LINE__, m);
		}
	}
	for (size_t i = 0; i < sizeof slow_yaml_docs / sizeof slow_yaml_docs[0]; i++) {
		int r = chart_yaml_fast_agrees(slow_yaml_docs[i], strlen(slow_yaml_docs[i]));
		if (r != 0) {
			char m[200];
			snprintf(m, sizeof m, "slow_yaml_docs[%zu]: %d, want 0", i, r);
			unit_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(chart_yaml_fast_reader_agrees_with_libyaml_on_mutations)
{
	/* Every one-byte change of the helm-style Chart.yaml: the fast reader
	 * takes it with libyaml's tree, or leaves it to libyaml. */
	static const char alphabet[] = " \n:-#'\"|[]{}a0";
	size_t n = strlen(helm_style_yaml);
	char *m = malloc(n + 2);
	int differ = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof alphabet - 1; k++) {
			memcpy(m, helm_style_yaml, n); /* replace byte i */
			m[i] = alphabet[k];
			differ += chart_yaml_fast_agrees(m, n) < 0;
			memcpy(m, helm_style_yaml, i); /* insert before byte i */
			m[i] = alphabet[k];
			memcpy(m + i + 1, helm_style_yaml + i, n - i);
			differ += chart_yaml_fast_agrees(m, n + 1) < 0;
		}
		memcpy(m, helm_style_yaml, i); /* delete byte i */
		memcpy(m + i, helm_style_yaml + i + 1, n - i - 1);
		differ += chart_yaml_fast_agrees(m, n - 1) < 0;
	}
	CHECK(differ == 0);
	free(m);
}
