/* unit.h — a minimal self-registering unit test harness.
 *
 *   TEST(semver_parses_two_parts) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *
 * Each TEST registers itself at load time; tests/unit/main.c runs them all
 * and ends with "unit: N passed, M failed". */
#ifndef CD_UNIT_H
#define CD_UNIT_H

#include <stdio.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *what);

#define TEST(name)                                                         \
	static void test_##name(void);                                      \
	__attribute__((constructor)) static void register_##name(void)      \
	{                                                                   \
		unit_register(#name, test_##name);                          \
	}                                                                   \
	static void test_##name(void)

#define CHECK(cond)                                                        \
	do {                                                                \
		if (!(cond))                                                \
			unit_fail(__FILE__, __LINE__, #cond);               \
	} while (0)

#define CHECK_STR(got, want)                                               \
	do {                                                                \
		const char *g_ = (got), *w_ = (want);                       \
		if (g_ == NULL || strcmp(g_, w_) != 0) {                    \
			char m_[1024];                                      \
			snprintf(m_, sizeof m_, "%s: got \"%s\", want \"%s\"", \
			         #got, g_ ? g_ : "(null)", w_);              \
			unit_fail(__FILE__, __LINE__, m_);                  \
		}                                                           \
	} while (0)

#endif
