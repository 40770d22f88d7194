/* config.c — environment variables to struct cd_config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

cd_rc config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on", "t", "y" };
	static const char *const no[] = { "0", "false", "no", "off", "f", "n", "" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, CD_OK;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, CD_OK;
	return CD_EINVAL;
}

cd_rc config_parse_duration(const char *s, int *seconds)
{
	double total = 0;
	const char *p = s;
	if (*p == '\0')
		return CD_EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) { /* bare number: seconds */
		long v = strtol(s, NULL, 10);
		if (strlen(s) > 9)
			return CD_EINVAL;
		*seconds = (int)v;
		return CD_OK;
	}
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0)
			return CD_EINVAL;
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0)
			unit = 0.001, p += 2;
		else if (*p == 'h')
			unit = 3600, p++;
		else if (*p == 'm')
			unit = 60, p++;
		else if (*p == 's')
			unit = 1, p++;
		else
			return CD_EINVAL;
		total += v * unit;
		if (total > INT_MAX)
			return CD_EINVAL;
	}
	*seconds = (int)total;
	return CD_OK;
}

/* Parses a non-negative integer with an optional k/m/g suffix (powers of 1024). */
static cd_rc parse_size(const char *s, long long max, long long *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return CD_EINVAL;
	long long v = strtoll(s, &end, 10);
	if (errno)
		return CD_EINVAL;
	long long mult = 1;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k': mult = 1LL << 10; end++; break;
	case 'm': mult = 1LL << 20; end++; break;
	case 'g': mult = 1LL << 30; end++; break;
	default: return CD_EINVAL;
	}
	if (*end != '\0' || v > max / mult)
		return CD_EINVAL;
	*out = v * mult;
	return CD_OK;
}

/* Makes an absolute path without a trailing slash; returns NULL on ENOMEM. */
static char *absolute_path(const char *p)
{
	char *r;
	if (p[0] == '/') {
		r = strdup(p);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) == NULL)
			return NULL;
		if (strncmp(p, "./", 2) == 0)
			p += 2;
		if (asprintf(&r, "%s/%s", cwd, p) < 0)
			r = NULL;
	}
	if (r) {
		size_t n = strlen(r);
		while (n > 1 && r[n - 1] == '/')
			r[--n] = '\0';
	}
	return r;
}

struct config_ctx {
	config_getenv_fn get;
	cd_err *err;
	cd_rc rc;
};

static const char *env_value(struct config_ctx *c, const char *name)
{
	const char *v = c->get(name);
	return (v != NULL && v[0] != '\0') ? v : NULL;
}

static void env_bool(struct config_ctx *c, const char *name, bool *out)
{
	const char *v = env_value(c, name);
	*out = false;
	if (v && c->rc == CD_OK && config_parse_bool(v, out) != CD_OK)
		c->rc = cd_fail(c->err, CD_EINVAL,
		                "%s: \"%s\" is not a boolean (use true or false)", name, v);
}

static void env_long(struct config_ctx *c, const char *name, long long min,
                     long long max, long long dflt, long long *out)
{
	const char *v = env_value(c, name);
	*out = dflt;
	if (!v || c->rc != CD_OK)
		return;
	if (parse_size(v, max, out) != CD_OK || *out < min)
		c->rc = cd_fail(c->err, CD_EINVAL,
		                "%s: \"%s\" is not an integer between %lld and %lld",
		                name, v, min, max);
}

static void env_string(struct config_ctx *c, const char *name, const char *dflt,
                       char **out)
{
	const char *v = env_value(c, name);
	if (!v)
		v = dflt;
	*out = v ? strdup(v) : NULL;
	if (v && !*out && c->rc == CD_OK)
		c->rc = cd_fail(c->err, CD_ENOMEM, "out of memory");
}

/* A URL prefix: "" or "/seg/seg" of safe characters, trailing slashes cut. */
static void env_context_path(struct config_ctx *c, char **out)
{
	const char *v = env_value(c, "CONTEXT_PATH");
	env_string(c, "CONTEXT_PATH", "", out);
	if (!v || !*out || c->rc != CD_OK)
		return;
	size_t n = strlen(*out);
	while (n > 0 && (*out)[n - 1] == '/')
		(*out)[--n] = '\0';
	bool ok = n == 0 || (*out)[0] == '/';
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char ch = (unsigned char)(*out)[i];
		ok = isalnum(ch) || strchr("/._-~", ch) != NULL;
		if (ch == '/' && i + 1 < n && (*out)[i + 1] == '/')
			ok = false;
	}
	if (ok && (strstr(*out, "/../") || strstr(*out, "/./") ||
	           (n >= 3 && strcmp(*out + n - 3, "/..") == 0) ||
	           (n >= 2 && strcmp(*out + n - 2, "/.") == 0)))
		ok = false;
	if (!ok)
		c->rc = cd_fail(c->err, CD_EINVAL,
		                "CONTEXT_PATH: \"%s\" must look like /some/prefix", v);
}

static long cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

