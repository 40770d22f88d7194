/* h_api.c — ChartMuseum's read and delete API under A = /api + P:
 * GET A/charts, GET|HEAD A/charts/<name>, GET|HEAD A/charts/<name>/<version>,
 * DELETE A/charts/<name>/<version>.  Bodies are Helm ChartVersion JSON. */
#include "handlers.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "chart.h"
#include "index.h"
#include "jarena.h"
#include "log.h"
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

struct stream_ctx {
	struct req *r;
	long skip;              /* names still to skip (?offset) */
	long names;             /* names written */
};

/* One name's entries as the store keeps them rendered: "[{...},...]", the
 * ChartVersion objects the API returns (the same as the JSON index's). */
static int stream_one(const char *name, int64_t gen, const char *text, size_t len, void *vctx)
{
	struct stream_ctx *x = vctx;
	(void)gen;
	if (x->skip > 0) {
		x->skip--;
		return 0;
	}
	json_t *key = json_string(name);
	char *quoted = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
	json_decref(key);
	if (quoted == NULL)
		return 1;
	respond_write(x->r, x->names++ ? "," : "{", 1);
	respond_write(x->r, quoted, strlen(quoted));
	respond_write(x->r, ":", 1);
	respond_write(x->r, text, len);
	jarena_free_text(quoted);
	return 0;
}

/* Without ?limit the whole repo is listed: streamed block by block from
 * one read snapshot, so a 130,000-version repo never sits in memory.  A
 * failure half-way can only cut the body short (logged); it leaves
 * invalid JSON, never a plausible partial list. */
static cd_rc stream_list(struct req *r, long offset, cd_err *err)
{
	struct store *s = r->app->store;
	struct stream_ctx x = { .r = r, .skip = offset };
	cd_rc rc = store_read_begin(s, err);
	if (rc != CD_OK)
		return rc;
	respond_start(r, 200, "application/json; charset=utf-8");
	rc = store_each_block_since(s, r->repo, STORE_JSON, INT64_MIN, stream_one, &x, err);
	store_read_end(s);
	store_release_memory(s);
	if (rc != CD_OK) {
		log_error("GET /api/charts: the listing was cut short: %s", err->msg);
		return CD_OK; /* the status went out already */
	}
	respond_write(r, x.names ? "}" : "{}", x.names ? 1 : 2);
	return CD_OK;
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
	if (x.limit < 0)
		return stream_list(r, x.offset, err);
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

struct pick_ctx {
	char *latest;           /* the first version that is not a prerelease */
	char **versions;        /* every version, newest first */
	size_t n, cap;
	bool failed;
};

static int collect_version(const struct store_chart *c, void *vctx)
{
	struct pick_ctx *x = vctx;
	struct semver sv;
	if (x->latest == NULL && semver_parse(c->version, &sv, NULL) == CD_OK && sv.pre[0] == '\0' &&
	    (x->latest = strdup(c->version)) == NULL)
		return x->failed = true, 1;
	if (x->n == x->cap) {
		size_t ncap = x->cap ? 2 * x->cap : 16;
		char **nv = realloc(x->versions, ncap * sizeof *nv);
		if (nv == NULL)
			return x->failed = true, 1;
		x->versions = nv;
		x->cap = ncap;
	}
	if ((x->versions[x->n] = strdup(c->version)) == NULL)
		return x->failed = true, 1;
	x->n++;
	return 0;
}

static void pick_free(struct pick_ctx *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->versions[i]);
	free(x->versions);
	free(x->latest);
}

/* Finds the stored version that <version> names: the exact version first,
 * then "latest" (the highest version that is not a prerelease, as
 * ChartMuseum), then a SemVer constraint ("0.1", "^1.2", "~1.2.3",
 * ">=1.0.0 <2.0.0") whose best match wins.  out is filled on CD_OK and
 * released by the caller with store_chart_free. */
static cd_rc resolve_version(struct req *r, const char *name, const char *version,
                             struct store_chart *out, cd_err *err)
{
	struct pick_ctx x = { 0 };
	const char *pick = NULL;
	size_t best;

