/* test_semver.c — version parsing, precedence and constraints. */
#include "unit.h"
#include "semver.h"

TEST(semver_accepts_helm_lenient_versions)
{
	static const struct { const char *s; uint64_t ma, mi, pa; const char *pre, *meta; } ok[] = {
		{ "1.2.3", 1, 2, 3, "", "" },
		{ "v1.2.3", 1, 2, 3, "", "" },
		{ "1.2", 1, 2, 0, "", "" },
		{ "1", 1, 0, 0, "", "" },
		{ "01.2.3", 1, 2, 3, "", "" },
		{ "1.02.003", 1, 2, 3, "", "" },
		{ "0.0.0", 0, 0, 0, "", "" },
		{ "1.2.3-alpha.1", 1, 2, 3, "alpha.1", "" },
		{ "1.2.3-0", 1, 2, 3, "0", "" },
		{ "1.2.3-0a", 1, 2, 3, "0a", "" },
		{ "1.2.3-x-y--z", 1, 2, 3, "x-y--z", "" },
		{ "1.2.3+build.007", 1, 2, 3, "", "build.007" },
		{ "1.2.3-rc.1+sha.5114f85", 1, 2, 3, "rc.1", "sha.5114f85" },
		{ "1.2-beta", 1, 2, 0, "beta", "" },
		{ "18446744073709551615.0.0", UINT64_MAX, 0, 0, "", "" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct semver v;
		cd_err err;
		CHECK(semver_parse(ok[i].s, &v, &err) == CD_OK);
		CHECK(v.major == ok[i].ma && v.minor == ok[i].mi && v.patch == ok[i].pa);
		CHECK_STR(v.pre, ok[i].pre);
		CHECK_STR(v.meta, ok[i].meta);
	}
}

TEST(semver_rejects_malformed_versions)
{
	static const char *const bad[] = {
		"", "1.2.3.4", "1.2.3-01", "1.2.3-alpha.01", "a.b.c", "1.2.3-", "1.2.3+",
		"1.2.3-a..b", "1.2.3+a..b", "v", "V1.2.3", "1.", "1.2.", ".1.2", "1..2",
		" 1.2.3", "1.2.3 ", "1.2.3-a_b", "1.2.3+é", "18446744073709551616.0.0",
		"-1.2.3", "1.2.3-beta+", "1.x.3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct semver v;
		cd_err err = { "" };
		CHECK(semver_parse(bad[i], &v, &err) == CD_EINVAL);
		CHECK(strstr(err.msg, "not a valid semantic version") != NULL);
	}
}

TEST(semver_error_names_the_version)
{
	struct semver v;
	cd_err err;
	CHECK(semver_parse("1.2.3.4", &v, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "\"1.2.3.4\"") != NULL);
}

TEST(semver_orders_by_semver_precedence)
{
	static const char *const asc[] = {
		"0.0.1", "0.1.0", "0.9.0", "0.10.0", "1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10",
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0",
		"1.10.0", "2.0.0", "10.0.0",
	};
	size_t n = sizeof asc / sizeof asc[0];
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = semver_compare_str(asc[i], asc[j]);
			CHECK((i < j && c < 0) || (i == j && c == 0) || (i > j && c > 0));
		}
}

TEST(semver_ignores_build_metadata_and_v_prefix_in_ordering)
{
	CHECK(semver_compare_str("1.0.0+a", "1.0.0+b") == 0);
	CHECK(semver_compare_str("v1.0.0", "1.0.0") == 0);
	CHECK(semver_compare_str("1.2", "1.2.0") == 0);
	CHECK(semver_compare_str("01.2.3", "1.2.3") == 0);
}

TEST(semver_invalid_strings_sort_after_valid_ones)
{
	CHECK(semver_compare_str("99.0.0", "latest") < 0);
	CHECK(semver_compare_str("latest", "0.0.1") > 0);
	CHECK(semver_compare_str("a", "b") < 0);
	CHECK(semver_compare_str("b", "a") > 0);
	CHECK(semver_compare_str("x", "x") == 0);
}

