#!/usr/bin/env bash
# Issue 3, behaviour 14 and 17 and the rest of the worker's surface, at
# DEPTH 0 to 3, without and with CONTEXT_PATH: DISABLE_API, DISABLE_DELETE,
# ENABLE_METRICS (gauges named as ChartMuseum's, counters shared by every
# worker), ARTIFACT_HUB_REPO_ID, the welcome page, LOG_HEALTH and DEBUG.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"

auth=(-u u:p)
c010=$(compat_chart mychart 0.1.0)
c020=$(compat_chart mychart 0.2.0)

# Repo prefixes of the metrics scenario: "a" and "b" beside P (P's last
# segment replaced: "a" at depth 1, "org/a" at 2, "org/team/a" at 3).
repo_of() {
	if [ -z "$P" ]; then echo ""; return; fi
	local parent=${P#/}
	case "$parent" in */*) echo "${parent%/*}/$1" ;; *) echo "$1" ;; esac
}

# The value of one sample in the last body ("" when absent).
sample() {
	awk -v k="$1" '$1 == k { print $2 }' "$LAST_BODY"
}

for cfg in "${COMPAT_CONFIGS[@]}"; do
	# 14: DISABLE_API leaves only what Helm itself fetches.
	compat_start "$cfg" DISABLE_API=1 || continue
	mkdir -p "$STORAGE$P"
	cp "$c010" "$STORAGE$P/"
	check "$C, DISABLE_API: the indexer lists a chart put in storage" \
		wait_until 10 sh -c "curl -s '$BASE$P/index.yaml' | grep -q 'version: 0.1.0'"
	check_status "$C, DISABLE_API: GET $P/charts/mychart-0.1.0.tgz still answers 200" 200 "$BASE$P/charts/mychart-0.1.0.tgz"
	check_jq "$C, DISABLE_API: GET $A/charts answers 404" 404 '.error | type == "string"' "$BASE$A/charts"
	check_status "$C, DISABLE_API: GET $A/charts/mychart/0.1.0 answers 404" 404 "$BASE$A/charts/mychart/0.1.0"
	check_status "$C, DISABLE_API: GET $A/charts/mychart/0.1.0/values answers 404" 404 "$BASE$A/charts/mychart/0.1.0/values"
	check_status "$C, DISABLE_API: POST $A/charts answers 404" 404 --data-binary "@$c020" "$BASE$A/charts"
	check_status "$C, DISABLE_API: POST $A/prov answers 404" 404 --data-binary "@$(compat_prov "$c010")" "$BASE$A/prov"
	check_status "$C, DISABLE_API: DELETE $A/charts/mychart/0.1.0 answers 404" 404 -X DELETE "$BASE$A/charts/mychart/0.1.0"
	check "$C, DISABLE_API: the chart is still stored" test -f "$STORAGE$P/mychart-0.1.0.tgz"
	check_status "$C: GET /metrics answers 404 without ENABLE_METRICS" 404 "$BASE/metrics"
	check_status "$C: GET $P/artifacthub-repo.yml answers 404 without ARTIFACT_HUB_REPO_ID" 404 "$BASE$P/artifacthub-repo.yml"
	check "$C: without LOG_HEALTH no /health request is logged" sh -c "! grep -q ' /[a-z/]*health -> ' '$STACK_LOG'"
	check "$C: without DEBUG no request is logged" sh -c "! grep -q 'GET /.* -> 200' '$STACK_LOG'"

	ra=$(repo_of a) rb=$(repo_of b)
	pa=${ra:+/$ra} pb=${rb:+/$rb}
	if [ -z "$P" ]; then ahub=0c5e2a7e-1111-2222-3333-444455556666; else ahub="$ra=id-a,$rb=id-b"; fi
	compat_start "$cfg" BASIC_AUTH_USER=u BASIC_AUTH_PASS=p DISABLE_DELETE=1 ENABLE_METRICS=1 WORKERS=4 \
		ARTIFACT_HUB_REPO_ID="$ahub" LOG_HEALTH=1 DEBUG=1 || continue

	# 14: DISABLE_DELETE.
	check_status "$C, DISABLE_DELETE: an upload answers 201" 201 "${auth[@]}" --data-binary "@$c010" "$BASE/api$pa/charts"
	check_jq "$C, DISABLE_DELETE: DELETE answers 404 with a JSON error" 404 '.error | type == "string"' \
		"${auth[@]}" -X DELETE "$BASE/api$pa/charts/mychart/0.1.0"
	check_status "$C, DISABLE_DELETE: the version is still there" 200 "${auth[@]}" "$BASE/api$pa/charts/mychart/0.1.0"

	# 17: two uploads to repo a, index reads of a and b, then /metrics.
	check_status "$C, metrics: a second upload to repo a answers 201" 201 "${auth[@]}" --data-binary "@$c020" "$BASE/api$pa/charts"
	check_status "$C, metrics: GET $pa/index.yaml answers 200" 200 "${auth[@]}" "$BASE$pa/index.yaml"
	check_status "$C, metrics: GET $pb/index.yaml answers 200" 200 "${auth[@]}" "$BASE$pb/index.yaml"
	for i in $(seq 12); do http "$BASE/info"; done
	check_status "$C, metrics: GET /metrics answers 401 without credentials" 401 "$BASE/metrics"
	check_status "$C, metrics: GET /metrics answers 200 with credentials" 200 "${auth[@]}" "$BASE/metrics"
	check "$C, metrics: served as Prometheus text" \
		test "$(last_header content-type)" = "text/plain; version=0.0.4; charset=utf-8"
	check "$C, metrics: # TYPE chartmuseum_chart_versions_served_total gauge" \
		grep -qx '# TYPE chartmuseum_chart_versions_served_total gauge' "$LAST_BODY"
	check "$C, metrics: # TYPE chartmuseum_charts_served_total gauge" \
		grep -qx '# TYPE chartmuseum_charts_served_total gauge' "$LAST_BODY"
	check "$C, metrics: chartmuseum_chart_versions_served_total{repo=\"$ra\"} 2" \
		grep -qx "chartmuseum_chart_versions_served_total{repo=\"$ra\"} 2" "$LAST_BODY"
	check "$C, metrics: chartmuseum_charts_served_total{repo=\"$ra\"} 1" \
		grep -qx "chartmuseum_charts_served_total{repo=\"$ra\"} 1" "$LAST_BODY"
	if [ -n "$P" ]; then
		check "$C, metrics: chartmuseum_chart_versions_served_total{repo=\"$rb\"} 0" \
			grep -qx "chartmuseum_chart_versions_served_total{repo=\"$rb\"} 0" "$LAST_BODY"
		check "$C, metrics: chartmuseum_charts_served_total{repo=\"$rb\"} 0" \
			grep -qx "chartmuseum_charts_served_total{repo=\"$rb\"} 0" "$LAST_BODY"
	fi
	check "$C, metrics: 12 GET /info over 4 workers count 12 (counters are shared)" \
		test "$(sample 'chartdepot_http_requests_total{code="200",route="info"}')" = 12
	check "$C, metrics: the latency histogram of /info counts 12" \
		test "$(sample 'chartdepot_http_request_duration_seconds_bucket{route="info",le="+Inf"}')-$(sample 'chartdepot_http_request_duration_seconds_count{route="info"}')" = 12-12
	check "$C, metrics: the DELETE refused by DISABLE_DELETE counts as a 404 of no route" \
		test "$(sample 'chartdepot_http_requests_total{code="404",route="none"}')" = 1
	check "$C, metrics: chartdepot_uploads_total{result=\"saved\"} 2" \
		test "$(sample 'chartdepot_uploads_total{result="saved"}')" = 2
	check "$C, metrics: every sample line parses as Prometheus text" \
		sh -c "grep -v '^#' '$LAST_BODY' | grep -vqE '^[a-z_]+(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? [0-9.e+-]+$' && exit 1 || exit 0"
	check_status "$C, metrics: a third upload with credentials again answers 409" 409 "${auth[@]}" --data-binary "@$c020" "$BASE/api$pa/charts"
	http "${auth[@]}" "$BASE/metrics"
	check "$C, metrics: chartdepot_uploads_total{result=\"conflict\"} 1" \
		test "$(sample 'chartdepot_uploads_total{result="conflict"}')" = 1
	# The indexer's totals, recorded in the db after each pass.
	check "$C, metrics: the indexer's first pass is counted" \
		test "$(sample chartdepot_indexer_passes_total)" -ge 1
	printf 'not a chart' >"$STORAGE$pa/garbage-1.0.0.tgz"
	indexer_saw_garbage() {
		http "${auth[@]}" "$BASE/metrics"
		[ "$(sample chartdepot_indexer_files_invalid_total)" -ge 1 ] 2>/dev/null &&
			[ "$(sample chartdepot_indexer_files_hashed_total)" -ge 1 ] 2>/dev/null
	}
	check "$C, metrics: an invalid file copied into storage is read and counted invalid" \
		wait_until 20 indexer_saw_garbage
	rm -f "$STORAGE$pa/garbage-1.0.0.tgz"

	# ARTIFACT_HUB_REPO_ID.
	if [ -z "$P" ]; then
		http "${auth[@]}" "$BASE/artifacthub-repo.yml"
		check "$C: GET /artifacthub-repo.yml answers repositoryID: <id>" \
			test "$LAST_STATUS $(cat "$LAST_BODY")" = "200 repositoryID: $ahub"
	else
		http "${auth[@]}" "$BASE$pa/artifacthub-repo.yml"
		check "$C: GET $pa/artifacthub-repo.yml answers repositoryID: id-a" \
			test "$LAST_STATUS $(cat "$LAST_BODY")" = "200 repositoryID: id-a"
		http "${auth[@]}" "$BASE$pb/artifacthub-repo.yml"
		check "$C: GET $pb/artifacthub-repo.yml answers repositoryID: id-b" \
			test "$LAST_STATUS $(cat "$LAST_BODY")" = "200 repositoryID: id-b"
		check_jq "$C: GET /$(repo_of c)/artifacthub-repo.yml answers 404" 404 \
			'. == {"error": "Artifact Hub repository ID not found"}' "${auth[@]}" "$BASE/$(repo_of c)/artifacthub-repo.yml"
	fi
	check "$C: artifacthub-repo.yml is application/x-yaml" test "$(last_header content-type)" = application/x-yaml \
		-o "$LAST_STATUS" = 404
	check_status "$C: artifacthub-repo.yml needs credentials like other reads" 401 "$BASE$pa/artifacthub-repo.yml"

	# The welcome page, and what GET P/charts/<file> serves.
	if [ -n "$P" ]; then want="[\"$ra\",\"$rb\"]"; else want='[""]'; fi
	check_jq "$C: GET / with Accept: application/json lists the repos" 200 ".repos == $want" \
		"${auth[@]}" -H 'Accept: application/json' "$BASE/"
	check_body_contains "$C: GET / with Accept: application/yaml lists the repos" "repos:" \
		"${auth[@]}" -H 'Accept: application/yaml' "$BASE/"
	check "$C: ... as application/yaml" test "$(last_header content-type)" = application/yaml
	check_body_contains "$C: GET / in HTML links each repo's index.yaml" "href=\"$CTX$pa/index.yaml\"" \
		"${auth[@]}" "$BASE/"
	http "${auth[@]}" "$BASE$pa/charts/mychart-0.1.0.tgz"
	check "$C: a .tgz is served as application/gzip without Content-Encoding" \
		test "$LAST_STATUS $(last_header content-type) $(last_header content-encoding)" = "200 application/gzip "
	for f in mychart-0.1.0.zip mychart-0.1.0.tgz.asc mychart-0.1.0 index.yaml; do
		check_jq "$C: GET $pa/charts/$f answers 404 with a JSON error" 404 '.error | type == "string"' \
			"${auth[@]}" "$BASE$pa/charts/$f"
	done
	check_status "$C: HEAD $pa/charts/mychart-0.1.0.tgz answers 200" 200 -I "${auth[@]}" "$BASE$pa/charts/mychart-0.1.0.tgz"
	check_status "$C: HEAD / answers 200" 200 -I "${auth[@]}" "$BASE/"
	check_status "$C: HEAD /health answers 200" 200 -I "$BASE/health"

	# LOG_HEALTH and DEBUG.
	http "$BASE/health"
	check "$C, LOG_HEALTH: /health requests are logged" \
		wait_until 5 grep -qE "GET $CTX/health -> 200" "$STACK_LOG"
	check "$C, DEBUG: other requests are logged with their status and id" \
		wait_until 5 grep -qE "GET $CTX/info -> 200 id=[0-9a-zA-Z-]+ " "$STACK_LOG"
done

# artifact-hub-repo-id from a ChartMuseum config file (CONFIG), as a mapping.
printf 'artifact-hub-repo-id:\n  org/team: from-file\n' >"$TMP/chartmuseum.yaml"
if compat_start "2 -" CONFIG="$TMP/chartmuseum.yaml"; then
	http "$BASE/org/team/artifacthub-repo.yml"
	check "config file: artifact-hub-repo-id {org/team: from-file} is served" \
		test "$LAST_STATUS $(cat "$LAST_BODY")" = "200 repositoryID: from-file"
	check_status "config file: another repo's artifacthub-repo.yml answers 404" 404 "$BASE/org/other/artifacthub-repo.yml"
fi
stop_stack

# chartdepot-fcgi takes ChartMuseum's --config flag.
out=$(env -i PATH="$PATH" STORAGE_LOCAL_ROOTDIR="$TMP/x/storage" STATE_DIR="$TMP/x/state" \
	timeout 10 "$BUILD/chartdepot-fcgi" --config "$TMP/no-such.yaml" 2>&1) && rc=0 || rc=$?
check "chartdepot-fcgi --config with a missing file exits non-zero naming it" \
	sh -c "[ $rc != 0 ] && printf '%s' '$out' | grep -q 'no-such.yaml'"

# A malformed ARTIFACT_HUB_REPO_ID stops the worker pool at start, saying why.
out=$(env -i PATH="$PATH" DEPTH=2 ARTIFACT_HUB_REPO_ID=just-an-id STORAGE_LOCAL_ROOTDIR="$TMP/x/storage" \
	STATE_DIR="$TMP/x/state" FCGI_SOCKET="$TMP/x/fcgi.sock" timeout 10 "$BUILD/chartdepot-fcgi" 2>&1) && rc=0 || rc=$?
check "DEPTH=2 with a bare ARTIFACT_HUB_REPO_ID: chartdepot-fcgi exits 1 naming the variable" \
	sh -c "[ $rc = 1 ] && printf '%s' '$out' | grep -q 'ARTIFACT_HUB_REPO_ID: a bare id fits DEPTH=0 only'"
out=$(env -i PATH="$PATH" DEPTH=0 ARTIFACT_HUB_REPO_ID='a b' STORAGE_LOCAL_ROOTDIR="$TMP/x/storage" \
	STATE_DIR="$TMP/x/state" FCGI_SOCKET="$TMP/x/fcgi.sock" timeout 10 "$BUILD/chartdepot-fcgi" 2>&1) && rc=0 || rc=$?
check "an ARTIFACT_HUB_REPO_ID with a space: chartdepot-fcgi exits 1 naming the variable" \
	sh -c "[ $rc = 1 ] && printf '%s' '$out' | grep -q 'ARTIFACT_HUB_REPO_ID: bad repository id'"

finish
