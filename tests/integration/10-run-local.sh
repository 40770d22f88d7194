#!/usr/bin/env bash
# scripts/run-local (what `make run` does): one ready line on stdout, the
# service answers, SIGTERM stops every process it started, and the death of
# any one of them stops the others.
. "$(dirname "$0")/../lib.sh"

# Every process in the process groups run-local started (its children lead
# their own groups), for checking that none is left behind.
stack_processes() {
	local parent=$1
	ps -e -o pid=,ppid=,pgid= | awk -v p="$parent" '
		{ pid[$1] = $1; ppid[$1] = $2; pgid[$1] = $3 }
		END {
			for (i in pid) if (ppid[i] == p) groups[pgid[i]] = 1
			for (i in pid) if (pgid[i] in groups) print i
		}'
}

start_stack || finish
out=$TMP/stack.$STACK_N.out
check "stdout is exactly one line: chartdepot ready on http://127.0.0.1:$PORT" \
	test "$(cat "$out")" = "chartdepot ready on http://127.0.0.1:$PORT"
check_json "GET /health answers {\"healthy\":true}" 200 'j == {"healthy": True}' "$BASE/health"
check_json "GET /info answers a version" 200 'isinstance(j.get("version"), str) and j["version"] != ""' "$BASE/info"
entries=$(index_query "$BASE/index.yaml" "repr(i.get('entries'))" || echo fetch-failed)
check "an empty repository's index.yaml has entries: {}" test "$entries" = "{}"
check "the storage directory exists" test -d "$STORAGE"
check "the SQLite database is in STATE_DIR" test -f "$STATE/chartdepot.db"
check "the FastCGI socket is in STATE_DIR" test -S "$STATE/fcgi.sock"
check "nginx's config, logs and temp files are under STATE_DIR/nginx" \
	test -f "$STATE/nginx/nginx.conf" -a -f "$STATE/nginx/access.log"

procs=$(stack_processes "$STACK_PID")
nprocs=$(printf '%s\n' "$procs" | grep -c . || true)
check "run-local started nginx, the pool and the indexer ($nprocs processes)" test "$nprocs" -ge 4

pid=$STACK_PID
rc=0
stop_stack || rc=$?
check "SIGTERM stops run-local with status 0 (got $rc)" test "$rc" -eq 0
left=
for p in $procs; do
	if kill -0 "$p" 2>/dev/null; then left="$left $p"; fi
done
check "no process of the stack is left after SIGTERM${left:+ (left:$left)}" test -z "$left"
http "$BASE/health"
check "nothing answers on the port after the stop" test "$LAST_STATUS" = 000
check "run-local's stdout still holds only the ready line" test "$(wc -l <"$out")" -eq 1

# The death of one process takes the others down, with a failure status.
start_stack || finish
victim=$(ps -e -o pid=,ppid=,args= | awk -v p="$STACK_PID" '$2 == p && /chartdepot-indexer/ { print $1 }' | head -n 1)
if [ -n "$victim" ]; then
	kill -KILL "$victim"
	pid=$STACK_PID
	deadline=$((SECONDS + 20))
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
	rc=0
	if kill -0 "$pid" 2>/dev/null; then rc=running; else wait "$pid" || rc=$?; fi
	STACK_PID=
	check "when the indexer dies, run-local stops the rest and fails (status $rc)" \
		test "$rc" != running -a "$rc" != 0
	http "$BASE/health"
	check "nginx is gone too" test "$LAST_STATUS" = 000
else
	fail "found the indexer among run-local's children"
fi

# A second run on the same state directory reuses it.
start_stack || finish
check_status "a restart on the same STATE_DIR serves again" 200 "$BASE/health"
stop_stack || true

# One run-local per state directory; a busy port fails cleanly.
start_stack || finish
rc=0
PORT=$(free_port) STORAGE_LOCAL_ROOTDIR="$STORAGE" STATE_DIR="$STATE" READY_TIMEOUT=10 \
	timeout 30 "$ROOT/scripts/run-local" >"$TMP/second.out" 2>"$TMP/second.log" || rc=$?
check "a second run-local on the same STATE_DIR refuses to start (status $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a ! -s "$TMP/second.out"
check "... saying why" grep -q 'STATE_DIR\|another run-local' "$TMP/second.log"
check_status "... and the first one still serves" 200 "$BASE/health"
rc=0
PORT=$PORT STORAGE_LOCAL_ROOTDIR="$TMP/s2" STATE_DIR="$TMP/st2" READY_TIMEOUT=10 \
	timeout 30 "$ROOT/scripts/run-local" >"$TMP/busy.out" 2>"$TMP/busy.log" || rc=$?
check "run-local on a busy port fails without a ready line (status $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a ! -s "$TMP/busy.out"
check "... and leaves no process behind" \
	sh -c "! ps -e -o args= | grep -F '$TMP/st2' | grep -v grep | grep -q ."
stop_stack || true

# TLS_CERT/TLS_KEY: nginx listens with TLS and the ready line says https.
if command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
	start_stack TLS_CERT="$TMP/cert.pem" TLS_KEY="$TMP/key.pem" || finish
	check "with TLS_CERT and TLS_KEY the ready line says https" \
		test "$(cat "$TMP/stack.$STACK_N.out")" = "chartdepot ready on https://127.0.0.1:$PORT"
	check_status "GET /health over TLS answers 200" 200 -k "$BASE/health"
	stop_stack || true
fi

# Defaults: ./data/charts and ./data/state under the working directory.
mkdir -p "$TMP/cwd"
port=$(free_port)
# exec: STACK_PID must be run-local itself, for stop_stack to signal.
(cd "$TMP/cwd" && PORT=$port READY_TIMEOUT=30 exec "$ROOT/scripts/run-local" >"$TMP/cwd.out" 2>"$TMP/cwd.log") &
STACK_PID=$!
STACK_LOG=$TMP/cwd.log
wait_until 35 test -s "$TMP/cwd.out" || true
check "with no STORAGE/STATE settings it uses ./data/charts and ./data/state" \
	test -d "$TMP/cwd/data/charts" -a -f "$TMP/cwd/data/state/chartdepot.db"
check "... and says ready on the PORT given" \
	test "$(cat "$TMP/cwd.out")" = "chartdepot ready on http://127.0.0.1:$port"
pid=$STACK_PID
stop_stack || true
check "... and stops on SIGTERM" sh -c "! kill -0 $pid 2>/dev/null"

finish
