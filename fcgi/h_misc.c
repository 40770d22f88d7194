/* h_misc.c — GET /health, GET /info and the welcome page GET /. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics.h"
#include "route.h"
#include "store.h"
#include "yamlout.h"

#ifndef CHARTDEPOT_VERSION
#define CHARTDEPOT_VERSION "0.1.0"
#endif

cd_rc h_health(struct req *r, cd_err *err)
{
	(void)err;
	respond_json(r, 200, json_pack("{s:b}", "healthy", 1));
	return CD_OK;
}

cd_rc h_info(struct req *r, cd_err *err)
{
	(void)err;
	respond_json(r, 200, json_pack("{s:s}", "version", CHARTDEPOT_VERSION));
	return CD_OK;
}

static int add_repo(const char *repo, void *ctx)
{
	json_t *list = ctx;
	return json_array_append_new(list, json_string(repo)) == 0 ? 0 : 1;
}

/* Appends s with the five HTML special characters escaped. */
static cd_rc html_escape(struct buf *b, const char *s)
{
	cd_rc rc = CD_OK;
	for (; *s && rc == CD_OK; s++) {
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&#39;"); break;
		default: rc = buf_append(b, s, 1); break;
		}
	}
	return rc;
}

static bool accepts(const struct req *r, const char *type)
{
	return strcasestr(r->accept, type) != NULL;
}

/* The repositories as charthall's GET / gives them ("repos: [...]"), or
 * an HTML page linking each one's index.yaml. */
cd_rc h_root(struct req *r, cd_err *err)
{
	const char *ctx = r->cfg->context_path;
	json_t *repos = req_own_json(r, json_array());
	struct buf b = { 0 };
	cd_rc rc = CD_OK;

	if (repos == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	if (r->cfg->depth == 0 && !r->cfg->depth_dynamic) {
		if (json_array_append_new(repos, json_string("")) != 0)
			return cd_fail(err, CD_ENOMEM, "out of memory");
	} else {
		rc = store_each_repo(r->app->store, add_repo, repos, err);
		if (rc != CD_OK)
			return rc;
	}

	if (accepts(r, "application/json")) {
		respond_json(r, 200, json_pack("{s:O}", "repos", repos));
		return CD_OK;
	}
	size_t i;
	json_t *v;
	if (accepts(r, "yaml")) { /* application/yaml, application/x-yaml, text/yaml */
		rc = buf_puts(&b, json_array_size(repos) ? "repos:\n" : "repos: []\n");
		json_array_foreach(repos, i, v) {
			const char *name = json_string_value(v);
			if (rc == CD_OK)
				rc = buf_puts(&b, "- ");
			if (rc == CD_OK)
				rc = yamlout_string(&b, name, strlen(name));
			if (rc == CD_OK)
				rc = buf_puts(&b, "\n");
		}
		if (rc == CD_OK)
			respond_body(r, 200, "application/yaml", b.data, b.len);
	} else {
		rc = buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		                  "<title>chartdepot</title></head>\n<body>\n"
		                  "<h1>chartdepot</h1>\n<p>Helm chart repositories:</p>\n<ul>\n");
		json_array_foreach(repos, i, v) {
			const char *name = json_string_value(v);
			const char *sep = name[0] ? "/" : "";
			if (rc == CD_OK)
				rc = buf_puts(&b, "<li><a href=\"");
			if (rc == CD_OK)
				rc = html_escape(&b, ctx);
			if (rc == CD_OK)
				rc = buf_puts(&b, "/");
			if (rc == CD_OK)
				rc = html_escape(&b, name);
			if (rc == CD_OK)
				rc = buf_printf(&b, "%sindex.yaml\">", sep);
			if (rc == CD_OK)
				rc = html_escape(&b, name[0] ? name : "(default)");
			if (rc == CD_OK)
				rc = buf_puts(&b, "</a></li>\n");
		}
		if (rc == CD_OK)
			rc = buf_puts(&b, "</ul>\n</body></html>\n");
		if (rc == CD_OK)
			respond_body(r, 200, "text/html; charset=utf-8", b.data, b.len);
	}
	buf_free(&b);
	if (rc != CD_OK)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	return CD_OK;
}

