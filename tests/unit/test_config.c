/* test_config.c — environment and config file to struct cd_config. */
#include "unit.h"
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	for (int i = 0; fake_env[i]; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

static cd_rc load(const char *const *env, struct cd_config *cfg, cd_err *err)
{
	fake_env = env;
	return config_load(cfg, fake_getenv, err);
}

TEST(config_defaults_follow_chartmuseum)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_OK);
	CHECK(cfg.depth == 0);
	CHECK(cfg.max_upload_size == 20 << 20);
	CHECK_STR(cfg.chart_field, "chart");
	CHECK_STR(cfg.prov_field, "prov");
	CHECK(cfg.storage_root[0] == '/');
	CHECK(cfg.workers >= 2);
	config_free(&cfg);
}

TEST(config_bad_depth_names_the_variable)
{
	const char *const env[] = { "DEPTH", "4", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "DEPTH") != NULL);
}

TEST(config_bad_bool_names_the_variable)
{
	const char *const env[] = { "ALLOW_OVERWRITE", "maybe", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "ALLOW_OVERWRITE") != NULL);
}

TEST(config_context_path_trailing_slash_cut)
{
	const char *const env[] = { "CONTEXT_PATH", "/my/crazy/path/", "CHART_URL",
		                    "https://charts.example.com/", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_OK);
	CHECK_STR(cfg.context_path, "/my/crazy/path");
	CHECK_STR(cfg.chart_url, "https://charts.example.com");
	config_free(&cfg);
}

TEST(config_context_path_with_dotdot_rejected)
{
	const char *const env[] = { "CONTEXT_PATH", "/a/../b", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_EINVAL);
}

TEST(config_basic_auth_needs_both_halves)
{
	const char *const env[] = { "BASIC_AUTH_USER", "u", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_EINVAL);
}

TEST(config_durations_parse_like_go)
{
	int s = 0;
	CHECK(config_parse_duration("90s", &s) == CD_OK && s == 90);
	CHECK(config_parse_duration("5m", &s) == CD_OK && s == 300);
	CHECK(config_parse_duration("1h30m", &s) == CD_OK && s == 5400);
	CHECK(config_parse_duration("42", &s) == CD_OK && s == 42);
	CHECK(config_parse_duration("5x", &s) == CD_EINVAL);
	CHECK(config_parse_duration("", &s) == CD_EINVAL);
}

TEST(config_upload_size_accepts_suffix)
{
	const char *const env[] = { "MAX_UPLOAD_SIZE", "2m", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_OK);
	CHECK(cfg.max_upload_size == 2 << 20);
	config_free(&cfg);
}

/* ---- the YAML config file ------------------------------------------------ */

/* Writes text to a new temporary file; path receives its name. */
static void write_config(char path[64], const char *text)
{
	snprintf(path, 64, "/tmp/cd-config-XXXXXX.yaml");
	int fd = mkstemps(path, 5);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	size_t n = strlen(text);
	CHECK(write(fd, text, n) == (ssize_t)n);
	close(fd);
}

static cd_rc load_file(const char *text, const char *const *env,
                       struct cd_config *cfg, cd_err *err)
{
	char path[64];
	write_config(path, text);
	fake_env = env;
	cd_rc rc = config_load_file(cfg, path, fake_getenv, err);
	unlink(path);
	return rc;
}

