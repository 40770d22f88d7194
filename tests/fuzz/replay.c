/* replay.c — a main() for the harnesses without libFuzzer: feeds every
 * file named on the command line (directories are read one level deep,
 * in name order) to LLVMFuzzerTestOneInput once.  Built with ASan and
 * UBSan by scripts/fuzz-replay; a crash aborts with the file's name
 * printed just before it.  Prints "<n> inputs" at the end. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static size_t ninputs;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	size_t r;
	while (buf != NULL && (r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		return -1;
	}
	/* An exact-size copy, so reading one byte past the input is caught. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL)
		return -1;
	memcpy(exact, buf, len);
	free(buf);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	ninputs++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* a missing corpus directory is an empty one */
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap && (names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names)) == NULL)
			return -1;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *p = malloc(strlen(path) + strlen(names[i]) + 2);
		sprintf(p, "%s/%s", path, names[i]);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && run_file(p) != 0)
			rc = -1;
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) != 0)
			rc = 1;
	printf("%zu inputs\n", ninputs);
	return rc;
}
