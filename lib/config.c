/* config.c — environment variables and the YAML config file to struct
 * cd_config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "authfail.h"

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
		if (end == p || errno || !isfinite(v) || v < 0)
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

/* ---- the config file ---------------------------------------------------- */

#define CONFIG_FILE_MAX (1 << 20)
#define CONFIG_DEPTH_MAX 8
#define CONFIG_KEY_MAX 128

/* ChartMuseum's config keys (pkg/config/vars.go) and chartdepot's own, each
 * with the environment variable it stands for. */
static const struct file_key {
	const char *key, *env;
} file_keys[] = {
	{ "storage.backend",        "STORAGE" },
	{ "storage.local.rootdir",  "STORAGE_LOCAL_ROOTDIR" },
	{ "basicauth.user",         "BASIC_AUTH_USER" },
	{ "basicauth.pass",         "BASIC_AUTH_PASS" },
	{ "authanonymousget",       "AUTH_ANONYMOUS_GET" },
	{ "allowoverwrite",         "ALLOW_OVERWRITE" },
	{ "disableforceoverwrite",  "DISABLE_FORCE_OVERWRITE" },
	{ "disabledelete",          "DISABLE_DELETE" },
	{ "disableapi",             "DISABLE_API" },
	{ "disablestatefiles",      "DISABLE_STATEFILES" },
	{ "depth",                  "DEPTH" },
	{ "depthdynamic",           "DEPTH_DYNAMIC" },
	{ "charturl",               "CHART_URL" },
	{ "contextpath",            "CONTEXT_PATH" },
	{ "chartpostformfieldname", "CHART_POST_FORM_FIELD_NAME" },
	{ "provpostformfieldname",  "PROV_POST_FORM_FIELD_NAME" },
	{ "maxstorageobjects",      "MAX_STORAGE_OBJECTS" },
	{ "maxuploadsize",          "MAX_UPLOAD_SIZE" },
	{ "per-chart-limit",        "PER_CHART_LIMIT" },
	{ "indexlimit",             "INDEX_LIMIT" },
	{ "cacheinterval",          "CACHE_INTERVAL" },
	{ "enablemetrics",          "ENABLE_METRICS" },
	{ "logjson",                "LOG_JSON" },
	{ "loghealth",              "LOG_HEALTH" },
	{ "debug",                  "DEBUG" },
	{ "cors.alloworigin",       "CORS_ALLOW_ORIGIN" },
	{ "artifact-hub-repo-id",   "ARTIFACT_HUB_REPO_ID" },
	{ "port",                   "PORT" },
	{ "tls.cert",               "TLS_CERT" },
	{ "tls.key",                "TLS_KEY" },
	{ "tls.cacert",             "TLS_CA_CERT" },
	{ "statedir",               "STATE_DIR" },
	{ "htpasswdfile",           "HTPASSWD_FILE" },
	{ "workers",                "WORKERS" },
	{ "fcgisocket",             "FCGI_SOCKET" },
	{ "jsonindex",              "JSON_INDEX" },
	{ "authfailurelimit",       "AUTH_FAILURE_LIMIT" },
};
#define N_FILE_KEYS (sizeof file_keys / sizeof file_keys[0])

/* ChartMuseum keys that can change nothing here: accepted and ignored. */
static const char *const ignored_keys[] = {
	"readtimeout", "writetimeout", "loglatencyinteger", "disablemetrics",
	"enforce-semver2", "always-regenerate-chart-index",
	"storage.timestamptolerance", "cache.store", "cache.redis.addr",
	"cache.redis.password", "cache.redis.db",
};

/* Settings of ChartMuseum's other storage backends: storage.backend must be
 * local, so they cannot take effect. */
static const char *const other_backends[] = {
	"amazon", "google", "oracle", "microsoft", "alibaba", "openstack",
	"baidu", "etcd", "tencent",
};

/* ChartMuseum keys for features chartdepot lacks: running without them
 * could be unsafe (bearer auth) or surprising, so they are refused. */
static const char *const unsupported_keys[] = {
	"bearerauth", "authrealm", "authservice", "authcertpath",
	"authactionssearchpath", "genindex", "listen.host", "web-template-path",
};

