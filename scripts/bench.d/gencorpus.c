/* gencorpus.c — writes a deterministic corpus of Helm chart archives for
 * `make bench` (scripts/bench builds it with cc and libarchive).
 *
 *   gencorpus -o DIR -n NAMES -v VERSIONS [-s SEED] [-N FIRST_NAME]
 *             [-V FIRST_VERSION] [-p PAD_BYTES] [-j JOBS] [-l]
 *
 * Writes DIR/<name>-<version>.tgz for names FIRST_NAME..FIRST_NAME+NAMES-1
 * and versions FIRST_VERSION..FIRST_VERSION+VERSIONS-1.  Every byte is a
 * function of (SEED, name index, version index) alone, so corpora of
 * different sizes share their first names, and an upload set made with
 * -V 10 holds new versions of the same charts.  Each archive has Helm's
 * layout ("<name>/Chart.yaml", values.yaml, templates/, .helmignore), like
 * `helm create` output (about 4 KB gzip'd); a Chart.yaml with every common
 * field; -p adds <name>/files/payload.bin of PAD_BYTES incompressible bytes
 * (the large-bytes corpus).  -l prints the file names, version-major (one
 * version of every name, then the next), on stdout.  JOBS processes split
 * the names between them. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t g_seed = 1;
static const time_t g_mtime = 1700000000; /* 2023-11-14: fixed, so bytes repeat */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct rng { uint64_t s; };

static uint64_t rnext(struct rng *r) { return mix(r->s++ * 0x2545f4914f6cdd1dULL + g_seed); }
static unsigned rpick(struct rng *r, unsigned n) { return (unsigned)(rnext(r) % n); }

static struct rng rng_for(uint64_t a, uint64_t b)
{
	struct rng r = { mix(mix(g_seed ^ (a * 0x100000001b3ULL)) ^ (b + 0x51ed27ULL)) };
	return r;
}

static const char *const words[] = {
	"redis", "postgres", "kafka", "nginx", "prometheus", "grafana", "loki", "tempo",
	"vault", "consul", "etcd", "minio", "rabbitmq", "mongodb", "mysql", "mariadb",
	"elastic", "kibana", "fluentd", "jaeger", "istio", "linkerd", "traefik", "envoy",
	"cert", "external", "secrets", "operator", "gateway", "ingress", "metrics", "exporter",
	"adapter", "controller", "agent", "proxy", "cache", "queue", "stream", "search",
	"billing", "payments", "orders", "catalog", "users", "auth", "notify", "reports",
	"ledger", "inventory", "shipping", "pricing", "checkout", "frontend", "backend", "worker",
	"scheduler", "cron", "batch", "api", "web", "admin", "portal", "sync",
};
#define NWORDS (sizeof words / sizeof words[0])

static const char *const people[] = {
	"Alice Martin", "Bob Nakamura", "Chen Wei", "Dana Okafor", "Emil Novak",
	"Farah Haddad", "Gustavo Reyes", "Hanna Lindqvist", "Ivan Petrov", "Jia Li",
};
static const char *const categories[] = {
	"Database", "Monitoring", "Networking", "Security", "Storage", "Streaming",
	"Integration and Delivery", "Logging and Tracing",
};
static const char *const licenses[] = { "Apache-2.0", "MIT", "BSD-3-Clause", "MPL-2.0" };

/* A growable text buffer. */
struct buf { char *p; size_t n, cap; };

static void bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0)
			abort();
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

/* Text with every "@N@" replaced by the chart name. */
static void bput_tmpl(struct buf *b, const char *t, const char *name)
{
	const char *at;
	while ((at = strstr(t, "@N@")) != NULL) {
		bput(b, "%.*s%s", (int)(at - t), t, name);
		t = at + 3;
	}
	bput(b, "%s", t);
}

static void chart_name(uint64_t i, char *out, size_t sz)
{
	struct rng r = rng_for(i, 0xffffffffULL);
	unsigned a = rpick(&r, NWORDS), c = rpick(&r, NWORDS);
	if (c == a)
		c = (c + 1) % NWORDS;
	snprintf(out, sz, "%s-%s-%05" PRIu64, words[a], words[c], i);
}

