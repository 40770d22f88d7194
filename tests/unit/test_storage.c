/* test_storage.c — validated paths and atomic writes in the storage root. */
#include "unit.h"
#include "storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh empty directory under /tmp (the caller removes it with rm_tree). */
static char *make_root(void)
{
	char tmpl[] = "/tmp/cd-storage-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static void rm_tree(char *root)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		perror("rm");
	free(root);
}

/* Reads <root>/<rel> into a small static buffer ("" when absent). */
static const char *slurp(const char *root, const char *rel)
{
	static char text[256];
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	text[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	return text;
}

/* Counts directory entries whose names start with the temp prefix. */
static int count_tmp(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strncmp(de->d_name, STORAGE_TMP_PREFIX, strlen(STORAGE_TMP_PREFIX)) == 0;
	if (d)
		closedir(d);
	return n;
}

TEST(storage_create_only_twice_gives_eexist_and_keeps_the_first)
{
	char *root = make_root();
	cd_err err;
	struct storage_stat st = { 0 };
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "one", 3, false, &st, &err) == CD_OK);
	CHECK(st.size == 3 && st.ino != 0 && st.mtime_ns > 0);
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "two", 3, false, NULL, &err) == CD_EEXIST);
	CHECK_STR(err.msg, "file already exists");
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "one");
	CHECK(count_tmp(root) == 0);
	rm_tree(root);
}

TEST(storage_overwrite_replaces_the_file)
{
	char *root = make_root();
	cd_err err;
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "one", 3, true, NULL, &err) == CD_OK);
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "second", 6, true, NULL, &err) == CD_OK);
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "second");
	CHECK(count_tmp(root) == 0);
	rm_tree(root);
}

/* Counts the entries of dir other than "." and "..". */
static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	if (d)
		closedir(d);
	return n;
}

static int count_entries_in(const char *root, const char *sub)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, sub);
	return count_entries(path);
}

TEST(storage_staged_file_is_invisible_until_published_and_gone_when_discarded)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	CHECK(storage_stage(root, "", "a-1.0.0.tgz", "one", 3, &s, &err) == CD_OK);
	CHECK(s.st.size == 3 && s.st.ino != 0);
	CHECK(count_entries(root) == 0);
	CHECK(!storage_exists(root, "", "a-1.0.0.tgz", NULL));
	storage_discard(&s);
	CHECK(count_entries(root) == 0);
	rm_tree(root);
}

TEST(storage_publish_keeps_the_staged_identity)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	struct storage_stat st;
	CHECK(storage_stage(root, "t", "a-1.0.0.tgz", "one", 3, &s, &err) == CD_OK);
	CHECK(storage_publish(&s, "a-1.0.0.tgz", false, &err) == CD_OK);
	storage_discard(&s);
	CHECK(storage_exists(root, "t", "a-1.0.0.tgz", &st));
	CHECK(st.ino == s.st.ino && st.size == s.st.size && st.mtime_ns == s.st.mtime_ns);
	CHECK_STR(slurp(root, "t/a-1.0.0.tgz"), "one");
	rm_tree(root);
}

/* Also storage_create's refusal: both name the file through one link. */
TEST(storage_publish_create_only_refuses_an_existing_file_and_overwrite_replaces_it)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	struct storage_stat st;
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "one", 3, false, NULL, &err) == CD_OK);
	CHECK(storage_stage(root, "", "a-1.0.0.tgz", "two!", 4, &s, &err) == CD_OK);
	CHECK(storage_publish(&s, "a-1.0.0.tgz", false, &err) == CD_EEXIST);
	CHECK(storage_create(&s, "a-1.0.0.tgz", &err) == CD_EEXIST);
	CHECK(s.replaced == STAGED_UNPUBLISHED);
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "one");
	CHECK(count_entries(root) == 1);
	CHECK(storage_publish(&s, "a-1.0.0.tgz", true, &err) == CD_OK);
	storage_discard(&s);
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "two!");
	CHECK(storage_exists(root, "", "a-1.0.0.tgz", &st) && st.ino == s.st.ino);
	CHECK(count_entries(root) == 1);
	rm_tree(root);
}

