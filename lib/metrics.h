/* metrics.h — request, upload and latency counters shared by every worker
 * process, rendered in the Prometheus text exposition format (0.0.4).
 *
 * The counters live in one MAP_SHARED anonymous mapping that the master
 * creates before it forks, so every worker (and every worker restarted
 * later) adds to the same numbers; they are lock-free C11 atomics.  Routes
 * are numbered by the caller (0 .. nroutes-1, and nroutes for "no route");
 * this module knows nothing of HTTP frameworks or the route table. */
#ifndef CD_METRICS_H
#define CD_METRICS_H

#include <stddef.h>
#include "cd_err.h"
#include "yamlout.h"

#define METRICS_MAX_ROUTES 40

struct metrics;

/* Maps the shared counters for nroutes routes (plus one for requests that
 * matched none).  Call before fork; CD_EINVAL past METRICS_MAX_ROUTES. */
cd_rc metrics_create(size_t nroutes, struct metrics **out, cd_err *err);
void metrics_destroy(struct metrics *m);

/* Counts one answered request of route (nroutes for none) with its HTTP
 * status and its duration in seconds.  m may be NULL (metrics disabled). */
void metrics_request(struct metrics *m, size_t route, int status, double seconds);

/* Counts one upload by the status it was answered with. */
void metrics_upload(struct metrics *m, int status);

/* Appends the counters: chartdepot_http_requests_total{code,route},
 * chartdepot_http_request_duration_seconds (histogram by route) and
 * chartdepot_uploads_total{result}.  route_names[i] labels route i. */
cd_rc metrics_render(const struct metrics *m, const char *const *route_names,
                     struct buf *out);

/* One repo's gauges, named as ChartMuseum's. */
struct metrics_repo {
	const char *repo;   /* "" at depth 0, as ChartMuseum labels it */
	long charts;        /* chart names */
	long versions;      /* chart versions */
};

/* Appends chartmuseum_charts_served_total and
 * chartmuseum_chart_versions_served_total for every repo given. */
cd_rc metrics_render_repos(const struct metrics_repo *repos, size_t n, struct buf *out);

/* Appends s as a Prometheus label value (\\, \" and \n escaped). */
cd_rc metrics_label(struct buf *out, const char *s);

#endif