struct file_values {
	char *value[N_FILE_KEYS]; /* NULL: not in the file (or null there) */
	int line[N_FILE_KEYS];    /* 0: not in the file */
};

struct yaml_ctx {
	yaml_parser_t parser;
	struct file_values *fv;
	const char *path;
	cd_err *err;
};

static bool in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(key, list[i]) == 0)
			return true;
	return false;
}

static bool is_other_backend_key(const char *key)
{
	if (strncasecmp(key, "storage.", 8) != 0)
		return false;
	const char *name = key + 8, *dot = strchr(name, '.');
	if (dot == NULL)
		return false;
	for (size_t i = 0; i < sizeof other_backends / sizeof other_backends[0]; i++)
		if (strlen(other_backends[i]) == (size_t)(dot - name) &&
		    strncasecmp(name, other_backends[i], (size_t)(dot - name)) == 0)
			return true;
	return false;
}

/* "config file PATH: line N: what" or "... what \"key\"" (line is 0-based). */
static cd_rc yaml_fail(struct yaml_ctx *y, size_t line, const char *what, const char *key)
{
	if (key == NULL)
		return cd_fail(y->err, CD_EINVAL, "config file %.200s: line %zu: %s",
		               y->path, line + 1, what);
	return cd_fail(y->err, CD_EINVAL, "config file %.200s: line %zu: %s \"%.*s\"",
	               y->path, line + 1, what, CONFIG_KEY_MAX, key);
}

/* Next event, or the parser's own error with its line. */
static cd_rc yaml_next(struct yaml_ctx *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->parser, ev))
		return CD_OK;
	if (y->parser.error == YAML_MEMORY_ERROR)
		return cd_fail(y->err, CD_ENOMEM, "out of memory");
	if (y->parser.error == YAML_READER_ERROR) /* bad encoding: no line known */
		return cd_fail(y->err, CD_EINVAL, "config file %.200s: byte %zu: %s",
		               y->path, y->parser.problem_offset,
		               y->parser.problem ? y->parser.problem : "not text");
	return cd_fail(y->err, CD_EINVAL, "config file %.200s: line %zu: %s%s%s",
	               y->path, y->parser.problem_mark.line + 1,
	               y->parser.problem ? y->parser.problem : "not YAML",
	               y->parser.context ? " " : "",
	               y->parser.context ? y->parser.context : "");
}

/* A plain null (``, `~`, `null`) leaves the setting to its default. */
static bool is_null_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

static cd_rc file_set(struct yaml_ctx *y, const char *key, char *value, size_t line)
{
	for (size_t i = 0; i < N_FILE_KEYS; i++) {
		if (strcasecmp(key, file_keys[i].key) != 0)
			continue;
		if (y->fv->line[i] != 0) {
			free(value);
			return yaml_fail(y, line, "key given twice:", file_keys[i].key);
		}
		y->fv->line[i] = (int)line + 1;
		y->fv->value[i] = value;
		return CD_OK;
	}
	free(value);
	if (in_list(key, ignored_keys, sizeof ignored_keys / sizeof ignored_keys[0]) ||
	    is_other_backend_key(key))
		return CD_OK;
	if (in_list(key, unsupported_keys, sizeof unsupported_keys / sizeof unsupported_keys[0]))
		return yaml_fail(y, line, "chartdepot does not support ChartMuseum's option", key);
	return yaml_fail(y, line, "unknown key", key);
}

/* A copy of a scalar's text; a NUL byte in it is an error. */
static cd_rc scalar_copy(struct yaml_ctx *y, const yaml_event_t *ev, const char *key,
                         char **out)
{
	size_t n = ev->data.scalar.length;
	const char *v = (const char *)ev->data.scalar.value;
	if (memchr(v, '\0', n) != NULL)
		return yaml_fail(y, ev->start_mark.line, "a NUL byte in the value of", key);
	*out = strndup(v, n);
	return *out ? CD_OK : cd_fail(y->err, CD_ENOMEM, "out of memory");
}

