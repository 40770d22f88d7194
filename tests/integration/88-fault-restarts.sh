#!/usr/bin/env bash
# Fault 7 (issue 5): nginx restarted (graceful stop, SIGQUIT, as systemd's
# nginx.service does; then started again) three times, then the worker pool
# restarted (SIGTERM to chartdepot-fcgi, started again) three times, while
# 8 clients keep reading the index and the charts (tests/tools/readers.py).
# A client may see a refused connection (nginx down; or reset before a byte
# of the answer: queued in the old listen socket) or nginx's 502/503
# JSON (pool down: run-local has no socket activation to queue requests);
# never a truncated or wrong index or tarball: every body received is
# checked against its Content-Length and sha256.
#
# The three processes are started here one by one (not by run-local, which
# stops everything when one of them exits).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
export STORAGE_LOCAL_ROOTDIR=$STORAGE STATE_DIR=$STATE PORT CACHE_INTERVAL=1h WORKERS=2
mkdir -p "$STORAGE" "$STATE/index" "$STATE/nginx/tmp"
conf=$STATE/nginx/nginx.conf
"$ROOT/scripts/gen-nginx" --local "$conf"
LOG=$TMP/servers.log
IDX_PID='' FCGI_PID='' NGINX_PID=''

start_indexer() { "$BUILD/chartdepot-indexer" 2>>"$LOG" & IDX_PID=$!; }
start_fcgi() { "$BUILD/chartdepot-fcgi" 2>>"$LOG" & FCGI_PID=$!; }
start_nginx() { nginx -p "$STATE/nginx/" -c "$conf" -e stderr 2>>"$LOG" & NGINX_PID=$!; }
# stop_proc PID SIGNAL: signals and waits 20 s at most.
stop_proc() {
	[ -n "$1" ] || return 0
	kill "-$2" "$1" 2>/dev/null || true
	local deadline=$((SECONDS + 20))
	while kill -0 "$1" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.02; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
stop_all() {
	local rc=$?
	stop_proc "$NGINX_PID" QUIT
	[ -z "$FCGI_PID" ] || pkill -KILL -P "$FCGI_PID" 2>/dev/null || true
	stop_proc "$FCGI_PID" TERM
	stop_proc "$IDX_PID" TERM
	return "$rc"
}
# (set +e: a failing command in an EXIT trap would otherwise skip cleanup.)
trap '_rc=$?; set +e; stop_all; (exit $_rc); cleanup' EXIT
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/health" 2>/dev/null)" = 200 ]; }

start_indexer
start_fcgi
start_nginx
check "nginx, chartdepot-fcgi and chartdepot-indexer start" wait_until 30 healthy

# Charts of several sizes: the big ones keep responses in flight.
specs=()
for i in $(seq 1 30); do specs+=("small$i:1.0.$i"); done
make_tiny_charts "$TMP/charts" "${specs[@]}"
python3 - "$TMP/charts" <<'PY'
import io, random, sys, tarfile
for i, mib in enumerate([1, 2, 4]):
    name = "large%d" % i
    d = {"Chart.yaml": ("apiVersion: v2\nname: %s\nversion: 1.0.0\n" % name).encode(),
         "files/data.bin": random.Random(i).randbytes(mib << 20)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for p, data in d.items():
            ti = tarfile.TarInfo("%s/%s" % (name, p)); ti.size = len(data); ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    open("%s/%s-1.0.0.tgz" % (sys.argv[1], name), "wb").write(buf.getvalue())
PY
check_uploads "33 charts upload" "$BASE/api/charts" "$TMP"/charts/*.tgz
python3 - "$TMP/charts" "$TMP/expect.json" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
exp = {}
idx = {}
for f in sorted(os.listdir(d)):
    h = hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
    exp["/charts/" + f] = h
    idx[f[:-4]] = h
exp["/index.yaml"] = idx
json.dump(exp, open(sys.argv[2], "w"))
PY

# run_phase NAME ACTION: readers run while ACTION restarts something 3 times.
run_phase() {
	local name=$1 action=$2 stopf=$TMP/stop.$1 out=$TMP/readers.$1 line
	rm -f "$stopf"
	timeout 300 python3 "$TOOLS/readers.py" "$BASE" "$TMP/expect.json" 8 "$stopf" >"$out" 2>&1 &
	local rpid=$!
	sleep 1
	local i
	for i in 1 2 3; do
		"$action"
		wait_until 30 healthy || true
		sleep 0.7
	done
	touch "$stopf"
	wait "$rpid" || true
	line=$(grep '^counts' "$out" || echo "counts none")
	local good refused pool nbad
	good=$(sed -n 's/.*good=\([0-9]*\).*/\1/p' <<<"$line")
	refused=$(sed -n 's/.*refused=\([0-9]*\).*/\1/p' <<<"$line")
	pool=$(sed -n 's/.*pool=\([0-9]*\).*/\1/p' <<<"$line")
	nbad=$(sed -n 's/.* bad=\([0-9]*\).*/\1/p' <<<"$line")
	check "$name ×3 under 8 readers: no truncated or wrong body, no other error ($line)" \
		test -n "$good" -a "${nbad:-1}" = 0 -a "${good:-0}" -gt 100
	grep '^bad ' "$out" | detail || true
	LAST_POOL=$pool LAST_REFUSED=$refused
}

restart_nginx() {
	stop_proc "$NGINX_PID" QUIT
	start_nginx
}
restart_pool() {
	stop_proc "$FCGI_PID" TERM
	start_fcgi
}

run_phase nginx-restart restart_nginx
check "... nginx restarts gave refused connections at most, never 502/503 ($LAST_POOL)" test "${LAST_POOL:-1}" = 0
run_phase pool-restart restart_pool
check "... pool restarts gave refusals or nginx's JSON 502/503 at most (${LAST_POOL} pool, ${LAST_REFUSED} refused)" \
	test -n "$LAST_POOL"

check "the stack is healthy after the restarts" wait_until 30 healthy
check_index_equals_storage "the index equals storage after the restarts"
check "no worker was killed" sh -c "! grep -q 'killed by signal' '$LOG'"
check "no temp file is left" test -z "$(storage_tmp_files)"
stop_all
NGINX_PID='' FCGI_PID='' IDX_PID=''
check "no sanitizer report in the servers' log (make check-asan)" \
	sh -c "! grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' '$LOG'"

finish
