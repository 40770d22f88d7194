#!/usr/bin/env bash
# Read-your-writes against the indexer's own reads.  Every upload also
# reaches the indexer as an inotify event; the indexer skips it when the
# row has the file's identity, and reads the file when it does not (here:
# the file is touched after its upload, as a copy behind our back would
# change it).  When the file is overwritten or deleted through the API
# while the indexer holds what it read, the indexer must not write that
# back: the worker's answer (the new digest, the version gone) must hold in
# every read after it.
#
# The same holds for a repo directory moved into storage, which the indexer
# loads as a first load (no rows): an upload into it while that load runs;
# and for the worker's side (scenario 4): the indexer reading the old file
# while a worker is between the row of an overwrite or delete and its file.
#
# gdb makes the interleaving certain: it stops the indexer when its hash
# thread has read the file (a breakpoint on digest_sha256_hex), the
# overwrite or the delete is sent while it is stopped, reads start, and
# only then does gdb let the indexer go.  The reads go on for 1.5 s: the
# indexer gathers events for 0.2 s, so the event of the overwrite or the
# delete has been handled by then.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"
. "$ROOT/tests/tools/rel.sh"

command -v gdb >/dev/null || { fail "gdb is installed (scripts/install-deps)"; finish; }

first=$(compat_chart racy 0.1.0 "replicas: 1" a)
cold_first=$(compat_chart coldy 0.1.0 "replicas: 1" a)
cold_second=$(compat_chart coldy 0.1.0 "replicas: 1" b)
cold_second_digest=$(sha256 "$cold_second")
second=$(compat_chart racy 0.1.0 "replicas: 1" b)
second_digest=$(sha256 "$second")
doomed=$(compat_chart doomed 1.0.0)

start_stack ALLOW_OVERWRITE=1 || finish

# watch_reads SECONDS API_URL WANT STARTED [METHOD URL BODY_FILE ANSWER]:
# reads API_URL and $INDEX_URL over and over for SECONDS from its first
# read, creating the file STARTED after that read; prints one line per read
# that disagrees with WANT ("absent", or the digest the version must have)
# and a summary on stderr.  With METHOD, first sends that request (BODY_FILE
# "" for none) and writes its status to ANSWER: the reads start the moment
# it is answered.
watch_reads() {
	python3 - "$1" "$2" "$INDEX_URL" "$3" "$4" "${@:5}" <<'PY'
import json, sys, time, urllib.error, urllib.request, yaml
secs, api, index, want, started = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
name, version = api.rstrip("/").split("/")[-2:]
def get(url, method="GET", body=None):
    try:
        req = urllib.request.Request(url, data=body, method=method)
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
if len(sys.argv) > 6:
    method, url, body_file, answer = sys.argv[6:10]
    body = open(body_file, "rb").read() if body_file else None
    status, _ = get(url, method, body)
    with open(answer, "w") as f:
        f.write(str(status))
end, reads, bad = time.time() + secs, 0, 0
while time.time() < end:
    status, body = get(api)
    got = json.loads(body).get("digest") if status == 200 else "absent" if status == 404 else "status %d" % status
    if got != want:
        bad += 1
        print("GET %s: %s (status %d)" % (api, got, status))
    status, body = get(index)
    if status == 200:
        es = ((yaml.safe_load(body) or {}).get("entries") or {}).get(name) or []
        got = next((e.get("digest") for e in es if str(e.get("version")) == version), "absent")
    else:
        got = "status %d" % status
    if got != want:
        bad += 1
        print("GET index.yaml: %s %s is %s" % (name, version, got))
    if reads == 0:
        open(started, "w").close()
    reads += 2
print("%d reads, %d wrong" % (reads, bad), file=sys.stderr)
PY
}

# gdb_hold NAME PID WHAT BREAK GDB_LINES: attaches gdb to PID (WHAT names
# it in messages) with a breakpoint on BREAK; once stopped there, gdb runs
# GDB_LINES (one command per line), then lets it go.  Returns when gdb is
# attached and about to continue, with GDB_PID set; its output goes to
# $TMP/NAME.gdb.out.
gdb_hold() {
	local name=$1 pid=$2 what=$3 brk=$4 lines=$5
	printf 'set pagination off\nset confirm off\nbreak %s\nshell touch %s\ncontinue\n%s\ndelete\ndetach\nquit\n' \
		"$brk" "$TMP/$name.ready" "$lines" >"$TMP/$name.gdb"
	rm -f "$TMP/$name.ready"
	timeout 120 gdb -nx -batch -p "$pid" -x "$TMP/$name.gdb" >"$TMP/$name.gdb.out" 2>&1 &
	GDB_PID=$!
	wait_until 60 test -e "$TMP/$name.ready" && return 0
	fail "$name: gdb attaches to the $what"
	tail -n 20 "$TMP/$name.gdb.out" | detail
	kill "$GDB_PID" 2>/dev/null
	return 1
}

