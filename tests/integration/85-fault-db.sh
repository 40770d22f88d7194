#!/usr/bin/env bash
# Fault 3 (issue 5): the SQLite database deleted, overwritten with garbage,
# truncated, or damaged in its middle pages while the service is stopped:
# the next start rebuilds it from storage, nothing is lost (the same
# versions and digests as before, every chart downloadable), and a damaged
# file is reported in the log.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

specs=()
for n in alpha beta gamma delta; do
	for v in 0.1.0 0.2.0 1.0.0 1.1.0 2.0.0; do specs+=("$n:$v"); done
done
make_tiny_charts "$TMP/charts" "${specs[@]}"

start_stack CACHE_INTERVAL=1h || finish
check_uploads "20 charts upload" "$BASE/api/charts" "$TMP"/charts/*.tgz
# A db with many pages, so damage in the middle hits data, not the header.
mapfile -t bulk < <(for i in $(seq 1 300); do echo "bulk$i:1.0.0"; done)
make_tiny_charts "$TMP/bulk" "${bulk[@]}"
cp "$TMP"/bulk/*.tgz "$STORAGE/"
check "300 more charts copied into storage are indexed" wait_until 30 sh -c \
	"[ \"\$(sqlite3 -readonly '$STATE/chartdepot.db' 'SELECT count(*) FROM chart' 2>/dev/null)\" = 320 ]"
check_index_equals_storage "the index equals storage before any damage"
http "$BASE/index.yaml"
python3 -c 'import sys, yaml; i = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
print("\n".join(sorted("%s %s %s" % (n, e["version"], e["digest"]) for n, es in i["entries"].items() for e in es)))' \
	"$LAST_BODY" >"$TMP/before.txt"
stop_stack

db=$STATE/chartdepot.db
pages=$(($(stat -c %s "$db") / 4096))
check "the database has more than 8 pages ($pages)" test "$pages" -gt 8

# damage WHAT: one way of breaking the stopped service's database.
damage() {
	rm -f "$db-wal" "$db-shm"
	case "$1" in
	deleted) rm -f "$db" ;;
	garbage) head -c 200000 /dev/urandom >"$db" ;;
	zero-length) : >"$db" ;;
	truncated) truncate -s $((pages * 4096 / 2)) "$db" ;;
	middle-pages)
		# The header and schema page stay valid; pages 3.. are noise.
		python3 - "$db" <<'PY'
import os, sys
p = sys.argv[1]
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(2 * 4096)
    f.write(os.urandom(size - 2 * 4096))
PY
		;;
	esac
}

for what in deleted garbage zero-length truncated middle-pages; do
	cp "$db" "$TMP/good.db" 2>/dev/null || true
	damage "$what"
	if ! start_stack CACHE_INTERVAL=1h; then
		fail "$what database: the service starts"
		cp "$TMP/good.db" "$db" 2>/dev/null || true
		continue
	fi
	pass "$what database: the service starts"
	check_index_equals_storage "$what database: the rebuilt index equals storage"
	http "$BASE/index.yaml"
	python3 -c 'import sys, yaml; i = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
print("\n".join(sorted("%s %s %s" % (n, e["version"], e["digest"]) for n, es in i["entries"].items() for e in es)))' \
		"$LAST_BODY" >"$TMP/after.txt" 2>/dev/null || true
	check "$what database: nothing lost (same $(wc -l <"$TMP/before.txt") versions and digests as before)" \
		cmp -s "$TMP/before.txt" "$TMP/after.txt"
	check_json "$what database: the API lists every version of alpha" 200 \
		'isinstance(j, list) and sorted(e["version"] for e in j) == ["0.1.0", "0.2.0", "1.0.0", "1.1.0", "2.0.0"]' "$BASE/api/charts/alpha"
	check_status "$what database: a chart downloads" 200 "$BASE/charts/gamma-1.1.0.tgz"
	check_status "$what database: an upload works" 201 --data-binary "@$TMP/bulk/bulk1-1.0.0.tgz" "$BASE/api/charts?force"
	check "$what database: the rebuilt database passes integrity_check" \
		test "$(sqlite3 -readonly "$db" 'PRAGMA integrity_check' 2>/dev/null)" = ok
	case "$what" in
	deleted|zero-length) ;;
	*)
		check "$what database: the damage is reported in the log" \
			grep -qiE 'corrupt|damaged|not a database|malformed' "$STACK_LOG"
		grep -iE 'corrupt|damaged|not a database|malformed' "$STACK_LOG" | head -n 3 | detail
		;;
	esac
	check "$what database: no 5xx was answered" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -q '^5'"
	stop_stack
	: >"$STATE/nginx/access.log"
done

finish
