/* fuzz.h — helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput and is built twice: with
 * -fsanitize=fuzzer by scripts/fuzz, and with replay.c's main() by
 * scripts/fuzz-replay.  A broken invariant calls FUZZ_CHECK, which aborts
 * so both builds report it as a crash with the input that caused it. */
#ifndef CD_FUZZ_H
#define CD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                          \
	do {                                                                          \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
			        #cond);                                                       \
			abort();                                                              \
		}                                                                         \
	} while (0)

/* A NUL-terminated malloc'd copy of data[0..size) (NUL bytes kept inside). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Cuts the first line off *data: returns it as a new string and advances
 * *data and *size past its '\n' (or to the end). */
static inline char *fuzz_take_line(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *s = fuzz_strndup(*data, n);
	*data += n + (nl != NULL);
	*size -= n + (nl != NULL);
	return s;
}

#endif
