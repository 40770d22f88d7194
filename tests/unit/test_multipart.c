/* test_multipart.c — multipart/form-data framing. */
#include "unit.h"
#include "multipart.h"

#include <stdlib.h>

static struct multipart_part parts[MULTIPART_MAX_PARTS];

static cd_rc parse(const char *body, int *n)
{
	cd_err err;
	return multipart_parse(body, strlen(body), "XyZ", parts, n, &err);
}

static int data_is(const struct multipart_part *p, const char *want)
{
	return p->len == strlen(want) && memcmp(p->data, want, p->len) == 0;
}

TEST(multipart_boundary_from_content_type)
{
	char b[80];
	CHECK(multipart_boundary("multipart/form-data; boundary=----abc123", b, sizeof b) == CD_OK);
	CHECK_STR(b, "----abc123");
	CHECK(multipart_boundary("Multipart/Form-Data;boundary=\"q b\"", b, sizeof b) == CD_OK);
	CHECK_STR(b, "q b");
	CHECK(multipart_boundary("multipart/form-data; charset=x; boundary=z", b, sizeof b) == CD_OK);
	CHECK_STR(b, "z");
}

TEST(multipart_boundary_missing_or_wrong_type)
{
	char b[8];
	CHECK(multipart_boundary("multipart/form-data", b, sizeof b) == CD_EINVAL);
	CHECK(multipart_boundary("multipart/form-data; boundary=", b, sizeof b) == CD_EINVAL);
	CHECK(multipart_boundary("application/octet-stream", b, sizeof b) == CD_EINVAL);
	CHECK(multipart_boundary("multipart/form-dataX; boundary=a", b, sizeof b) == CD_EINVAL);
	CHECK(multipart_boundary("multipart/form-data; boundary=toolongforbuf", b, sizeof b) == CD_EINVAL);
	CHECK(multipart_boundary(NULL, b, sizeof b) == CD_EINVAL);
}

TEST(multipart_two_parts_crlf)
{
	const char *body =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"chart\"; filename=\"c.tgz\"\r\n"
		"Content-Type: application/octet-stream\r\n"
		"\r\n"
		"CHART\r\nBYTES\r\n"
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"prov\"\r\n"
		"\r\n"
		"PROV\r\n"
		"--XyZ--\r\n";
	int n = 0;
	CHECK(parse(body, &n) == CD_OK);
	CHECK(n == 2);
	CHECK_STR(parts[0].name, "chart");
	CHECK_STR(parts[0].filename, "c.tgz");
	CHECK(data_is(&parts[0], "CHART\r\nBYTES"));
	CHECK_STR(parts[1].name, "prov");
	CHECK_STR(parts[1].filename, "");
	CHECK(data_is(&parts[1], "PROV"));
}

TEST(multipart_bare_lf_and_preamble)
{
	const char *body =
		"preamble text\n"
		"--XyZ\n"
		"content-disposition: form-data; name=chart\n"
		"\n"
		"DATA\n"
		"--XyZ--";
	int n = 0;
	CHECK(parse(body, &n) == CD_OK);
	CHECK(n == 1);
	CHECK_STR(parts[0].name, "chart");
	CHECK(data_is(&parts[0], "DATA"));
}

TEST(multipart_empty_part_data)
{
	const char *body =
		"--XyZ\r\nContent-Disposition: form-data; name=\"chart\"\r\n\r\n\r\n--XyZ--\r\n";
	int n = 0;
	CHECK(parse(body, &n) == CD_OK);
	CHECK(n == 1 && parts[0].len == 0);
}

TEST(multipart_missing_first_boundary)
{
	int n;
	CHECK(parse("Content-Disposition: form-data; name=\"chart\"\r\n\r\nx\r\n", &n) == CD_EINVAL);
	CHECK(parse("", &n) == CD_EINVAL);
	CHECK(parse("--XyZabc\r\n", &n) == CD_EINVAL);
}

TEST(multipart_unterminated_part)
{
	int n;
	CHECK(parse("--XyZ\r\nContent-Disposition: form-data; name=\"chart\"\r\n\r\nDATA", &n) == CD_EINVAL);
	CHECK(parse("--XyZ\r\nContent-Disposition: form-data; name=\"chart\"\r\n", &n) == CD_EINVAL);
	CHECK(parse("--XyZ", &n) == CD_EINVAL);
}

TEST(multipart_boundary_inside_data_not_at_line_start)
{
	const char *body =
		"--XyZ\r\n"
		"Content-Disposition: form-data; name=\"chart\"\r\n"
		"\r\n"
		"a--XyZ b\r\n--XyZnot-a-delimiter\r\nend\r\n"
		"--XyZ--\r\n";
	int n = 0;
	CHECK(parse(body, &n) == CD_OK);
	CHECK(n == 1);
	CHECK(data_is(&parts[0], "a--XyZ b\r\n--XyZnot-a-delimiter\r\nend"));
}

TEST(multipart_binary_data_with_nul)
{
	const char body[] =
		"--XyZ\r\nContent-Disposition: form-data; name=\"chart\"\r\n\r\n"
		"\x1f\x8b\0\0\r\n--XyZ--\r\n";
	struct multipart_part p[MULTIPART_MAX_PARTS];
	int n = 0;
	cd_err err;
	CHECK(multipart_parse(body, sizeof body - 1, "XyZ", p, &n, &err) == CD_OK);
	CHECK(n == 1 && p[0].len == 4 && memcmp(p[0].data, "\x1f\x8b\0\0", 4) == 0);
}

TEST(multipart_part_without_name_rejected)
{
	int n;
	CHECK(parse("--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", &n) == CD_EINVAL);
	CHECK(parse("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", &n) == CD_EINVAL);
	CHECK(parse("--XyZ\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--XyZ--", &n) == CD_EINVAL);
}

TEST(multipart_too_many_parts)
{
	size_t cap = 100 * (MULTIPART_MAX_PARTS + 2);
	char *body = malloc(cap);
	size_t len = 0;
	int n;
	cd_err err;
	for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
		len += (size_t)snprintf(body + len, cap - len,
		                        "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
	len += (size_t)snprintf(body + len, cap - len, "--XyZ--\r\n");
	CHECK(multipart_parse(body, len, "XyZ", parts, &n, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "parts") != NULL);
	free(body);
}

TEST(multipart_exactly_max_parts_ok)
{
	size_t cap = 100 * (MULTIPART_MAX_PARTS + 2);
	char *body = malloc(cap);
	size_t len = 0;
	int n = 0;
	cd_err err;
	for (int i = 0; i < MULTIPART_MAX_PARTS; i++)
		len += (size_t)snprintf(body + len, cap - len,
		                        "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
	len += (size_t)snprintf(body + len, cap - len, "--XyZ--\r\n");
	CHECK(multipart_parse(body, len, "XyZ", parts, &n, &err) == CD_OK);
	CHECK(n == MULTIPART_MAX_PARTS);
	free(body);
}