/* artifact-hub-repo-id as a mapping (repo: id) becomes "repo=id,repo=id",
 * the form ARTIFACT_HUB_REPO_ID takes. */
static cd_rc parse_repo_ids(struct yaml_ctx *y, const char *key, size_t line)
{
	char *joined = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&joined, &len);
	yaml_event_t ev;
	cd_rc rc = CD_OK;
	bool want_key = true, first = true;

	if (f == NULL)
		return cd_fail(y->err, CD_ENOMEM, "out of memory");
	while (rc == CD_OK && (rc = yaml_next(y, &ev)) == CD_OK) {
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length == 0 ||
		    memchr(ev.data.scalar.value, '\0', ev.data.scalar.length) ||
		    strpbrk((const char *)ev.data.scalar.value, ",="))
			rc = yaml_fail(y, ev.start_mark.line,
			               "expected repo: id pairs of plain values in", key);
		else
			fprintf(f, "%s%s", want_key ? (first ? "" : ",") : "=",
			        (const char *)ev.data.scalar.value);
		first = false;
		want_key = !want_key;
		yaml_event_delete(&ev);
	}
	if (fclose(f) != 0 && rc == CD_OK)
		rc = cd_fail(y->err, CD_ENOMEM, "out of memory");
	if (rc == CD_OK)
		return file_set(y, key, joined, line);
	free(joined);
	return rc;
}

/* The entries of one mapping, whose keys are prefix + "." + each key. */
static cd_rc parse_mapping(struct yaml_ctx *y, const char *prefix, int depth)
{
	yaml_event_t kev, vev;
	cd_rc rc;

	if (depth > CONFIG_DEPTH_MAX)
		return yaml_fail(y, y->parser.mark.line, "nested too deeply under", prefix);
	for (;;) {
		if ((rc = yaml_next(y, &kev)) != CD_OK)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return CD_OK;
		}
		size_t line = kev.start_mark.line;
		if (kev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&kev);
			return yaml_fail(y, line, "a key must be a plain name", NULL);
		}
		char key[CONFIG_KEY_MAX + 1];
		int n = snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "",
		                 (const char *)kev.data.scalar.value);
		yaml_event_delete(&kev);
		if (n < 0 || (size_t)n >= sizeof key)
			return yaml_fail(y, line, "key too long:", key);

		if ((rc = yaml_next(y, &vev)) != CD_OK)
			return rc;
		switch (vev.type) {
		case YAML_SCALAR_EVENT:
			if (is_null_scalar(&vev)) {
				rc = file_set(y, key, NULL, line);
			} else {
				char *v = NULL;
				rc = scalar_copy(y, &vev, key, &v);
				if (rc == CD_OK)
					rc = file_set(y, key, v, line);
			}
			break;
		case YAML_MAPPING_START_EVENT:
			rc = strcasecmp(key, "artifact-hub-repo-id") == 0
			             ? parse_repo_ids(y, key, line)
			             : parse_mapping(y, key, depth + 1);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = yaml_fail(y, line, "a list is not allowed as the value of", key);
			break;
		case YAML_ALIAS_EVENT:
			rc = yaml_fail(y, line, "aliases are not allowed, in the value of", key);
			break;
		default:
			rc = yaml_fail(y, line, "unexpected YAML in the value of", key);
			break;
		}
		yaml_event_delete(&vev);
		if (rc != CD_OK)
			return rc;
	}
}

/* One YAML document whose top is a mapping (or nothing at all). */
static cd_rc parse_document(struct yaml_ctx *y)
{
	yaml_event_t ev;
	cd_rc rc = CD_OK;
	int documents = 0;

	while (rc == CD_OK && (rc = yaml_next(y, &ev)) == CD_OK) {
		yaml_event_type_t t = ev.type;
		size_t line = ev.start_mark.line;
		bool null_top = t == YAML_SCALAR_EVENT && is_null_scalar(&ev);
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT || null_top)
			continue;
		if (t == YAML_DOCUMENT_START_EVENT)
			rc = ++documents > 1
			             ? yaml_fail(y, line, "more than one YAML document", NULL)
			             : CD_OK;
		else if (t == YAML_MAPPING_START_EVENT)
			rc = parse_mapping(y, "", 1);
		else
			rc = yaml_fail(y, line, "expected a mapping of keys to values", NULL);
	}
	return rc;
}

