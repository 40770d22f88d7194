#!/usr/bin/env bash
# Kept FastCGI connections (fcgi/conns.h): nginx keeps its connections to the
# workers open for the next GET, and a worker parks them between
# requests.  Shown from /proc/net/unix, where every connection a worker
# accepted is a connected socket bound to the FastCGI socket's path:
#  A. after GETs of a small chart, connections stay open (parked); before
#     a password hash (a credential not in the cache) and after a request
#     that is not quick (index.yaml) the one worker has closed the others
#     (conns_release), so no request waits behind it;
#  B. uploads (POST) leave no connection open;
#  C. a parked worker killed with SIGKILL, and one stopped with SIGTERM:
#     the next GETs still answer 200 (nginx retries a GET whose kept
#     connection is gone);
#  D. readers on kept connections, index renders, uploads and a worker
#     restart at once: every GET 200 with the right bytes, every upload 201,
#     no 5xx in nginx's log;
#  E. a TCP FastCGI socket instead of a unix one.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

# Connected sockets at the FastCGI socket's path: the workers' ends of the
# connections they accepted and have not closed.
worker_conns() {
	awk -v p="$STATE/fcgi.sock" '$8 == p && $6 == "03" { n++ } END { print n + 0 }' /proc/net/unix
}

make_tiny_charts "$TMP/charts" small:1.0.0 other:1.0.0
small=$TMP/charts/small-1.0.0.tgz

# An htpasswd user beside the single user: its bcrypt is what a cache miss costs.
htpasswd -B -C 5 -b -c "$TMP/htpasswd" hu hu-pw 2>/dev/null
start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p HTPASSWD_FILE="$TMP/htpasswd" WORKERS=1 \
	CACHE_INTERVAL=1h || finish
auth=(-u u:p)
check_status "a small chart uploads" 201 "${auth[@]}" --data-binary "@$small" "$BASE/api/charts"
wait_until 10 test "$(worker_conns)" -eq 0
check "after the upload no worker holds a connection" test "$(worker_conns)" -eq 0

# --- A: parked, then released.
urls=()
for _ in $(seq 1 100); do urls+=("$BASE/charts/small-1.0.0.tgz" -o /dev/null); done
codes=$(curl -s "${auth[@]}" -w '%{http_code} %{size_download}\n' "${urls[@]}" | sort | uniq -c | awk '{$1=$1; print}')
check "100 GETs of the small chart on one client connection: all 200 with its bytes" \
	test "$codes" = "100 200 $(wc -c <"$small")"
check "nginx keeps a connection to the worker open afterwards (parked: $(worker_conns))" \
	test "$(worker_conns)" -ge 1
# A credential not in the worker's cache costs a bcrypt (tens of ms): the
# worker first releases what it parked (auth_before_hash), so no GET that
# nginx sends on those connections waits for the hash.
pids=()
for _ in 1 2 3 4; do
	curl -s "${auth[@]}" "${urls[@]:0:150}" &
	pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || true; done
parked=$(worker_conns)
check "four clients at once leave several connections parked ($parked)" test "$parked" -ge 2
check_status "a GET as the htpasswd user, not yet in the cache, answers 200" 200 -u hu:hu-pw \
	"$BASE/charts/small-1.0.0.tgz"
wait_until 10 test "$(worker_conns)" -le 1 || true
check "... and the worker released the others before hashing it (left: $(worker_conns))" \
	test "$(worker_conns)" -le 1
check_status "GET index.yaml (not quick: the worker releases what it parked)" 200 "${auth[@]}" \
	"$BASE/index.yaml"
wait_until 10 test "$(worker_conns)" -eq 0
check "... after which the worker holds no connection" test "$(worker_conns)" -eq 0
http "${auth[@]}" -I "$BASE/charts/small-1.0.0.tgz"
check "HEAD of the small chart answers 200 with its length" \
	test "$LAST_STATUS" = 200 -a "$(last_header content-length)" = "$(wc -c <"$small")"
wait_until 10 test "$(worker_conns)" -eq 0
check "... on a connection nginx does not keep (it drops it after a HEAD)" test "$(worker_conns)" -eq 0