/* Distinct indexes give distinct versions; some are release candidates. */
static void chart_version(uint64_t i, uint64_t v, char *out, size_t sz)
{
	struct rng r = rng_for(i, v + 7);
	int rc = rpick(&r, 8) == 0;
	if (rc)
		snprintf(out, sz, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "-rc.%u", 1 + v / 100,
		         (v / 10) % 10, v % 10, 1 + rpick(&r, 3));
	else
		snprintf(out, sz, "%" PRIu64 ".%" PRIu64 ".%" PRIu64, 1 + v / 100, (v / 10) % 10, v % 10);
}

static const char helmignore[] =
	"# Patterns to ignore when building packages.\n"
	"# This supports shell glob matching, relative path matching, and\n"
	"# negation (prefixed with !). Only one pattern per line.\n"
	".DS_Store\n# Common VCS dirs\n.git/\n.gitignore\n.bzr/\n.bzrignore\n.hg/\n.hgignore\n.svn/\n"
	"# Common backup files\n*.swp\n*.bak\n*.tmp\n*.orig\n*~\n"
	"# Various IDEs\n.project\n.idea/\n*.tmproj\n.vscode/\n";

static const char helpers_tpl[] =
	"{{/*\nExpand the name of the chart.\n*/}}\n"
	"{{- define \"@N@.name\" -}}\n"
	"{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix \"-\" }}\n"
	"{{- end }}\n\n"
	"{{/*\nCreate a default fully qualified app name.\n"
	"We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).\n"
	"If release name contains chart name it will be used as a full name.\n*/}}\n"
	"{{- define \"@N@.fullname\" -}}\n"
	"{{- if .Values.fullnameOverride }}\n"
	"{{- .Values.fullnameOverride | trunc 63 | trimSuffix \"-\" }}\n"
	"{{- else }}\n"
	"{{- $name := default .Chart.Name .Values.nameOverride }}\n"
	"{{- if contains $name .Release.Name }}\n"
	"{{- .Release.Name | trunc 63 | trimSuffix \"-\" }}\n"
	"{{- else }}\n"
	"{{- printf \"%s-%s\" .Release.Name $name | trunc 63 | trimSuffix \"-\" }}\n"
	"{{- end }}\n{{- end }}\n{{- end }}\n\n"
	"{{/*\nCreate chart name and version as used by the chart label.\n*/}}\n"
	"{{- define \"@N@.chart\" -}}\n"
	"{{- printf \"%s-%s\" .Chart.Name .Chart.Version | replace \"+\" \"_\" | trunc 63 | trimSuffix \"-\" }}\n"
	"{{- end }}\n\n"
	"{{/*\nCommon labels\n*/}}\n"
	"{{- define \"@N@.labels\" -}}\n"
	"helm.sh/chart: {{ include \"@N@.chart\" . }}\n"
	"{{ include \"@N@.selectorLabels\" . }}\n"
	"{{- if .Chart.AppVersion }}\n"
	"app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\n"
	"{{- end }}\n"
	"app.kubernetes.io/managed-by: {{ .Release.Service }}\n"
	"{{- end }}\n\n"
	"{{/*\nSelector labels\n*/}}\n"
	"{{- define \"@N@.selectorLabels\" -}}\n"
	"app.kubernetes.io/name: {{ include \"@N@.name\" . }}\n"
	"app.kubernetes.io/instance: {{ .Release.Name }}\n"
	"{{- end }}\n\n"
	"{{/*\nCreate the name of the service account to use\n*/}}\n"
	"{{- define \"@N@.serviceAccountName\" -}}\n"
	"{{- if .Values.serviceAccount.create }}\n"
	"{{- default (include \"@N@.fullname\" .) .Values.serviceAccount.name }}\n"
	"{{- else }}\n"
	"{{- default \"default\" .Values.serviceAccount.name }}\n"
	"{{- end }}\n{{- end }}\n";