/* The index of the best match, -1 for CD_ENOTFOUND, -2 for CD_EINVAL. */
static int best_of(const char *c, const char *const *v, size_t n)
{
	size_t best = 999;
	cd_err err;
	cd_rc rc = semver_constraint_best(c, v, n, &best, &err);
	if (rc == CD_ENOTFOUND)
		return -1;
	if (rc == CD_EINVAL)
		return -2;
	return rc == CD_OK ? (int)best : -3;
}

TEST(semver_constraint_picks_highest_match)
{
	static const char *const v[] = {
		"0.1.0", "0.1.5", "0.2.0", "1.0.0", "1.2.0", "1.2.3", "1.2.9", "1.3.0",
		"1.9.9", "2.0.0-rc.1", "2.0.0", "2.1.0", "3.0.0-beta.1", "not-a-version",
	};
	static const struct { const char *c; int want; } cases[] = {
		{ "1.2.3", 5 }, { "=1.2.3", 5 }, { "v1.2.3", 5 }, { "1.2", 6 }, { "1", 8 },
		{ "1.2.x", 6 }, { "1.X", 8 }, { "1.*", 8 }, { "*", 11 }, { "x", 11 },
		{ "^1.2", 8 }, { "^1.2.3", 8 }, { "^0.1.0", 1 }, { "^0.1", 1 }, { "^0.0.1", -1 },
		{ "^0", 2 }, { "~1.2.3", 6 }, { "~1.2", 6 }, { "~1", 8 }, { "~>1.2.0", 6 },
		{ ">=1.0.0 <2.0.0", 8 }, { ">=1.0.0, <2.0.0", 8 }, { ">= 1.0.0, < 2.0.0", 8 },
		{ ">1.2.3 <=1.3.0", 7 }, { "<1.0.0", 2 }, { "<=1.2", 6 }, { ">1.x", 11 },
		{ ">1.2.x <2", 8 }, { "!=2.1.0", 10 }, { "!=2.x", 8 }, { "1.2 - 1.3", 7 },
		{ "0.1.0 || 1.2.3", 5 }, { "^0.1 || ~1.2", 6 }, { ">=3", -1 },
		{ "2.0.0-rc.1", 9 }, { ">=2.0.0-0", 12 }, { "~3.0.0-0", 12 }, { "~3.0.0", -1 },
		{ ">=2.0.0-0 <2.0.0", 9 }, { ">=1.9.0 <2.0.0", 8 }, { "^2.0.0-0 || ^9", 11 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = best_of(cases[i].c, v, sizeof v / sizeof v[0]);
		if (got != cases[i].want) {
			char m[200];
			snprintf(m, sizeof m, "constraint \"%s\": got %d, want %d", cases[i].c, got,
			         cases[i].want);
			unit_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(semver_constraint_skips_prereleases_unless_asked)
{
	static const char *const v[] = { "1.0.0", "1.1.0-beta.1" };
	CHECK(best_of(">=1.0.0", v, 2) == 0);
	CHECK(best_of("^1", v, 2) == 0);
	CHECK(best_of(">=1.1.0-0", v, 2) == 1);
	CHECK(best_of(">1.0.0-beta <2", v, 2) == 1);
}

TEST(semver_constraint_malformed_is_einval)
{
	static const char *const v[] = { "1.0.0" };
	static const char *const bad[] = {
		"", "   ", "abc", ">=", "1.2.3.4", "1.0 ||", "|| 1.0", "1.0 | 2.0", ">>1",
		"1.2.3-01", "1.0 - ", ">=1.0,,<2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = best_of(bad[i], v, 1);
		if (got != -2) {
			char m[200];
			snprintf(m, sizeof m, "constraint \"%s\": got %d, want EINVAL", bad[i], got);
			unit_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(semver_constraint_with_no_versions_is_notfound)
{
	CHECK(best_of("*", NULL, 0) == -1);
}
