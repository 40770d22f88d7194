#!/usr/bin/env bash
# Faults 5 and 6 (issue 5), concurrency (tests/tools/race.py):
#  5. 16 clients upload the same name and version at once (different
#     bytes), 5 rounds: exactly one 201 and 15 × 409 each time; the stored
#     bytes are the winner's and match the index digest.
#  6. 16 clients upload different charts while 16 delete others and 32 read
#     the index and a chart: no 5xx, no failed request, no truncated or
#     unparsable index, no "database is locked" in any log, and the final
#     index equals the storage directory.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

PER=${RACE_PER_CLIENT:-8}

# Runs race.py and turns its lines into checks.
race() {
	local line
	while IFS= read -r line; do
		case "$line" in
		ok\ *) pass "${line#ok }" ;;
		FAIL\ *) fail "${line#FAIL }" ;;
		detail\ *) printf '%s\n' "${line#detail }" | detail ;;
		*) printf '%s\n' "$line" | detail ;;
		esac
	done < <(timeout 300 python3 "$TOOLS/race.py" "$@" 2>&1)
}

start_stack CACHE_INTERVAL=1h || finish

# --- 5: same name and version
race same "$BASE" "$STORAGE" 5 16
check_index_equals_storage "the index digests match the stored bytes of every contended version"
check "no temp file is left" test -z "$(storage_tmp_files)"

# --- 6: uploads, deletes and reads at once
specs=(keep:1.0.0)
for i in $(seq 0 15); do
	for k in $(seq 0 $((PER - 1))); do specs+=("up$i:1.0.$k" "del$i:1.0.$k"); done
done
make_tiny_charts "$TMP/charts" "${specs[@]}"
check_uploads "the $((16 * PER + 1)) charts to delete or keep upload first" "$BASE/api/charts" \
	"$TMP"/charts/keep-*.tgz "$TMP"/charts/del*.tgz

race mixed "$BASE" "$TMP/charts" 16 16 32 "$PER"

check "no log says 'database is locked' or 'busy'" sh -c "! cat '$TMP'/stack.*.log '$STATE/nginx/error.log' | grep -qiE 'database is locked|SQLITE_BUSY|busy'"
{ stack_logs | grep -iE 'database is locked|busy' | head -n 5 | detail; } || true
check "no 5xx in nginx's access log" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -q '^5'"
check "no worker died" sh -c "! grep -q 'killed by signal' '$STACK_LOG'"
check_index_equals_storage "the final index equals storage (names, versions, digests)"
left=$(find "$STORAGE" -maxdepth 1 -name 'del*' | wc -l)
up=$(find "$STORAGE" -maxdepth 1 -name 'up*' | wc -l)
check "every deleted chart is gone ($left left) and every uploaded one is there ($up of $((16 * PER)))" \
	test "$left" -eq 0 -a "$up" -eq $((16 * PER))
check "no temp file is left" test -z "$(storage_tmp_files)"
# The indexer's view agrees once it has looked again (restart: full reconcile).
start_stack CACHE_INTERVAL=1h || finish
check_index_equals_storage "after a restart (full reconcile) the index still equals storage"

finish
