/* test_auth.c — Basic credentials, htpasswd hashes and the verified cache. */
#include "unit.h"
#include "auth.h"

#include <crypt.h>
#include <stdlib.h>
#include <unistd.h>

/* "Basic " + base64(s), in a static buffer. */
static const char *basic(const char *s)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char out[512];
	size_t len = strlen(s), o = 0;
	strcpy(out, "Basic ");
	o = 6;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < len)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)s[i + 2];
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < len ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* A crypt(3) hash of pass made with the given method prefix. */
static char *make_hash(const char *prefix, unsigned long cost, const char *pass)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof cd);
	if (crypt_gensalt_rn(prefix, cost, NULL, 0, salt, sizeof salt) == NULL)
		return NULL;
	const char *h = crypt_rn(pass, salt, &cd, sizeof cd);
	return h ? strdup(h) : NULL;
}

/* Writes text to a fresh temp file; returns its path (malloc'd). */
static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/cd-test-htpasswd-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return path;
	if (write(fd, text, strlen(text)) < 0)
		path[0] = '\0';
	close(fd);
	return path;
}

TEST(auth_parse_basic_good)
{
	char u[64], p[64];
	CHECK(auth_parse_basic(basic("alice:s3cret"), u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(u, "alice");
	CHECK_STR(p, "s3cret");
	/* The password may hold colons; only the first one splits. */
	CHECK(auth_parse_basic(basic("bob:a:b:c"), u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(u, "bob");
	CHECK_STR(p, "a:b:c");
	/* Empty password, one and two padding characters, scheme case. */
	CHECK(auth_parse_basic(basic("u:"), u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(p, "");
	CHECK(auth_parse_basic("basic dTpwcA==", u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(p, "pp");
	CHECK(auth_parse_basic("BASIC dTpwcHA=", u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(p, "ppp");
	/* Unpadded base64 is accepted too. */
	CHECK(auth_parse_basic("Basic dTpwcA", u, sizeof u, p, sizeof p) == CD_OK);
	CHECK_STR(p, "pp");
}

TEST(auth_parse_basic_rejects_bad_headers)
{
	char u[64], p[64];
	CHECK(auth_parse_basic(basic("nocolon"), u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Basic !!!!", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Basic dTpw=cA==", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Basic dTpwc", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Bearer x", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Basic", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("Basic ", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("BasicdTpwcA==", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic("", u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic(NULL, u, sizeof u, p, sizeof p) == CD_EINVAL);
	/* A NUL inside the decoded credentials ("u:\0x"). */
	CHECK(auth_parse_basic("Basic dToAeA==", u, sizeof u, p, sizeof p) == CD_EINVAL);
}

TEST(auth_parse_basic_rejects_fields_too_long)
{
	char u[4], p[64];
	CHECK(auth_parse_basic(basic("alice:pw"), u, sizeof u, p, sizeof p) == CD_EINVAL);
	CHECK(auth_parse_basic(basic("bob:pw"), u, sizeof u, p, sizeof p) == CD_OK);
	char p2[3];
	CHECK(auth_parse_basic(basic("bob:pwd"), u, sizeof u, p2, sizeof p2) == CD_EINVAL);
}

TEST(auth_no_users_means_disabled)
{
	struct auth *a = NULL;
	cd_err err;
	CHECK(auth_open(NULL, NULL, NULL, &a, &err) == CD_OK);
	CHECK(auth_disabled(a));
	CHECK(auth_check(a, NULL) == CD_OK);
	auth_close(a);
}

TEST(auth_single_basic_user)
{
	struct auth *a = NULL;
	cd_err err;
	CHECK(auth_open("u", "p", NULL, &a, &err) == CD_OK);
	CHECK(!auth_disabled(a));
	CHECK(auth_check(a, basic("u:p")) == CD_OK);
	CHECK(auth_check(a, basic("u:p")) == CD_OK); /* cached */
	CHECK(auth_check(a, basic("u:px")) == CD_EAUTH);
	CHECK(auth_check(a, basic("u:")) == CD_EAUTH);
	CHECK(auth_check(a, basic("x:p")) == CD_EAUTH);
	CHECK(auth_check(a, NULL) == CD_EAUTH);
	CHECK(auth_check(a, "Bearer abc") == CD_EAUTH);
	auth_close(a);
}

TEST(auth_htpasswd_bcrypt_and_sha512)
{
	char *bc = make_hash("$2b$", 4, "bcrypt-pass");
	char *sha = make_hash("$6$", 1000, "sha-pass");
	char *yes = make_hash("$y$", 0, "yes-pass");
	CHECK(bc != NULL && sha != NULL && yes != NULL);
	if (!bc || !sha || !yes)
		return;
	char text[1024];
	snprintf(text, sizeof text, "# users\n\nalice:%s\nbob:%s\r\ncarol:%s\n", bc, sha, yes);
	char *file = temp_file(text);
	struct auth *a = NULL;
	cd_err err;
	CHECK(auth_open(NULL, NULL, file, &a, &err) == CD_OK);
	CHECK(auth_check(a, basic("alice:bcrypt-pass")) == CD_OK);
	CHECK(auth_check(a, basic("bob:sha-pass")) == CD_OK);
	CHECK(auth_check(a, basic("carol:yes-pass")) == CD_OK);
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(auth_check(a, basic("bob:bcrypt-pass")) == CD_EAUTH);
	CHECK(auth_check(a, basic("mallory:bcrypt-pass")) == CD_EAUTH);
	auth_close(a);
	unlink(file);
	free(file);
	free(bc);
	free(sha);
	free(yes);
}

/* An htpasswd file (*file, malloc'd) with one bcrypt user alice:right,
 * opened; close_alice releases both. */
static struct auth *open_alice(char **file)
{
	char *bc = make_hash("$2y$", 4, "right");
	char text[512];
	snprintf(text, sizeof text, "alice:%s\n", bc ? bc : "");
	free(bc);
	*file = temp_file(text);
	struct auth *a = NULL;
	cd_err err;
	CHECK(auth_open(NULL, NULL, *file, &a, &err) == CD_OK);
	return a;
}

static void close_alice(struct auth *a, char *file)
{
	auth_close(a);
	unlink(file);
	free(file);
}

TEST(auth_cache_hit_still_rejects_a_different_password)
{
	char *file;
	struct auth *a = open_alice(&file);
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	close_alice(a, file);
}

static int64_t fake_now = 1000;
static int64_t fake_clock(void)
{
	return fake_now;
}

/* A header stays verified while it keeps being used (a fixed expiry made
 * every worker pay a bcrypt once a minute under load), is checked again
 * after a minute unused, and after 15 minutes whatever the use. */
TEST(auth_cache_lives_while_used_and_at_most_15_minutes)
{
	char *file;
	struct auth *a = open_alice(&file);
	auth_set_clock(a, fake_clock);
	fake_now = 1000;
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(auth_hashes_computed(a) == 1);
	for (int i = 1; i <= 10; i++) { /* every 50 s for 500 s: all hits */
		fake_now = 1000 + 50 * i;
		CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	}
	CHECK(auth_hashes_computed(a) == 1);
	fake_now += 61; /* unused for over a minute */
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(auth_hashes_computed(a) == 2);
	int64_t verified = fake_now;
	while (fake_now + 30 < verified + 900) {
		fake_now += 30;
		CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	}
	CHECK(auth_hashes_computed(a) == 2);
	fake_now = verified + 900; /* used all along, but 15 minutes old */
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(auth_hashes_computed(a) == 3);
	/* A wrong password is hashed every time, cached header or not. */
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(auth_hashes_computed(a) == 5);
	close_alice(a, file);
}

static void count_call(void *ctx)
{
	++*(int *)ctx;
}

/* The hook runs before every password hash and never on a cache hit, so
 * the worker lets its parked connections go only when a bcrypt follows. */
TEST(auth_before_hash_runs_once_per_hash_and_not_on_a_cache_hit)
{
	char *file;
	int calls = 0;
	struct auth *a = open_alice(&file);
	auth_before_hash(a, count_call, &calls);
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(calls == 1 && auth_hashes_computed(a) == 1);
	CHECK(auth_check(a, basic("alice:right")) == CD_OK);
	CHECK(calls == 1 && auth_hashes_computed(a) == 1);
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(auth_check(a, basic("nobody:right")) == CD_EAUTH);
	CHECK(calls == 3 && auth_hashes_computed(a) == 3);
	auth_before_hash(a, NULL, NULL);
	CHECK(auth_check(a, basic("alice:wrong")) == CD_EAUTH);
	CHECK(calls == 3);
	close_alice(a, file);
}

TEST(auth_htpasswd_rejects_weak_hashes_naming_the_line)
{
	static const char *const bad[] = {
		"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
		"# c\nalice:$apr1$abc$defghijklmnopqrstuvw0\n",
		"alice:plaintext\n",
		"just-a-name\n",
	};
	static const char *const where[] = { "line 1", "line 2", "line 1", "line 1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *file = temp_file(bad[i]);
		struct auth *a = NULL;
		cd_err err = { "" };
		CHECK(auth_open(NULL, NULL, file, &a, &err) == CD_EINVAL);
		CHECK(a == NULL);
		CHECK(strstr(err.msg, where[i]) != NULL);
		CHECK(strstr(err.msg, "plaintext") == NULL); /* never echo the secret */
		unlink(file);
		free(file);
	}
}

TEST(auth_htpasswd_missing_file_fails)
{
	struct auth *a = NULL;
	cd_err err;
	CHECK(auth_open(NULL, NULL, "/nonexistent/htpasswd", &a, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "HTPASSWD_FILE") != NULL);
}

TEST(auth_equal_is_exact)
{
	CHECK(auth_equal("abc", 3, "abc", 3));
	CHECK(!auth_equal("abc", 3, "abd", 3));
	CHECK(!auth_equal("abc", 3, "abcd", 4));
	CHECK(auth_equal("", 0, "", 0));
}