TEST(config_file_nested_and_dotted_keys_set_the_fields)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err = { "" };
	CHECK(load_file("# ChartMuseum config\n"
	                "debug: true\n"
	                "storage.backend: local\n"
	                "storage:\n"
	                "  local:\n"
	                "    rootdir: /srv/charts\n"
	                "basicauth:\n"
	                "  user: admin\n"
	                "  pass: \"s3cret\"\n"
	                "allowOverwrite: yes\n"
	                "depth: 2\n"
	                "cacheinterval: 90s\n"
	                "maxuploadsize: 1048576\n"
	                "per-chart-limit: 3\n"
	                "cors.alloworigin: '*'\n"
	                "artifact-hub-repo-id:\n"
	                "  org1/repo1: abc\n"
	                "  org2/repo2: def\n"
	                "tls: {cert: /etc/c.pem, key: /etc/k.pem}\n"
	                "port: 9090\n"
	                "statedir: /var/lib/chartdepot\n"
	                "jsonindex: on\n"
	                "htpasswdfile: ~\n",
	                env, &cfg, &err) == CD_OK);
	CHECK_STR(err.msg, "");
	CHECK(cfg.debug);
	CHECK_STR(cfg.storage_root, "/srv/charts");
	CHECK_STR(cfg.basic_user, "admin");
	CHECK_STR(cfg.basic_pass, "s3cret");
	CHECK(cfg.allow_overwrite);
	CHECK(cfg.depth == 2);
	CHECK(cfg.cache_interval_s == 90);
	CHECK(cfg.max_upload_size == 1 << 20);
	CHECK(cfg.per_chart_limit == 3);
	CHECK_STR(cfg.cors_allow_origin, "*");
	CHECK_STR(cfg.artifact_hub_repo_id, "org1/repo1=abc,org2/repo2=def");
	CHECK_STR(cfg.tls_cert, "/etc/c.pem");
	CHECK_STR(cfg.tls_key, "/etc/k.pem");
	CHECK(cfg.port == 9090);
	CHECK_STR(cfg.state_dir, "/var/lib/chartdepot");
	CHECK_STR(cfg.db_path, "/var/lib/chartdepot/chartdepot.db");
	CHECK(cfg.json_index);
	CHECK(cfg.htpasswd_file == NULL);
	config_free(&cfg);
}

TEST(config_env_overrides_the_file)
{
	const char *const env[] = { "DEPTH", "3", "BASIC_AUTH_PASS", "from-env", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("depth: 1\nbasicauth: {user: u, pass: from-file}\n"
	                "disabledelete: true\n",
	                env, &cfg, &err) == CD_OK);
	CHECK(cfg.depth == 3);
	CHECK_STR(cfg.basic_user, "u");
	CHECK_STR(cfg.basic_pass, "from-env");
	CHECK(cfg.disable_delete);
	config_free(&cfg);
}

TEST(config_file_named_by_CONFIG_is_read)
{
	char path[64];
	write_config(path, "contextpath: /charts/\n");
	const char *const env[] = { "CONFIG", path, NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_OK);
	CHECK_STR(cfg.context_path, "/charts");
	config_free(&cfg);
	unlink(path);
}

TEST(config_file_unknown_key_is_rejected_by_name_and_line)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("depth: 1\nbasicauth:\n  usr: admin\n  pass: x\n",
	                env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "unknown key \"basicauth.usr\"") != NULL);
	CHECK(strstr(err.msg, "line 3") != NULL);
}

TEST(config_file_bearer_auth_is_refused_not_ignored)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("bearerauth: 1\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "bearerauth") != NULL);
}

TEST(config_file_keys_without_effect_are_ignored)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("readtimeout: 30\nstorage.amazon.bucket: b\n"
	                "cache: {store: redis, redis: {addr: 'x:6379'}}\n",
	                env, &cfg, &err) == CD_OK);
	config_free(&cfg);
}

TEST(config_storage_backend_amazon_is_rejected)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("storage:\n  backend: amazon\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "storage.backend") != NULL);
	CHECK(strstr(err.msg, "amazon") != NULL);

	const char *const env2[] = { "STORAGE", "google", NULL };
	CHECK(load(env2, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "STORAGE") != NULL);
}

TEST(config_file_bad_value_names_key_and_line)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("debug: false\n\ndepth: 7\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "depth (config file line 3)") != NULL);
}

TEST(config_file_bad_yaml_is_rejected_with_its_line)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("depth: 1\ndebug: true\nport: 80: 90\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "line 3") != NULL);
}

