/* fuzz_route.c — fcgi/route.c on requests parsed by req_parse_env:
 * route_match_only (repo segments, ":name" parts, DEPTH and the switches),
 * then route_dispatch repeated a few times from one client address, with
 * credentials on, so the failed-login limiter is crossed.  Input: two flag
 * bytes, then NAME=value lines (fcgi_stub.h).
 *   byte 0: bits 0-1 DEPTH, 2 DEPTH_DYNAMIC, 3 DISABLE_API, 4 DISABLE_DELETE,
 *           5 metrics on, 6 an Artifact Hub id, 7 AUTH_ANONYMOUS_GET
 *   byte 1: bits 0-1 CONTEXT_PATH, 2 users configured, 3-7 extra dispatches
 * Checks that a matched repo is valid for the file system, and above all
 * that no handler runs for a protected route without verified credentials. */
#include "fuzz.h"
#include "auth.h"
#include "fcgi_stub.h"
#include "options.h"
#include "request.h"
#include "route.h"
#include "storage.h"

#define FUZZ_LIMIT 3 /* AUTH_FAILURE_LIMIT: small, so a few dispatches cross it */

static const char *const contexts[] = { "", "/charts", "/a/b.c", "/x" };

static int repo_depth(const char *repo)
{
	int n = repo[0] != '\0';
	for (const char *p = repo; *p; p++)
		n += *p == '/';
	return n;
}

static bool needs_credentials(unsigned flags, const struct cd_config *cfg, bool users)
{
	if (!users)
		return false;
	return (flags & RF_AUTH_WRITE) || ((flags & RF_AUTH_READ) && !cfg->anonymous_get);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct app app;  /* large (the failed-login table): not on the stack */
	static struct auth *auth_on;
	static char metrics_dummy;
	static struct ahub_id ahub = { "", "id" };
	struct fcgi_options opts = { &ahub, 1 };
	struct cd_config cfg;
	cd_err err;

	if (auth_on == NULL && auth_open("admin", "Sup3r-s3cret", NULL, &auth_on, &err) != CD_OK)
		abort();
	if (size < 2)
		return 0;
	uint8_t f0 = data[0], f1 = data[1];
	data += 2, size -= 2;
	fuzz_env_parse(data, size);

	memset(&cfg, 0, sizeof cfg);
	cfg.depth = f0 & 3;
	cfg.depth_dynamic = f0 & 4;
	cfg.disable_api = f0 & 8;
	cfg.disable_delete = f0 & 16;
	cfg.anonymous_get = f0 & 128;
	cfg.context_path = (char *)contexts[f1 & 3];
	cfg.max_upload_size = 1 << 20;
	cfg.auth_failure_limit = FUZZ_LIMIT;
	memset(&app, 0, sizeof app);
	app.cfg = &cfg;
	app.metrics = f0 & 32 ? (struct metrics *)(void *)&metrics_dummy : NULL;
	app.opts = f0 & 64 ? &opts : NULL;
	bool users = f1 & 4;
	app.auth = users ? auth_on : NULL;

	int runs = 1 + (f1 >> 3);
	int failures = 0; /* verified-credential failures so far from this address */
	for (int run = 0; run < runs; run++) {
		FCGX_Request fx;
		struct req r;
		memset(&fx, 0, sizeof fx);
		err.msg[0] = '\0';
		fuzz_stub_reset();
		req_init(&r, &app, &fx);
		if (req_parse_env(&r, fuzz_env_get, NULL, &err) != CD_OK) {
			req_end(&r);
			break;
		}

		cd_rc rc = route_match_only(&r, &err);
		FUZZ_CHECK(rc == CD_OK || rc == CD_ENOTFOUND || rc == CD_EINVAL || rc == CD_ENOMEM);
		FUZZ_CHECK(fuzz_handler_calls == 0);
		FUZZ_CHECK(r.route >= -1 && r.route < (int)route_count());
		FUZZ_CHECK(rc != CD_EINVAL || r.route >= 0);
		unsigned rflags = r.route_flags;
		if (rc == CD_OK) {
			int depth = repo_depth(r.repo);
			FUZZ_CHECK(storage_repo_valid(r.repo, depth));
			FUZZ_CHECK(depth <= 3);
			if (rflags & RF_NO_REPO)
				FUZZ_CHECK(r.repo[0] == '\0');
			else if (!cfg.depth_dynamic)
				FUZZ_CHECK(depth == cfg.depth);
			if (rflags & RF_API)
				FUZZ_CHECK(!cfg.disable_api && r.nseg >= 1 && strcmp(r.seg[0], "api") == 0);
			if (rflags & RF_DELETE)
				FUZZ_CHECK(!cfg.disable_delete && r.method == M_DELETE);
			if (rflags & RF_METRICS)
				FUZZ_CHECK(app.metrics != NULL);
			if (rflags & RF_AHUB)
				FUZZ_CHECK(app.opts != NULL);
			for (int i = 0; i < 3; i++) {
				if (r.param[i] == NULL)
					continue;
				bool is_seg = false;
				for (int s = 0; s < r.nseg; s++)
					is_seg = is_seg || r.param[i] == r.seg[s];
				FUZZ_CHECK(is_seg);
			}
		}
		/* Matching is a pure function of the request: the same again. */
		int route = r.route;
		char *repo = strdup(r.repo);
		FUZZ_CHECK(repo != NULL);
		FUZZ_CHECK(route_match_only(&r, &err) == rc && r.route == route &&
		           (rc != CD_OK || strcmp(r.repo, repo) == 0));
		free(repo);

		r.route = -1;
		r.route_flags = 0;
		cd_rc drc = route_dispatch(&r, &err);
		bool needed = rc == CD_OK && needs_credentials(rflags, &cfg, users);
		FUZZ_CHECK(fuzz_handler_calls <= 1);
		if (fuzz_handler_calls == 1) {
			FUZZ_CHECK(drc == FUZZ_HANDLER_RC && rc == CD_OK);
			FUZZ_CHECK(!needed || r.trusted);
		}
		if (rc != CD_OK)
			FUZZ_CHECK(drc == rc);
		if (drc == CD_EAUTH)
			FUZZ_CHECK(needed && !r.trusted);
		if (drc == CD_ERATE) {
			FUZZ_CHECK(needed && r.authorization != NULL && !r.trusted);
			FUZZ_CHECK(failures >= FUZZ_LIMIT);
			FUZZ_CHECK(r.retry_after >= 1 && r.retry_after <= AUTHFAIL_WINDOW_S);
		}
		if (rc == CD_OK && users && r.authorization != NULL && drc != CD_ERATE &&
		    !(failures >= FUZZ_LIMIT))
			failures = r.trusted ? 0 : failures + 1;
		req_end(&r);
	}
	fuzz_env_free();
	return 0;
}
