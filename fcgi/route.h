/* route.h — the route table: which handler answers which path and method,
 * what it needs (credentials, an API that may be switched off), and how
 * the repo prefix is cut from the path. */
#ifndef CD_ROUTE_H
#define CD_ROUTE_H

#include "cd_err.h"
#include "request.h"

enum route_flag {
	RF_AUTH_READ = 1 << 0,  /* credentials unless AUTH_ANONYMOUS_GET */
	RF_AUTH_WRITE = 1 << 1, /* credentials whenever auth is configured */
	RF_API = 1 << 2,        /* under /api; gone with DISABLE_API */
	RF_NO_REPO = 1 << 3,    /* no repo prefix: /, /health, /info */
	RF_DELETE = 1 << 4,     /* gone with DISABLE_DELETE */
	RF_METRICS = 1 << 5,    /* only with ENABLE_METRICS */
	RF_AHUB = 1 << 6,       /* only with ARTIFACT_HUB_REPO_ID */
	RF_UPLOAD = 1 << 7,     /* counted as an upload in the metrics */
	RF_HEALTH = 1 << 8,     /* logged only with LOG_HEALTH */
	RF_QUICK = 1 << 9,      /* answers at once: the worker keeps its parked
	                         * connections (fcgi/conns.h) while it runs */
	RF_NO_DB = 1 << 10,     /* never reads the database: no check that the
	                         * worker's connection is still the current file */
};

/* A handler answers the request itself and returns CD_OK, or returns an
 * error with err set and the dispatcher answers {"error": err->msg}. */
typedef cd_rc (*route_fn)(struct req *r, cd_err *err);

struct route {
	unsigned methods;     /* enum req_method bits */
	const char *pattern;  /* after the prefix: "charts/:name/:version", "" */
	unsigned flags;       /* enum route_flag bits */
	route_fn fn;
	const char *name;     /* stable label for logs and metrics */
};

/* Matches r->seg against the table, fills r->repo and r->param, checks the
 * repo segments and the credentials, and runs the handler.  Unknown routes
 * are CD_ENOTFOUND "not found"; bad repo segments CD_EINVAL; missing or
 * wrong credentials CD_EAUTH; an address refused for repeated failed
 * logins CD_ERATE with r->retry_after set. */
cd_rc route_dispatch(struct req *r, cd_err *err);

/* The matching half of route_dispatch, with no credentials checked and no
 * handler run: fills r->route, r->route_flags, r->repo and r->param.
 * CD_ENOTFOUND when no route matches, CD_EINVAL for bad repo segments (with
 * r->route already set). */
cd_rc route_match_only(struct req *r, cd_err *err);

/* The number of routes in the table and their names, by index (the
 * metrics label them so). */
size_t route_count(void);
const char *const *route_names(void);

#endif
