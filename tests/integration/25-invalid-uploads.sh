#!/usr/bin/env bash
# Uploads that Helm's own loader would refuse get 400 with a JSON error and
# leave nothing in storage or in the index; a body over MAX_UPLOAD_SIZE gets
# nginx's 413, as JSON too.
. "$(dirname "$0")/../lib.sh"

bad=$TMP/bad
mkdir -p "$bad"

# Writes the hostile archives with Python's tarfile, which (unlike helm
# package) lets us put anything in them.
python3 - "$bad" <<'PY'
import gzip, io, os, sys, tarfile

out = sys.argv[1]
def chart_yaml(name="mychart", version="0.1.0", extra=""):
    return ("apiVersion: v2\nname: %s\nversion: %s\n%s" % (name, version, extra)).encode()

def tgz(fname, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, data in members:
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    open(os.path.join(out, fname), "wb").write(buf.getvalue())

tpl = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
def ok_members(cy, top="mychart"):
    return [(top + "/Chart.yaml", cy), (top + "/templates/cm.yaml", tpl)]

open(os.path.join(out, "not-gzip.tgz"), "wb").write(b"this is not a chart\n" * 10)
open(os.path.join(out, "gzip-not-tar.tgz"), "wb").write(gzip.compress(b"plain text, no tar\n" * 50))
open(os.path.join(out, "empty-file.tgz"), "wb").write(b"")
tgz("version-four-parts.tgz", ok_members(chart_yaml(version="1.2.3.4")))
tgz("version-words.tgz", ok_members(chart_yaml(version="latest")))
tgz("version-missing.tgz", ok_members(b"apiVersion: v2\nname: mychart\n"))
tgz("name-dotdot.tgz", ok_members(chart_yaml(name="..")))
tgz("name-path.tgz", ok_members(chart_yaml(name="../../evil")))
tgz("name-slash.tgz", ok_members(chart_yaml(name="a/b")))
tgz("name-missing.tgz", ok_members(b"apiVersion: v2\nversion: 0.1.0\n"))
tgz("type-weird.tgz", ok_members(chart_yaml(extra="type: weird\n")))
tgz("chart-yaml-at-root.tgz", [("Chart.yaml", chart_yaml()), ("templates/cm.yaml", tpl)])
tgz("chart-yaml-two-deep.tgz", [("a/mychart/Chart.yaml", chart_yaml()), ("a/mychart/templates/cm.yaml", tpl)])
tgz("no-chart-yaml.tgz", [("mychart/values.yaml", b"a: 1\n"), ("mychart/templates/cm.yaml", tpl)])
tgz("entry-dotdot.tgz", ok_members(chart_yaml()) + [("mychart/../../escape.yaml", tpl)])
tgz("entry-absolute.tgz", ok_members(chart_yaml()) + [("/etc/escape.yaml", tpl)])
tgz("chart-yaml-not-yaml.tgz", ok_members(b"name: [unclosed\nversion: {{\n"))
tgz("whole.tgz", ok_members(chart_yaml()) + [("mychart/values.yaml", os.urandom(4096))])
whole = open(os.path.join(out, "whole.tgz"), "rb").read()
os.unlink(os.path.join(out, "whole.tgz"))
open(os.path.join(out, "truncated-gzip.tgz"), "wb").write(whole[: len(whole) // 2])
PY

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
auth=(-u u:p)

# Every upload first, then one Python run judges all the answers.
results=$TMP/results
mkdir -p "$results"
for f in "$bad"/*.tgz; do
	what=$(basename "$f" .tgz)
	http "${auth[@]}" --data-binary "@$f" "$BASE/api/charts"
	cp "$LAST_BODY" "$results/raw $what $LAST_STATUS"
	http "${auth[@]}" -F "chart=@$f" "$BASE/api/charts"
	cp "$LAST_BODY" "$results/multipart $what $LAST_STATUS"
done
while IFS= read -r line; do
	case "$line" in
	ok\ *) pass "${line#ok }" ;;
	*) fail "${line#FAIL }" ;;
	esac
done < <(python3 - "$results" <<'PY'
import json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    how, what, status = f.split(" ")
    desc = "%s upload of a %s archive answers 400 with a JSON error" % (how, what)
    try:
        j = json.load(open(os.path.join(d, f), encoding="utf-8"))
        is_err = isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"] != ""
    except Exception:
        is_err = False
    if status == "400" and is_err:
        print("ok " + desc)
    else:
        body = open(os.path.join(d, f), "rb").read(200)
        print("FAIL %s (got %s: %r)" % (desc, status, body))
PY
)

check "nothing was stored" test -z "$(storage_files)"
check "nothing escaped the storage directory" \
	test ! -e "$TMP/evil.tgz" -a ! -e "$(dirname "$TMP")/evil.tgz" -a ! -e "$TMP/escape.yaml"
entries=$(index_query "$BASE/index.yaml" "repr(i.get('entries'))" "${auth[@]}" || echo fetch-failed)
check "the index is still empty" test "$entries" = "{}"
http "${auth[@]}" --data-binary "@$bad/name-path.tgz" "$BASE/api/charts"
check "the error message names no server path" sh -c "! grep -qF '$STORAGE' '$LAST_BODY'"
check_json "a provenance upload that is not a provenance file answers 400" 400 \
	'isinstance(j.get("error"), str)' "${auth[@]}" --data-binary "not a signature" "$BASE/api/prov"
check_json "the server keeps serving after all that" 200 'j == {"healthy": True}' "$BASE/health"

# MAX_UPLOAD_SIZE: nginx refuses the body before the worker sees it.
need_helm || finish
good=$(make_chart mychart 0.1.0)
start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p MAX_UPLOAD_SIZE=1k || finish
check_json "a raw upload over MAX_UPLOAD_SIZE answers 413 with a JSON error" 413 \
	'isinstance(j.get("error"), str)' "${auth[@]}" --data-binary "@$good" "$BASE/api/charts"
check_json "a multipart upload over MAX_UPLOAD_SIZE answers 413 with a JSON error" 413 \
	'isinstance(j.get("error"), str)' "${auth[@]}" -F "chart=@$good" "$BASE/api/charts"
check "nothing was stored" test -z "$(storage_files)"
small=$TMP/small.tgz
python3 - "$small" <<'PY'
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    data = b"apiVersion: v2\nname: tiny\nversion: 0.1.0\n"
    ti = tarfile.TarInfo("tiny/Chart.yaml"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
open(sys.argv[1], "wb").write(buf.getvalue())
PY
check_status "a chart under MAX_UPLOAD_SIZE still uploads" 201 "${auth[@]}" --data-binary "@$small" "$BASE/api/charts"

finish