TEST(storage_create_names_the_file_and_unpublish_takes_its_own_back)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	struct storage_stat st;
	CHECK(storage_stage(root, "", "b-1.0.0.tgz", "two!", 4, &s, &err) == CD_OK);
	CHECK(storage_create(&s, "b-1.0.0.tgz", &err) == CD_OK);
	CHECK(s.replaced == STAGED_CREATED);
	CHECK(storage_exists(root, "", "b-1.0.0.tgz", &st) && st.ino == s.st.ino);
	CHECK(storage_unpublish(&s, "b-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&s);
	CHECK(!storage_exists(root, "", "b-1.0.0.tgz", NULL));

	/* Kept: after a sync and discard the file stays, with the staged identity. */
	CHECK(storage_stage(root, "", "b-1.0.0.tgz", "three", 5, &s, &err) == CD_OK);
	CHECK(storage_create(&s, "b-1.0.0.tgz", &err) == CD_OK);
	CHECK(storage_sync(&s, &err) == CD_OK);
	storage_discard(&s);
	CHECK_STR(slurp(root, "b-1.0.0.tgz"), "three");
	CHECK(storage_exists(root, "", "b-1.0.0.tgz", &st) && st.ino == s.st.ino);
	CHECK(count_entries(root) == 1);
	rm_tree(root);
}

TEST(storage_replace_keeps_the_old_file_until_discard_and_unpublish_restores_it)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	struct storage_stat old, st;
	CHECK(storage_write(root, "r", "a-1.0.0.tgz", "one", 3, false, &old, &err) == CD_OK);
	CHECK(storage_stage(root, "r", "a-1.0.0.tgz", "two!", 4, &s, &err) == CD_OK);
	CHECK(storage_replace(&s, "a-1.0.0.tgz", &err) == CD_OK);
	CHECK(s.replaced == STAGED_KEPT_OLD);
	CHECK_STR(slurp(root, "r/a-1.0.0.tgz"), "two!");
	CHECK(storage_exists(root, "r", "a-1.0.0.tgz", &st) && st.ino == s.st.ino);
	CHECK(storage_unpublish(&s, "a-1.0.0.tgz", &err) == CD_OK);
	CHECK_STR(slurp(root, "r/a-1.0.0.tgz"), "one");
	CHECK(storage_exists(root, "r", "a-1.0.0.tgz", &st) && st.ino == old.ino &&
	      st.mtime_ns == old.mtime_ns);
	storage_discard(&s);
	CHECK(count_entries_in(root, "r") == 1);

	/* Kept: discard drops the old file, the new one stays. */
	CHECK(storage_stage(root, "r", "a-1.0.0.tgz", "three", 5, &s, &err) == CD_OK);
	CHECK(storage_replace(&s, "a-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&s);
	CHECK_STR(slurp(root, "r/a-1.0.0.tgz"), "three");
	CHECK(count_entries_in(root, "r") == 1);
	rm_tree(root);
}

TEST(storage_replace_of_a_missing_file_creates_it_and_unpublish_removes_only_its_own)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged s;
	CHECK(storage_stage(root, "", "a-1.0.0.tgz", "one", 3, &s, &err) == CD_OK);
	CHECK(storage_replace(&s, "a-1.0.0.tgz", &err) == CD_OK);
	CHECK(s.replaced == STAGED_CREATED);
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "one");
	CHECK(storage_unpublish(&s, "a-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&s);
	CHECK(!storage_exists(root, "", "a-1.0.0.tgz", NULL));
	CHECK(count_entries(root) == 0);

	/* Someone else's file under the name meanwhile: it stays. */
	CHECK(storage_stage(root, "", "a-1.0.0.tgz", "one", 3, &s, &err) == CD_OK);
	CHECK(storage_replace(&s, "a-1.0.0.tgz", &err) == CD_OK);
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "theirs", 6, true, NULL, &err) == CD_OK);
	CHECK(storage_unpublish(&s, "a-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&s);
	CHECK_STR(slurp(root, "a-1.0.0.tgz"), "theirs");
	CHECK(count_entries(root) == 1);
	rm_tree(root);
}

TEST(storage_set_aside_hides_the_file_put_back_restores_it_discard_deletes_it)
{
	char *root = make_root();
	cd_err err;
	struct storage_staged a;
	struct storage_stat old, st;
	CHECK(storage_write(root, "r", "a-1.0.0.tgz", "one", 3, false, &old, &err) == CD_OK);
	CHECK(storage_set_aside(root, "r", "a-1.0.0.tgz", &a, &err) == CD_OK);
	CHECK(!storage_exists(root, "r", "a-1.0.0.tgz", NULL));
	CHECK(storage_put_back(&a, "a-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&a);
	CHECK(storage_exists(root, "r", "a-1.0.0.tgz", &st) && st.ino == old.ino);
	CHECK(count_entries_in(root, "r") == 1);

	CHECK(storage_set_aside(root, "r", "a-1.0.0.tgz", &a, &err) == CD_OK);
	storage_discard(&a);
	CHECK(count_entries_in(root, "r") == 0);

	/* Absent, or a path trick: nothing happens. */
	CHECK(storage_set_aside(root, "r", "a-1.0.0.tgz", &a, &err) == CD_ENOTFOUND);
	storage_discard(&a);
	CHECK(storage_set_aside(root, "", "../x.tgz", &a, &err) == CD_EINVAL);
	storage_discard(&a);

	/* A new file took the name before the put-back: it stays. */
	CHECK(storage_write(root, "r", "b-1.0.0.tgz", "old", 3, false, NULL, &err) == CD_OK);
	CHECK(storage_set_aside(root, "r", "b-1.0.0.tgz", &a, &err) == CD_OK);
	CHECK(storage_write(root, "r", "b-1.0.0.tgz", "new", 3, false, NULL, &err) == CD_OK);
	CHECK(storage_put_back(&a, "b-1.0.0.tgz", &err) == CD_OK);
	storage_discard(&a);
	CHECK_STR(slurp(root, "r/b-1.0.0.tgz"), "new");
	CHECK(count_entries_in(root, "r") == 1);
	rm_tree(root);
}

TEST(storage_write_creates_nested_repo_directories)
{
	char *root = make_root();
	cd_err err;
	struct storage_stat st;
	CHECK(storage_write(root, "org/team", "a-1.0.0.tgz", "x", 1, false, NULL, &err) == CD_OK);
	CHECK_STR(slurp(root, "org/team/a-1.0.0.tgz"), "x");
	CHECK(storage_exists(root, "org/team", "a-1.0.0.tgz", &st) && st.size == 1);
	CHECK(!storage_exists(root, "org", "a-1.0.0.tgz", NULL));
	rm_tree(root);
}

TEST(storage_rejects_names_that_could_escape_or_hide)
{
	CHECK(storage_repo_valid("", 0));
	CHECK(storage_repo_valid("team", 1));
	CHECK(storage_repo_valid("org/team-2.x_y", 2));
	CHECK(!storage_repo_valid("", 1));
	CHECK(!storage_repo_valid("team", 0));
	CHECK(!storage_repo_valid("org/team", 1));
	CHECK(!storage_repo_valid("..", 1));
	CHECK(!storage_repo_valid(".", 1));
	CHECK(!storage_repo_valid("a/../b", 3));
	CHECK(!storage_repo_valid(".hidden", 1));
	CHECK(!storage_repo_valid("a b", 1));
	CHECK(!storage_repo_valid("a//b", 2));
	CHECK(!storage_repo_valid("a/", 1));
	CHECK(!storage_repo_valid("/a", 1));
	CHECK(!storage_repo_valid("a@b", 1));
	CHECK(storage_filename_valid("my-chart_1.0.0+build.1.tgz"));
	CHECK(storage_filename_valid("a-1.0.0.tgz.prov"));
	CHECK(!storage_filename_valid(""));
	CHECK(!storage_filename_valid(".."));
	CHECK(!storage_filename_valid(".hidden.tgz"));
	CHECK(!storage_filename_valid("a/../b.tgz"));
	CHECK(!storage_filename_valid("a b.tgz"));
	CHECK(!storage_filename_valid(STORAGE_TMP_PREFIX "x"));
}

TEST(storage_write_with_bad_names_fails_before_touching_disk)
{
	char *root = make_root();
	cd_err err;
	CHECK(storage_write(root, "..", "a.tgz", "x", 1, false, NULL, &err) == CD_EINVAL);
	CHECK(storage_write(root, "a/../b", "a.tgz", "x", 1, false, NULL, &err) == CD_EINVAL);
	CHECK(storage_write(root, "", "../a.tgz", "x", 1, false, NULL, &err) == CD_EINVAL);
	CHECK(storage_write(root, "", "", "x", 1, false, NULL, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, root) == NULL);
	CHECK(storage_path(root, "..", "a.tgz") == NULL);
	CHECK(storage_path(root, "", ".x") == NULL);
	rm_tree(root);
}

TEST(storage_does_not_follow_a_symlinked_repo_directory)
{
	char *root = make_root(), *outside = make_root();
	char link[600];
	cd_err err;
	snprintf(link, sizeof link, "%s/evil", root);
	CHECK(symlink(outside, link) == 0);
	CHECK(storage_write(root, "evil", "a-1.0.0.tgz", "x", 1, false, NULL, &err) != CD_OK);
	CHECK(strstr(err.msg, root) == NULL);
	CHECK(!storage_exists(root, "evil", "a-1.0.0.tgz", NULL));
	CHECK(slurp(outside, "a-1.0.0.tgz")[0] == '\0');
	rm_tree(root);
	rm_tree(outside);
}

TEST(storage_does_not_read_through_a_symlinked_file)
{
	char *root = make_root();
	char link[600];
	void *data = NULL;
	size_t len;
	cd_err err;
	snprintf(link, sizeof link, "%s/passwd.tgz", root);
	CHECK(symlink("/etc/passwd", link) == 0);
	CHECK(storage_read(root, "", "passwd.tgz", 1 << 20, &data, &len, NULL, &err) == CD_ENOTFOUND);
	CHECK(!storage_exists(root, "", "passwd.tgz", NULL));
	rm_tree(root);
}

TEST(storage_read_returns_the_bytes_and_caps_the_size)
{
	char *root = make_root();
	void *data = NULL;
	size_t len = 0;
	struct storage_stat st;
	cd_err err;
	CHECK(storage_write(root, "r", "a-1.0.0.tgz", "hello", 5, false, NULL, &err) == CD_OK);
	CHECK(storage_read(root, "r", "a-1.0.0.tgz", 5, &data, &len, &st, &err) == CD_OK);
	CHECK(len == 5 && st.size == 5 && memcmp(data, "hello", 5) == 0);
	free(data);
	CHECK(storage_read(root, "r", "a-1.0.0.tgz", 4, &data, &len, NULL, &err) == CD_ETOOBIG);
	CHECK(storage_read(root, "r", "b-1.0.0.tgz", 4, &data, &len, NULL, &err) == CD_ENOTFOUND);
	CHECK(storage_read(root, "nope", "b-1.0.0.tgz", 4, &data, &len, NULL, &err) == CD_ENOTFOUND);
	rm_tree(root);
}

TEST(storage_remove_deletes_once_then_reports_not_found)
{
	char *root = make_root();
	cd_err err;
	CHECK(storage_write(root, "", "a-1.0.0.tgz", "x", 1, false, NULL, &err) == CD_OK);
	CHECK(storage_remove(root, "", "a-1.0.0.tgz", &err) == CD_OK);
	CHECK(!storage_exists(root, "", "a-1.0.0.tgz", NULL));
	CHECK(storage_remove(root, "", "a-1.0.0.tgz", &err) == CD_ENOTFOUND);
	CHECK(storage_remove(root, "gone", "a-1.0.0.tgz", &err) == CD_ENOTFOUND);
	rm_tree(root);
}

TEST(storage_counts_only_charts_and_provenance_files)
{
	char *root = make_root();
	char path[600];
	cd_err err;
	CHECK(storage_count_objects(root, "r") == 0);
	CHECK(storage_write(root, "r", "a-1.0.0.tgz", "x", 1, false, NULL, &err) == CD_OK);
	CHECK(storage_write(root, "r", "a-1.0.0.tgz.prov", "x", 1, false, NULL, &err) == CD_OK);
	CHECK(storage_write(root, "r", "notes.txt", "x", 1, false, NULL, &err) == CD_OK);
	snprintf(path, sizeof path, "%s/r/" STORAGE_TMP_PREFIX "abc.tgz", root);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	CHECK(storage_count_objects(root, "r") == 2);
	rm_tree(root);
}

TEST(storage_clean_tmp_removes_leftovers_to_the_repo_depth)
{
	char *root = make_root();
	char path[600], dir[600];
	cd_err err;
	CHECK(storage_write(root, "a/b", "keep-1.0.0.tgz", "x", 1, false, NULL, &err) == CD_OK);
	snprintf(path, sizeof path, "%s/" STORAGE_TMP_PREFIX "top", root);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof path, "%s/a/b/" STORAGE_TMP_PREFIX "deep", root);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	storage_clean_tmp(root, 2);
	CHECK(count_tmp(root) == 0);
	snprintf(dir, sizeof dir, "%s/a/b", root);
	CHECK(count_tmp(dir) == 0);
	CHECK_STR(slurp(root, "a/b/keep-1.0.0.tgz"), "x");
	rm_tree(root);
}

TEST(storage_path_joins_root_repo_and_file)
{
	char *p = storage_path("/srv", "", "a.tgz");
	CHECK_STR(p, "/srv/a.tgz");
	free(p);
	p = storage_path("/srv", "org/team", "a.tgz");
	CHECK_STR(p, "/srv/org/team/a.tgz");
	free(p);
	p = storage_path("/srv", "org", NULL);
	CHECK_STR(p, "/srv/org");
	free(p);
}

TEST(storage_racing_create_only_writers_have_exactly_one_winner)
{
	char *root = make_root();
	int winners = 0, conflicts = 0;
	for (int i = 0; i < 8; i++) {
		if (fork() == 0) {
			cd_err err;
			char data[32];
			snprintf(data, sizeof data, "writer-%d", i);
			cd_rc rc = storage_write(root, "r", "a-1.0.0.tgz", data, strlen(data),
			                         false, NULL, &err);
			_exit(rc == CD_OK ? 0 : rc == CD_EEXIST ? 1 : 2);
		}
	}
	for (int i = 0; i < 8; i++) {
		int status = 0;
		wait(&status);
		winners += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		conflicts += WIFEXITED(status) && WEXITSTATUS(status) == 1;
	}
	CHECK(winners == 1);
	CHECK(conflicts == 7);
	CHECK(strncmp(slurp(root, "r/a-1.0.0.tgz"), "writer-", 7) == 0);
	char dir[600];
	snprintf(dir, sizeof dir, "%s/r", root);
	CHECK(count_tmp(dir) == 0);
	rm_tree(root);
}