static const char deployment_yaml[] =
	"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
	"  name: {{ include \"@N@.fullname\" . }}\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"spec:\n  {{- if not .Values.autoscaling.enabled }}\n"
	"  replicas: {{ .Values.replicaCount }}\n  {{- end }}\n"
	"  selector:\n    matchLabels:\n      {{- include \"@N@.selectorLabels\" . | nindent 6 }}\n"
	"  template:\n    metadata:\n      {{- with .Values.podAnnotations }}\n"
	"      annotations:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
	"      labels:\n        {{- include \"@N@.labels\" . | nindent 8 }}\n"
	"        {{- with .Values.podLabels }}\n        {{- toYaml . | nindent 8 }}\n        {{- end }}\n"
	"    spec:\n      {{- with .Values.imagePullSecrets }}\n"
	"      imagePullSecrets:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
	"      serviceAccountName: {{ include \"@N@.serviceAccountName\" . }}\n"
	"      securityContext:\n        {{- toYaml .Values.podSecurityContext | nindent 8 }}\n"
	"      containers:\n        - name: {{ .Chart.Name }}\n"
	"          securityContext:\n            {{- toYaml .Values.securityContext | nindent 12 }}\n"
	"          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n"
	"          imagePullPolicy: {{ .Values.image.pullPolicy }}\n"
	"          ports:\n            - name: http\n              containerPort: {{ .Values.service.port }}\n"
	"              protocol: TCP\n"
	"          livenessProbe:\n            {{- toYaml .Values.livenessProbe | nindent 12 }}\n"
	"          readinessProbe:\n            {{- toYaml .Values.readinessProbe | nindent 12 }}\n"
	"          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n"
	"          {{- with .Values.volumeMounts }}\n          volumeMounts:\n"
	"            {{- toYaml . | nindent 12 }}\n          {{- end }}\n"
	"      {{- with .Values.volumes }}\n      volumes:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
	"      {{- with .Values.nodeSelector }}\n      nodeSelector:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
	"      {{- with .Values.affinity }}\n      affinity:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
	"      {{- with .Values.tolerations }}\n      tolerations:\n        {{- toYaml . | nindent 8 }}\n      {{- end }}\n";

static const char service_yaml[] =
	"apiVersion: v1\nkind: Service\nmetadata:\n"
	"  name: {{ include \"@N@.fullname\" . }}\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"spec:\n  type: {{ .Values.service.type }}\n  ports:\n"
	"    - port: {{ .Values.service.port }}\n      targetPort: http\n      protocol: TCP\n      name: http\n"
	"  selector:\n    {{- include \"@N@.selectorLabels\" . | nindent 4 }}\n";

static const char serviceaccount_yaml[] =
	"{{- if .Values.serviceAccount.create -}}\n"
	"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
	"  name: {{ include \"@N@.serviceAccountName\" . }}\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"  {{- with .Values.serviceAccount.annotations }}\n  annotations:\n"
	"    {{- toYaml . | nindent 4 }}\n  {{- end }}\n"
	"automountServiceAccountToken: {{ .Values.serviceAccount.automount }}\n{{- end }}\n";

static const char ingress_yaml[] =
	"{{- if .Values.ingress.enabled -}}\n"
	"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n"
	"  name: {{ include \"@N@.fullname\" . }}\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"  {{- with .Values.ingress.annotations }}\n  annotations:\n    {{- toYaml . | nindent 4 }}\n  {{- end }}\n"
	"spec:\n  {{- with .Values.ingress.className }}\n  ingressClassName: {{ . }}\n  {{- end }}\n"
	"  {{- if .Values.ingress.tls }}\n  tls:\n    {{- range .Values.ingress.tls }}\n"
	"    - hosts:\n        {{- range .hosts }}\n        - {{ . | quote }}\n        {{- end }}\n"
	"      secretName: {{ .secretName }}\n    {{- end }}\n  {{- end }}\n"
	"  rules:\n    {{- range .Values.ingress.hosts }}\n    - host: {{ .host | quote }}\n"
	"      http:\n        paths:\n          {{- range .paths }}\n          - path: {{ .path }}\n"
	"            {{- with .pathType }}\n            pathType: {{ . }}\n            {{- end }}\n"
	"            backend:\n              service:\n                name: {{ include \"@N@.fullname\" $ }}\n"
	"                port:\n                  number: {{ $.Values.service.port }}\n"
	"          {{- end }}\n    {{- end }}\n{{- end }}\n";

static const char hpa_yaml[] =
	"{{- if .Values.autoscaling.enabled }}\n"
	"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
	"  name: {{ include \"@N@.fullname\" . }}\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n"
	"    name: {{ include \"@N@.fullname\" . }}\n"
	"  minReplicas: {{ .Values.autoscaling.minReplicas }}\n"
	"  maxReplicas: {{ .Values.autoscaling.maxReplicas }}\n  metrics:\n"
	"    {{- if .Values.autoscaling.targetCPUUtilizationPercentage }}\n"
	"    - type: Resource\n      resource:\n        name: cpu\n        target:\n"
	"          type: Utilization\n"
	"          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}\n"
	"    {{- end }}\n{{- end }}\n";

