/* fuzz_config_file.c — the YAML config file reader (config_load_file) on
 * the input as the file's text, with an empty environment.  The file is a
 * memfd named by its /proc/self/fd path, so nothing touches the disk. */
#include "fuzz.h"
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>

static const char *no_env(const char *name)
{
	(void)name;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("chartdepot-fuzz-config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();

	struct cd_config cfg;
	cd_err err;
	cd_rc rc = config_load_file(&cfg, path, no_env, &err);
	FUZZ_CHECK(rc == CD_OK || rc == CD_EINVAL || rc == CD_ENOMEM);
	if (rc == CD_OK) {
		FUZZ_CHECK(cfg.storage_root && cfg.storage_root[0] == '/');
		FUZZ_CHECK(cfg.state_dir && cfg.state_dir[0] == '/');
		FUZZ_CHECK(cfg.db_path && cfg.fcgi_socket && cfg.chart_url && cfg.context_path);
		FUZZ_CHECK(cfg.context_path[0] == '\0' || cfg.context_path[0] == '/');
		FUZZ_CHECK(strstr(cfg.context_path, "//") == NULL);
		FUZZ_CHECK(cfg.depth >= 0 && cfg.depth <= 3);
		FUZZ_CHECK(cfg.cache_interval_s >= 1);
		FUZZ_CHECK(cfg.port >= 1 && cfg.port <= 65535);
		FUZZ_CHECK((cfg.basic_user == NULL) == (cfg.basic_pass == NULL));
		FUZZ_CHECK((cfg.tls_cert == NULL) == (cfg.tls_key == NULL));
		config_free(&cfg);
	} else {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}
	return 0;
}
