/* main.c — runs every registered unit test; optional argv[1] filters by
 * substring.  Exit status 1 when any failed. */
#include "unit.h"

#include <stdlib.h>

#define UNIT_MAX 1024

static struct {
	const char *name;
	unit_fn fn;
} unit_tests[UNIT_MAX];
static int unit_count;
static int unit_current_failed;

void unit_register(const char *name, unit_fn fn)
{
	if (unit_count < UNIT_MAX) {
		unit_tests[unit_count].name = name;
		unit_tests[unit_count].fn = fn;
		unit_count++;
	}
}

void unit_fail(const char *file, int line, const char *what)
{
	printf("    %s:%d: check failed: %s\n", file, line, what);
	unit_current_failed = 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	qsort(unit_tests, (size_t)unit_count, sizeof unit_tests[0], by_name);
	for (int i = 0; i < unit_count; i++) {
		if (argc > 1 && strstr(unit_tests[i].name, argv[1]) == NULL)
			continue;
		unit_current_failed = 0;
		unit_tests[i].fn();
		if (unit_current_failed) {
			printf("FAIL %s\n", unit_tests[i].name);
			failed++;
		} else {
			printf("ok   %s\n", unit_tests[i].name);
			passed++;
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
