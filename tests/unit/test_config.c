/* test_config.c — environment to struct cd_config. */
#include "unit.h"
#include "config.h"

#include <stdlib.h>

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