static const char test_yaml[] =
	"apiVersion: v1\nkind: Pod\nmetadata:\n"
	"  name: \"{{ include \"@N@.fullname\" . }}-test-connection\"\n"
	"  labels:\n    {{- include \"@N@.labels\" . | nindent 4 }}\n"
	"  annotations:\n    \"helm.sh/hook\": test\n"
	"spec:\n  containers:\n    - name: wget\n      image: busybox\n      command: ['wget']\n"
	"      args: ['{{ include \"@N@.fullname\" . }}:{{ .Values.service.port }}']\n"
	"  restartPolicy: Never\n";

static void make_chart_yaml(struct buf *b, uint64_t i, uint64_t v, const char *name,
                            const char *version)
{
	struct rng r = rng_for(i, v);
	struct rng rn = rng_for(i, 0xfffffffeULL); /* per name: stable across versions */
	const char *w1 = words[rpick(&rn, NWORDS)], *w2 = words[rpick(&rn, NWORDS)];
	unsigned nmaint = 1 + rpick(&rn, 3), nkw = 2 + rpick(&rn, 4);
	bool library = rpick(&rn, 10) == 0;

	bput(b, "apiVersion: v2\nname: %s\n", name);
	bput(b, "description: A Helm chart that deploys %s %s and its %s on Kubernetes\n", w1, w2,
	     words[rpick(&rn, NWORDS)]);
	bput(b, "type: %s\n", library ? "library" : "application");
	bput(b, "version: %s\n", version);
	bput(b, "appVersion: \"%u.%u.%u\"\n", 1 + rpick(&r, 9), rpick(&r, 30), rpick(&r, 20));
	bput(b, "kubeVersion: \">=1.%u.0-0\"\n", 21 + rpick(&rn, 8));
	bput(b, "keywords:\n");
	for (unsigned k = 0; k < nkw; k++)
		bput(b, "  - %s\n", words[rpick(&rn, NWORDS)]);
	bput(b, "home: https://%s.example.org\n", name);
	bput(b, "sources:\n  - https://github.com/example-org/%s\n"
	        "  - https://github.com/example-org/%s-images\n", name, w1);
	bput(b, "maintainers:\n");
	for (unsigned k = 0; k < nmaint; k++) {
		const char *p = people[rpick(&rn, sizeof people / sizeof people[0])];
		char user[32];
		snprintf(user, sizeof user, "%.*s", (int)strcspn(p, " "), p);
		for (char *c = user; *c; c++)
			*c = (char)(*c | 0x20);
		bput(b, "  - name: %s\n    email: %s@example.org\n    url: https://example.org/~%s\n", p,
		     user, user);
	}
	bput(b, "icon: https://%s.example.org/icon-%u.svg\n", name, rpick(&rn, 100));
	bput(b, "annotations:\n  artifacthub.io/license: %s\n  category: %s\n"
	        "  artifacthub.io/changes: |\n"
	        "    - kind: changed\n      description: Bump %s to %u.%u\n"
	        "    - kind: fixed\n      description: Probe timeouts in the %s template\n",
	     licenses[rpick(&rn, 4)], categories[rpick(&rn, 8)], w2, 1 + rpick(&r, 9),
	     rpick(&r, 20), words[rpick(&r, NWORDS)]);
	bput(b, "dependencies:\n"
	        "  - name: common\n    version: 2.x.x\n    repository: https://charts.example.org/common\n"
	        "    tags:\n      - example-common\n");
	if (rpick(&rn, 2))
		bput(b, "  - name: %s\n    version: \">=%u.0.0 <%u.0.0\"\n"
		        "    repository: oci://registry.example.org/charts\n"
		        "    alias: %s-dep\n    condition: %s.enabled\n",
		     w1, 10 + rpick(&rn, 5), 20 + rpick(&rn, 5), w1, w1);
}