	memset(out, 0, sizeof *out);
	cd_rc rc = store_get(r->app->store, r->repo, name, version, out, err);
	if (rc != CD_ENOTFOUND)
		return rc;
	rc = store_each_chart(r->app->store, r->repo, name, collect_version, &x, err);
	if (x.failed)
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc == CD_OK) {
		if (strcmp(version, "latest") == 0)
			pick = x.latest;
		else if (semver_constraint_best(version, (const char *const *)x.versions, x.n, &best,
		                                NULL) == CD_OK)
			pick = x.versions[best];
		rc = pick ? store_get(r->app->store, r->repo, name, pick, out, err) : CD_ENOTFOUND;
	}
	pick_free(&x);
	if (rc == CD_ENOTFOUND)
		rc = cd_fail(err, CD_ENOTFOUND, "no chart version found for %s-%s", name, version);
	return rc;
}

/* GET|HEAD A/charts/<name>/<version>: the ChartVersion JSON. */
cd_rc h_api_version(struct req *r, cd_err *err)
{
	struct store_chart c;
	cd_rc rc = resolve_version(r, r->param[0], r->param[1], &c, err);
	if (rc != CD_OK)
		return rc;
	json_t *entry = entry_of(r, &c);
	store_chart_free(&c);
	if (entry == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	respond_json(r, 200, entry);
	return CD_OK;
}

/* Reads the stored archive of the version the request names. */
static cd_rc load_archive(struct req *r, void **data, size_t *len, cd_err *err)
{
	struct store_chart c;
	cd_rc rc = resolve_version(r, r->param[0], r->param[1], &c, err);
	if (rc != CD_OK)
		return rc;
	rc = storage_read(r->cfg->storage_root, r->repo, c.file, CHART_MAX_DECOMPRESSED, data, len,
	                  NULL, err);
	store_chart_free(&c);
	if (rc == CD_ENOTFOUND)
		return cd_fail(err, CD_ENOTFOUND, "no chart version found for %s-%s", r->param[0],
		               r->param[1]);
	if (rc != CD_OK)
		return rc;
	if (req_own(r, *data) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	return CD_OK;
}

struct files_ctx {
	json_t *templates;      /* [{"name","data"}], NULL when not wanted */
	const char *values;     /* values.yaml bytes (copied), NULL when absent */
	size_t values_len;
	bool failed;
};

static int take_file(const char *path, const void *data, size_t len, void *vctx)
{
	struct files_ctx *x = vctx;
	if (strcmp(path, "values.yaml") == 0 && x->values == NULL) {
		char *copy = malloc(len + 1);
		if (copy == NULL)
			return x->failed = true, 1;
		memcpy(copy, data, len);
		copy[len] = '\0';
		x->values = copy;
		x->values_len = len;
	} else if (x->templates != NULL && strncmp(path, "templates/", 10) == 0) {
		/* Helm's chart.File marshals data ([]byte) as standard base64. */
		size_t blen = 4 * ((len + 2) / 3) + 1;
		unsigned char *b64 = malloc(blen);
		if (b64 == NULL)
			return x->failed = true, 1;
		EVP_EncodeBlock(b64, data, (int)len);
		json_t *f = json_pack("{s:s,s:s}", "name", path, "data", (char *)b64);
		free(b64);
		if (f == NULL || json_array_append_new(x->templates, f) != 0)
			return x->failed = true, 1;
	}
	return 0;
}

/* Walks the archive for its templates (when want_templates) and values. */
static cd_rc read_files(struct req *r, bool want_templates, struct files_ctx *x, cd_err *err)
{
	void *data;
	size_t len;
	memset(x, 0, sizeof *x);
	cd_rc rc = load_archive(r, &data, &len, err);
	if (rc != CD_OK)
		return rc;
	if (want_templates && (x->templates = req_own_json(r, json_array())) == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_err werr;
	rc = chart_each_file(data, len, take_file, x, &werr);
	req_own(r, (void *)x->values);
	if (x->failed)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc == CD_ENOMEM)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (rc != CD_OK) /* the stored file went bad: the server's problem */
		return cd_fail(err, CD_EIO, "stored chart %s-%s cannot be read: %s", r->param[0],
		               r->param[1], werr.msg);
	return CD_OK;
}

/* GET|HEAD A/charts/<name>/<version>/templates: ChartMuseum's
 * {"templates": Helm's chart.Templates, "values": chart.Values}. */
cd_rc h_api_templates(struct req *r, cd_err *err)
{
	struct files_ctx x;
	json_t *values = NULL;
	cd_rc rc = read_files(r, true, &x, err);
	if (rc != CD_OK)
		return rc;
	if (x.values != NULL) {
		cd_err verr;
		rc = chart_parse_values(x.values, x.values_len, &values, &verr);
		if (rc == CD_ENOMEM)
			return cd_fail(err, CD_ENOMEM, "out of memory");
		if (rc != CD_OK)
			return cd_fail(err, CD_EIO, "stored chart %s-%s: %s", r->param[0], r->param[1],
			               verr.msg);
	} else if ((values = json_object()) == NULL) {
		return cd_fail(err, CD_ENOMEM, "out of memory");
	}
	respond_json(r, 200, json_pack("{s:O,s:o}", "templates", x.templates, "values", values));
	return CD_OK;
}

/* GET|HEAD A/charts/<name>/<version>/values: values.yaml as stored. */
cd_rc h_api_values(struct req *r, cd_err *err)
{
	struct files_ctx x;
	cd_rc rc = read_files(r, false, &x, err);
	if (rc != CD_OK)
		return rc;
	if (x.values == NULL)
		return cd_fail(err, CD_ENOTFOUND, "values.yaml not found");
	respond_body(r, 200, "application/yaml", x.values, x.values_len);
	return CD_OK;
}

/* Deletes an indexed version: the row, then its archive and .prov set
 * aside, then the commit, in one write transaction of the index.  A
 * refused commit (507 on a full state disk) puts the files back, so
 * nothing changes; and no other writer (the indexer) can see the files
 * beside the committed removal and index them again.  CD_ENOTFOUND when
 * the row is gone (nothing changed).  Also PER_CHART_LIMIT's pruning
 * (h_upload.c). */
cd_rc h_delete_indexed(struct req *r, const char *name, const char *version,
                       const char *file, cd_err *err)
{
	const char *root = r->cfg->storage_root;
	struct storage_staged aside[2] = { { .fd = -1, .dirfd = -1 }, { .fd = -1, .dirfd = -1 } };
	const char *files[2] = { file, req_printf(r, "%s.prov", file) };
	if (files[1] == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	cd_rc rc = store_begin(r->app->store, err);
	if (rc != CD_OK)
		return rc;
	rc = store_remove(r->app->store, r->repo, name, version, r->cfg->chart_url, err);
	for (int i = 0; i < 2 && rc == CD_OK && storage_filename_valid(files[i]); i++) {
		rc = storage_set_aside(root, r->repo, files[i], &aside[i], err);
		if (rc == CD_ENOTFOUND)
			rc = CD_OK;
	}
	bool committing = rc == CD_OK;
	if (committing)
		rc = store_commit(r->app->store, err);
	if (rc != CD_OK) {
		store_rollback(r->app->store);
		cd_rc back = CD_OK;
		for (int i = 0; i < 2; i++) {
			cd_rc one = storage_put_back(&aside[i], files[i], NULL);
			back = back == CD_OK ? one : back;
		}
		if (committing)
			log_warn("delete of %s%s%s not committed (%s): %s", r->repo,
			         r->repo[0] ? "/" : "", file, err->msg,
			         back == CD_OK ? "its files are back" : "its files could not be put back");
	}
	/* Both were set aside in the same directory: one fsync covers them. */
	if (rc == CD_OK)
		rc = storage_sync(aside[0].dirfd >= 0 ? &aside[0] : &aside[1], err);
	for (int i = 0; i < 2; i++)
		storage_discard(&aside[i]);
	return rc;
}

/* Removes the archive and its .prov with the row (h_delete_indexed), or
 * the files alone when the index does not know the version.  The file
 * name comes from the index when it knows the version, else from name and
 * version. */
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

	if (in_index) {
		rc = h_delete_indexed(r, name, version, file, err);
		if (rc != CD_ENOTFOUND) {
			if (rc == CD_OK)
				respond_json(r, 200, json_pack("{s:b}", "deleted", 1));
			return rc;
		}
		/* The row went meanwhile: whatever files are left go below. */
	}
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
	if (!in_index && !removed)
		return cd_fail(err, CD_ENOTFOUND, "no chart version found for %s-%s", name, version);
	respond_json(r, 200, json_pack("{s:b}", "deleted", 1));
	return CD_OK;
}
