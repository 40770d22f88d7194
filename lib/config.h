/* config.h — chartdepot's configuration, from the environment.
 *
 * Names and meanings follow ChartMuseum's environment variables; STATE_DIR,
 * HTPASSWD_FILE, WORKERS and FCGI_SOCKET are chartdepot's own.  A bad value
 * stops the program at start with a message naming the variable. */
#ifndef CD_CONFIG_H
#define CD_CONFIG_H

#include <stdbool.h>
#include "cd_err.h"

struct cd_config {
	char *storage_root;       /* STORAGE_LOCAL_ROOTDIR, absolute, no trailing / */
	char *state_dir;          /* STATE_DIR, absolute, no trailing / */
	char *db_path;            /* state_dir + "/chartdepot.db" */
	char *fcgi_socket;        /* FCGI_SOCKET, default state_dir + "/fcgi.sock" */
	int depth;                /* DEPTH 0..3 */
	bool depth_dynamic;       /* DEPTH_DYNAMIC */
	char *chart_url;          /* CHART_URL, "" for relative urls, no trailing / */
	char *context_path;       /* CONTEXT_PATH, "" or "/a/b", no trailing / */
	char *basic_user;         /* BASIC_AUTH_USER, NULL when unset */
	char *basic_pass;         /* BASIC_AUTH_PASS, NULL when unset */
	char *htpasswd_file;      /* HTPASSWD_FILE, NULL when unset */
	bool anonymous_get;       /* AUTH_ANONYMOUS_GET */
	bool allow_overwrite;     /* ALLOW_OVERWRITE */
	bool disable_force_overwrite; /* DISABLE_FORCE_OVERWRITE */
	bool disable_delete;      /* DISABLE_DELETE */
	bool disable_api;         /* DISABLE_API */
	bool disable_statefiles;  /* DISABLE_STATEFILES (accepted, no effect) */
	long long max_upload_size;/* MAX_UPLOAD_SIZE bytes, default 20 MiB */
	long max_storage_objects; /* MAX_STORAGE_OBJECTS, 0 = unlimited */
	long per_chart_limit;     /* PER_CHART_LIMIT, 0 = unlimited */
	char *chart_field;        /* CHART_POST_FORM_FIELD_NAME, default "chart" */
	char *prov_field;         /* PROV_POST_FORM_FIELD_NAME, default "prov" */
	int cache_interval_s;     /* CACHE_INTERVAL (Go duration or seconds), default 300 */
	int index_limit;          /* INDEX_LIMIT, 0/unset = number of cores */
	int workers;              /* WORKERS, default 2 x cores */
	bool json_index;          /* JSON_INDEX */
	bool enable_metrics;      /* ENABLE_METRICS */
	bool log_json;            /* LOG_JSON */
	bool log_health;          /* LOG_HEALTH */
	bool debug;               /* DEBUG */
	char *cors_allow_origin;  /* CORS_ALLOW_ORIGIN, NULL when unset */
};

/* A lookup function so tests can feed values without touching environ. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills cfg from the variables that getenv_fn returns (getenv when NULL).
 * On failure err names the variable and the value's problem; cfg is freed. */
cd_rc config_load(struct cd_config *cfg, config_getenv_fn getenv_fn, cd_err *err);

/* Releases every string cfg owns. */
void config_free(struct cd_config *cfg);

/* Parses a ChartMuseum boolean ("1", "true", "yes", "on", "0", "false", ...). */
cd_rc config_parse_bool(const char *s, bool *out);

/* Parses a Go duration ("90s", "5m", "1h30m") or plain seconds. */
cd_rc config_parse_duration(const char *s, int *seconds);

#endif
