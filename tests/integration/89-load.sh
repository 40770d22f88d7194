#!/usr/bin/env bash
# Load (issue 5): LOAD_SECONDS (15 here; docs/reliability.md reports 60) of
# wrk at LOAD_CONNECTIONS (200) connections over index.yaml, chart tarballs
# and the JSON API (tests/tools/load.lua), while a writer uploads and
# deletes charts the whole time.  Zero 5xx, zero failed requests (socket
# errors, timeouts, non-2xx reads), every write answered 201/200; worker RSS
# and open file descriptors flat from the first to the last 10 s (a third
# of the run when it is shorter), the same worker processes throughout.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

SECS=${LOAD_SECONDS:-15}
CONNS=${LOAD_CONNECTIONS:-200}
command -v wrk >/dev/null || { fail "wrk is installed (Debian package wrk)"; finish; }

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p CACHE_INTERVAL=1h || finish
auth=(-u u:p)

# The data: 40 names × 5 versions, and 2000 charts for the writer.
specs=()
for n in $(seq 1 40); do for v in 1 2 3 4 5; do specs+=("app$n:1.$v.0"); done; done
make_tiny_charts "$TMP/charts" "${specs[@]}"
check_uploads "200 charts upload before the run" "$BASE/api/charts" "$TMP"/charts/*.tgz -- "${auth[@]}"
mapfile -t writes < <(for i in $(seq 1 2000); do echo "w$i:0.1.0"; done)
make_tiny_charts "$TMP/writes" "${writes[@]}"

# Read mix: 1 index, 6 tarballs, 3 API calls in 10.
prefix=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).path.rstrip("/"))' "$BASE")
paths=$TMP/paths
: >"$paths"
for n in $(seq 1 40); do
	v=$(( (n % 5) + 1 ))
	{
		echo "$prefix/index.yaml"
		for k in 1 2 3 4 5 6; do echo "$prefix/charts/app$(( (n + k) % 40 + 1 ))-1.$(( (v + k) % 5 + 1 )).0.tgz"; done
		echo "$prefix/api/charts"
		echo "$prefix/api/charts/app$n"
		echo "$prefix/api/charts/app$n/1.$v.0"
	} >>"$paths"
done
LOAD_AUTH="Basic $(printf u:p | base64)"
export LOAD_PATHS=$paths LOAD_AUTH

# Warm-up, so the first window is not the workers' first touch of the db.
timeout 30 wrk -t2 -c50 -d3s --timeout 10s -s "$TOOLS/load.lua" "$BASE/" >"$TMP/warmup.out" 2>&1 || true

# Monitor: every second, each worker's pid, RSS (kB) and open fds.
monitor=$TMP/monitor
master=$(fcgi_master)
(
	while [ ! -e "$TMP/stop" ]; do
		t=$SECONDS
		for w in $(fcgi_workers "$master"); do
			echo "$t $w $(proc_kb "$w" VmRSS) $(proc_fds "$w")"
		done
		sleep 1
	done
) >"$monitor" 2>/dev/null &
mon_pid=$!

# Writer: uploads a new chart, deletes the one before, the whole run.
python3 - "$BASE" "$TMP/writes" "$TMP/stop" >"$TMP/writer.out" 2>&1 <<'PY' &
import base64, http.client, os, sys, time, urllib.parse
base, d, stop = sys.argv[1:4]
u = urllib.parse.urlsplit(base)
prefix = u.path.rstrip("/")
auth = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode(), "Connection": "close"}
def req(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        c.request(method, prefix + path, body=body, headers=auth)
        r = c.getresponse(); r.read()
        return r.status
    except Exception:
        return 0
    finally:
        c.close()
ups = dels = bad = 0
i = 1
while not os.path.exists(stop) and i <= 2000:
    s = req("POST", "/api/charts", open("%s/w%d-0.1.0.tgz" % (d, i), "rb").read())
    ups += 1; bad += s != 201
    if s != 201: print("upload w%d: %d" % (i, s))
    if i > 1:
        s = req("DELETE", "/api/charts/w%d/0.1.0" % (i - 1))
        dels += 1; bad += s != 200
        if s != 200: print("delete w%d: %d" % (i - 1, s))
    i += 1
print("writer uploads=%d deletes=%d bad=%d" % (ups, dels, bad))
PY
writer_pid=$!

timeout $((SECS + 60)) wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency -s "$TOOLS/load.lua" "$BASE/" \
	>"$TMP/wrk.out" 2>&1 || true
touch "$TMP/stop"
wait "$writer_pid" || true
wait "$mon_pid" || true
sed 's/^/        wrk: /' "$TMP/wrk.out" | grep -E 'Requests/sec|requests in|Socket|Non-2xx|load |Latency|99%' || true

line=$(grep '^load ' "$TMP/wrk.out" || echo "load none")
reqs=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
n5=$(sed -n 's/.* 5xx=\([0-9]*\).*/\1/p' <<<"$line")
n4=$(sed -n 's/.* 4xx=\([0-9]*\).*/\1/p' <<<"$line")
check "wrk ran $SECS s at $CONNS connections ($line)" test "${reqs:-0}" -gt 1000
check "zero 5xx under load (${n5:-?})" test "${n5:-1}" = 0
check "zero 4xx under load (${n4:-?})" test "${n4:-1}" = 0
check "zero socket errors or timeouts" sh -c "! grep -q 'Socket errors' '$TMP/wrk.out'"
grep 'Socket errors' "$TMP/wrk.out" | detail || true
check "zero non-2xx/3xx responses" sh -c "! grep -q 'Non-2xx' '$TMP/wrk.out'"
wline=$(grep '^writer ' "$TMP/writer.out" || echo "writer none")
check "the writer's uploads and deletes all succeeded during the run ($wline)" \
	sh -c "echo '$wline' | grep -q ' bad=0\$' && ! echo '$wline' | grep -q 'uploads=0 '"
