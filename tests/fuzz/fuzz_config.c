/* fuzz_config.c — config_load with a fake environment: the input is
 * NAME=value lines (the first '=' splits; later lines win over earlier
 * ones, as the last export would).  Also config_parse_bool and
 * config_parse_duration on every value. */
#include "fuzz.h"
#include "config.h"

#define MAX_VARS 64

static struct {
	char *name, *value;
} vars[MAX_VARS];
static size_t nvars;

/* CONFIG is never passed on: it names a file to read (the config_file
 * harness covers the reader), and /dev/stdin or a FIFO would hang. */
static const char *fake_getenv(const char *name)
{
	const char *v = NULL;
	if (strcmp(name, "CONFIG") == 0)
		return NULL;
	for (size_t i = 0; i < nvars; i++)
		if (strcmp(vars[i].name, name) == 0)
			v = vars[i].value;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nvars = 0;
	while (size > 0 && nvars < MAX_VARS) {
		char *line = fuzz_take_line(&data, &size);
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			free(line);
			continue;
		}
		*eq = '\0';
		vars[nvars].name = line; /* value shares the allocation */
		vars[nvars].value = eq + 1;
		nvars++;
	}

	struct cd_config cfg;
	cd_err err;
	cd_rc rc = config_load(&cfg, fake_getenv, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL || rc == CD_ENOMEM);
	if (rc == CD_OK) {
		FUZZ_CHECK(cfg.storage_root && cfg.storage_root[0] == '/');
		FUZZ_CHECK(cfg.state_dir && cfg.state_dir[0] == '/');
		FUZZ_CHECK(cfg.db_path && cfg.fcgi_socket && cfg.chart_url && cfg.context_path);
		FUZZ_CHECK(cfg.context_path[0] == '\0' || cfg.context_path[0] == '/');
		FUZZ_CHECK(strstr(cfg.context_path, "//") == NULL);
		FUZZ_CHECK(cfg.depth >= 0 && cfg.depth <= 3);
		FUZZ_CHECK(cfg.max_upload_size >= 1);
		FUZZ_CHECK(cfg.cache_interval_s >= 1);
		FUZZ_CHECK(cfg.workers >= 1 && cfg.workers <= 1024);
		FUZZ_CHECK(cfg.index_limit >= 1);
		FUZZ_CHECK((cfg.basic_user == NULL) == (cfg.basic_pass == NULL));
		FUZZ_CHECK(cfg.port >= 1 && cfg.port <= 65535);
		FUZZ_CHECK((cfg.tls_cert == NULL) == (cfg.tls_key == NULL));
		config_free(&cfg);
	} else {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}

	/* The values as a command line, for config_option_width. */
	char *argv[MAX_VARS + 1];
	for (size_t i = 0; i < nvars; i++)
		argv[i] = vars[i].value;
	argv[nvars] = NULL;
	for (int i = 0; i < (int)nvars; i++) {
		int w = config_option_width((int)nvars, argv, i);
		FUZZ_CHECK(w >= 0 && w <= 2 && i + w <= (int)nvars);
	}

	for (size_t i = 0; i < nvars; i++) {
		bool b;
		int secs;
		(void)config_parse_bool(vars[i].value, &b);
		if (config_parse_duration(vars[i].value, &secs) == CD_OK)
			FUZZ_CHECK(secs >= 0);
		free(vars[i].name);
	}
	nvars = 0;
	return 0;
}
