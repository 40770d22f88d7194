/* route.c — the route table and the dispatcher.
 *
 * A path is [/api] [repo segments] pattern.  At DEPTH n the repo has
 * exactly n segments; with DEPTH_DYNAMIC the pattern matched from the end
 * decides, so any depth from 0 to ROUTE_MAX_DEPTH fits.  The first entry
 * whose shape and method match wins; a path that matches nothing is 404,
 * as in ChartMuseum (whose router does not answer 405). */
#include "route.h"

#include <string.h>

#include "auth.h"
#include "authfail.h"
#include "conns.h"
#include "handlers.h"
#include "log.h"
#include "options.h"
#include "storage.h"

#define ROUTE_MAX_DEPTH 3
#define ROUTE_MAX_PARTS 4

static const struct route routes[] = {
	/* Before any repo route, so /health is never read as a repo. */
	{ M_GET | M_HEAD, "", RF_NO_REPO | RF_AUTH_READ, h_root, "root" },
	{ M_GET | M_HEAD, "health", RF_NO_REPO | RF_HEALTH | RF_QUICK, h_health, "health" },
	{ M_GET | M_HEAD, "info", RF_NO_REPO | RF_QUICK, h_info, "info" },
	{ M_GET | M_HEAD, "metrics", RF_NO_REPO | RF_AUTH_READ | RF_METRICS, h_metrics, "metrics" },

	{ M_GET | M_HEAD, "charts", RF_API | RF_AUTH_READ, h_api_list, "api_charts" },
	{ M_POST, "charts", RF_API | RF_AUTH_WRITE | RF_UPLOAD, h_upload_chart, "api_upload_chart" },
	{ M_POST, "prov", RF_API | RF_AUTH_WRITE | RF_UPLOAD, h_upload_prov, "api_upload_prov" },
	{ M_GET | M_HEAD, "charts/:name", RF_API | RF_AUTH_READ | RF_QUICK, h_api_chart, "api_chart" },
	{ M_GET | M_HEAD, "charts/:name/:version", RF_API | RF_AUTH_READ | RF_QUICK, h_api_version,
	  "api_chart_version" },
	{ M_DELETE, "charts/:name/:version", RF_API | RF_AUTH_WRITE | RF_DELETE, h_api_delete,
	  "api_delete" },
	{ M_GET | M_HEAD, "charts/:name/:version/templates", RF_API | RF_AUTH_READ, h_api_templates,
	  "api_templates" },
	{ M_GET | M_HEAD, "charts/:name/:version/values", RF_API | RF_AUTH_READ, h_api_values,
	  "api_values" },

	{ M_GET | M_HEAD, "index.yaml", RF_AUTH_READ, h_index, "index" },
	{ M_GET | M_HEAD, "charts/:file", RF_AUTH_READ | RF_QUICK | RF_NO_DB, h_chart_file, "chart_file" },
	{ M_GET | M_HEAD, "artifacthub-repo.yml", RF_AUTH_READ | RF_AHUB | RF_QUICK, h_artifacthub,
	  "artifacthub" },
};

#define NROUTES (sizeof routes / sizeof routes[0])

size_t route_count(void)
{
	return NROUTES;
}

const char *const *route_names(void)
{
	static const char *names[NROUTES];
	if (names[0] == NULL)
		for (size_t i = 0; i < NROUTES; i++)
			names[i] = routes[i].name;
	return names;
}

struct pattern {
	const char *part[ROUTE_MAX_PARTS];
	size_t len[ROUTE_MAX_PARTS];
	int n;
};

static void pattern_split(const char *p, struct pattern *out)
{
	out->n = 0;
	while (*p && out->n < ROUTE_MAX_PARTS) {
		size_t l = strcspn(p, "/");
		out->part[out->n] = p;
		out->len[out->n] = l;
		out->n++;
		p += l;
		if (*p == '/')
			p++;
	}
}

static bool route_enabled(const struct route *rt, const struct app *app)
{
	const struct cd_config *cfg = app->cfg;
	if ((rt->flags & RF_API) && cfg->disable_api)
		return false;
	if ((rt->flags & RF_DELETE) && cfg->disable_delete)
		return false;
	if ((rt->flags & RF_METRICS) && app->metrics == NULL)
		return false;
	if ((rt->flags & RF_AHUB) && (app->opts == NULL || app->opts->nahub == 0))
		return false;
	return true;
}

/* Shape match: on success *start is the first repo segment and *nrepo their
 * number, and params holds the ":x" segments. */
