/* test_metrics.c — shared counters and their Prometheus text; the values
 * parser of the templates API (chart_parse_values). */
#include "unit.h"
#include "chart.h"
#include "metrics.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const names[] = { "index", "upload" };

static struct buf render(struct metrics *m)
{
	struct buf b = { 0 };
	CHECK(metrics_render(m, names, &b) == CD_OK);
	return b;
}

TEST(metrics_counts_survive_fork_both_ways)
{
	struct metrics *m;
	CHECK(metrics_create(2, &m, NULL) == CD_OK);
	metrics_request(m, 0, 200, 0.002);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			metrics_request(m, 0, 200, 0.002);
		metrics_upload(m, 201);
		_exit(0);
	}
	for (int i = 0; i < 1000; i++)
		metrics_request(m, 0, 200, 0.002);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	struct buf b = render(m);
	CHECK(strstr(b.data, "chartdepot_http_requests_total{code=\"200\",route=\"index\"} 2001\n") != NULL);
	CHECK(strstr(b.data, "chartdepot_http_request_duration_seconds_count{route=\"index\"} 2001\n") != NULL);
	CHECK(strstr(b.data, "chartdepot_uploads_total{result=\"saved\"} 1\n") != NULL);
	buf_free(&b);
	metrics_destroy(m);
}

TEST(metrics_histogram_is_cumulative_and_clamps_routes)
{
	struct metrics *m;
	CHECK(metrics_create(2, &m, NULL) == CD_OK);
	metrics_request(m, 1, 201, 0.0001);
	metrics_request(m, 1, 201, 0.02);
	metrics_request(m, 1, 409, 60);
	metrics_request(m, 99, 404, 0.001); /* past the table: "none" */
	metrics_request(m, 1, 42, 0.001);   /* no such status: duration only */
	metrics_upload(m, 409);
	metrics_upload(m, 500);
	struct buf b = render(m);
	CHECK(strstr(b.data, "_bucket{route=\"upload\",le=\"0.0005\"} 1\n") != NULL);
	CHECK(strstr(b.data, "_bucket{route=\"upload\",le=\"0.025\"} 3\n") != NULL);
	CHECK(strstr(b.data, "_bucket{route=\"upload\",le=\"10\"} 3\n") != NULL);
	CHECK(strstr(b.data, "_bucket{route=\"upload\",le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(b.data, "chartdepot_http_requests_total{code=\"409\",route=\"upload\"} 1\n") != NULL);
	CHECK(strstr(b.data, "chartdepot_http_requests_total{code=\"404\",route=\"none\"} 1\n") != NULL);
	CHECK(strstr(b.data, "code=\"42\"") == NULL);
	CHECK(strstr(b.data, "chartdepot_uploads_total{result=\"conflict\"} 1\n") != NULL);
	CHECK(strstr(b.data, "chartdepot_uploads_total{result=\"error\"} 1\n") != NULL);
	CHECK(strstr(b.data, "route=\"index\"") == NULL); /* nothing counted there */
	buf_free(&b);
	metrics_destroy(m);
}

TEST(metrics_refuses_too_many_routes)
{
	struct metrics *m = NULL;
	cd_err err;
	CHECK(metrics_create(METRICS_MAX_ROUTES + 1, &m, &err) == CD_EINVAL);
	CHECK(m == NULL);
	metrics_request(NULL, 0, 200, 1); /* disabled metrics are a no-op */
	metrics_upload(NULL, 201);
}

TEST(metrics_repo_gauges_escape_labels)
{
	struct metrics_repo r[] = { { "", 0, 0 }, { "org/a", 1, 2 }, { "q\"\\\n", 3, 4 } };
	struct buf b = { 0 };
	CHECK(metrics_render_repos(r, 3, &b) == CD_OK);
	CHECK(strstr(b.data, "# TYPE chartmuseum_charts_served_total gauge\n") != NULL);
	CHECK(strstr(b.data, "chartmuseum_charts_served_total{repo=\"\"} 0\n") != NULL);
	CHECK(strstr(b.data, "chartmuseum_chart_versions_served_total{repo=\"org/a\"} 2\n") != NULL);
	CHECK(strstr(b.data, "chartmuseum_charts_served_total{repo=\"q\\\"\\\\\\n\"} 3\n") != NULL);
	buf_free(&b);
}

static json_t *values(const char *text, cd_rc *rc)
{
	json_t *v = NULL;
	*rc = chart_parse_values(text, strlen(text), &v, NULL);
	return v;
}

TEST(chart_parse_values_resolves_types_as_yaml_1_1)
{
	cd_rc rc;
	json_t *v = values("replicas: 1\nname: web\non: yes\nratio: 0.5\nempty:\nlist: [a, 2]\n"
	                   "nested:\n  k: \"1\"\n", &rc);
	CHECK(rc == CD_OK);
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(s, "{\"empty\":null,\"list\":[\"a\",2],\"name\":\"web\",\"nested\":{\"k\":\"1\"},"
	             "\"on\":true,\"ratio\":0.5,\"replicas\":1}");
	free(s);
	json_decref(v);
}

TEST(chart_parse_values_empty_is_an_object_and_lists_are_refused)
{
	cd_rc rc;
	json_t *v = values("", &rc);
	CHECK(rc == CD_OK && json_is_object(v) && json_object_size(v) == 0);
	json_decref(v);
	v = values("# only a comment\n", &rc);
	CHECK(rc == CD_OK && json_is_object(v));
	json_decref(v);
	v = values("- a\n- b\n", &rc);
	CHECK(rc == CD_EINVAL && v == NULL);
	v = values("a: [\n", &rc);
	CHECK(rc == CD_EINVAL && v == NULL);
}
