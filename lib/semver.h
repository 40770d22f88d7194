/* semver.h — Semantic Versions as Helm reads them (Masterminds/semver v3).
 *
 * Parsing follows semver.NewVersion, the lenient form Helm uses for chart
 * versions: an optional leading "v", one to three numeric parts ("1.2" is
 * 1.2.0; leading zeros in them are accepted: "01.2.3"), then -prerelease and
 * +metadata made of [0-9A-Za-z-] identifiers separated by dots.  A numeric
 * prerelease identifier with a leading zero ("1.2.3-01") is rejected, as is
 * a fourth numeric part ("1.2.3.4"). */
#ifndef CD_SEMVER_H
#define CD_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cd_err.h"

struct semver {
	uint64_t major, minor, patch;
	char pre[128];   /* prerelease without the '-', "" when none */
	char meta[128];  /* build metadata without the '+', "" when none */
};

/* Parses s into v.  CD_EINVAL with a message naming s when invalid. */
cd_rc semver_parse(const char *s, struct semver *v, cd_err *err);

/* <0, 0, >0 as a orders before, equal to, after b by SemVer 2.0 precedence
 * (metadata ignored, a prerelease before its release, numeric identifiers
 * compared as numbers and before alphanumeric ones). */
int semver_compare(const struct semver *a, const struct semver *b);

/* Compares two version strings; one that does not parse orders after every
 * valid one, and two invalid ones compare as strings (Helm's SortEntries). */
int semver_compare_str(const char *a, const char *b);

/* Picks the highest of versions[0..n) that satisfies constraint, Masterminds
 * syntax as Helm uses for dependencies: exact ("1.2.3", "=1.2.3"), partial
 * versions as wildcards ("1.2" is 1.2.x), x, X and * wildcards, "^", "~", "~>",
 * ">", ">=", "<", "<=", "!=", hyphen ranges ("1.2 - 1.4"), AND by space or
 * ", ", OR by "||".  A prerelease version matches only an AND group that
 * names a prerelease (Masterminds v3.4).  Versions that do not parse are
 * skipped.  CD_ENOTFOUND when none matches, CD_EINVAL for a malformed
 * constraint; on CD_OK *best is the index of the winner. */
cd_rc semver_constraint_best(const char *constraint, const char *const *versions,
                             size_t n, size_t *best, cd_err *err);

#endif
