#!/usr/bin/env bash
# The storage directory is the source of truth: files copied in by hand
# appear in the index within seconds (inotify; CACHE_INTERVAL is an hour
# here), removed files disappear, changed files are re-hashed, invalid files
# are logged by name and skipped, and a deleted database is rebuilt with
# nothing lost.
. "$(dirname "$0")/../lib.sh"

make_tiny_charts "$TMP/charts" handmade:0.1.0 handmade:0.2.0 handmade:0.3.0 uploaded:1.0.0 moved:1.0.0

start_stack CACHE_INTERVAL=1h || finish
check_status "upload one chart through the API" 201 --data-binary "@$TMP/charts/uploaded-1.0.0.tgz" "$BASE/api/charts"

# has_version NAME VERSION [repo-prefix]: the index lists it.
has_version() {
	local vs
	vs=" $(index_versions "$BASE${3:-}/index.yaml" "$1" 2>/dev/null || true) "
	[[ "$vs" == *" $2 "* ]]
}
lacks_version() { ! has_version "$@"; }
digest_is() {
	[ "$(index_query "$BASE/index.yaml" "[e['digest'] for e in i['entries'].get('$1', []) if e['version'] == '$2']" 2>/dev/null)" = "['$3']" ]
}

cp "$TMP/charts/handmade-0.1.0.tgz" "$STORAGE/"
check "a chart copied into storage by hand appears in the index within 5 s" \
	wait_until 5 has_version handmade 0.1.0
check "... with the sha256 of the file as its digest" \
	digest_is handmade 0.1.0 "$(sha256 "$STORAGE/handmade-0.1.0.tgz")"
check "... and is downloadable" \
	sh -c "curl -s -o /dev/null -w '%{http_code}' --max-time 10 '$BASE/charts/handmade-0.1.0.tgz' | grep -qx 200"
check "... and the API lists it" \
	sh -c "curl -s --max-time 10 '$BASE/api/charts/handmade/0.1.0' | grep -q '\"version\":\"0.1.0\"'"

cp "$TMP/charts/moved-1.0.0.tgz" "$STORAGE/.staging"
mv "$STORAGE/.staging" "$STORAGE/moved-1.0.0.tgz"
check "a chart renamed into storage appears within 5 s" wait_until 5 has_version moved 1.0.0

cp "$TMP/charts/handmade-0.2.0.tgz" "$STORAGE/"
cp "$TMP/charts/handmade-0.3.0.tgz" "$STORAGE/"
has_both() { has_version handmade 0.2.0 && has_version handmade 0.3.0; }
check "two more copied in appear within 5 s" wait_until 5 has_both
check "versions are newest first" test "$(index_versions "$BASE/index.yaml" handmade)" = "0.3.0 0.2.0 0.1.0"

rm "$STORAGE/handmade-0.2.0.tgz"
check "a chart removed from storage by hand disappears within 5 s" wait_until 5 lacks_version handmade 0.2.0
check_status "... and its download answers 404" 404 "$BASE/charts/handmade-0.2.0.tgz"
rm "$STORAGE/uploaded-1.0.0.tgz"
check "an uploaded chart removed by hand disappears too" wait_until 5 lacks_version uploaded 1.0.0

# A changed file (same name) is re-hashed.
sleep 1.1
make_tiny_chart handmade 0.3.0 "$TMP/v2" >/dev/null
cp "$TMP/v2/handmade-0.3.0.tgz" "$STORAGE/handmade-0.3.0.tgz"
new=$(sha256 "$STORAGE/handmade-0.3.0.tgz")
check "a file changed in place is re-hashed within 5 s" wait_until 5 digest_is handmade 0.3.0 "$new"

# Not a chart: logged by name, skipped, the index stays valid.
printf 'not a chart at all\n' >"$STORAGE/garbage-9.9.9.tgz"
check "an invalid file is reported by name in the log within 5 s" \
	wait_until 5 grep -q 'garbage-9.9.9.tgz' "$STACK_LOG"
check "... and is not in the index" lacks_version garbage 9.9.9
check_status "... and the index still serves" 200 "$BASE/index.yaml"
http "$BASE/index.yaml"
cp "$LAST_BODY" "$TMP/before-restart.yaml"

# Restart with the database deleted: rebuilt from storage, nothing lost.
stop_stack || true
rm -f "$STATE/chartdepot.db" "$STATE/chartdepot.db-wal" "$STATE/chartdepot.db-shm"
# Leftover temp file of an interrupted upload: cleaned at start, never indexed.
printf 'partial' >"$STORAGE/.cd-tmp-leftover"
start_stack CACHE_INTERVAL=1h || finish
check "after deleting the database, the index lists the same charts and versions" python3 - \
	"$TMP/before-restart.yaml" "$BASE/index.yaml" <<'PY'
import sys, urllib.request, yaml
before = yaml.safe_load(open(sys.argv[1]))
after = yaml.safe_load(urllib.request.urlopen(sys.argv[2], timeout=30).read())
def key(i):
    return {n: [(e["version"], e["digest"]) for e in es] for n, es in (i.get("entries") or {}).items()}
if key(before) != key(after):
    print("before:", key(before)); print("after: ", key(after)); sys.exit(1)
