#!/usr/bin/env bash
# The served index equals what `helm repo index` writes for the same files,
# entry by entry and field by field (all but created and urls), for charts
# that use every Chart.yaml field Helm carries into an index — once for
# charts uploaded through the API, once for the index rebuilt from storage.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
src=$TMP/src-eq
pkg=$TMP/pkg
mkdir -p "$src" "$pkg"

# new_chart DIR NAME: a helm-created chart whose Chart.yaml we then replace.
new_chart() {
	rm -rf "$1"
	mkdir -p "$(dirname "$1")"
	helm_v 3 create "$1" >/dev/null
}
package() {
	helm_v 3 package "$1" -d "$pkg" >"$TMP/package.log" 2>&1 || {
		fail "helm package $(basename "$1")"
		detail <"$TMP/package.log"
		return 1
	}
}

# --- subcharts used as dependencies (they must be in charts/ to package)
add_subchart() { # parent name version [type]
	local d=$1/charts/$2
	mkdir -p "$d/templates"
	printf 'apiVersion: v2\nname: %s\nversion: %s\n%s' "$2" "$3" "${4:+type: $4
}" >"$d/Chart.yaml"
	printf 'enabled: true\ndata:\n  x: 1\ndefaults:\n  y: 2\n' >"$d/values.yaml"
}

# 1. Every field, apiVersion v2, application.
c=$src/fullchart
new_chart "$c"
cat >"$c/Chart.yaml" <<'YAML'
apiVersion: v2
name: fullchart
version: 1.2.3
kubeVersion: ">=1.20.0-0"
description: "A chart with every field: colons: yes, # not a comment, 'single' and \"double\" quotes, Ünïcödé ☃"
type: application
keywords:
  - database
  - "1.10"
  - "true"
  - "null"
  - "0755"
home: https://example.com/fullchart
sources:
  - https://github.com/example/fullchart
  - https://example.com/mirror/fullchart
dependencies:
  - name: db
    version: "~1.0.0"
    repository: "https://charts.example.com/stable"
    condition: db.enabled,global.db.enabled
    tags:
      - backend
      - storage
    enabled: true
    import-values:
      - child: data
        parent: fromchild
      - defaults
    alias: database
  - name: common
    version: "2.x.x"
    repository: "@stable"
maintainers:
  - name: Jane Doe
    email: jane@example.com
    url: https://example.com/jane
  - name: John Roe
icon: https://example.com/icon.png
appVersion: "1.10"
deprecated: false
annotations:
  artifacthub.io/license: Apache-2.0
  example.com/yes: "yes"
  example.com/number: "42"
  example.com/multiline: |
    line one
    line two
YAML
add_subchart "$c" db 1.0.4
add_subchart "$c" common 2.3.0 library
package "$c"

# 2. A deprecated chart; appVersion that YAML would read as a number or bool.
c=$src/oldchart
new_chart "$c"
cat >"$c/Chart.yaml" <<'YAML'
apiVersion: v2
name: oldchart
version: 0.9.0
description: deprecated chart
deprecated: true
appVersion: "true"
YAML
package "$c"