# check_gdb_stopped NAME PATTERN WHAT: the stop on the breakpoint (PATTERN,
# an extended regex, in gdb's output) happened; WHAT says which.
check_gdb_stopped() {
	if grep -qE "$2" "$TMP/$1.gdb.out"; then
		pass "$1: $3"
		return 0
	fi
	fail "$1: $3"
	tail -n 20 "$TMP/$1.gdb.out" | detail
	return 1
}

# check_reads NAME WHEN: watch_reads ran (its summary) and found no read
# that disagreed.
check_reads() {
	local summary
	summary=$(cat "$TMP/$1.summary" 2>/dev/null || true)
	if [ -s "$TMP/$1.summary" ] && [ ! -s "$TMP/$1.wrong" ]; then
		pass "$1: for 1.5 s $2, every read agreed ($summary)"
	else
		fail "$1: for 1.5 s $2, every read agreed ($summary)"
		head -n 10 "$TMP/$1.wrong" | detail
	fi
}

# held_by_gdb NAME TRIGGER API_URL WANT CMD...: attaches gdb to the indexer
# with a breakpoint on digest_sha256_hex and runs TRIGGER (a function that
# gives the indexer a file to read, checking that it did).  While the
# indexer is stopped on the breakpoint, runs CMD (its output goes to
# $TMP/NAME.out) and starts reading API_URL and index.yaml; after the first
# reads, lets the indexer go.  Checks that the stop happened and that for 1.5 s every
# read agreed with WANT (see watch_reads).
held_by_gdb() {
	local name=$1 trigger=$2 api=$3 want=$4
	shift 4
	local pid watch_pid
	pid=$(indexer_pid)
	[ -n "$pid" ] || { fail "$name: the indexer runs"; return 1; }
	printf '%q ' "$@" >"$TMP/$name.cmd"
	rm -f "$TMP/$name.out" "$TMP/$name.reading"
	gdb_hold "$name" "$pid" indexer digest_sha256_hex \
		"shell bash $TMP/$name.cmd >$TMP/$name.out.tmp; mv $TMP/$name.out.tmp $TMP/$name.out
shell while [ ! -e $TMP/$name.reading ]; do sleep 0.01; done" || return 1
	"$trigger" "$name"
	(
		while [ ! -e "$TMP/$name.out" ] && kill -0 "$GDB_PID" 2>/dev/null; do sleep 0.01; done
		watch_reads 1.5 "$api" "$want" "$TMP/$name.reading" >"$TMP/$name.wrong" 2>"$TMP/$name.summary"
	) &
	watch_pid=$!
	wait "$GDB_PID" || true
	wait "$watch_pid" || true
	check_gdb_stopped "$name" 'hit Breakpoint 1, digest_sha256_hex' \
		"the indexer stopped after reading the upload" || return 1
	check_reads "$name" "from before the indexer went on"
}

# upload_touched NAME CHART FILE: uploads CHART, then touches its stored
# FILE so that the indexer reads it (the upload's own event finds the row
# current and reads nothing).
upload_touched() {
	check_status "$1: the upload the indexer is held on answers 201" 201 \
		--data-binary "@$2" "$BASE/api/charts"
	touch "$STORAGE/$3"
}
upload_first() { upload_touched "$1" "$first" racy-0.1.0.tgz; }
upload_doomed() { upload_touched "$1" "$doomed" doomed-1.0.0.tgz; }
INDEX_URL=$BASE/index.yaml

# 1. An overwrite lands while the indexer holds the bytes it replaces.
if held_by_gdb overwrite upload_first "$BASE/api/charts/racy/0.1.0" "$second_digest" \
	curl -s -o /dev/null -w '%{http_code}' --max-time 60 --data-binary "@$second" "$BASE/api/charts"; then
	check "overwrite: sent while the indexer was stopped, it answered 201" \
		test "$(cat "$TMP/overwrite.out")" = 201
	check "overwrite: the stored file is the new one" cmp -s "$second" "$STORAGE/racy-0.1.0.tgz"
fi

# 2. A delete lands while the indexer holds the bytes it removes.
if held_by_gdb delete upload_doomed "$BASE/api/charts/doomed/1.0.0" absent \
	curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X DELETE "$BASE/api/charts/doomed/1.0.0"; then
	check "delete: sent while the indexer was stopped, it answered 200" \
		test "$(cat "$TMP/delete.out")" = 200
	check "delete: the file is gone" test ! -e "$STORAGE/doomed-1.0.0.tgz"
