#!/usr/bin/env bash
# Fault 1 (issue 5): a worker SIGKILLed while an upload streams in.
#  A. The worker writing a 16 MiB chart is killed the moment it holds its
#     temp file (tests/tools/killwatch.py, /proc): the client gets a clean
#     error, no file exists under the final name and no temp file is left
#     (an unnamed O_TMPFILE vanishes with the worker), the index does not
#     list the chart, the next upload of the same chart succeeds, and a
#     restart leaves no temp file.
#  B. Every worker is killed while a slow client (curl --limit-rate) is
#     still sending its body to nginx: nothing is lost, the upload succeeds
#     on a fresh worker.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

# A valid chart with 16 MiB of incompressible files (4 × 4 MiB: Helm's
# per-file limit is 5 MiB), deterministic bytes.
big_chart() {
	python3 - "$1" "$2" "$3" <<'PY'
import io, random, sys, tarfile
name, version, out = sys.argv[1:4]
rnd = random.Random(name + version)
files = {"Chart.yaml": ("apiVersion: v2\nname: %s\nversion: %s\ndescription: big\n" % (name, version)).encode(),
         "templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}
for i in range(4):
    files["files/blob%d.bin" % i] = rnd.randbytes(4 << 20)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
    for p, d in files.items():
        ti = tarfile.TarInfo("%s/%s" % (name, p)); ti.size = len(d); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(d))
open(out, "wb").write(buf.getvalue())
PY
}
big=$TMP/big-1.0.0.tgz
big_chart big 1.0.0 "$big"
slow=$TMP/slow-1.0.0.tgz
big_chart slow 1.0.0 "$slow"

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p WORKERS=2 CACHE_INTERVAL=1h || finish
auth=(-u u:p)
make_tiny_charts "$TMP/charts" old:1.0.0
check_status "an older chart uploads" 201 "${auth[@]}" --data-binary "@$TMP/charts/old-1.0.0.tgz" "$BASE/api/charts"

# --- A: kill the worker that holds the temp file.
master=$(fcgi_master)
check "the fcgi master and its workers are found" test -n "$master" -a -n "$(fcgi_workers "$master")"
watch_out=$TMP/killwatch.out
# Up to 3 tries: on a fast machine the write may finish before the kill
# ("late"); then the chart is deleted and the upload sent again.
for attempt in 1 2 3; do
	timeout 60 python3 "$TOOLS/killwatch.py" "$STORAGE" "$master" 50 >"$watch_out" 2>&1 &
	watch_pid=$!
	wait_until 5 grep -q ready "$watch_out" || true
	http "${auth[@]}" --data-binary "@$big" "$BASE/api/charts"
	wait "$watch_pid" || true
	grep -q '^late ' "$watch_out" || break
	echo "        attempt $attempt: the write finished before the kill; again"
	http "${auth[@]}" -X DELETE "$BASE/api/charts/big/1.0.0"
done
check "the worker writing the upload was SIGKILLed mid-write ($(tail -n 1 "$watch_out"))" grep -q '^killed ' "$watch_out"
check "the client got a clean 5xx error, not 201 ($LAST_STATUS)" test "$LAST_STATUS" = 503 -o "$LAST_STATUS" = 502
check "... with a JSON body" last_is_json_error
check "no file exists under the final name" test ! -e "$STORAGE/big-1.0.0.tgz"
check "no temp file is left (the unnamed file vanished with the worker)" test -z "$(storage_tmp_files)"
check "the killed worker was replaced" wait_until 10 sh -c "[ \$(ps -o pid= --ppid $master | wc -l) -eq 2 ]"
vs=$(index_versions "$BASE/index.yaml" big "${auth[@]}" || echo fetch-failed)
check "the index does not list the chart ('$vs')" test -z "$vs"
check_index_equals_storage "the index equals storage" "$BASE/index.yaml" "${auth[@]}"
check_status "the next upload of the same chart succeeds: 201" 201 "${auth[@]}" --data-binary "@$big" "$BASE/api/charts"
check "... stored byte for byte" cmp -s "$big" "$STORAGE/big-1.0.0.tgz"
check_index_equals_storage "... and indexed with the right digest" "$BASE/index.yaml" "${auth[@]}"
check_status "the older chart is still served" 200 "${auth[@]}" "$BASE/charts/old-1.0.0.tgz"
check "... byte for byte" cmp -s "$LAST_BODY" "$TMP/charts/old-1.0.0.tgz"

# Restart: the master removes leftover temp files at start.
start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p WORKERS=2 CACHE_INTERVAL=1h || finish
check "after a restart no temp file is left" test -z "$(storage_tmp_files)"
check_index_equals_storage "after a restart the index equals storage" "$BASE/index.yaml" "${auth[@]}"
check "... and the indexer recorded no invalid file" \
	test "$(sqlite3 -readonly "$STATE/chartdepot.db" 'SELECT count(*) FROM badfile' 2>/dev/null)" = 0

# --- B: kill every worker while a slow client still sends its body.
master=$(fcgi_master)
curl -s -o "$TMP/slow.body" -w '%{http_code}' --max-time 90 --limit-rate 4M "${auth[@]}" \
	--data-binary "@$slow" "$BASE/api/charts" >"$TMP/slow.status" 2>/dev/null &
curl_pid=$!
sleep 1.5
victims=$(fcgi_workers "$master" | tr '\n' ' ')
for w in $victims; do kill -KILL "$w" 2>/dev/null || true; done
wait "$curl_pid" || true
check "all workers ($victims) were killed while the body streamed into nginx" test -n "$victims"
check "... the slow upload still succeeds: 201 ($(cat "$TMP/slow.status"))" test "$(cat "$TMP/slow.status")" = 201
check "... stored byte for byte" cmp -s "$slow" "$STORAGE/slow-1.0.0.tgz"
check_index_equals_storage "... and the index equals storage" "$BASE/index.yaml" "${auth[@]}"
check "the master logged the killed workers" grep -q 'killed by signal 9' "$STACK_LOG"

finish
