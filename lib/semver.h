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

#endif