fi

check_index_equals_storage "in the end the index equals storage"

# 3. A repo directory moved into storage (DEPTH=1) is a first load; an
# overwrite lands while the indexer holds the bytes it replaces.
start_stack DEPTH=1 ALLOW_OVERWRITE=1 || finish
move_in_repo() {
	mkdir -p "$TMP/newteam"
	cp "$cold_first" "$TMP/newteam/"
	mv "$TMP/newteam" "$STORAGE/newteam"
	pass "$1: a repo directory with one chart is moved into storage"
}
INDEX_URL=$BASE/newteam/index.yaml
if held_by_gdb first-load move_in_repo "$BASE/api/newteam/charts/coldy/0.1.0" "$cold_second_digest" \
	curl -s -o /dev/null -w '%{http_code}' --max-time 60 --data-binary "@$cold_second" "$BASE/api/newteam/charts"; then
	check "first-load: sent while the indexer was stopped, it answered 201" \
		test "$(cat "$TMP/first-load.out")" = 201
	check "first-load: the stored file is the new one" cmp -s "$cold_second" "$STORAGE/newteam/coldy-0.1.0.tgz"
fi
# 4. The worker's side: an overwrite or a delete changes the row and the
# file inside one write transaction.  gdb stops the only worker between
# the two (the row written, the file not yet swapped or set aside), and the
# old file is touched so that the indexer reads it and wants to write it
# back meanwhile.  Once the worker goes on and answers, every read must
# show the worker's answer: had the row been committed before the file
# changed, the indexer's write of the old file would land in between.
start_stack WORKERS=1 ALLOW_OVERWRITE=1 || finish
INDEX_URL=$BASE/index.yaml
# held_worker NAME BREAK FILE API_URL WANT METHOD URL BODY_FILE: sends the
# request while gdb holds the worker on BREAK, touches FILE there, lets the
# worker go after 0.8 s; checks the stop, and 1.5 s of reads against WANT
# from the moment of the answer (its status in $TMP/NAME.out).
held_worker() {
	local name=$1 brk=$2 file=$3 api=$4 want=$5 method=$6 url=$7 body=$8
	local pid
	pid=$(fcgi_workers)
	if [ -z "$pid" ] || [ "$(echo "$pid" | wc -l)" != 1 ]; then
		fail "$name: one worker runs ($pid)"
		return 1
	fi
	rm -f "$TMP/$name.out"
	gdb_hold "$name" "$pid" worker "$brk" "shell touch $file
shell sleep 0.8" || return 1
	watch_reads 1.5 "$api" "$want" "$TMP/$name.reading" "$method" "$url" "$body" "$TMP/$name.out" \
		>"$TMP/$name.wrong" 2>"$TMP/$name.summary"
	wait "$GDB_PID" || true
	check_gdb_stopped "$name" "Breakpoint 1, $brk \\(" \
		"the worker stopped between its row and its file" || return 1
	check_reads "$name" "after the answer"
}
check_status "worker-overwrite: the first version uploads" 201 --data-binary "@$first" "$BASE/api/charts"
check_status "worker-delete: the version to delete uploads" 201 --data-binary "@$doomed" "$BASE/api/charts"
index_settled() { local d; d=$(index_vs_storage) && [ -z "$d" ]; }
wait_until 15 index_settled || true
if held_worker worker-overwrite storage_replace "$STORAGE/racy-0.1.0.tgz" \
	"$BASE/api/charts/racy/0.1.0" "$second_digest" POST "$BASE/api/charts" "$second"; then
	check "worker-overwrite: it answered 201" test "$(cat "$TMP/worker-overwrite.out")" = 201
	check "worker-overwrite: the stored file is the new one" cmp -s "$second" "$STORAGE/racy-0.1.0.tgz"
fi
if held_worker worker-delete storage_set_aside "$STORAGE/doomed-1.0.0.tgz" \
	"$BASE/api/charts/doomed/1.0.0" absent DELETE "$BASE/api/charts/doomed/1.0.0" ""; then
	check "worker-delete: it answered 200" test "$(cat "$TMP/worker-delete.out")" = 200
	check "worker-delete: the file is gone" test ! -e "$STORAGE/doomed-1.0.0.tgz"
fi
check "worker: no set-aside or replaced file is left" test -z "$(storage_tmp_files)"
check_index_equals_storage "worker: in the end the index equals storage"

no_errors() { ! stack_logs | grep -qE '^error '; }
if no_errors; then
	pass "the servers logged no error"
else
	fail "the servers logged no error"
	stack_logs | grep -E '^error ' | detail
fi
finish