struct repo_list {
	struct metrics_repo *v;
	size_t n, cap;
	bool failed;
};

static int list_repo(const char *repo, void *vctx)
{
	struct repo_list *l = vctx;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? 2 * l->cap : 16;
		struct metrics_repo *nv = realloc(l->v, ncap * sizeof *nv);
		if (nv == NULL)
			return l->failed = true, 1;
		l->v = nv;
		l->cap = ncap;
	}
	struct metrics_repo *m = &l->v[l->n];
	m->repo = strdup(repo);
	m->charts = m->versions = 0;
	if (m->repo == NULL)
		return l->failed = true, 1;
	l->n++;
	return 0;
}

/* The indexer's totals, which it records in the db after each pass; absent
 * until its first pass ends, then counters since it started. */
static cd_rc render_indexer_stats(struct store *s, struct buf *b)
{
	static const struct {
		const char *key, *name, *type, *help;
	} fields[] = {
		{ "passes", "chartdepot_indexer_passes_total", "counter",
		  "Reconcile passes of storage that changed something, or full passes." },
		{ "hashed", "chartdepot_indexer_files_hashed_total", "counter",
		  "Chart files read and hashed." },
		{ "invalid", "chartdepot_indexer_files_invalid_total", "counter",
		  "Files found not to be valid charts." },
		{ "removed", "chartdepot_indexer_rows_removed_total", "counter",
		  "Index rows dropped because their file left storage." },
		{ "last_pass_seconds", "chartdepot_indexer_last_pass_duration_seconds", "gauge",
		  "Duration of the last recorded pass." },
		{ "last_pass_unix", "chartdepot_indexer_last_pass_timestamp_seconds", "gauge",
		  "When the last recorded pass ended (Unix time)." },
	};
	char *text = NULL;
	if (store_setting_get(s, "indexer.stats", &text, NULL) != CD_OK || text == NULL)
		return CD_OK;
	json_t *stats = json_loads(text, 0, NULL);
	free(text);
	cd_rc rc = CD_OK;
	for (size_t i = 0; stats && rc == CD_OK && i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(stats, fields[i].key);
		if (json_is_number(v))
			rc = buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", fields[i].name,
			                fields[i].help, fields[i].name, fields[i].type,
			                fields[i].name, json_number_value(v));
	}
	json_decref(stats);
	return rc;
}

/* GET /metrics (ENABLE_METRICS): ChartMuseum's per-repo gauges, counted
 * from the store on each scrape, then the counters every worker shares. */
cd_rc h_metrics(struct req *r, cd_err *err)
{
	struct repo_list l = { 0 };
	struct buf b = { 0 };
	cd_rc rc;

	if (r->cfg->depth == 0 && !r->cfg->depth_dynamic)
		rc = list_repo("", &l) == 0 ? CD_OK : CD_ENOMEM;
	else
		rc = store_each_repo(r->app->store, list_repo, &l, err);
	if (l.failed)
		rc = cd_fail(err, CD_ENOMEM, "out of memory");
	for (size_t i = 0; rc == CD_OK && i < l.n; i++) {
		int64_t names, versions;
		rc = store_count(r->app->store, l.v[i].repo, &names, &versions, err);
		l.v[i].charts = (long)names;
		l.v[i].versions = (long)versions;
	}
	if (rc == CD_OK)
		rc = metrics_render_repos(l.v, l.n, &b);
	if (rc == CD_OK)
		rc = metrics_render(r->app->metrics, route_names(), &b);
	if (rc == CD_OK)
		rc = render_indexer_stats(r->app->store, &b);
	if (rc == CD_OK)
		respond_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	for (size_t i = 0; i < l.n; i++)
		free((char *)l.v[i].repo);
	free(l.v);
	buf_free(&b);
	if (rc == CD_ENOMEM)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	return rc;
}