PY
wrong=
for f in "$STORAGE"/*.tgz; do
	base=$(basename "$f" .tgz)
	[ "$base" = garbage-9.9.9 ] && continue
	name=${base%-*} ver=${base##*-}
	digest_is "$name" "$ver" "$(sha256 "$f")" || wrong="$wrong $base"
done
check "after the rebuild every chart in storage has its file's digest${wrong:+ (wrong:$wrong)}" test -z "$wrong"
check "the leftover temp file was removed at start" test ! -e "$STORAGE/.cd-tmp-leftover"
check "a rebuilt index still skips the invalid file" lacks_version garbage 9.9.9

# Changes made while stopped are picked up at start.
stop_stack || true
rm "$STORAGE/moved-1.0.0.tgz"
cp "$TMP/charts/handmade-0.2.0.tgz" "$STORAGE/"
start_stack CACHE_INTERVAL=1h || finish
check "a chart removed while stopped is gone after start" lacks_version moved 1.0.0
check "a chart added while stopped is there after start" has_version handmade 0.2.0

# An upload reaches the indexer as an event too, but its row already has
# the file's identity: the indexer reads none of them.  A file copied in
# after them is read (its event comes last), so once the count of files
# read has moved, the uploads' events have been handled.
stop_stack || true
start_stack CACHE_INTERVAL=1h ENABLE_METRICS=1 || finish
hashed_total() {
	http "$BASE/metrics" &&
		awk '$1 == "chartdepot_indexer_files_hashed_total" { print $2 }' "$LAST_BODY"
}
make_tiny_charts "$TMP/up" $(for i in $(seq 1 10); do printf 'fresh:1.0.%d ' "$i"; done) sentinel:1.0.0
hashed0=$(hashed_total)
check_uploads "ten uploads answer 201" "$BASE/api/charts" "$TMP"/up/fresh-*.tgz
cp "$TMP/up/sentinel-1.0.0.tgz" "$STORAGE/"
hashed_moved() { [ "$(hashed_total)" -gt "${hashed0:-0}" ] 2>/dev/null; }
check "a file copied in after the uploads is read within 5 s" wait_until 5 hashed_moved
check "the indexer read that file only, none of the ten uploads (files read: ${hashed0:-?} before, $(hashed_total) after)" \
	test "$(hashed_total)" = "$((hashed0 + 1))"
check "the ten uploads and the copied file are in the index" \
	sh -c "[ \"\$(curl -s --max-time 10 '$BASE/index.yaml' | grep -c 'fresh-1.0.[0-9]*.tgz\|sentinel-1.0.0.tgz')\" = 11 ]"

# A first load of a big directory (over 2,000 files) lists the names
# without a stat each and takes each file's identity from its read: the
# files it records as invalid (a bad name, copies of a version already
# indexed) must still be recorded with their real identity, so a restart
# neither reports nor reads them again.
stop_stack || true
STORAGE=$TMP/storage-big STATE=$TMP/state-big
mkdir -p "$STORAGE"
cp "$TMP/charts/handmade-0.1.0.tgz" "$STORAGE/"
for i in $(seq 1 2100); do ln "$STORAGE/handmade-0.1.0.tgz" "$STORAGE/handmade-0.1.0-copy$i.tgz"; done
cp "$TMP/charts/handmade-0.2.0.tgz" "$STORAGE/bad name.tgz"
start_stack CACHE_INTERVAL=1h || finish
check "big first load: the chart is indexed with its file's digest" \
	digest_is handmade 0.1.0 "$(sha256 "$STORAGE/handmade-0.1.0.tgz")"
check "big first load: the file with a bad name is reported once" \
	test "$(grep -c 'skipping chart file bad name.tgz' "$STACK_LOG")" = 1
check "big first load: each copy of the indexed version is reported once" \
	test "$(grep -c 'skipping chart file handmade-0.1.0-copy[0-9]*.tgz' "$STACK_LOG")" = 2100
check "big first load: ... and neither is in the index" lacks_version handmade 0.2.0
stop_stack || true
start_stack CACHE_INTERVAL=1h || finish
check "big restart: nothing is reported again (recorded with their identity)" \
	sh -c "! grep -q 'skipping chart file' '$STACK_LOG'"
check "big restart: nothing is read again" grep -q '(0 hashed, 1 skipped unchanged, 2101 invalid)' "$STACK_LOG"

# Depth 1: a repository directory made by hand.
stop_stack || true
STORAGE=$TMP/storage-d1 STATE=$TMP/state-d1
start_stack DEPTH=1 CACHE_INTERVAL=1h || finish
mkdir -p "$STORAGE/handrepo"
cp "$TMP/charts/handmade-0.1.0.tgz" "$STORAGE/handrepo/"
check "depth 1: a chart copied into a new repo directory appears in /<repo>/index.yaml within 5 s" \
	wait_until 5 has_version handmade 0.1.0 /handrepo
check_body_contains "depth 1: GET / lists the hand-made repo" handrepo "$BASE/"
rm -r "$STORAGE/handrepo"
check "depth 1: removing the repo directory removes its charts within 5 s" \
	wait_until 5 lacks_version handmade 0.1.0 /handrepo

finish
