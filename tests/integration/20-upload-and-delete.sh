#!/usr/bin/env bash
# The ChartMuseum API with curl at depth 0: raw and multipart uploads, 409 on
# a second upload, ?force, provenance files, the JSON listing, downloads
# served by nginx, and DELETE removing the chart and its .prov.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
tgz=$(make_signed_chart mychart 0.1.0)
prov=$tgz.prov
check "helm package --sign made a chart and its .prov" test -s "$tgz" -a -s "$prov"
tgz2=$(make_signed_chart mychart 0.2.0)
other=$(make_chart otherchart 1.0.0)

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
auth=(-u u:p)

check_json "POST /api/charts with a raw body answers 201 {\"saved\":true}" 201 'j == {"saved": True}' \
	"${auth[@]}" --data-binary "@$tgz" "$BASE/api/charts"
check "the chart is stored as <name>-<version>.tgz, byte for byte" cmp -s "$tgz" "$STORAGE/mychart-0.1.0.tgz"
check_json "a second upload of the same name and version answers 409 with a JSON error" 409 \
	'isinstance(j.get("error"), str)' "${auth[@]}" --data-binary "@$tgz" "$BASE/api/charts"
check_json "with ?force it overwrites: 201" 201 'j == {"saved": True}' \
	"${auth[@]}" --data-binary "@$tgz" "$BASE/api/charts?force"
check_json "POST /api/prov with a raw body answers 201" 201 'j == {"saved": True}' \
	"${auth[@]}" --data-binary "@$prov" "$BASE/api/prov"
check "the .prov is stored beside the chart" cmp -s "$prov" "$STORAGE/mychart-0.1.0.tgz.prov"

check_json "a multipart upload of chart and prov together answers 201" 201 'j == {"saved": True}' \
	"${auth[@]}" -F "chart=@$tgz2" -F "prov=@$tgz2.prov" "$BASE/api/charts"
check "both files of the multipart upload are stored" \
	test -f "$STORAGE/mychart-0.2.0.tgz" -a -f "$STORAGE/mychart-0.2.0.tgz.prov"
cp "$other" "$TMP/evil-name.tgz"
check_json "a multipart upload with the file named otherwise answers 201" 201 'j == {"saved": True}' \
	"${auth[@]}" -F "chart=@$TMP/evil-name.tgz;filename=../../evil.tgz" "$BASE/api/charts"
check "the stored name comes from Chart.yaml, not from the client" \
	test -f "$STORAGE/otherchart-1.0.0.tgz" -a ! -e "$STORAGE/evil-name.tgz" -a ! -e "$TMP/evil.tgz" -a ! -e "$(dirname "$TMP")/evil.tgz"

check_json "GET /api/charts lists every name with its versions, newest first" 200 \
	'sorted(j) == ["mychart", "otherchart"] and [v["version"] for v in j["mychart"]] == ["0.2.0", "0.1.0"]' \
	"${auth[@]}" "$BASE/api/charts"
check_json "GET /api/charts/mychart lists its versions" 200 \
	'[v["version"] for v in j] == ["0.2.0", "0.1.0"] and all(v["name"] == "mychart" for v in j)' \
	"${auth[@]}" "$BASE/api/charts/mychart"
digest=$(sha256 "$tgz")
check_json "GET /api/charts/mychart/0.1.0 answers the version with its digest and url" 200 \
	"j['name'] == 'mychart' and j['version'] == '0.1.0' and j['digest'] == '$digest' and j['urls'] == ['charts/mychart-0.1.0.tgz']" \
	"${auth[@]}" "$BASE/api/charts/mychart/0.1.0"
check_json "GET /api/charts/nochart answers 404 with a JSON error" 404 'isinstance(j.get("error"), str)' \
	"${auth[@]}" "$BASE/api/charts/nochart"
check_json "GET /api/charts/mychart/9.9.9 answers 404 with a JSON error" 404 'isinstance(j.get("error"), str)' \
	"${auth[@]}" "$BASE/api/charts/mychart/9.9.9"