TEST(config_file_missing_names_the_path)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	fake_env = env;
	CHECK(config_load_file(&cfg, "/nonexistent/chartdepot.yaml", fake_getenv, &err) ==
	      CD_EINVAL);
	CHECK(strstr(err.msg, "/nonexistent/chartdepot.yaml") != NULL);
	CHECK(strstr(err.msg, "no such file") != NULL);
}

TEST(config_file_key_given_twice_is_rejected)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("basicauth.user: a\nbasicauth:\n  user: b\n  pass: p\n",
	                env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "twice") != NULL && strstr(err.msg, "basicauth.user") != NULL);
}

TEST(config_file_lists_and_aliases_are_rejected)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("depth: [1, 2]\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "list") != NULL && strstr(err.msg, "depth") != NULL);
	CHECK(load_file("depth: &x 1\nindexlimit: *x\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "aliases") != NULL && strstr(err.msg, "line 2") != NULL);
	CHECK(load_file("- depth\n", env, &cfg, &err) == CD_EINVAL);
	CHECK(load_file("depth: 1\n---\ndepth: 2\n", env, &cfg, &err) == CD_EINVAL);
}

TEST(config_file_nesting_and_size_are_bounded)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("a: {b: {c: {d: {e: {f: {g: {h: {i: {j: 1}}}}}}}}}\n",
	                env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "deep") != NULL);

	size_t n = (1 << 20) + 16;
	char *big = malloc(n + 1);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, '#', n);
	big[n] = '\0';
	CHECK(load_file(big, env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "larger than") != NULL);
	free(big);
}

TEST(config_file_empty_gives_the_defaults)
{
	const char *const env[] = { NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load_file("", env, &cfg, &err) == CD_OK);
	CHECK(cfg.depth == 0 && cfg.port == 8080);
	config_free(&cfg);
	CHECK(load_file("# nothing but a comment\n---\n", env, &cfg, &err) == CD_OK);
	config_free(&cfg);
}

TEST(config_from_args_takes_config_flag_in_both_forms)
{
	char path[64];
	write_config(path, "jsonindex: true\n");
	char arg[80];
	snprintf(arg, sizeof arg, "--config=%s", path);
	char *argv1[] = { "prog", "--once", arg, NULL };
	char *argv2[] = { "prog", "--config", path, "--once", NULL };
	struct cd_config cfg;
	cd_err err;

	CHECK(config_from_args(3, argv1, &cfg, &err) == CD_OK);
	CHECK(cfg.json_index);
	config_free(&cfg);
	CHECK(config_from_args(4, argv2, &cfg, &err) == CD_OK);
	CHECK(cfg.json_index);
	config_free(&cfg);
	CHECK(config_option_width(4, argv2, 1) == 2);
	CHECK(config_option_width(4, argv2, 3) == 0);
	CHECK(config_option_width(3, argv1, 2) == 1);
	unlink(path);
}

TEST(config_from_args_without_a_path_fails)
{
	char *argv1[] = { "prog", "--config", NULL };
	char *argv2[] = { "prog", "--config=", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(config_from_args(2, argv1, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "--config") != NULL);
	CHECK(config_from_args(2, argv2, &cfg, &err) == CD_EINVAL);
}

TEST(config_tls_cert_needs_its_key)
{
	const char *const env[] = { "TLS_CERT", "/c.pem", NULL };
	struct cd_config cfg;
	cd_err err;
	CHECK(load(env, &cfg, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "TLS_KEY") != NULL);
}

TEST(config_duration_nan_or_infinity_is_rejected)
{
	int s = 0;
	CHECK(config_parse_duration("nanh", &s) == CD_EINVAL);
	CHECK(config_parse_duration("infs", &s) == CD_EINVAL);
	CHECK(config_parse_duration("-5s", &s) == CD_EINVAL);
}
