/* test_url.c — percent-decoding, path splitting and query strings. */
#include "unit.h"
#include "url.h"

static cd_rc decode(const char *s, char *out)
{
	return url_decode(s, strlen(s), out, false);
}

TEST(url_decode_plain_and_escaped)
{
	char out[64];
	CHECK(decode("mychart-0.1.0.tgz", out) == CD_OK);
	CHECK_STR(out, "mychart-0.1.0.tgz");
	CHECK(decode("a%20b%2Fc", out) == CD_OK);
	CHECK_STR(out, "a b/c");
	CHECK(decode("%41%6a", out) == CD_OK);
	CHECK_STR(out, "Aj");
}

TEST(url_decode_dotdot_decodes_then_caller_rejects)
{
	char out[16];
	CHECK(decode("%2e%2e", out) == CD_OK);
	CHECK_STR(out, "..");
	CHECK(decode("%2E.", out) == CD_OK);
	CHECK_STR(out, "..");
}

TEST(url_decode_rejects_nul)
{
	char out[16];
	CHECK(decode("a%00b", out) == CD_EINVAL);
	CHECK(url_decode("a\0b", 3, out, false) == CD_EINVAL);
}

TEST(url_decode_rejects_bad_escapes)
{
	char out[16];
	CHECK(decode("%", out) == CD_EINVAL);
	CHECK(decode("%4", out) == CD_EINVAL);
	CHECK(decode("abc%zz", out) == CD_EINVAL);
	CHECK(decode("%g0", out) == CD_EINVAL);
	/* An escape cut by len must not be read past len. */
	CHECK(url_decode("%41", 2, out, false) == CD_EINVAL);
}

TEST(url_decode_plus_is_space_only_in_queries)
{
	char out[16];
	CHECK(url_decode("a+b", 3, out, false) == CD_OK);
	CHECK_STR(out, "a+b");
	CHECK(url_decode("a+b", 3, out, true) == CD_OK);
	CHECK_STR(out, "a b");
}

TEST(url_split_segments)
{
	char path[] = "/api/org/charts/mychart";
	char *seg[8];
	int n = -1;
	CHECK(url_split(path, seg, 8, &n) == CD_OK);
	CHECK(n == 4);
	if (n == 4) {
		CHECK_STR(seg[0], "api");
		CHECK_STR(seg[3], "mychart");
	}
}

TEST(url_split_root_has_no_segments)
{
	char a[] = "/", b[] = "";
	char *seg[4];
	int n = -1;
	CHECK(url_split(a, seg, 4, &n) == CD_OK && n == 0);
	CHECK(url_split(b, seg, 4, &n) == CD_OK && n == 0);
}

TEST(url_split_rejects_empty_segments)
{
	char a[] = "/a//b", b[] = "//index.yaml", c[] = "/a/";
	char *seg[4];
	int n;
	CHECK(url_split(a, seg, 4, &n) == CD_EINVAL);
	CHECK(url_split(b, seg, 4, &n) == CD_EINVAL);
	CHECK(url_split(c, seg, 4, &n) == CD_EINVAL);
}

TEST(url_split_rejects_too_many_segments)
{
	char a[] = "/a/b/c/d/e";
	char *seg[4];
	int n;
	CHECK(url_split(a, seg, 4, &n) == CD_EINVAL);
}

TEST(url_query_finds_values)
{
	char out[32];
	CHECK(url_query_get("offset=10&limit=5", "limit", out, sizeof out));
	CHECK_STR(out, "5");
	CHECK(url_query_get("offset=10&limit=5", "offset", out, sizeof out));
	CHECK_STR(out, "10");
	CHECK(url_query_get("force", "force", out, sizeof out));
	CHECK_STR(out, "");
	CHECK(url_query_get("a=1&force=", "force", out, sizeof out));
	CHECK_STR(out, "");
	CHECK(url_query_get("q=a%20b+c", "q", out, sizeof out));
	CHECK_STR(out, "a b c");
}

TEST(url_query_absent_key)
{
	char out[32];
	CHECK(!url_query_get("offsetx=1&xoffset=2", "offset", out, sizeof out));
	CHECK(!url_query_get("", "force", out, sizeof out));
	CHECK(!url_query_get(NULL, "force", out, sizeof out));
}

TEST(url_query_bad_or_long_value_is_present_but_invalid)
{
	char out[4];
	CHECK(url_query_get("limit=123456", "limit", out, sizeof out));
	CHECK_STR(out, "\x01");
	CHECK(url_query_get("limit=%zz", "limit", out, sizeof out));
	CHECK_STR(out, "\x01");
}