grep -v '^writer ' "$TMP/writer.out" | head -n 5 | detail || true
check "no 5xx in nginx's access log" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -q '^5'"
check "no 'database is locked' in the logs" sh -c "! cat '$STACK_LOG' '$STATE/nginx/error.log' | grep -qi 'database is locked'"
check "no worker died" sh -c "! grep -q 'killed by signal' '$STACK_LOG'"

# Flat resources: first window vs last window, per worker.
while IFS= read -r line; do
	case "$line" in
	ok\ *) pass "${line#ok }" ;;
	FAIL\ *) fail "${line#FAIL }" ;;
	*) printf '%s\n' "$line" | detail ;;
	esac
done < <(python3 - "$monitor" "$SECS" "$(sanitized && echo asan || echo plain)" <<'PY'
import sys
asan = sys.argv[3] == "asan"  # RSS holds ASan's quarantine: not judged
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 4]
secs = int(sys.argv[2])
if not rows:
    print("FAIL the monitor sampled the workers")
    sys.exit()
t0 = int(rows[0][0]); t1 = int(rows[-1][0])
w = max(2, min(10, (t1 - t0) // 3))
pids = sorted({r[1] for r in rows})
first = {p: [r for r in rows if r[1] == p and int(r[0]) < t0 + w] for p in pids}
last = {p: [r for r in rows if r[1] == p and int(r[0]) > t1 - w] for p in pids}
print(("ok " if all(first[p] and last[p] for p in pids) else "FAIL ") +
      "the same %d workers ran from the first to the last sample (%s)" % (len(pids), " ".join(pids)))
for p in pids:
    if not first[p] or not last[p]:
        continue
    r0 = max(int(r[2]) for r in first[p]); r1 = max(int(r[2]) for r in last[p])
    # fds: the fewest open in each window (a sample may catch a request's
    # transient file or socket; a leak raises the floor).
    f0 = min(int(r[3]) for r in first[p]); f1 = min(int(r[3]) for r in last[p])
    ok = r1 <= r0 * 1.2 + 2048 or asan
    print(("ok " if ok else "FAIL ") + ("(ASan build: not judged) " if asan else "") + "worker %s RSS flat: first %d s max %d kB, last %d s max %d kB (limit +20%% +2 MiB)" % (p, w, r0, w, r1))
    ok = f1 <= f0 + 2
    print(("ok " if ok else "FAIL ") + "worker %s open fds flat: first %d s min %d, last %d s min %d (limit +2)" % (p, w, f0, w, f1))
PY
)

check_index_equals_storage "after the run the index equals storage" "$BASE/index.yaml" "${auth[@]}"
check "no temp file is left" test -z "$(storage_tmp_files)"

finish