static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool route_match(const struct route *rt, const struct req *r, int *start,
                        int *nrepo, char **params)
{
	const struct cd_config *cfg = r->cfg;
	struct pattern pat;
	int s = 0;

	pattern_split(rt->pattern, &pat);
	if (rt->flags & RF_API) {
		if (r->nseg < 1 || strcmp(r->seg[0], "api") != 0)
			return false;
		s = 1;
	}
	int repo_n = r->nseg - s - pat.n;
	if (rt->flags & RF_NO_REPO) {
		if (repo_n != 0)
			return false;
	} else if (cfg->depth_dynamic) {
		if (repo_n < 0 || repo_n > ROUTE_MAX_DEPTH)
			return false;
	} else if (repo_n != cfg->depth) {
		return false;
	}
	int np = 0;
	for (int i = 0; i < pat.n; i++) {
		const char *seg = r->seg[s + repo_n + i];
		if (pat.part[i][0] == ':') {
			if (np < 3)
				params[np++] = (char *)seg;
		} else if (strlen(seg) != pat.len[i] ||
		           memcmp(seg, pat.part[i], pat.len[i]) != 0) {
			return false;
		}
	}
	/* With DEPTH_DYNAMIC, /api/charts/x.tgz is both a chart named x.tgz at
	 * depth 0 and a download from repo "api": a file name wins, as Helm
	 * fetches it and no chart is named like its own package file. */
	if (cfg->depth_dynamic && (rt->flags & RF_API) && np >= 1 && params[0] != NULL &&
	    pat.n == 2 && ends_with(params[0], ".tgz") + ends_with(params[0], ".tgz.prov") > 0)
		return false;
	*start = s;
	*nrepo = repo_n;
	return true;
}

/* Joins the repo segments with '/' and checks them: [A-Za-z0-9._-]+, not
 * "." or "..", before anything touches the file system. */
static cd_rc route_repo(struct req *r, int start, int n, cd_err *err)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += strlen(r->seg[start + i]) + 1;
	char *repo = req_alloc(r, len + 1);
	if (repo == NULL)
		return cd_fail(err, CD_ENOMEM, "out of memory");
	repo[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strcat(repo, "/");
		strcat(repo, r->seg[start + i]);
	}
	if (!storage_repo_valid(repo, n))
		return cd_fail(err, CD_EINVAL, "invalid repo name");
	r->repo = repo;
	return CD_OK;
}

static bool needs_credentials(const struct route *rt, const struct app *app)
{
	if (auth_disabled(app->auth))
		return false;
	if (rt->flags & RF_AUTH_WRITE)
		return true;
	return (rt->flags & RF_AUTH_READ) && !app->cfg->anonymous_get;
}

cd_rc route_match_only(struct req *r, cd_err *err)
{
	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *rt = &routes[i];
		char *params[3] = { NULL, NULL, NULL };
		int start, nrepo;

		if (!(rt->methods & r->method) || !route_enabled(rt, r->app))
			continue;
		if (!route_match(rt, r, &start, &nrepo, params))
			continue;
		r->route = (int)i;
		r->route_flags = rt->flags;
		cd_rc rc = route_repo(r, start, nrepo, err);
		if (rc != CD_OK)
			return rc;
		memcpy(r->param, params, sizeof params);
		return CD_OK;
	}
	return cd_fail(err, CD_ENOTFOUND, "not found");
}

/* Sets r->trusted and decides whether the route may run.  Anonymous reads
 * skip the check, but a request that carries credentials is verified so
 * that r->trusted means something.  An address past AUTH_FAILURE_LIMIT
 * gets no check at all (lib/authfail.h): 429 where credentials are needed,
 * an untrusted request elsewhere, so /health keeps answering. */
static cd_rc route_authorise(struct req *r, const struct route *rt, cd_err *err)
{
	struct app *app = r->app;
	bool needed = needs_credentials(rt, app);
	int limit = app->cfg->auth_failure_limit;

	r->trusted = auth_disabled(app->auth);
	if (r->trusted || r->authorization == NULL)
		goto out;
	int64_t now = authfail_now();
	int wait = authfail_wait(&app->authfail, r->remote_addr, limit, now);
	if (wait > 0) {
		if (!needed)
			return CD_OK;
		r->retry_after = wait;
		return cd_fail(err, CD_ERATE, "too many failed logins, retry later");
	}
	if (auth_check(app->auth, r->authorization) == CD_OK) {
		r->trusted = true;
		authfail_clear(&app->authfail, r->remote_addr);
	} else if (authfail_record(&app->authfail, r->remote_addr, limit, now)) {
		log_warn("%d failed logins from %s within %d s: refusing its credentials "
		         "for %d s", limit, r->remote_addr[0] ? r->remote_addr : "(no address)",
		         AUTHFAIL_WINDOW_S, AUTHFAIL_WINDOW_S);
	}
out:
	if (needed && !r->trusted)
		return cd_fail(err, CD_EAUTH, "unauthorized");
	return CD_OK;
}

cd_rc route_dispatch(struct req *r, cd_err *err)
{
	cd_rc rc = route_match_only(r, err);
	if (rc != CD_OK)
		return rc;
	const struct route *rt = &routes[r->route];
	rc = route_authorise(r, rt, err);
	if (rc != CD_OK)
		return rc;
	/* Requests nginx sends on parked connections meanwhile would wait for
	 * this one: let them go elsewhere. */
	if (!(rt->flags & RF_QUICK))
		conns_release(r->app->conns);
	if (!(rt->flags & RF_NO_DB) && r->app->follow_db != NULL)
		r->app->follow_db(r->app);
	return rt->fn(r, err);
}
