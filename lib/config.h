/* config.h — chartdepot's configuration, from the environment and an
 * optional YAML file.
 *
 * Names and meanings follow ChartMuseum's environment variables; STATE_DIR,
 * HTPASSWD_FILE, WORKERS, FCGI_SOCKET and JSON_INDEX are chartdepot's own.
 * A bad value stops the program at start with a message naming the variable
 * (or the file key and its line).
 *
 * The config file is ChartMuseum's: `--config PATH` (or `-c PATH`), else the
 * CONFIG variable, names a YAML mapping whose keys are ChartMuseum's config
 * keys (storage.local.rootdir, basicauth.user, allowoverwrite, ...; see
 * file_keys in config.c).  Nested mappings and dotted keys are the same key
 * ("storage: {local: {rootdir: x}}" is "storage.local.rootdir: x"), and keys
 * are compared without regard to case, as ChartMuseum's viper does.  Each key
 * stands for one environment variable, and a non-empty variable overrides the
 * file.  Unlike ChartMuseum, an unknown key is an error naming it and its
 * line: a typo must not silently turn off auth.  A few ChartMuseum keys that
 * can have no effect here (read/write timeouts, the redis cache, settings of
 * other storage backends) are accepted and ignored.  Values are scalars; the
 * file is at most 1 MiB, one document, without aliases, nested at most 8
 * mappings deep. */
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
	int auth_failure_limit;   /* AUTH_FAILURE_LIMIT failed logins per address a
	                           * minute, per worker; 0 = off (lib/authfail.h) */
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
	char *artifact_hub_repo_id; /* ARTIFACT_HUB_REPO_ID: "id" (depth 0) or
	                             * "repo=id,repo=id", NULL when unset */
	/* For the nginx configuration only; chartdepot's programs never listen. */
	int port;                 /* PORT 1..65535, default 8080 */
	char *tls_cert;           /* TLS_CERT, NULL when unset; set with tls_key */
	char *tls_key;            /* TLS_KEY, NULL when unset */
	char *tls_ca_cert;        /* TLS_CA_CERT, NULL when unset; needs tls_cert */
};

/* A lookup function so tests can feed values without touching environ. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills cfg from the variables that getenv_fn returns (getenv when NULL),
 * over the config file that the variable CONFIG names, if any.
 * On failure err names the variable and the value's problem; cfg is freed. */
cd_rc config_load(struct cd_config *cfg, config_getenv_fn getenv_fn, cd_err *err);

/* config_load with the config file at path (NULL: the one CONFIG names).
 * Errors about the file itself (missing, too big, bad YAML) name the path. */
cd_rc config_load_file(struct cd_config *cfg, const char *path,
                       config_getenv_fn getenv_fn, cd_err *err);

/* For a program's main: takes `--config PATH`, `--config=PATH` or `-c PATH`
 * from argv (ChartMuseum's flag; it beats CONFIG) and calls config_load_file
 * with the real environment.  Other arguments are left for the caller, who
 * skips config_option_width(argc, argv, i) entries at each position i. */
cd_rc config_from_args(int argc, char **argv, struct cd_config *cfg, cd_err *err);

/* How many argv entries the config option at argv[i] takes: 2 for
 * "--config PATH" and "-c PATH", 1 for "--config=PATH", 0 if argv[i] is no
 * config option.  A trailing "--config" counts 1 (config_from_args rejects it). */
int config_option_width(int argc, char **argv, int i);

/* Releases every string cfg owns. */
void config_free(struct cd_config *cfg);

/* Parses a ChartMuseum boolean ("1", "true", "yes", "on", "0", "false", ...). */
cd_rc config_parse_bool(const char *s, bool *out);

/* Parses a Go duration ("90s", "5m", "1h30m") or plain seconds. */
cd_rc config_parse_duration(const char *s, int *seconds);

#endif
