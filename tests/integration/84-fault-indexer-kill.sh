#!/usr/bin/env bash
# Fault 2 (issue 5): chartdepot-indexer SIGKILLed in the middle of a cold
# index of thousands of charts (made by scripts/bench.d/gencorpus.c), twice;
# the third start converges to the full, correct index: every chart in
# storage is in the index with its file's sha256, nothing else is, and the
# server serves it.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

NAMES=${FAULT_NAMES:-500}
VERSIONS=${FAULT_VERSIONS:-10}
total=$((NAMES * VERSIONS))

gen=$TMP/gencorpus
# shellcheck disable=SC2046  # pkg-config prints several words
if ! cc -O2 -std=c11 -o "$gen" "$ROOT/scripts/bench.d/gencorpus.c" $(pkg-config --cflags --libs libarchive) 2>"$TMP/cc.log"; then
	fail "scripts/bench.d/gencorpus.c builds"
	detail <"$TMP/cc.log"
	finish
fi
mkdir -p "$STORAGE" "$STATE/index"
timeout 120 "$gen" -o "$STORAGE" -n "$NAMES" -v "$VERSIONS" -j 2 >/dev/null
check "gencorpus wrote $total charts" test "$(find "$STORAGE" -name '*.tgz' | wc -l)" -eq "$total"

# run_indexer LOG: the indexer alone on $STORAGE/$STATE, one hashing thread
# (so a cold index takes seconds), in the background; sets IDX_PID.
run_indexer() {
	rm -f "$STATE/indexer.ready"
	env STORAGE_LOCAL_ROOTDIR="$STORAGE" STATE_DIR="$STATE" CACHE_INTERVAL=1h INDEX_LIMIT=1 \
		"$BUILD/chartdepot-indexer" 2>>"$1" &
	IDX_PID=$!
}
rows() { sqlite3 -readonly "$STATE/chartdepot.db" 'SELECT count(*) FROM chart' 2>/dev/null || echo 0; }

# kill_mid LOG MIN_ROWS: SIGKILL once at least MIN_ROWS rows are committed,
# or after 1.5 s, whichever is first; fails when the index was complete.
kill_mid() {
	local log=$1 min=$2 n
	run_indexer "$log"
	for _ in $(seq 1 150); do
		[ ! -e "$STATE/indexer.ready" ] || break
		n=$(rows)
		[ "$n" -lt "$min" ] || break
		sleep 0.01
	done
	kill -KILL "$IDX_PID" 2>/dev/null || true
	wait "$IDX_PID" 2>/dev/null || true
	n=$(rows)
	check "indexer SIGKILLed mid-index ($n of $total rows committed, not ready)" \
		test ! -e "$STATE/indexer.ready" -a "$n" -lt "$total"
}

kill_mid "$TMP/indexer.1.log" 1
first=$(rows)
# A cold index of this many files is a bulk load, run without SQLite syncs
# while $STATE/indexer.bulk names the boot it started in.
check "the killed bulk load left its marker, naming this boot" \
	test "$(cat "$STATE/indexer.bulk" 2>/dev/null)" = "$(cat /proc/sys/kernel/random/boot_id)"
kill_mid "$TMP/indexer.2.log" $((first + 1))

# Third start: runs to completion.
run_indexer "$TMP/indexer.3.log"
check "the restarted indexer finishes its reconcile (60 s at most)" wait_until 60 test -e "$STATE/indexer.ready"
kill -TERM "$IDX_PID" 2>/dev/null || true
wait "$IDX_PID" 2>/dev/null || true
check "the database holds all $total charts ($(rows))" test "$(rows)" -eq "$total"
check "no file was recorded as invalid" \
	test "$(sqlite3 -readonly "$STATE/chartdepot.db" 'SELECT count(*) FROM badfile' 2>/dev/null)" = 0
check "the database passes integrity_check" \
	test "$(sqlite3 -readonly "$STATE/chartdepot.db" 'PRAGMA integrity_check' 2>/dev/null)" = ok