static void make_values(struct buf *b, uint64_t i, uint64_t v, const char *name)
{
	struct rng r = rng_for(i, v + 0x5151);
	bput(b, "# Default values for %s.\n"
	        "# This is a YAML-formatted file.\n"
	        "# Declare variables to be passed into your templates.\n\n", name);
	bput(b, "replicaCount: %u\n\nimage:\n  repository: registry.example.org/%s\n"
	        "  pullPolicy: IfNotPresent\n"
	        "  # Overrides the image tag whose default is the chart appVersion.\n  tag: \"\"\n\n",
	     1 + rpick(&r, 3), name);
	bput(b, "imagePullSecrets: []\nnameOverride: \"\"\nfullnameOverride: \"\"\n\n"
	        "serviceAccount:\n  # Specifies whether a service account should be created\n"
	        "  create: true\n  # Automatically mount a ServiceAccount's API credentials?\n"
	        "  automount: true\n  # Annotations to add to the service account\n"
	        "  annotations: {}\n  # The name of the service account to use.\n"
	        "  # If not set and create is true, a name is generated using the fullname template\n"
	        "  name: \"\"\n\npodAnnotations: {}\npodLabels: {}\n\n"
	        "podSecurityContext: {}\n  # fsGroup: 2000\n\n"
	        "securityContext: {}\n  # capabilities:\n  #   drop:\n  #   - ALL\n"
	        "  # readOnlyRootFilesystem: true\n  # runAsNonRoot: true\n  # runAsUser: 1000\n\n");
	bput(b, "service:\n  type: ClusterIP\n  port: %u\n\n", 8000 + rpick(&r, 1000));
	bput(b, "ingress:\n  enabled: false\n  className: \"\"\n  annotations: {}\n"
	        "    # kubernetes.io/ingress.class: nginx\n    # kubernetes.io/tls-acme: \"true\"\n"
	        "  hosts:\n    - host: %s.local\n      paths:\n        - path: /\n"
	        "          pathType: ImplementationSpecific\n  tls: []\n"
	        "  #  - secretName: %s-tls\n  #    hosts:\n  #      - %s.local\n\n", name, name, name);
	bput(b, "resources:\n  limits:\n    cpu: %um\n    memory: %uMi\n  requests:\n"
	        "    cpu: %um\n    memory: %uMi\n\n",
	     100 * (1 + rpick(&r, 10)), 64 * (1 + rpick(&r, 16)), 50 * (1 + rpick(&r, 4)),
	     32 * (1 + rpick(&r, 8)));
	bput(b, "livenessProbe:\n  httpGet:\n    path: /healthz\n    port: http\n"
	        "readinessProbe:\n  httpGet:\n    path: /ready\n    port: http\n\n"
	        "autoscaling:\n  enabled: false\n  minReplicas: 1\n  maxReplicas: %u\n"
	        "  targetCPUUtilizationPercentage: %u\n\n",
	     10 + rpick(&r, 90), 50 + rpick(&r, 40));
	bput(b, "# Additional volumes on the output Deployment definition.\nvolumes: []\n"
	        "# Additional volumeMounts on the output Deployment definition.\nvolumeMounts: []\n\n"
	        "nodeSelector: {}\n\ntolerations: []\n\naffinity: {}\n");
	bput(b, "\nconfig:\n");
	for (unsigned k = 0, n = 3 + rpick(&r, 8); k < n; k++)
		bput(b, "  %s_%s: \"%016" PRIx64 "\"\n", words[rpick(&r, NWORDS)], words[rpick(&r, NWORDS)],
		     rnext(&r));
}

static int add_file(struct archive *a, const char *name, const char *top, const void *data,
                    size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", top, name);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, g_mtime, 0);
	int rc = archive_write_header(a, e);
	if (rc == ARCHIVE_OK && len && archive_write_data(a, data, len) != (la_ssize_t)len)
		rc = ARCHIVE_FATAL;
	archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : -1;
}

static int add_tmpl(struct archive *a, const char *file, const char *tmpl, const char *name,
                    struct buf *b)
{
	b->n = 0;
	bput_tmpl(b, tmpl, name);
	return add_file(a, file, name, b->p, b->n);
}