# Downloads go through nginx (X-Accel-Redirect): exact bytes and types.
http "${auth[@]}" "$BASE/charts/mychart-0.1.0.tgz"
check "GET /charts/mychart-0.1.0.tgz answers 200" test "$LAST_STATUS" = 200
check "... with the stored bytes" cmp -s "$LAST_BODY" "$tgz"
check "... as application/gzip" test "$(last_header content-type)" = application/gzip
check "... without a Content-Encoding" test -z "$(last_header content-encoding)"
check "... with an ETag" test -n "$(last_header etag)"
http "${auth[@]}" "$BASE/charts/mychart-0.1.0.tgz.prov"
check "GET /charts/mychart-0.1.0.tgz.prov answers the .prov as application/pgp-signature" \
	sh -c "[ '$LAST_STATUS' = 200 ] && [ '$(last_header content-type)' = application/pgp-signature ] && cmp -s '$LAST_BODY' '$prov'"
http "${auth[@]}" -r 0-9 "$BASE/charts/mychart-0.1.0.tgz"
check "a Range request gets 206 and 10 bytes" \
	sh -c "[ '$LAST_STATUS' = 206 ] && [ \$(wc -c <'$LAST_BODY') -eq 10 ]"
check_status "HEAD /charts/mychart-0.1.0.tgz answers 200" 200 -I "${auth[@]}" "$BASE/charts/mychart-0.1.0.tgz"
check_status "GET /charts/nochart-0.1.0.tgz answers 404" 404 "${auth[@]}" "$BASE/charts/nochart-0.1.0.tgz"
check_status "the internal locations are not reachable from outside" 404 "${auth[@]}" "$BASE/@cd/charts/mychart-0.1.0.tgz"
check_status "HEAD /index.yaml answers 200" 200 -I "${auth[@]}" "$BASE/index.yaml"
http "${auth[@]}" "$BASE/index.yaml"
check "GET /index.yaml is served as application/x-yaml" test "$(last_header content-type)" = application/x-yaml
check "GET /index.yaml lists mychart 0.2.0 and 0.1.0" \
	test "$(index_versions "$BASE/index.yaml" mychart "${auth[@]}")" = "0.2.0 0.1.0"

check_json "DELETE /api/charts/mychart/0.1.0 answers 200 {\"deleted\":true}" 200 'j == {"deleted": True}' \
	"${auth[@]}" -X DELETE "$BASE/api/charts/mychart/0.1.0"
check "the chart file is gone" test ! -e "$STORAGE/mychart-0.1.0.tgz"
check "its .prov is gone too" test ! -e "$STORAGE/mychart-0.1.0.tgz.prov"
check "the index no longer lists 0.1.0" test "$(index_versions "$BASE/index.yaml" mychart "${auth[@]}")" = "0.2.0"
check_json "a second DELETE answers 404 with a JSON error" 404 'isinstance(j.get("error"), str)' \
	"${auth[@]}" -X DELETE "$BASE/api/charts/mychart/0.1.0"
check "no error message reveals a server path" sh -c "! grep -qF '$STORAGE' '$LAST_BODY'"
check_status "the deleted chart's download answers 404" 404 "${auth[@]}" "$BASE/charts/mychart-0.1.0.tgz"

check_json "POST /api/charts with an empty body answers 400" 400 'isinstance(j.get("error"), str)' \
	"${auth[@]}" --data-binary '' "$BASE/api/charts"
check_json "a multipart form without a known field answers 400" 400 'isinstance(j.get("error"), str)' \
	"${auth[@]}" -F "unknown=@$tgz2" "$BASE/api/charts"
check_json "GET /health answers {\"healthy\":true} without credentials" 200 'j == {"healthy": True}' "$BASE/health"
check_json "GET /info answers a version without credentials" 200 'isinstance(j.get("version"), str)' "$BASE/info"
http "${auth[@]}" -H 'X-Request-Id: test-req-42' "$BASE/api/charts"
check "X-Request-Id is echoed" test "$(last_header x-request-id)" = test-req-42
check "no temp file is left in storage" test -z "$(find "$STORAGE" -name '.cd-tmp-*')"

finish
