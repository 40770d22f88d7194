/* test_prov.c — structure of Helm provenance files. */
#include "unit.h"
#include "prov.h"

#include <stdlib.h>

#define HEX "3c8a2e0b3b4a5f6e7d8c9b0a1f2e3d4c5b6a79880716253443526170819fa0b1"

static const char good[] =
	"-----BEGIN PGP SIGNED MESSAGE-----\n"
	"Hash: SHA512\n"
	"\n"
	"apiVersion: v2\n"
	"description: A Helm chart for Kubernetes\n"
	"name: mychart\n"
	"type: application\n"
	"version: 0.1.0\n"
	"\n"
	"...\n"
	"files:\n"
	"  mychart-0.1.0.tgz: sha256:" HEX "\n"
	"-----BEGIN PGP SIGNATURE-----\n"
	"\n"
	"wsBcBAEBCgAQBQJkAAAAAAkQAAAAAAAAAAAAAGm8CAA=\n"
	"=abcd\n"
	"-----END PGP SIGNATURE-----\n";

/* Parses text and expects rc with a message containing want. */
static void expect_prov(const char *text, cd_rc rc, const char *want, int line)
{
	struct prov_info pi;
	cd_err err = { "" };
	cd_rc got = prov_parse(text, strlen(text), &pi, &err);
	if (got != rc || (rc != CD_OK && strstr(err.msg, want) == NULL)) {
		char m[800];
		snprintf(m, sizeof m, "got %s \"%s\", want %s \"%s\"", cd_rc_name(got), err.msg,
		         cd_rc_name(rc), want);
		unit_fail(__FILE__, line, m);
	}
}

/* good with the first occurrence of from replaced by to (malloc'd). */
static char *good_with(const char *from, const char *to)
{
	const char *at = strstr(good, from);
	size_t pre = (size_t)(at - good), fl = strlen(from), tl = strlen(to);
	char *s = malloc(sizeof good + tl);
	memcpy(s, good, pre);
	memcpy(s + pre, to, tl);
	strcpy(s + pre + tl, at + fl);
	return s;
}

#define EXPECT_BAD(from, to, want)                                          \
	do {                                                                \
		char *t_ = good_with((from), (to));                         \
		expect_prov(t_, CD_EINVAL, (want), __LINE__);               \
		free(t_);                                                   \
	} while (0)

TEST(prov_helm_signed_file_gives_name_version_and_digest)
{
	struct prov_info pi;
	cd_err err = { "" };
	CHECK(prov_parse(good, strlen(good), &pi, &err) == CD_OK);
	CHECK_STR(pi.name, "mychart");
	CHECK_STR(pi.version, "0.1.0");
	CHECK_STR(pi.file, "mychart-0.1.0.tgz");
	CHECK_STR(pi.sha256, HEX);
}

TEST(prov_with_crlf_lines_and_dash_escapes_parses)
{
	static const char crlf[] =
		"-----BEGIN PGP SIGNED MESSAGE-----\r\n"
		"Hash: SHA512\r\n"
		"\r\n"
		"name: mychart\r\n"
		"keywords:\r\n- - web\r\n"
		"version: 1.2.3\r\n"
		"...\r\n"
		"files:\r\n"
		"  mychart-1.2.3.tgz: sha256:" HEX "\r\n"
		"-----BEGIN PGP SIGNATURE-----\r\n"
		"\r\n"
		"abc\r\n"
		"-----END PGP SIGNATURE-----\r\n";
	struct prov_info pi;
	cd_err err = { "" };
	CHECK(prov_parse(crlf, strlen(crlf), &pi, &err) == CD_OK);
	CHECK_STR(pi.name, "mychart");
	CHECK_STR(pi.version, "1.2.3");
	CHECK_STR(pi.file, "mychart-1.2.3.tgz");
}

TEST(prov_uppercase_digest_is_lowered)
{
	char *t = good_with("sha256:3c8a2e0b", "sha256:3C8A2E0B");
	struct prov_info pi;
	cd_err err = { "" };
	CHECK(prov_parse(t, strlen(t), &pi, &err) == CD_OK);
	CHECK_STR(pi.sha256, HEX);
	free(t);
}

TEST(prov_without_begin_line_is_rejected)
{
	EXPECT_BAD("-----BEGIN PGP SIGNED MESSAGE-----\n", "", "BEGIN PGP SIGNED MESSAGE");
}

TEST(prov_without_signature_block_is_rejected)
{
	EXPECT_BAD("-----BEGIN PGP SIGNATURE-----\n", "", "no PGP signature block");
}

TEST(prov_without_end_line_is_rejected)
{
	EXPECT_BAD("-----END PGP SIGNATURE-----\n", "", "END PGP SIGNATURE");
}

TEST(prov_without_files_is_rejected)
{
	EXPECT_BAD("files:\n  mychart-0.1.0.tgz: sha256:" HEX "\n", "other: 1\n",
	           "no files: entry");
}

TEST(prov_without_separator_is_rejected)
{
	EXPECT_BAD("...\n", "", "\"...\"");
}

TEST(prov_with_short_digest_is_rejected)
{
	EXPECT_BAD("sha256:" HEX, "sha256:abc", "not sha256:<64 hex digits>");
	EXPECT_BAD("sha256:" HEX, HEX, "not sha256:<64 hex digits>");
	EXPECT_BAD("sha256:3c8a", "sha256:zz8a", "not sha256:<64 hex digits>");
}

TEST(prov_with_two_files_is_rejected)
{
	EXPECT_BAD("files:\n", "files:\n  other-1.0.0.tgz: sha256:" HEX "\n", "more than one");
}

TEST(prov_without_name_or_version_is_rejected)
{
	EXPECT_BAD("name: mychart\n", "", "has no name");
	EXPECT_BAD("version: 0.1.0\n", "", "has no version");
}

TEST(prov_empty_file_is_rejected)
{
	expect_prov("", CD_EINVAL, "BEGIN PGP SIGNED MESSAGE", __LINE__);
}