# --- B: uploads do not keep connections.
check_status "GET index.yaml again" 200 "${auth[@]}" "$BASE/index.yaml"
wait_until 10 test "$(worker_conns)" -eq 0
make_tiny_charts "$TMP/up" $(for i in $(seq 1 20); do echo "up$i:1.0.0"; done)
check_uploads "20 uploads answer 201" "$BASE/api/charts" "$TMP"/up/*.tgz -- "${auth[@]}"
wait_until 10 test "$(worker_conns)" -eq 0
check "... and leave no connection open" test "$(worker_conns)" -eq 0

# --- C: the worker holding parked connections dies or stops.
curl -s "${auth[@]}" -o /dev/null "$BASE/charts/small-1.0.0.tgz" -o /dev/null "$BASE/charts/small-1.0.0.tgz"
check "a connection is parked before the kill" test "$(worker_conns)" -ge 1
# stop_worker SIG: sends SIG to the one worker, waits for the master to
# replace it, then checks that the next 20 GETs answer 200 with the bytes.
stop_worker() {
	local old bad=0
	old=$(fcgi_workers)
	kill "-$1" "$old"
	wait_until 15 sh -c "w=\$(ps -o pid= --ppid $(fcgi_master) | tr -d ' '); [ -n \"\$w\" ] && [ \"\$w\" != $old ]"
	for _ in $(seq 1 20); do
		http "${auth[@]}" "$BASE/charts/small-1.0.0.tgz"
		[ "$LAST_STATUS" = 200 ] && cmp -s "$LAST_BODY" "$small" || bad=$((bad + 1))
	done
	check "after SIG$1 of the parked worker the next 20 GETs answer 200 with the bytes" test "$bad" -eq 0
}
stop_worker KILL
stop_worker TERM

# --- D: everything at once, two workers, a new storage directory.
STORAGE=$TMP/storage.d STATE=$TMP/state.d
start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p WORKERS=2 CACHE_INTERVAL=1h || finish
check_status "the small chart uploads to the two-worker stack" 201 "${auth[@]}" \
	--data-binary "@$small" "$BASE/api/charts"
make_tiny_charts "$TMP/mix" $(for i in $(seq 1 40); do echo "mix$i:1.0.0"; done)
reader() { # N: N GETs of the small chart on one connection, "<code> <bytes>" each
	local u=() i
	for i in $(seq 1 "$1"); do u+=("$BASE/charts/small-1.0.0.tgz" -o /dev/null); done
	curl -s "${auth[@]}" -w '%{http_code} %{size_download}\n' "${u[@]}"
}
jobs_started=()
for i in 1 2 3; do
	reader 400 >"$TMP/reader.$i" &
	jobs_started+=($!)
done
(for _ in $(seq 1 15); do curl -s "${auth[@]}" -o /dev/null -w '%{http_code}\n' "$BASE/index.yaml"; done) >"$TMP/index.codes" &
jobs_started+=($!)
(for f in "$TMP"/mix/*.tgz; do curl -s "${auth[@]}" -o /dev/null -w '%{http_code}\n' --data-binary "@$f" "$BASE/api/charts"; done) >"$TMP/upload.codes" &
jobs_started+=($!)
sleep 0.5
kill -TERM "$(fcgi_workers | head -n 1)"
wait "${jobs_started[@]}"
check "3 readers × 400 GETs on kept connections: all 200 with the bytes" \
	test "$(cat "$TMP"/reader.* | sort | uniq -c | awk '{$1=$1; print}')" = "1200 200 $(wc -c <"$small")"
check "15 index.yaml GETs meanwhile: all 200" test "$(sort -u "$TMP/index.codes")" = 200
check "40 uploads meanwhile: all 201" test "$(sort -u "$TMP/upload.codes")" = 201
check "no 5xx in nginx's access log" \
	test "$(awk '$9 ~ /^5/' "$STATE/nginx/access.log" | wc -l)" -eq 0
http "${auth[@]}" "$BASE/api/charts"
check "the 40 uploads and the small chart are listed" \
	python3 -c "import json,sys; d=json.load(open('$LAST_BODY')); sys.exit(0 if len(d) == 41 else 1)"

# --- E: the same over TCP (FCGI_SOCKET=host:port; the workers set
# TCP_NODELAY on what they accept, as libfcgi did).
STORAGE=$TMP/storage.e STATE=$TMP/state.e
start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p WORKERS=2 FCGI_SOCKET="127.0.0.1:$(free_port)" || finish
check_status "TCP FastCGI socket: the small chart uploads" 201 "${auth[@]}" --data-binary "@$small" \
	"$BASE/api/charts"
check "TCP FastCGI socket: 100 GETs of it on kept connections, all 200 with its bytes" \
	test "$(reader 100 | sort | uniq -c | awk '{$1=$1; print}')" = "100 200 $(wc -c <"$small")"
check_status "TCP FastCGI socket: index.yaml" 200 "${auth[@]}" "$BASE/index.yaml"

finish