cd_rc config_load(struct cd_config *cfg, config_getenv_fn getenv_fn, cd_err *err)
{
	struct config_ctx c = { getenv_fn ? getenv_fn : (config_getenv_fn)getenv, err, CD_OK };
	long long n;
	char *tmp;

	memset(cfg, 0, sizeof *cfg);

	env_string(&c, "STORAGE_LOCAL_ROOTDIR", "./data/charts", &tmp);
	cfg->storage_root = tmp ? absolute_path(tmp) : NULL;
	free(tmp);
	env_string(&c, "STATE_DIR", "./data/state", &tmp);
	cfg->state_dir = tmp ? absolute_path(tmp) : NULL;
	free(tmp);
	if (c.rc == CD_OK && (!cfg->storage_root || !cfg->state_dir))
		c.rc = cd_fail(err, CD_ENOMEM, "cannot resolve STORAGE_LOCAL_ROOTDIR or STATE_DIR");
	if (c.rc == CD_OK && asprintf(&cfg->db_path, "%s/chartdepot.db", cfg->state_dir) < 0)
		c.rc = cd_fail(err, CD_ENOMEM, "out of memory"), cfg->db_path = NULL;
	if (c.rc == CD_OK) {
		const char *sock = env_value(&c, "FCGI_SOCKET");
		if (sock)
			cfg->fcgi_socket = strdup(sock);
		else if (asprintf(&cfg->fcgi_socket, "%s/fcgi.sock", cfg->state_dir) < 0)
			cfg->fcgi_socket = NULL;
		if (!cfg->fcgi_socket)
			c.rc = cd_fail(err, CD_ENOMEM, "out of memory");
	}

	env_long(&c, "DEPTH", 0, 3, 0, &n);
	cfg->depth = (int)n;
	env_bool(&c, "DEPTH_DYNAMIC", &cfg->depth_dynamic);
	env_string(&c, "CHART_URL", "", &cfg->chart_url);
	if (cfg->chart_url) {
		size_t len = strlen(cfg->chart_url);
		while (len > 0 && cfg->chart_url[len - 1] == '/')
			cfg->chart_url[--len] = '\0';
		if (len > 0 && strncmp(cfg->chart_url, "http://", 7) != 0 &&
		    strncmp(cfg->chart_url, "https://", 8) != 0 && c.rc == CD_OK)
			c.rc = cd_fail(err, CD_EINVAL,
			               "CHART_URL: \"%s\" must start with http:// or https://",
			               cfg->chart_url);
	}
	env_context_path(&c, &cfg->context_path);
	env_string(&c, "BASIC_AUTH_USER", NULL, &cfg->basic_user);
	env_string(&c, "BASIC_AUTH_PASS", NULL, &cfg->basic_pass);
	if (c.rc == CD_OK && (cfg->basic_user == NULL) != (cfg->basic_pass == NULL))
		c.rc = cd_fail(err, CD_EINVAL,
		               "BASIC_AUTH_USER and BASIC_AUTH_PASS must be set together");
	env_string(&c, "HTPASSWD_FILE", NULL, &cfg->htpasswd_file);
	env_bool(&c, "AUTH_ANONYMOUS_GET", &cfg->anonymous_get);
	env_bool(&c, "ALLOW_OVERWRITE", &cfg->allow_overwrite);
	env_bool(&c, "DISABLE_FORCE_OVERWRITE", &cfg->disable_force_overwrite);
	env_bool(&c, "DISABLE_DELETE", &cfg->disable_delete);
	env_bool(&c, "DISABLE_API", &cfg->disable_api);
	env_bool(&c, "DISABLE_STATEFILES", &cfg->disable_statefiles);
	env_long(&c, "MAX_UPLOAD_SIZE", 1, 1LL << 40, 20LL << 20, &cfg->max_upload_size);
	env_long(&c, "MAX_STORAGE_OBJECTS", 0, INT32_MAX, 0, &n);
	cfg->max_storage_objects = (long)n;
	env_long(&c, "PER_CHART_LIMIT", 0, INT32_MAX, 0, &n);
	cfg->per_chart_limit = (long)n;
	env_string(&c, "CHART_POST_FORM_FIELD_NAME", "chart", &cfg->chart_field);
	env_string(&c, "PROV_POST_FORM_FIELD_NAME", "prov", &cfg->prov_field);

	cfg->cache_interval_s = 300;
	const char *ci = env_value(&c, "CACHE_INTERVAL");
	if (ci && c.rc == CD_OK &&
	    (config_parse_duration(ci, &cfg->cache_interval_s) != CD_OK ||
	     cfg->cache_interval_s < 1))
		c.rc = cd_fail(err, CD_EINVAL,
		               "CACHE_INTERVAL: \"%s\" is not a duration of at least 1s (like 90s, 5m)",
		               ci);
	env_long(&c, "INDEX_LIMIT", 0, 1024, 0, &n);
	cfg->index_limit = n > 0 ? (int)n : (int)cores();
	env_long(&c, "WORKERS", 1, 1024, 2 * cores(), &n);
	cfg->workers = (int)n;
	env_bool(&c, "JSON_INDEX", &cfg->json_index);
	env_bool(&c, "ENABLE_METRICS", &cfg->enable_metrics);
	env_bool(&c, "LOG_JSON", &cfg->log_json);
	env_bool(&c, "LOG_HEALTH", &cfg->log_health);
	env_bool(&c, "DEBUG", &cfg->debug);
	env_string(&c, "CORS_ALLOW_ORIGIN", NULL, &cfg->cors_allow_origin);

	if (c.rc != CD_OK)
		config_free(cfg);
	return c.rc;
}

void config_free(struct cd_config *cfg)
{
	char **strings[] = {
		&cfg->storage_root, &cfg->state_dir, &cfg->db_path, &cfg->fcgi_socket,
		&cfg->chart_url, &cfg->context_path, &cfg->basic_user, &cfg->basic_pass,
		&cfg->htpasswd_file, &cfg->chart_field, &cfg->prov_field,
		&cfg->cors_allow_origin,
	};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
}
