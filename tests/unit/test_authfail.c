/* test_authfail.c — the per-address failed-login counter and its setting
 * AUTH_FAILURE_LIMIT. */
#include "unit.h"
#include "authfail.h"
#include "config.h"

#include <stdlib.h>

#define T0 1000 /* any clock value but 0 */

/* A zeroed table is empty; each test owns one. */
static struct authfail *table(void)
{
	struct authfail *t = calloc(1, sizeof *t);
	if (t == NULL)
		abort();
	return t;
}

/* Fails n times from addr at now; returns how many of them started a pause. */
static int fail_n(struct authfail *t, const char *addr, int n, int64_t now)
{
	int crossed = 0;
	for (int i = 0; i < n; i++)
		crossed += authfail_record(t, addr, AUTHFAIL_DEFAULT_LIMIT, now);
	return crossed;
}

TEST(authfail_below_the_limit_an_address_may_keep_trying)
{
	struct authfail *t = table();
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT - 1, T0) == 0);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0) == 0);
	free(t);
}

TEST(authfail_reaching_the_limit_refuses_the_address_for_the_window)
{
	struct authfail *t = table();
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0) == 1);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0) == AUTHFAIL_WINDOW_S);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + 59) == 1);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + AUTHFAIL_WINDOW_S) == 0);
	free(t);
}

TEST(authfail_crossing_is_reported_once_per_pause)
{
	struct authfail *t = table();
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT + 5, T0) == 1);
	/* Failures recorded during the pause do not extend it. */
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + 30) == 30);
	/* After the pause the count starts again from zero. */
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT - 1, T0 + 61) == 0);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + 61) == 0);
	CHECK(fail_n(t, "192.0.2.1", 1, T0 + 62) == 1);
	free(t);
}

TEST(authfail_failures_spread_past_the_window_are_forgotten)
{
	struct authfail *t = table();
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT - 1, T0) == 0);
	CHECK(fail_n(t, "192.0.2.1", 1, T0 + AUTHFAIL_WINDOW_S) == 0);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + AUTHFAIL_WINDOW_S) == 0);
	free(t);
}

TEST(authfail_a_success_clears_only_that_address)
{
	struct authfail *t = table();
	fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT - 1, T0);
	fail_n(t, "192.0.2.2", AUTHFAIL_DEFAULT_LIMIT - 1, T0);
	authfail_clear(t, "192.0.2.1");
	CHECK(fail_n(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT - 1, T0 + 1) == 0);
	CHECK(fail_n(t, "192.0.2.2", 1, T0 + 1) == 1);
	CHECK(authfail_wait(t, "192.0.2.2", AUTHFAIL_DEFAULT_LIMIT, T0 + 1) > 0);
	CHECK(authfail_wait(t, "192.0.2.1", AUTHFAIL_DEFAULT_LIMIT, T0 + 1) == 0);
	free(t);
}

TEST(authfail_one_address_does_not_lock_out_another)
{
	struct authfail *t = table();
	fail_n(t, "2001:db8::1", AUTHFAIL_DEFAULT_LIMIT, T0);
	CHECK(authfail_wait(t, "2001:db8::1", AUTHFAIL_DEFAULT_LIMIT, T0) > 0);
	CHECK(authfail_wait(t, "2001:db8::2", AUTHFAIL_DEFAULT_LIMIT, T0) == 0);
	CHECK(authfail_wait(t, "", AUTHFAIL_DEFAULT_LIMIT, T0) == 0);
	CHECK(authfail_wait(t, NULL, AUTHFAIL_DEFAULT_LIMIT, T0) == 0);
	free(t);
}

TEST(authfail_limit_zero_disables_the_limiter)
{
	struct authfail *t = table();
	for (int i = 0; i < 1000; i++)
		CHECK(!authfail_record(t, "192.0.2.1", 0, T0));
	CHECK(authfail_wait(t, "192.0.2.1", 0, T0) == 0);
	free(t);
}

TEST(authfail_a_custom_limit_is_honoured)
{
	struct authfail *t = table();
	CHECK(!authfail_record(t, "192.0.2.1", 2, T0));
	CHECK(authfail_wait(t, "192.0.2.1", 2, T0) == 0);
	CHECK(authfail_record(t, "192.0.2.1", 2, T0));
	CHECK(authfail_wait(t, "192.0.2.1", 2, T0) > 0);
	free(t);
}

/* Many more addresses than slots: the table stays bounded, recent refused
 * addresses survive eviction by newer ones that are merely counting. */
TEST(authfail_a_full_table_evicts_and_keeps_working)
{
	struct authfail *t = table();
	char addr[32];
	fail_n(t, "198.51.100.7", AUTHFAIL_DEFAULT_LIMIT, T0);
	for (int i = 0; i < 10 * AUTHFAIL_SLOTS; i++) {
		snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		authfail_record(t, addr, AUTHFAIL_DEFAULT_LIMIT, T0 + 1);
	}
	CHECK(authfail_wait(t, "198.51.100.7", AUTHFAIL_DEFAULT_LIMIT, T0 + 1) > 0);
	/* The newest address is being counted. */
	CHECK(fail_n(t, addr, AUTHFAIL_DEFAULT_LIMIT - 1, T0 + 2) == 1);
	free(t);
}

TEST(authfail_long_addresses_are_cut_not_overflowed)
{
	struct authfail *t = table();
	char big[4 * AUTHFAIL_ADDR_MAX];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(fail_n(t, big, AUTHFAIL_DEFAULT_LIMIT, T0) == 1);
	CHECK(authfail_wait(t, big, AUTHFAIL_DEFAULT_LIMIT, T0) > 0);
	free(t);
}

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	for (int i = 0; fake_env[i]; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

TEST(authfail_setting_defaults_to_ten_and_zero_turns_it_off)
{
	struct cd_config cfg;
	cd_err err;
	const char *const none[] = { NULL };
	fake_env = none;
	CHECK(config_load(&cfg, fake_getenv, &err) == CD_OK);
	CHECK(cfg.auth_failure_limit == AUTHFAIL_DEFAULT_LIMIT);
	config_free(&cfg);

	const char *const off[] = { "AUTH_FAILURE_LIMIT", "0", NULL };
	fake_env = off;
	CHECK(config_load(&cfg, fake_getenv, &err) == CD_OK);
	CHECK(cfg.auth_failure_limit == 0);
	config_free(&cfg);

	const char *const bad[] = { "AUTH_FAILURE_LIMIT", "-1", NULL };
	fake_env = bad;
	CHECK(config_load(&cfg, fake_getenv, &err) == CD_EINVAL);
	CHECK(strstr(err.msg, "AUTH_FAILURE_LIMIT") != NULL);
}