static int write_chart(const char *dir, uint64_t i, uint64_t v, size_t pad, char *fname,
                       size_t fsz)
{
	char name[96], version[48], path[4096], tmp[4200];
	struct buf b = { 0 };
	int rc = 0;

	chart_name(i, name, sizeof name);
	chart_version(i, v, version, sizeof version);
	snprintf(fname, fsz, "%s-%s.tgz", name, version);
	snprintf(path, sizeof path, "%s/%s", dir, fname);
	snprintf(tmp, sizeof tmp, "%s/.gen-%d.tmp", dir, (int)getpid());

	struct archive *a = archive_write_new();
	archive_write_add_filter_gzip(a);
	archive_write_set_filter_option(a, "gzip", "timestamp", NULL); /* no time in the header */
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
		fprintf(stderr, "gencorpus: %s: %s\n", tmp, archive_error_string(a));
		archive_write_free(a);
		return -1;
	}
	b.n = 0;
	make_chart_yaml(&b, i, v, name, version);
	rc |= add_file(a, "Chart.yaml", name, b.p, b.n);
	b.n = 0;
	make_values(&b, i, v, name);
	rc |= add_file(a, "values.yaml", name, b.p, b.n);
	rc |= add_file(a, ".helmignore", name, helmignore, sizeof helmignore - 1);
	rc |= add_tmpl(a, "templates/NOTES.txt",
	               "1. Get the application URL by running these commands:\n"
	               "  export POD_NAME=$(kubectl get pods --namespace {{ .Release.Namespace }} "
	               "-l \"app.kubernetes.io/name={{ include \"@N@.name\" . }}\" "
	               "-o jsonpath=\"{.items[0].metadata.name}\")\n"
	               "  kubectl --namespace {{ .Release.Namespace }} port-forward $POD_NAME 8080:80\n",
	               name, &b);
	rc |= add_tmpl(a, "templates/_helpers.tpl", helpers_tpl, name, &b);
	rc |= add_tmpl(a, "templates/deployment.yaml", deployment_yaml, name, &b);
	rc |= add_tmpl(a, "templates/hpa.yaml", hpa_yaml, name, &b);
	rc |= add_tmpl(a, "templates/ingress.yaml", ingress_yaml, name, &b);
	rc |= add_tmpl(a, "templates/service.yaml", service_yaml, name, &b);
	rc |= add_tmpl(a, "templates/serviceaccount.yaml", serviceaccount_yaml, name, &b);
	rc |= add_tmpl(a, "templates/tests/test-connection.yaml", test_yaml, name, &b);
	if (pad) {
		struct rng r = rng_for(i, v + 0xbeef);
		char *p = malloc(pad + 8);
		if (!p)
			abort();
		for (size_t k = 0; k < pad; k += 8) {
			uint64_t x = rnext(&r);
			memcpy(p + k, &x, 8);
		}
		rc |= add_file(a, "files/payload.bin", name, p, pad);
		free(p);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	if (rc)
		fprintf(stderr, "gencorpus: %s: %s\n", fname, archive_error_string(a));
	archive_write_free(a);
	free(b.p);
	if (rc == 0 && rename(tmp, path) != 0) {
		fprintf(stderr, "gencorpus: rename %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(tmp);
	return rc;
}

static void usage(void)
{
	fputs("usage: gencorpus -o DIR -n NAMES -v VERSIONS [-s SEED] [-N FIRST_NAME] "
	      "[-V FIRST_VERSION] [-p PAD_BYTES] [-j JOBS] [-l]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t names = 0, versions = 0, first_name = 0, first_version = 0;
	size_t pad = 0;
	int jobs = 1, list = 0, c;

	while ((c = getopt(argc, argv, "o:n:v:s:N:V:p:j:l")) != -1) {
		switch (c) {
		case 'o': dir = optarg; break;
		case 'n': names = strtoull(optarg, NULL, 10); break;
		case 'v': versions = strtoull(optarg, NULL, 10); break;
		case 's': g_seed = strtoull(optarg, NULL, 10); break;
		case 'N': first_name = strtoull(optarg, NULL, 10); break;
		case 'V': first_version = strtoull(optarg, NULL, 10); break;
		case 'p': pad = strtoull(optarg, NULL, 10); break;
		case 'j': jobs = atoi(optarg); break;
		case 'l': list = 1; break;
		default: usage();
		}
	}
	if (!dir || !names || !versions || jobs < 1)
		usage();
	if (list) {
		char name[96], version[48];
		for (uint64_t v = first_version; v < first_version + versions; v++)
			for (uint64_t i = first_name; i < first_name + names; i++) {
				chart_name(i, name, sizeof name);
				chart_version(i, v, version, sizeof version);
				printf("%s-%s.tgz\n", name, version);
			}
		return 0;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "gencorpus: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int j = 0; j < jobs; j++) {
		pid_t pid = jobs == 1 ? 0 : fork();
		if (pid < 0) {
			perror("gencorpus: fork");
			return 1;
		}
		if (pid > 0)
			continue;
		int rc = 0;
		char fname[256];
		for (uint64_t i = first_name + (uint64_t)j; i < first_name + names; i += (uint64_t)jobs)
			for (uint64_t v = first_version; v < first_version + versions && !rc; v++)
				rc = write_chart(dir, i, v, pad, fname, sizeof fname);
		if (jobs == 1)
			return rc ? 1 : 0;
		_exit(rc ? 1 : 0);
	}
	int failed = 0, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	return failed;
}
