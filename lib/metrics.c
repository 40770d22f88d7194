/* metrics.c — process-shared counters and their Prometheus text form.
 * https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include "metrics.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* Counters in shared memory must not fall back to a lock in one process. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define STATUS_MIN 100
#define STATUS_N 500 /* 100 .. 599 */

static const double bucket_le[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

/* Upload outcomes by the status they were answered with. */
static const struct {
	int status;
	const char *result;
} upload_results[] = {
	{ 201, "saved" },     { 400, "invalid" },  { 401, "unauthorized" },
	{ 409, "conflict" },  { 413, "too_large" }, { 507, "storage_limit" },
	{ 0, "error" }, /* anything else */
};
#define NRESULTS (sizeof upload_results / sizeof upload_results[0])

typedef _Atomic unsigned long long counter;

struct metrics_route {
	counter by_status[STATUS_N];
	counter bucket[NBUCKETS + 1];  /* not cumulative; the last is +Inf only */
	counter count;
	counter sum_us;
};

struct metrics {
	size_t nroutes;
	size_t map_len;
	counter upload[NRESULTS];
	struct metrics_route route[]; /* nroutes + 1 */
};

static void add(counter *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long long get(const counter *c)
{
	return atomic_load_explicit((counter *)c, memory_order_relaxed);
}

cd_rc metrics_create(size_t nroutes, struct metrics **out, cd_err *err)
{
	if (nroutes > METRICS_MAX_ROUTES)
		return cd_fail(err, CD_EINVAL, "too many routes for the metrics (%zu)", nroutes);
	size_t len = sizeof(struct metrics) + (nroutes + 1) * sizeof(struct metrics_route);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return cd_fail(err, CD_ENOMEM, "cannot map the metrics counters: %s", strerror(errno));
	/* Anonymous mappings are zero-filled: every counter starts at 0. */
	struct metrics *m = p;
	m->nroutes = nroutes;
	m->map_len = len;
	*out = m;
	return CD_OK;
}

void metrics_destroy(struct metrics *m)
{
	if (m != NULL)
		munmap(m, m->map_len);
}

void metrics_request(struct metrics *m, size_t route, int status, double seconds)
{
	if (m == NULL)
		return;
	if (route > m->nroutes)
		route = m->nroutes;
	struct metrics_route *r = &m->route[route];
	if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_N)
		add(&r->by_status[status - STATUS_MIN], 1);
	size_t b = 0;
	while (b < NBUCKETS && seconds > bucket_le[b])
		b++;
	add(&r->bucket[b], 1);
	add(&r->count, 1);
	add(&r->sum_us, seconds > 0 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0);
}

void metrics_upload(struct metrics *m, int status)
{
	if (m == NULL)
		return;
	size_t i = 0;
	while (i + 1 < NRESULTS && upload_results[i].status != status)
		i++;
	add(&m->upload[i], 1);
}

cd_rc metrics_label(struct buf *out, const char *s)
{
	cd_rc rc = CD_OK;
	for (; *s && rc == CD_OK; s++) {
		switch (*s) {
		case '\\': rc = buf_puts(out, "\\\\"); break;
		case '"': rc = buf_puts(out, "\\\""); break;
		case '\n': rc = buf_puts(out, "\\n"); break;
		default: rc = buf_append(out, s, 1); break;
		}
	}
	return rc;
}

/* name{route="..."<extra>} — the common prefix of a labelled sample. */
static cd_rc sample_start(struct buf *out, const char *name, const char *route)
{
	cd_rc rc = buf_printf(out, "%s{route=\"", name);
	if (rc == CD_OK)
		rc = metrics_label(out, route);
	if (rc == CD_OK)
		rc = buf_puts(out, "\"");
	return rc;
}

cd_rc metrics_render(const struct metrics *m, const char *const *route_names,
                     struct buf *out)
{
	cd_rc rc = buf_puts(out,
		"# HELP chartdepot_http_requests_total Requests answered by the workers, by route and status.\n"
		"# TYPE chartdepot_http_requests_total counter\n");
	for (size_t i = 0; i <= m->nroutes && rc == CD_OK; i++) {
		const char *name = i < m->nroutes ? route_names[i] : "none";
		for (int s = 0; s < STATUS_N && rc == CD_OK; s++) {
			unsigned long long v = get(&m->route[i].by_status[s]);
			if (v == 0)
				continue;
			rc = buf_printf(out, "chartdepot_http_requests_total{code=\"%d\",route=\"",
			                s + STATUS_MIN);
			if (rc == CD_OK)
				rc = metrics_label(out, name);
			if (rc == CD_OK)
				rc = buf_printf(out, "\"} %llu\n", v);
		}
	}

	if (rc == CD_OK)
		rc = buf_puts(out,
			"# HELP chartdepot_http_request_duration_seconds Time from request to response in the worker.\n"
			"# TYPE chartdepot_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= m->nroutes && rc == CD_OK; i++) {
		const char *name = i < m->nroutes ? route_names[i] : "none";
		const struct metrics_route *r = &m->route[i];
		unsigned long long count = get(&r->count), cum = 0;
		if (count == 0)
			continue;
		for (size_t b = 0; b <= NBUCKETS && rc == CD_OK; b++) {
			cum += get(&r->bucket[b]);
			rc = sample_start(out, "chartdepot_http_request_duration_seconds_bucket", name);
			if (rc == CD_OK && b < NBUCKETS)
				rc = buf_printf(out, ",le=\"%g\"} %llu\n", bucket_le[b], cum);
			else if (rc == CD_OK)
				rc = buf_printf(out, ",le=\"+Inf\"} %llu\n", count);
		}
		if (rc == CD_OK)
			rc = sample_start(out, "chartdepot_http_request_duration_seconds_sum", name);
		if (rc == CD_OK)
			rc = buf_printf(out, "} %.6f\n", (double)get(&r->sum_us) / 1e6);
		if (rc == CD_OK)
			rc = sample_start(out, "chartdepot_http_request_duration_seconds_count", name);
		if (rc == CD_OK)
			rc = buf_printf(out, "} %llu\n", count);
	}

	if (rc == CD_OK)
		rc = buf_puts(out,
			"# HELP chartdepot_uploads_total Chart and provenance uploads, by outcome.\n"
			"# TYPE chartdepot_uploads_total counter\n");
	for (size_t i = 0; i < NRESULTS && rc == CD_OK; i++)
		rc = buf_printf(out, "chartdepot_uploads_total{result=\"%s\"} %llu\n",
		                upload_results[i].result, get(&m->upload[i]));
	return rc;
}

static cd_rc repo_gauge(struct buf *out, const char *name, const char *help,
                        const struct metrics_repo *repos, size_t n, bool versions)
{
	cd_rc rc = buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (size_t i = 0; i < n && rc == CD_OK; i++) {
		rc = buf_printf(out, "%s{repo=\"", name);
		if (rc == CD_OK)
			rc = metrics_label(out, repos[i].repo);
		if (rc == CD_OK)
			rc = buf_printf(out, "\"} %ld\n", versions ? repos[i].versions : repos[i].charts);
	}
	return rc;
}

cd_rc metrics_render_repos(const struct metrics_repo *repos, size_t n, struct buf *out)
{
	cd_rc rc = repo_gauge(out, "chartmuseum_charts_served_total",
	                      "Current number of charts served", repos, n, false);
	if (rc == CD_OK)
		rc = repo_gauge(out, "chartmuseum_chart_versions_served_total",
		                "Current number of chart versions served", repos, n, true);
	return rc;
}
