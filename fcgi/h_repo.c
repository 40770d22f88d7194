/* h_repo.c — what Helm itself fetches: P/index.yaml and P/charts/<file>.
 * The worker authorises and points; nginx sends the bytes. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "storage.h"
#include "store.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* The current generation's rendered file, made on first request. */
cd_rc h_index(struct req *r, cd_err *err)
{
	const struct cd_config *cfg = r->cfg;
	struct index_opts o = {
		.state_dir = cfg->state_dir,
		.context_path = cfg->context_path,
		.json = cfg->json_index,
	};
	enum store_format fmt = cfg->json_index ? STORE_JSON : STORE_YAML;
	char *rel = NULL;

	cd_rc rc = index_ensure(r->app->store, &o, r->repo, fmt, &rel, err);
	if (rc != CD_OK)
		return rc;
	if (req_own(r, rel) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	respond_accel(r, req_printf(r, "/_cd/index/%s", rel));
	return CD_OK;
}

/* Only chart archives and their provenance files are served; any other
 * name is 404 with a JSON body (ChartMuseum answers 500 there). */
cd_rc h_chart_file(struct req *r, cd_err *err)
{
	const char *file = r->param[0];

	if (!storage_filename_valid(file) ||
	    !(ends_with(file, ".tgz") || ends_with(file, ".tgz.prov")))
		return cd_fail(err, CD_ENOTFOUND, "not found");
	if (!storage_exists(r->cfg->storage_root, r->repo, file, NULL))
		return cd_fail(err, CD_ENOTFOUND, "not found");
	respond_accel(r, req_printf(r, "/_cd/charts/%s%s%s", r->repo,
	                            r->repo[0] ? "/" : "", file));
	return CD_OK;
}
