/* fuzz_semver.c — semver_parse, semver_compare(_str) and
 * semver_constraint_best.  Input: a constraint line, then one version per
 * line.  Checks that ordering is antisymmetric and reflexive and that the
 * version a constraint picks is one that parses. */
#include "fuzz.h"
#include "semver.h"

#define MAX_VERSIONS 32

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *constraint = fuzz_take_line(&data, &size);
	char *versions[MAX_VERSIONS];
	struct semver parsed[MAX_VERSIONS];
	bool ok[MAX_VERSIONS];
	size_t n = 0;
	cd_err err;

	while (size > 0 && n < MAX_VERSIONS)
		versions[n++] = fuzz_take_line(&data, &size);

	for (size_t i = 0; i < n; i++) {
		ok[i] = semver_parse(versions[i], &parsed[i], &err) == CD_OK;
		if (ok[i]) {
			FUZZ_CHECK(strlen(parsed[i].pre) < sizeof parsed[i].pre);
			FUZZ_CHECK(strlen(parsed[i].meta) < sizeof parsed[i].meta);
			FUZZ_CHECK(semver_compare(&parsed[i], &parsed[i]) == 0);
		} else {
			FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
		}
		FUZZ_CHECK(semver_compare_str(versions[i], versions[i]) == 0);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			int ab = semver_compare_str(versions[i], versions[j]);
			int ba = semver_compare_str(versions[j], versions[i]);
			FUZZ_CHECK(sign(ab) == -sign(ba));
			if (ok[i] && ok[j]) {
				int c = semver_compare(&parsed[i], &parsed[j]);
				FUZZ_CHECK(sign(c) == -sign(semver_compare(&parsed[j], &parsed[i])));
				FUZZ_CHECK(sign(c) == sign(ab));
			}
		}

	/* The parsed constraint itself, as a version (it often is one). */
	struct semver cv;
	(void)semver_parse(constraint, &cv, &err);

	size_t best = (size_t)-1;
	cd_rc rc = semver_constraint_best(constraint, (const char *const *)versions, n, &best, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_ENOTFOUND || rc == CD_EINVAL);
	if (rc == CD_OK) {
		FUZZ_CHECK(best < n);
		FUZZ_CHECK(ok[best]);
	}

	for (size_t i = 0; i < n; i++)
		free(versions[i]);
	free(constraint);
	return 0;
}
