#!/usr/bin/env bash
# Read-your-writes: when an upload or a delete has answered, the very next
# GET index.yaml (on whichever worker) reflects it — round after round, with
# no waiting in between.
. "$(dirname "$0")/../lib.sh"

rounds=15
specs=()
for n in $(seq 1 "$rounds"); do specs+=("rw:0.1.$n"); done
for round in 1 2 3; do for n in 1 2 3; do specs+=("par:$round.$n.0"); done; done
make_tiny_charts "$TMP/charts" "${specs[@]}"

# Several workers, so consecutive requests land on different processes.
start_stack WORKERS=4 || finish

seen_upload=0 seen_delete=0 seen_api=0 seen_dl=0
for n in $(seq 1 "$rounds"); do
	http --data-binary "@$TMP/charts/rw-0.1.$n.tgz" "$BASE/api/charts"
	[ "$LAST_STATUS" = 201 ] || { fail "upload rw 0.1.$n answers 201 (got $LAST_STATUS)"; continue; }
	vs=" $(index_versions "$BASE/index.yaml" rw || true) "
	[[ "$vs" == *" 0.1.$n "* ]] && seen_upload=$((seen_upload + 1))
	http "$BASE/api/charts/rw/0.1.$n"
	[ "$LAST_STATUS" = 200 ] && seen_api=$((seen_api + 1))
	http "$BASE/charts/rw-0.1.$n.tgz"
	[ "$LAST_STATUS" = 200 ] && seen_dl=$((seen_dl + 1))
	if [ "$n" -gt 1 ]; then
		http -X DELETE "$BASE/api/charts/rw/0.1.$((n - 1))"
		[ "$LAST_STATUS" = 200 ] || { fail "delete rw 0.1.$((n - 1)) answers 200 (got $LAST_STATUS)"; continue; }
		vs=" $(index_versions "$BASE/index.yaml" rw || true) "
		[[ "$vs" != *" 0.1.$((n - 1)) "* ]] && seen_delete=$((seen_delete + 1))
	fi
done
check "every upload was in the very next GET index.yaml ($seen_upload of $rounds)" test "$seen_upload" -eq "$rounds"
check "every upload was in the very next GET /api/charts/<name>/<version> ($seen_api of $rounds)" test "$seen_api" -eq "$rounds"
check "every upload was downloadable right away ($seen_dl of $rounds)" test "$seen_dl" -eq "$rounds"
check "every delete was gone from the very next GET index.yaml ($seen_delete of $((rounds - 1)))" \
	test "$seen_delete" -eq "$((rounds - 1))"
check "in the end the index holds exactly the last version" \
	test "$(index_versions "$BASE/index.yaml" rw)" = "0.1.$rounds"

# Overwrite with ?force: the next index carries the new digest.
make_tiny_chart rw "0.1.$rounds" "$TMP/again" >/dev/null
sleep 1.1
make_tiny_chart rw "0.1.$rounds" "$TMP/again" >/dev/null
new=$TMP/again/rw-0.1.$rounds.tgz
if cmp -s "$new" "$TMP/charts/rw-0.1.$rounds.tgz"; then
	fail "made a different archive for the same version"
else
	check_status "a forced re-upload answers 201" 201 --data-binary "@$new" "$BASE/api/charts?force"
	want=$(sha256 "$new")
	got=$(index_query "$BASE/index.yaml" "i['entries']['rw'][0]['digest']" || true)
	check "the very next index carries the new digest" test "$got" = "$want"
	n=$(index_query "$BASE/index.yaml" "len(i['entries']['rw'])" || true)
	check "... and one entry for that version" test "$n" = 1
fi

# Readers in parallel with writers: every index read is complete YAML.
bad=0
for round in 1 2 3; do
	pids=()
	for r in 1 2 3 4; do
		( for k in 1 2 3 4 5; do
			curl -s --max-time 30 "$BASE/index.yaml" -o "$TMP/par.$round.$r.$k" || true
		  done ) &
		pids+=($!)
	done
	for n in 1 2 3; do
		curl -s -o /dev/null --max-time 30 --data-binary "@$TMP/charts/par-$round.$n.0.tgz" "$BASE/api/charts" || true
	done
	wait "${pids[@]}" || true
done
bad=$(python3 - "$TMP"/par.* <<'PY'
import sys, yaml
bad = 0
for f in sys.argv[1:]:
    try:
        i = yaml.safe_load(open(f, encoding="utf-8"))
        ok = isinstance(i, dict) and i.get("apiVersion") == "v1" and "entries" in i
    except Exception:
        ok = False
    bad += 0 if ok else 1
print(bad)
PY
)
check "index reads during uploads were all complete indexes ($bad bad)" test "$bad" -eq 0
check "all 9 parallel uploads are in the index" \
	test "$(index_query "$BASE/index.yaml" "len(i['entries'].get('par', []))")" = 9

# Uploads leave their chart's block stale (each writes only its own row);
# the indexer rebuilds those blocks in the background, and the index stays
# the same bytes (apart from its time) either way.
stale() { sqlite3 -readonly "$STATE/chartdepot.db" 'SELECT count(*) FROM block_stale' 2>/dev/null || echo err; }
http "$BASE/index.yaml"
sed '/^generated:/d' "$LAST_BODY" >"$TMP/index.stale"
no_stale() { [ "$(stale)" = 0 ]; }
check "the indexer rebuilds the blocks uploads left stale" wait_until 20 no_stale
cmp_after_refresh() {
	# Another upload makes a new generation; its index renders from the
	# rebuilt blocks and must differ from the stale-time one only by it.
	curl -s -o /dev/null --data-binary "@$TMP/charts/late-1.0.0.tgz" "$BASE/api/charts"
	http "$BASE/index.yaml"
	python3 - "$TMP/index.stale" "$LAST_BODY" <<'PY'
import sys, yaml
a = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
b = yaml.safe_load(open(sys.argv[2], encoding="utf-8"))
late = b["entries"].pop("late", None)
sys.exit(0 if late and len(late) == 1 and a["entries"] == b["entries"] else 1)
PY
}
make_tiny_chart late 1.0.0 "$TMP/charts" >/dev/null
check "an index rendered after the rebuild lists the same entries" cmp_after_refresh

finish
