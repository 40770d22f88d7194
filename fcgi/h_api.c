/* h_api.c — ChartMuseum's read and delete API under A = /api + P:
 * GET A/charts, GET|HEAD A/charts/<name>, GET|HEAD A/charts/<name>/<version>,
 * DELETE A/charts/<name>/<version>.  Bodies are Helm ChartVersion JSON. */
#include "handlers.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "index.h"
#include "semver.h"
#include "storage.h"
#include "store.h"

static json_t *entry_of(const struct req *r, const struct store_chart *c)
{
	return index_entry(c->meta, c->repo, c->file, c->digest, c->created,
	                   r->cfg->chart_url);
}

/* Go's strconv.Atoi on a query value, without sign or spaces. */
static bool parse_count(const char *s, long *out)
{
	char *end;
	if (!isdigit((unsigned char)s[0]) || strlen(s) > 18)
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return false;
	*out = v;
	return true;
}

struct list_ctx {
	const struct req *r;
	json_t *out;            /* object name -> [ChartVersion] */
	json_t *versions;       /* the current name's array, NULL when skipped */
	char *name;             /* the current name (copied) */
	long index;             /* the current name's position, from 0 */
	long offset, limit;     /* limit < 0: no limit */
	bool failed;
};

static int list_one(const struct store_chart *c, void *vctx)
{
	struct list_ctx *x = vctx;

	if (x->name == NULL || strcmp(x->name, c->name) != 0) {
		free(x->name);
		x->name = strdup(c->name);
		x->index++;
		x->versions = NULL;
		if (x->name == NULL)
			return x->failed = true, 1;
		bool in_page = x->index >= x->offset &&
		               (x->limit < 0 || x->index < x->offset + x->limit);
		if (in_page) {
			x->versions = json_array();
			if (x->versions == NULL || json_object_set_new(x->out, c->name, x->versions) != 0)
				return x->failed = true, 1;
		}
	}
	if (x->versions == NULL)
		return 0;
	json_t *e = entry_of(x->r, c);
	if (e == NULL || json_array_append_new(x->versions, e) != 0)
		return x->failed = true, 1;
	return 0;
}

/* Names in order, versions newest first; ?offset=N&limit=M page over the
 * names.  offset without limit runs to the end (ChartMuseum returns {}). */
cd_rc h_api_list(struct req *r, cd_err *err)
{
	char v[32];
	struct list_ctx x = { .r = r, .index = -1, .offset = 0, .limit = -1 };

	if (req_query(r, "offset", v, sizeof v) && !parse_count(v, &x.offset))
		return cd_fail(err, CD_EINVAL, "offset is not a valid non-negative integer");
	if (req_query(r, "limit", v, sizeof v) && (!parse_count(v, &x.limit) || x.limit <= 0))
		return cd_fail(err, CD_EINVAL, "limit is not a valid positive integer");
	x.out = req_own_json(r, json_object());
	if (x.out == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = store_each_chart(r->app->store, r->repo, NULL, list_one, &x, err);
	free(x.name);
	if (x.failed)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc != CD_OK)
		return rc;
	respond_json(r, 200, json_incref(x.out));
	return CD_OK;
}

static int collect(const struct store_chart *c, void *vctx)
{
	struct list_ctx *x = vctx;
	json_t *e = entry_of(x->r, c);
	if (e == NULL || json_array_append_new(x->versions, e) != 0)
		return x->failed = true, 1;
	return 0;
}

cd_rc h_api_chart(struct req *r, cd_err *err)
{
	struct list_ctx x = { .r = r };

	x.versions = req_own_json(r, json_array());
	if (x.versions == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = store_each_chart(r->app->store, r->repo, r->param[0], collect, &x, err);
	if (x.failed)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc != CD_OK)
		return rc;
	if (json_array_size(x.versions) == 0)
		return cd_fail(err, CD_ENOTFOUND, "chart not found");
	respond_json(r, 200, json_incref(x.versions));
	return CD_OK;
}

struct latest_ctx {
	const struct req *r;
	json_t *found;
	bool failed;
};

/* Versions arrive newest first: the first without a prerelease wins. */
static int pick_latest(const struct store_chart *c, void *vctx)
{
	struct latest_ctx *x = vctx;
	struct semver sv;
	if (x->found != NULL || x->failed)
		return 0;
	if (semver_parse(c->version, &sv, NULL) != CD_OK || sv.pre[0] != '\0')
		return 0;
	x->found = entry_of(x->r, c);
	if (x->found == NULL)
		x->failed = true;
	return 0;
}

/* An exact version, or "latest": the highest version that is not a
 * prerelease, as ChartMuseum does. */
cd_rc h_api_version(struct req *r, cd_err *err)
{
	const char *name = r->param[0], *version = r->param[1];
	json_t *entry = NULL;
	cd_rc rc;

	if (strcmp(version, "latest") == 0) {
		struct latest_ctx x = { .r = r };
		rc = store_each_chart(r->app->store, r->repo, name, pick_latest, &x, err);
		entry = x.found;
		if (x.failed)
			rc = cd_fail(err, CD_ENOMEM, "out of memory");
	} else {
		struct store_chart c;
		memset(&c, 0, sizeof c);
		rc = store_get(r->app->store, r->repo, name, version, &c, err);
		if (rc == CD_OK) {
			entry = entry_of(r, &c);
			if (entry == NULL)
				rc = cd_fail(err, CD_ENOMEM, "out of memory");
			store_chart_free(&c);
		}
	}
	if (rc == CD_ENOTFOUND || (rc == CD_OK && entry == NULL))
		rc = cd_fail(err, CD_ENOTFOUND, "no chart version found for %s-%s", name, version);
	if (rc != CD_OK) {
		json_decref(entry);
		return rc;
	}
	respond_json(r, 200, entry);
	return CD_OK;
}

/* Removes the archive and its .prov, then the row.  The file name comes
 * from the index when it knows the version, else from name and version. */
cd_rc h_api_delete(struct req *r, cd_err *err)
{
	const char *root = r->cfg->storage_root;
	const char *name = r->param[0], *version = r->param[1];
	struct store_chart c;
	char *file;
	bool in_index;

	memset(&c, 0, sizeof c);
	cd_rc rc = store_get(r->app->store, r->repo, name, version, &c, err);
	if (rc != CD_OK && rc != CD_ENOTFOUND)
		return rc;
	in_index = rc == CD_OK;
	file = req_own(r, in_index ? strdup(c.file) : chart_filename(name, version));
	if (in_index)
		store_chart_free(&c);
	if (file == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");

	bool removed = false;
	if (storage_filename_valid(file)) {
		char *prov = req_printf(r, "%s.prov", file);
		if (prov == NULL)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		rc = storage_remove(root, r->repo, file, err);
		if (rc != CD_OK && rc != CD_ENOTFOUND)
			return rc;
		removed = rc == CD_OK;
		rc = storage_remove(root, r->repo, prov, err);
		if (rc != CD_OK && rc != CD_ENOTFOUND)
			return rc;
	}
	if (in_index) {
		rc = store_remove(r->app->store, r->repo, name, version, r->cfg->chart_url, err);
		if (rc != CD_OK && rc != CD_ENOTFOUND)
			return rc;
	}
	if (!in_index && !removed)
		return cd_fail(err, CD_ENOTFOUND, "no chart version found for %s-%s", name, version);
	respond_json(r, 200, json_pack("{s:b}", "deleted", 1));
	return CD_OK;
}