check "no indexer log line holds 'database is locked' or 'corrupt'" \
	sh -c "! grep -qiE 'database is locked|corrupt|malformed' '$TMP'/indexer.*.log"

start_stack CACHE_INTERVAL=1h || finish
check_index_equals_storage "the served index equals storage: $total charts, every digest the file's sha256"
n=$(python3 -c 'import sys, yaml; i = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader); print(sum(len(v) for v in i["entries"].values()))' "$LAST_BODY" || echo 0)
check "the index lists $total versions ($n)" test "$n" = "$total"
f=$(cd "$STORAGE" && ls | sort | sed -n '777p')
check_status "a chart from the middle of the corpus ($f) downloads" 200 "$BASE/charts/$f"
check "... byte for byte" cmp -s "$LAST_BODY" "$STORAGE/$f"
check "a marker of this boot is removed by the next start" test ! -e "$STATE/indexer.bulk"

# A marker from another boot: the machine stopped during a bulk load, which
# may have left damage no check finds, so the next start rebuilds the
# database from storage.
stop_stack || true
printf 'another-boot' >"$STATE/indexer.bulk"
run_indexer "$TMP/indexer.4.log"
check "after a bulk load cut short by the machine stopping, the indexer finishes (60 s at most)" \
	wait_until 60 test -e "$STATE/indexer.ready"
kill -TERM "$IDX_PID" 2>/dev/null || true
wait "$IDX_PID" 2>/dev/null || true
check "... having moved the database aside to rebuild it" \
	sh -c "grep -q 'rebuilding the index from storage' '$TMP/indexer.4.log' && ls '$STATE' | grep -q 'chartdepot.db.corrupt-'"
check "... the marker is gone" test ! -e "$STATE/indexer.bulk"
check "... the rebuilt database holds all $total charts ($(rows))" test "$(rows)" -eq "$total"

# A bulk load leaves each name's block (its rendered entries) stale for the
# daemon to rebuild in the background after its pass; renders meanwhile read
# the rows.  The index printed from the rows and the one printed from the
# rebuilt blocks must be the same.
COLD=$TMP/cold-state
mkdir -p "$COLD"
cold_env=(env STORAGE_LOCAL_ROOTDIR="$STORAGE" STATE_DIR="$COLD" CACHE_INTERVAL=1h)
db_count() { sqlite3 -readonly "$COLD/chartdepot.db" "SELECT count(*) FROM $1" 2>/dev/null || echo -1; }
print_index() {
	"${cold_env[@]}" timeout 60 "$BUILD/chartdepot-indexer" --print-index 2>>"$TMP/print.log" |
		grep -v '^generated:' >"$1"
}
"${cold_env[@]}" timeout 60 "$BUILD/chartdepot-indexer" --once 2>"$TMP/cold.log"
check "a cold --once load leaves all $NAMES names' blocks stale ($(db_count block_stale)), none built" \
	test "$(db_count block_stale)" = "$NAMES" -a "$(db_count block)" = 0
print_index "$TMP/from-rows.yaml"
check "... the index it prints from the rows lists all $total versions" \
	test "$(grep -c '^  - ' "$TMP/from-rows.yaml")" = "$total"
"${cold_env[@]}" "$BUILD/chartdepot-indexer" 2>"$TMP/cold-daemon.log" &
cold_pid=$!
no_stale_block() { test "$(db_count block_stale)" = 0; }
check "the daemon rebuilds them in the background (30 s at most)" wait_until 30 no_stale_block
kill -TERM "$cold_pid" 2>/dev/null || true
wait "$cold_pid" 2>/dev/null || true
check "... every name has its block ($(db_count block) of $NAMES)" test "$(db_count block)" = "$NAMES"
check "... and logs how long that took" grep -q "rebuilt $NAMES stale index blocks in" "$TMP/cold-daemon.log"
print_index "$TMP/from-blocks.yaml"
check "... the index printed from the blocks is the one printed from the rows" \
	cmp -s "$TMP/from-rows.yaml" "$TMP/from-blocks.yaml"

finish