# 3. A library chart.
c=$src/libchart
new_chart "$c"
rm -rf "$c/templates"/*
mkdir -p "$c/templates"
printf '{{- define "libchart.name" -}}lib{{- end -}}\n' >"$c/templates/_helpers.tpl"
cat >"$c/Chart.yaml" <<'YAML'
apiVersion: v2
name: libchart
version: 3.0.0
type: library
description: a library chart
appVersion: "3"
YAML
package "$c"

# 4. apiVersion v1, its dependencies in requirements.yaml, an obsolete
#    field Helm drops (engine), appVersion 2.0 that must stay a string.
c=$src/legacy
new_chart "$c"
cat >"$c/Chart.yaml" <<'YAML'
apiVersion: v1
name: legacy
version: 0.5.1
appVersion: "2.0"
description: an apiVersion v1 chart
engine: gotpl
home: https://example.com/legacy
keywords: [old, v1]
maintainers:
  - name: Old Maintainer
    email: old@example.com
YAML
cat >"$c/requirements.yaml" <<'YAML'
dependencies:
  - name: db
    version: 1.0.4
    repository: https://charts.example.com/stable
    condition: db.enabled
    alias: legacydb
YAML
add_subchart "$c" db 1.0.4
package "$c"

# 5. Many versions of one chart: SemVer order (not string order), a
#    prerelease, build metadata, a v prefix.
for ver in 1.0.0 1.10.0 1.2.0 1.10.0-rc.1 2.0.0-alpha.1 0.9.0 1.3.0+build.5 v2.1.0; do
	c=$src/order-$ver
	new_chart "$c/order"
	cat >"$c/order/Chart.yaml" <<YAML
apiVersion: v2
name: order
version: $ver
appVersion: "$ver"
description: version $ver
YAML
	package "$c/order"
done

n_pkg=$(find "$pkg" -name '*.tgz' | wc -l)
check "helm packaged the test charts ($n_pkg archives)" test "$n_pkg" -eq 12

# The reference: helm repo index (v3 and v4) on a copy of the same files.
for v in 3 4; do
	mkdir -p "$TMP/ref$v"
	cp "$pkg"/*.tgz "$TMP/ref$v/"
	helm_v "$v" repo index "$TMP/ref$v" >"$TMP/ref$v.log" 2>&1 || {
		fail "helm v$v repo index"
		detail <"$TMP/ref$v.log"
	}
done

# compare SERVED REF LABEL: entry by entry, field by field.
compare() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys, yaml
served_f, ref_f, label = sys.argv[1:4]
served = yaml.safe_load(open(served_f, encoding="utf-8"))
ref = yaml.safe_load(open(ref_f, encoding="utf-8"))
problems = []
def p(msg):
    problems.append(msg)

allowed_top = {"apiVersion", "entries", "generated", "serverInfo", "annotations"}
if not isinstance(served, dict):
    print("served index is not a mapping"); sys.exit(1)
extra = set(served) - allowed_top
if extra:
    p("top-level keys Helm's strict parser rejects: %s" % sorted(extra))
if served.get("apiVersion") != "v1":
    p("apiVersion is %r, want 'v1'" % served.get("apiVersion"))
if not served.get("generated"):
    p("no generated time")
se, re_ = served.get("entries") or {}, ref.get("entries") or {}
if sorted(se) != sorted(re_):
    p("chart names differ: served %s, helm %s" % (sorted(se), sorted(re_)))
for name in sorted(set(se) & set(re_)):
    sv = [str(e.get("version")) for e in se[name]]
    rv = [str(e.get("version")) for e in re_[name]]
    if sv != rv:
        p("%s: versions (in order) differ: served %s, helm %s" % (name, sv, rv))
    rby = {str(e.get("version")): e for e in re_[name]}
    for e in se[name]:
        ver = str(e.get("version"))
        r = rby.get(ver)
        if r is None:
            continue
        if not e.get("created"):
            p("%s %s: no created" % (name, ver))
        if not e.get("urls"):
            p("%s %s: no urls" % (name, ver))
        a = {k: v for k, v in e.items() if k not in ("created", "urls")}
        b = {k: v for k, v in r.items() if k not in ("created", "urls")}
        for k in sorted(set(a) | set(b)):
            if k not in a:
                p("%s %s: missing field %s (helm: %r)" % (name, ver, k, b[k]))
            elif k not in b:
                p("%s %s: extra field %s: %r" % (name, ver, k, a[k]))
            elif a[k] != b[k] or type(a[k]) != type(b[k]):
                p("%s %s: field %s: served %r, helm %r" % (name, ver, k, a[k], b[k]))
for m in problems:
    print(m)
sys.exit(1 if problems else 0)
PY
}

# check_index_equal "when": the served index against both references.
check_index_equal() {
	http "$BASE/index.yaml"
	cp "$LAST_BODY" "$TMP/served.yaml"
	local v
	for v in 3 4; do
		if compare "$TMP/served.yaml" "$TMP/ref$v/index.yaml" "v$v" >"$TMP/cmp.log" 2>&1; then
			pass "$1: the served index equals helm v$v repo index, entry by entry (but created, urls)"
		else
			fail "$1: the served index equals helm v$v repo index, entry by entry (but created, urls)"
			DETAIL_LINES=40 detail <"$TMP/cmp.log"
		fi
	done
}

start_stack || finish
up=0
for f in "$pkg"/*.tgz; do
	http --data-binary "@$f" "$BASE/api/charts"
	if [ "$LAST_STATUS" = 201 ]; then up=$((up + 1)); else
		fail "upload $(basename "$f") answers 201 (got $LAST_STATUS)"
		head -c 300 "$LAST_BODY" | detail
	fi
done
check "every test chart uploads ($up of $n_pkg)" test "$up" -eq "$n_pkg"
check_index_equal "after uploads"

check "urls are relative charts/<file> by default" python3 - "$TMP/served.yaml" <<'PY'
import sys, yaml
i = yaml.safe_load(open(sys.argv[1]))
bad = [(n, e["version"], e.get("urls")) for n, es in i["entries"].items() for e in es
       if e.get("urls") != ["charts/%s-%s.tgz" % (n, e["version"])]]
if bad:
    print(bad)
sys.exit(1 if bad else 0)
PY
check "appVersion \"1.10\" is served as the string 1.10" \
	test "$(index_query "$BASE/index.yaml" "repr(i['entries']['fullchart'][0]['appVersion'])")" = "'1.10'"
check "every digest is the sha256 of the stored file" python3 - "$TMP/served.yaml" "$STORAGE" <<'PY'
import hashlib, os, sys, yaml
i = yaml.safe_load(open(sys.argv[1]))
bad = []
for n, es in i["entries"].items():
    for e in es:
        f = os.path.join(sys.argv[2], "%s-%s.tgz" % (n, e["version"]))
        if hashlib.sha256(open(f, "rb").read()).hexdigest() != e.get("digest"):
            bad.append(f)
if bad:
    print(bad)
sys.exit(1 if bad else 0)
PY

# Helm's own (strict) parser takes the served index.
for v in 3 4; do
	if helm_v "$v" repo add eq "$BASE" >"$TMP/h.log" 2>&1 && helm_v "$v" search repo eq/ --versions --devel -o json >"$TMP/search.json" 2>>"$TMP/h.log" &&
		python3 -c 'import json,sys; sys.exit(0 if len(json.load(open(sys.argv[1]))) == 12 else 1)' "$TMP/search.json"; then
		pass "helm v$v parses the served index and finds all 12 versions"
	else
		fail "helm v$v parses the served index and finds all 12 versions"
		detail <"$TMP/h.log"
	fi
done

# The same files found in storage by the indexer (database deleted).
stop_stack || true
rm -f "$STATE/chartdepot.db" "$STATE/chartdepot.db-wal" "$STATE/chartdepot.db-shm"
start_stack || finish
check_index_equal "rebuilt from storage"

# CHART_URL makes urls absolute (a restart with a new setting re-renders).
start_stack CHART_URL=https://charts.example.com/base/ || finish
check "with CHART_URL, urls are absolute under it" \
	test "$(index_query "$BASE/index.yaml" "i['entries']['libchart'][0]['urls']")" = "['https://charts.example.com/base/charts/libchart-3.0.0.tgz']"

finish