/* Reads at most CONFIG_FILE_MAX bytes of path; the caller frees *text. */
static cd_rc read_config_file(const char *path, char **text, size_t *len, cd_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return cd_fail(err, CD_EINVAL, "config file %.200s: no such file", path);
	if (fd < 0)
		return cd_fail(err, CD_EIO, "config file %.200s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return cd_fail(err, CD_EINVAL, "config file %.200s: is a directory", path);
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (buf && n <= CONFIG_FILE_MAX &&
	       (r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	int saved = errno;
	close(fd);
	if (buf == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (r < 0) {
		free(buf);
		return cd_fail(err, CD_EIO, "config file %.200s: %s", path, strerror(saved));
	}
	if (n > CONFIG_FILE_MAX) {
		free(buf);
		return cd_fail(err, CD_EINVAL, "config file %.200s: larger than %d bytes",
		               path, CONFIG_FILE_MAX);
	}
	*text = buf;
	*len = n;
	return CD_OK;
}

static void file_values_free(struct file_values *fv)
{
	for (size_t i = 0; i < N_FILE_KEYS; i++)
		free(fv->value[i]);
}

static cd_rc load_config_file(const char *path, struct file_values *fv, cd_err *err)
{
	char *text = NULL;
	size_t len = 0;
	cd_rc rc = read_config_file(path, &text, &len, err);
	if (rc != CD_OK)
		return rc;
	struct yaml_ctx y = { .fv = fv, .path = path, .err = err };
	if (!yaml_parser_initialize(&y.parser)) {
		free(text);
		return cd_fail(err, CD_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	rc = parse_document(&y);
	yaml_parser_delete(&y.parser);
	free(text);
	return rc;
}

/* ---- values: the environment over the file --------------------------------- */

struct config_ctx {
	config_getenv_fn get;
	const struct file_values *fv;
	cd_err *err;
	cd_rc rc;
	char label[CONFIG_KEY_MAX + 64]; /* where the last value came from */
};

/* The non-empty value of name, from the environment or else the file; sets
 * c->label to the variable's name or to the file key and its line. */
static const char *env_value(struct config_ctx *c, const char *name)
{
	const char *v = c->get(name);
	snprintf(c->label, sizeof c->label, "%s", name);
	if (v != NULL && v[0] != '\0')
		return v;
	for (size_t i = 0; c->fv && i < N_FILE_KEYS; i++) {
		if (strcmp(file_keys[i].env, name) != 0)
			continue;
		v = c->fv->value[i];
		if (v == NULL || v[0] == '\0')
			return NULL;
		snprintf(c->label, sizeof c->label, "%s (config file line %d)",
		         file_keys[i].key, c->fv->line[i]);
		return v;
	}
	return NULL;
}

static void env_bool(struct config_ctx *c, const char *name, bool *out)
{
	const char *v = env_value(c, name);
	*out = false;
	if (v && c->rc == CD_OK && config_parse_bool(v, out) != CD_OK)
		c->rc = cd_fail(c->err, CD_EINVAL,
		                "%s: \"%s\" is not a boolean (use true or false)", c->label, v);
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
		                c->label, v, min, max);
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
		                "%s: \"%s\" must look like /some/prefix", c->label, v);
}

static long cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

cd_rc config_load(struct cd_config *cfg, config_getenv_fn getenv_fn, cd_err *err)
{
	return config_load_file(cfg, NULL, getenv_fn, err);
}

cd_rc config_load_file(struct cd_config *cfg, const char *path,
                       config_getenv_fn getenv_fn, cd_err *err)
{
	struct file_values fv = { { NULL }, { 0 } };
	struct config_ctx c = { .get = getenv_fn ? getenv_fn : (config_getenv_fn)getenv,
		                .err = err, .rc = CD_OK };
	long long n;
	char *tmp;

	memset(cfg, 0, sizeof *cfg);
	if (path == NULL) {
		path = c.get("CONFIG");
		if (path != NULL && path[0] == '\0')
			path = NULL;
	}
	if (path != NULL) {
		c.rc = load_config_file(path, &fv, err);
		if (c.rc != CD_OK) {
			file_values_free(&fv);
			return c.rc;
		}
		c.fv = &fv;
	}

	const char *backend = env_value(&c, "STORAGE");
	if (backend && strcasecmp(backend, "local") != 0)
		c.rc = cd_fail(err, CD_EINVAL,
		               "%s: \"%.64s\" is not supported; chartdepot keeps charts "
		               "on the local file system (use local)", c.label, backend);

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
			               "%s: \"%s\" must start with http:// or https://",
			               c.label, cfg->chart_url);
	}
	env_context_path(&c, &cfg->context_path);
	env_string(&c, "BASIC_AUTH_USER", NULL, &cfg->basic_user);
	env_string(&c, "BASIC_AUTH_PASS", NULL, &cfg->basic_pass);
	if (c.rc == CD_OK && (cfg->basic_user == NULL) != (cfg->basic_pass == NULL))
		c.rc = cd_fail(err, CD_EINVAL,
		               "BASIC_AUTH_USER and BASIC_AUTH_PASS (basicauth.user and "
		               "basicauth.pass) must be set together");
	env_string(&c, "HTPASSWD_FILE", NULL, &cfg->htpasswd_file);
	env_bool(&c, "AUTH_ANONYMOUS_GET", &cfg->anonymous_get);
	env_long(&c, "AUTH_FAILURE_LIMIT", 0, 1000000, AUTHFAIL_DEFAULT_LIMIT, &n);
	cfg->auth_failure_limit = (int)n;
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
		               "%s: \"%s\" is not a duration of at least 1s (like 90s, 5m)",
		               c.label, ci);
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
	env_string(&c, "ARTIFACT_HUB_REPO_ID", NULL, &cfg->artifact_hub_repo_id);
	env_long(&c, "PORT", 1, 65535, 8080, &n);
	cfg->port = (int)n;
	env_string(&c, "TLS_CERT", NULL, &cfg->tls_cert);
	env_string(&c, "TLS_KEY", NULL, &cfg->tls_key);
	env_string(&c, "TLS_CA_CERT", NULL, &cfg->tls_ca_cert);
	if (c.rc == CD_OK && (cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		c.rc = cd_fail(err, CD_EINVAL,
		               "TLS_CERT and TLS_KEY (tls.cert and tls.key) must be set together");
	if (c.rc == CD_OK && cfg->tls_ca_cert && !cfg->tls_cert)
		c.rc = cd_fail(err, CD_EINVAL,
		               "TLS_CA_CERT (tls.cacert) needs TLS_CERT and TLS_KEY");

	file_values_free(&fv);
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
		&cfg->cors_allow_origin, &cfg->artifact_hub_repo_id, &cfg->tls_cert,
		&cfg->tls_key, &cfg->tls_ca_cert,
	};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
}

int config_option_width(int argc, char **argv, int i)
{
	if (i <= 0 || i >= argc)
		return 0;
	if (strncmp(argv[i], "--config=", 9) == 0)
		return 1;
	if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0)
		return i + 1 < argc ? 2 : 1;
	return 0;
}

cd_rc config_from_args(int argc, char **argv, struct cd_config *cfg, cd_err *err)
{
	const char *path = NULL;

	memset(cfg, 0, sizeof *cfg);
	for (int i = 1; i < argc; i++) {
		int w = config_option_width(argc, argv, i);
		if (w == 0)
			continue;
		const char *p = NULL;
		if (strncmp(argv[i], "--config=", 9) == 0)
			p = argv[i] + 9;
		else if (w == 2)
			p = argv[i + 1];
		if (p == NULL || *p == '\0')
			return cd_fail(err, CD_EINVAL, "--config needs the path of a config file");
		if (path != NULL)
			return cd_fail(err, CD_EINVAL, "--config given more than once");
		path = p;
		i += w - 1;
	}
	return config_load_file(cfg, path, NULL, err);
}
