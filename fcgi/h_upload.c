/* h_upload.c — POST A/charts and POST A/prov, raw or multipart/form-data,
 * as ChartMuseum accepts them.  Everything is parsed and checked before
 * the first byte is written; the file name comes from Chart.yaml (or the
 * provenance's signed Chart.yaml), never from the client. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chart.h"
#include "digest.h"
#include "index.h"
#include "log.h"
#include "multipart.h"
#include "prov.h"
#include "storage.h"
#include "store.h"

struct upload {
	const char *chart;      /* archive bytes, NULL when none */
	size_t chart_len;
	const char *prov;       /* provenance bytes, NULL when none */
	size_t prov_len;

	struct chart_info ci;
	char *chart_file;       /* "<name>-<version>.tgz" */
	char digest[DIGEST_HEX_LEN + 1];

	struct prov_info pi;
	char *prov_file;        /* "<name>-<version>.tgz.prov" */
};

static void chart_info_release(void *p)
{
	chart_info_free(p);
	free(p);
}

static bool looks_like_prov(const char *data, size_t len)
{
	static const char pgp[] = "-----BEGIN PGP SIGNED MESSAGE-----";
	return len >= sizeof pgp - 1 && memcmp(data, pgp, sizeof pgp - 1) == 0;
}

/* Validates the archive and names its file. */
static cd_rc check_chart(struct req *r, struct upload *u, cd_err *err)
{
	if (u->chart_len == 0)
		return cd_fail(err, CD_EINVAL, "empty chart archive");
	if (looks_like_prov(u->chart, u->chart_len))
		return cd_fail(err, CD_EINVAL,
		               "a provenance file was sent where a chart archive was expected");
	struct chart_info *ci = calloc(1, sizeof *ci);
	if (ci == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = chart_read(u->chart, u->chart_len, ci, err);
	if (rc != CD_OK) {
		free(ci);
		return rc;
	}
	req_defer(r, chart_info_release, ci);
	u->ci = *ci;
	u->chart_file = req_own(r, chart_filename(ci->name, ci->version));
	if (u->chart_file == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (!storage_filename_valid(u->chart_file))
		return cd_fail(err, CD_EINVAL, "chart name \"%s\" and version \"%s\" do not make "
		               "a valid file name", ci->name, ci->version);
	digest_sha256_hex(u->chart, u->chart_len, u->digest);
	return CD_OK;
}

/* Validates the provenance file, names its file and, when the chart it
 * signs is known (in this request or stored), checks the digest. */
static cd_rc check_prov(struct req *r, struct upload *u, cd_err *err)
{
	if (u->prov_len == 0)
		return cd_fail(err, CD_EINVAL, "empty provenance file");
	cd_rc rc = prov_parse(u->prov, u->prov_len, &u->pi, err);
	if (rc != CD_OK)
		return rc;
	char *tgz = req_own(r, chart_filename(u->pi.name, u->pi.version));
	if (tgz == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	u->prov_file = req_printf(r, "%s.prov", tgz);
	if (u->prov_file == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (!storage_filename_valid(u->prov_file))
		return cd_fail(err, CD_EINVAL, "provenance names chart \"%s\" version \"%s\", "
		               "which do not make a valid file name", u->pi.name, u->pi.version);

	if (u->chart != NULL) {
		if (strcmp(u->pi.name, u->ci.name) != 0 || strcmp(u->pi.version, u->ci.version) != 0)
			return cd_fail(err, CD_EINVAL, "provenance file is for %s-%s, not for %s",
			               u->pi.name, u->pi.version, u->chart_file);
		if (strcasecmp(u->pi.sha256, u->digest) != 0)
			return cd_fail(err, CD_EINVAL,
			               "provenance sha256 does not match the uploaded chart");
		return CD_OK;
	}
	struct store_chart c;
	memset(&c, 0, sizeof c);
	rc = store_get(r->app->store, r->repo, u->pi.name, u->pi.version, &c, err);
	if (rc == CD_ENOTFOUND)
		return CD_OK;
	if (rc != CD_OK)
		return rc;
	bool same = strcasecmp(c.digest, u->pi.sha256) == 0;
	store_chart_free(&c);
	if (!same)
		return cd_fail(err, CD_EINVAL, "provenance sha256 does not match the stored chart %s",
		               tgz);
	return CD_OK;
}

/* MAX_STORAGE_OBJECTS counts .tgz and .prov files.  At the limit a file
 * may still replace itself, and a .prov may join its stored chart (they
 * share a slot); anything else new is refused. */
static cd_rc check_limit(struct req *r, const struct upload *u, cd_err *err)
{
	const struct cd_config *cfg = r->cfg;
	const char *root = cfg->storage_root;
	if (cfg->max_storage_objects <= 0)
		return CD_OK;
	long adds = 0;
	if (u->chart && !storage_exists(root, r->repo, u->chart_file, NULL))
		adds++;
	if (u->prov && !u->chart && !storage_exists(root, r->repo, u->prov_file, NULL)) {
		size_t n = strlen(u->prov_file) - strlen(".prov");
		char *tgz = req_printf(r, "%.*s", (int)n, u->prov_file);
		if (tgz == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		if (!storage_exists(root, r->repo, tgz, NULL))
			adds++;
	}
	if (adds == 0)
		return CD_OK;
	long have = storage_count_objects(root, r->repo);
	if (have < 0)
		return cd_fail(err, CD_EIO, "cannot count the files of repo \"%s\"", r->repo);
	if (have + adds > cfg->max_storage_objects)
		return cd_fail(err, CD_ELIMIT, "repo has reached storage limit");
	return CD_OK;
}

static cd_rc write_file(struct req *r, const char *file, const void *data, size_t len,
                        bool overwrite, struct storage_stat *st, cd_err *err)
{
	cd_rc rc = storage_write(r->cfg->storage_root, r->repo, file, data, len, overwrite,
	                         st, err);
	if (rc == CD_EEXIST)
		return cd_fail(err, CD_EEXIST, "file already exists");
	return rc;
}

struct prune_ctx {
	long keep;              /* PER_CHART_LIMIT */
	long seen;
	char **version, **file; /* the versions past the limit */
	size_t n, cap;
	bool failed;
};

static int prune_collect(const struct store_chart *c, void *vctx)
{
	struct prune_ctx *x = vctx;
	if (++x->seen <= x->keep)
		return 0;
	if (x->n == x->cap) {
		size_t ncap = x->cap ? 2 * x->cap : 8;
		char **nv = realloc(x->version, ncap * sizeof *nv);
		if (nv == NULL)
			return x->failed = true, 1;
		x->version = nv;
		char **nf = realloc(x->file, ncap * sizeof *nf);
		if (nf == NULL)
			return x->failed = true, 1;
		x->file = nf;
		x->cap = ncap;
	}
	x->version[x->n] = strdup(c->version);
	x->file[x->n] = strdup(c->file);
	x->n++;
	if (x->version[x->n - 1] == NULL || x->file[x->n - 1] == NULL)
		return x->failed = true, 1;
	return 0;
}

/* PER_CHART_LIMIT: keeps the newest N versions of name by SemVer (the
 * store's order; ChartMuseum goes by file mtime) and deletes the others,
 * archive, provenance file and row, each as the API's delete does (row and
 * files in one write transaction, so the indexer never sees one without the
 * other).  The upload has succeeded already, so a failure here is logged,
 * not answered. */
static void prune_versions(struct req *r, const char *name)
{
	const struct cd_config *cfg = r->cfg;
	struct prune_ctx x = { .keep = cfg->per_chart_limit };
	cd_err err;

	cd_rc rc = store_each_chart(r->app->store, r->repo, name, prune_collect, &x, &err);
	if (x.failed)
		rc = cd_fail(&err, CD_ENOMEM, "out of memory");
	for (size_t i = 0; rc == CD_OK && i < x.n; i++) {
		cd_rc frc = h_delete_indexed(r, name, x.version[i], x.file[i], &err);
		if (frc != CD_OK && frc != CD_ENOTFOUND)
			rc = frc;
		else
			log_info("PER_CHART_LIMIT=%ld: deleted %s%s%s", x.keep, r->repo,
			         r->repo[0] ? "/" : "", x.file[i]);
	}
	if (rc != CD_OK)
		log_error("PER_CHART_LIMIT=%ld: pruning %s in repo \"%s\" failed: %s", x.keep, name,
		          r->repo, err.msg);
	for (size_t i = 0; i < x.n; i++) {
		free(x.version[i]);
		free(x.file[i]);
	}
	free(x.version);
	free(x.file);
}

/* Stores the archive and its row in one write transaction of the index:
 * the row, then the file's name (create-only: link(2), which decides
 * between racing uploads; overwrite: an exchange that keeps the old file),
 * then the commit, then the directory's fsync.  No other writer (the
 * indexer) can see the new file without its row, or the old file beside
 * the committed row, so none writes a row of its own.  A refused row or
 * commit (507 on a full state disk) takes the name back: nothing changes. */
static cd_rc save_chart(struct req *r, struct upload *u, bool overwrite, cd_err *err)
{
	const struct cd_config *cfg = r->cfg;
	struct storage_staged staged;
	char created[64];
	cd_rc rc = storage_stage(cfg->storage_root, r->repo, u->chart_file, u->chart,
	                         u->chart_len, &staged, err);
	if (rc != CD_OK)
		return rc;
	index_now_rfc3339(created);
	struct store_chart c = {
		.repo = r->repo,
		.name = u->ci.name,
		.version = u->ci.version,
		.file = u->chart_file,
		.st = staged.st,
		.created = created,
		.meta = u->ci.meta,
	};
	memcpy(c.digest, u->digest, sizeof c.digest);
	if ((rc = store_begin(r->app->store, err)) == CD_OK) {
		rc = store_put(r->app->store, &c, cfg->chart_url, err);
		if (rc == CD_OK)
			rc = overwrite ? storage_replace(&staged, u->chart_file, err)
			               : storage_create(&staged, u->chart_file, err);
		if (rc == CD_OK && (rc = store_commit(r->app->store, err)) != CD_OK) {
			cd_rc back = storage_unpublish(&staged, u->chart_file, NULL);
			log_warn("%s of %s%s%s not committed (%s): %s",
			         overwrite ? "overwrite" : "upload", r->repo, r->repo[0] ? "/" : "",
			         u->chart_file, err->msg,
			         back != CD_OK ? "the new file stays"
			         : overwrite   ? "the old file is back"
			                       : "the new file is removed");
		}
		if (rc != CD_OK)
			store_rollback(r->app->store);
		else
			rc = storage_sync(&staged, err);
	}
	storage_discard(&staged);
	return rc;
}

static cd_rc save(struct req *r, struct upload *u, cd_err *err)
{
	const struct cd_config *cfg = r->cfg;
	cd_rc rc;

	if (u->chart && (rc = check_chart(r, u, err)) != CD_OK)
		return rc;
	if (u->prov && (rc = check_prov(r, u, err)) != CD_OK)
		return rc;
	if ((rc = check_limit(r, u, err)) != CD_OK)
		return rc;

	bool overwrite = cfg->allow_overwrite ||
	                 (!cfg->disable_force_overwrite && req_query(r, "force", NULL, 0));
	if (u->chart && (rc = save_chart(r, u, overwrite, err)) != CD_OK)
		return rc;
	if (u->prov) {
		rc = write_file(r, u->prov_file, u->prov, u->prov_len, overwrite, NULL, err);
		if (rc != CD_OK)
			return rc;
	}
	if (u->chart && cfg->per_chart_limit > 0)
		prune_versions(r, u->ci.name);
	respond_json(r, 201, json_pack("{s:b}", "saved", 1));
	return CD_OK;
}

static bool field_is(const char *name, const char *configured, const char *dflt)
{
	return strcmp(name, configured) == 0 || strcmp(name, dflt) == 0;
}

/* A form with a chart field, a prov field, or both. */
static cd_rc save_form(struct req *r, cd_err *err)
{
	char boundary[256];
	struct multipart_part *parts;
	int n = 0;
	struct upload u;

	if (multipart_boundary(r->content_type, boundary, sizeof boundary) != CD_OK)
		return cd_fail(err, CD_EINVAL, "multipart/form-data without a usable boundary");
	parts = req_alloc(r, MULTIPART_MAX_PARTS * sizeof *parts);
	if (parts == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = multipart_parse(r->body, r->body_len, boundary, parts, &n, err);
	if (rc != CD_OK)
		return rc;
	memset(&u, 0, sizeof u);
	for (int i = 0; i < n; i++) {
		if (u.chart == NULL && field_is(parts[i].name, r->cfg->chart_field, "chart")) {
			u.chart = parts[i].data;
			u.chart_len = parts[i].len;
		} else if (u.prov == NULL && field_is(parts[i].name, r->cfg->prov_field, "prov")) {
			u.prov = parts[i].data;
			u.prov_len = parts[i].len;
		}
	}
	if (u.chart == NULL && u.prov == NULL)
		return cd_fail(err, CD_EINVAL,
		               "no package or provenance file found in form fields %s and %s",
		               r->cfg->chart_field, r->cfg->prov_field);
	return save(r, &u, err);
}

static bool is_form(const struct req *r)
{
	return strncasecmp(r->content_type, "multipart/form-data", 19) == 0;
}

/* A raw body is the chart (POST A/charts) or the provenance file (POST
 * A/prov); a multipart body says in its field names which is which. */
static cd_rc upload_body(struct req *r, bool raw_is_prov, cd_err *err)
{
	struct upload u;
	cd_rc rc = req_read_body(r, err);
	if (rc != CD_OK)
		return rc;
	if (r->body_len == 0)
		return cd_fail(err, CD_EINVAL, "empty request body");
	if (is_form(r))
		return save_form(r, err);
	memset(&u, 0, sizeof u);
	if (raw_is_prov) {
		u.prov = r->body;
		u.prov_len = r->body_len;
	} else {
		u.chart = r->body;
		u.chart_len = r->body_len;
	}
	return save(r, &u, err);
}

cd_rc h_upload_chart(struct req *r, cd_err *err)
{
	return upload_body(r, false, err);
}

cd_rc h_upload_prov(struct req *r, cd_err *err)
{
	return upload_body(r, true, err);
}
