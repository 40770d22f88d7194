/* h_repo.c — what Helm itself fetches: P/index.yaml and P/charts/<file>.
 * The worker authorises and points; nginx sends the bytes. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "options.h"
#include "storage.h"
#include "store.h"
#include "yamlout.h"

/* nginx's internal locations (nginx/chartdepot.conf.in) that X-Accel-Redirect
 * names: chart files under <prefix>/charts/, rendered indexes under
 * <prefix>/index-gz/ for a client that may accept gzip, else under
 * <prefix>/index/. */
#define ACCEL_PREFIX "/@cd"

/* Files up to this size are sent by the worker as its response body: on a
 * connection nginx keeps for its next GET that costs less than an
 * X-Accel-Redirect, after which nginx always closes the connection (it
 * marks a FastCGI connection reusable only once it has read a response
 * body).  nginx still answers Range (fastcgi_force_ranges) and conditional
 * requests from the ETag and Last-Modified sent here.  Bigger files go to
 * /@cd/charts/, sent with sendfile. */
#define SMALL_FILE_MAX (32 * 1024)

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
	int64_t gen = 0;

	/* A named repo exists once it is read, as a ChartMuseum tenant does:
	 * GET / and /metrics list it from then on, with no charts.  Only a
	 * trusted reader creates it, so anonymous reads cannot grow the db. */
	if (r->trusted && r->repo[0] != '\0' && store_generation(r->app->store, r->repo, &gen, NULL) == CD_OK &&
	    gen == 0)
		(void)store_add_repo(r->app->store, r->repo, NULL);

	cd_rc rc = index_ensure_cached(r->app->index_cache, r->app->store, &o, r->repo, fmt, &rel,
	                               err);
	if (rc != CD_OK)
		return rc;
	if (req_own(r, rel) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	/* Only /index-gz/ looks for the gzip copy (gzip_static), and there
	 * nginx itself decides from Accept-Encoding (q-values included); the
	 * test here only spares the other clients, Helm among them, a failed
	 * or unused open of <file>.gz per request. */
	bool maybe_gzip = strcasestr(r->accept_encoding, "gzip") != NULL;
	respond_accel(r, req_printf(r, ACCEL_PREFIX "/%s/%s", maybe_gzip ? "index-gz" : "index", rel));
	return CD_OK;
}

/* Only chart archives and their provenance files are served; any other
 * name is 404 with a JSON body (ChartMuseum answers 500 there). */
cd_rc h_chart_file(struct req *r, cd_err *err)
{
	const char *file = r->param[0];
	bool prov = ends_with(file, ".tgz.prov");
	struct storage_stat st;
	void *data = NULL;
	size_t len = 0;

	if (!storage_filename_valid(file) || !(ends_with(file, ".tgz") || prov))
		return cd_fail(err, CD_ENOTFOUND, "not found");
	cd_rc rc = storage_read(r->cfg->storage_root, r->repo, file, SMALL_FILE_MAX, &data, &len,
	                        &st, err);
	if (rc == CD_OK) {
		respond_file(r, prov ? "application/pgp-signature" : "application/gzip", data, len,
		             st.mtime_ns);
		free(data);
		return CD_OK;
	}
	if (rc != CD_ETOOBIG)
		return rc == CD_ENOTFOUND ? cd_fail(err, CD_ENOTFOUND, "not found") : rc;
	respond_accel(r, req_printf(r, ACCEL_PREFIX "/charts/%s%s%s", r->repo, r->repo[0] ? "/" : "",
	                            file));
	return CD_OK;
}

/* P/artifacthub-repo.yml, as ChartMuseum writes it from
 * ARTIFACT_HUB_REPO_ID: "repositoryID: <id>". */
cd_rc h_artifacthub(struct req *r, cd_err *err)
{
	const char *id = options_ahub_id(r->app->opts, r->repo);
	struct buf b = { 0 };

	if (id == NULL)
		return cd_fail(err, CD_ENOTFOUND, "Artifact Hub repository ID not found");
	cd_rc rc = buf_puts(&b, "repositoryID: ");
	if (rc == CD_OK)
		rc = yamlout_string(&b, id, strlen(id));
	if (rc == CD_OK)
		rc = buf_puts(&b, "\n");
	if (rc == CD_OK)
		respond_body(r, 200, "application/x-yaml", b.data, b.len);
	buf_free(&b);
	return rc == CD_OK ? CD_OK : cd_fail(err, CD_ENOMEM, "out of memory");
}
