#!/usr/bin/env bash
# index.yaml (and index.json) for clients that accept gzip: once the
# indexer has compressed a settled generation, nginx sends the .gz with
# Content-Encoding: gzip and the same bytes inside; a client that asks for
# none, Helm among them, gets the file itself; right after an upload the
# new generation is sent (plain until its copy exists), never an older
# copy, and the previous ETag no longer revalidates; ETag revalidation,
# HEAD and Vary work for both; at depth 1 with the JSON index (JSON_INDEX)
# too.
. "$(dirname "$0")/../lib.sh"

auth=(-u u:p)
gz=(-H "Accept-Encoding: gzip")

# The index at URL decompressed when it came compressed, into OUT; prints
# the Content-Encoding ("" or gzip).
fetch_index() {
	local url=$1 out=$2
	shift 2
	http "${auth[@]}" "$@" "$url"
	local enc
	enc=$(last_header content-encoding)
	if [ "$enc" = gzip ]; then
		gzip -dc <"$LAST_BODY" >"$out" 2>/dev/null || : >"$out"
	else
		cp "$LAST_BODY" "$out"
	fi
	printf '%s\n' "$enc"
}

compressed_now() {
	[ "$(fetch_index "$1" "$TMP/probe" "${gz[@]}")" = gzip ]
}

# gzip_checks PREFIX FILE: the checks for BASE/PREFIX/FILE.
gzip_checks() {
	local p=$1 file=$2 url=$BASE$1/$2 enc etag
	fetch_index "$url" "$TMP/plain" >/dev/null
	check "GET $p/$file without Accept-Encoding is sent as it is" \
		sh -c "[ '$LAST_STATUS' = 200 ] && [ -s '$TMP/plain' ] && [ -z '$(last_header content-encoding)' ]"
	PLAIN_ETAG=$(last_header etag)
	check_status "... 304 for If-None-Match with its ETag" 304 \
		"${auth[@]}" -H "If-None-Match: $PLAIN_ETAG" "$url"
	check "within 15 s a client that accepts gzip gets it compressed" \
		wait_until 15 compressed_now "$url"
	enc=$(fetch_index "$url" "$TMP/unzipped" "${gz[@]}")
	check "... Content-Encoding gzip, the same bytes as the plain file, and fewer of them" \
		sh -c "[ '$enc' = gzip ] && cmp -s '$TMP/plain' '$TMP/unzipped' &&
		       [ $(wc -c <"$LAST_BODY") -lt $(wc -c <"$TMP/plain") ]"
	check "... with Vary: Accept-Encoding" test "$(last_header vary)" = "Accept-Encoding"
	etag=$(last_header etag)
	local zbytes
	zbytes=$(wc -c <"$LAST_BODY")
	check_status "... 304 for If-None-Match with the compressed copy's ETag" 304 \
		"${auth[@]}" "${gz[@]}" -H "If-None-Match: $etag" "$url"
	http "${auth[@]}" "${gz[@]}" -I "$url"
	check "... HEAD answers 200, gzip, with the compressed length" \
		sh -c "[ '$LAST_STATUS' = 200 ] && [ '$(last_header content-encoding)' = gzip ] &&
		       [ '$(last_header content-length)' = '$zbytes' ]"
	check_status "... and 401 without credentials" 401 "${gz[@]}" "$url"
	fetch_index "$url" "$TMP/plain2" >/dev/null
	check "a client that asks for no gzip still gets the same plain bytes, with Vary" \
		sh -c "[ -z '$(last_header content-encoding)' ] && [ '$(last_header vary)' = Accept-Encoding ] &&
		       cmp -s '$TMP/plain' '$TMP/plain2'"
	# The worker only picks the location from the word gzip; nginx decides.
	enc=$(fetch_index "$url" "$TMP/plain3" -H "Accept-Encoding: gzip;q=0, identity")
	check "a client that refuses gzip (gzip;q=0) gets the plain bytes, with Vary" \
		sh -c "[ -z '$enc' ] && [ '$LAST_STATUS' = 200 ] && [ '$(last_header vary)' = Accept-Encoding ] &&
		       cmp -s '$TMP/plain' '$TMP/plain3'"
	enc=$(fetch_index "$url" "$TMP/unzipped2" -H "Accept-Encoding: deflate, GZIP")
	check "Accept-Encoding is read without regard to case (deflate, GZIP): gzip, same bytes" \
		sh -c "[ '$enc' = gzip ] && cmp -s '$TMP/plain' '$TMP/unzipped2'"
	http "${auth[@]}" -I "$url"
	check "HEAD without Accept-Encoding: 200, plain length, Vary" \
		sh -c "[ '$LAST_STATUS' = 200 ] && [ -z '$(last_header content-encoding)' ] &&
		       [ '$(last_header content-length)' = '$(wc -c <"$TMP/plain")' ] &&
		       [ '$(last_header vary)' = Accept-Encoding ]"
}

# after_upload PREFIX FILE VERSION: an upload, then at once a gzip GET holds
# the new version (the new generation, plain or compressed, never the old
# copy); later the new generation is compressed too.
after_upload() {
	local p=$1 file=$2 v=$3 url=$BASE$1/$2 enc
	make_tiny_chart zipped "$v" >/dev/null
	check_status "zipped $v uploads to ${p:-/}" 201 "${auth[@]}" \
		--data-binary "@$TMP/charts/zipped-$v.tgz" "$BASE/api$p/charts"
	enc=$(fetch_index "$url" "$TMP/after" "${gz[@]}")
	check "... the next GET of $p/$file with Accept-Encoding: gzip holds $v (came as '${enc:-identity}')" \
		grep -q "$v" "$TMP/after"
	fetch_index "$url" "$TMP/after-plain" -H "If-None-Match: $PLAIN_ETAG" >/dev/null
	check "... and a revalidation with the old ETag gets 200 and $v, not 304" \
		sh -c "[ '$LAST_STATUS' = 200 ] && grep -q '$v' '$TMP/after-plain'"
	check "... and within 15 s that generation comes compressed" \
		wait_until 15 compressed_now "$url"
	enc=$(fetch_index "$url" "$TMP/after2" "${gz[@]}")
	check "... still holding $v" grep -q "$v" "$TMP/after2"
}

make_tiny_chart zipped 1.0.0 >/dev/null
for i in $(seq 1 30); do make_tiny_chart "filler$i" 1.0.0 >/dev/null; done

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
for f in "$TMP"/charts/*.tgz; do
	curl -s -o /dev/null -u u:p --data-binary "@$f" "$BASE/api/charts"
done
check "31 charts are in the index" test "$(index_query "$BASE/index.yaml" 'len(i["entries"])' "${auth[@]}")" = 31
gzip_checks "" index.yaml
after_upload "" index.yaml 1.0.1
versions=$(index_versions "$BASE/index.yaml" zipped "${auth[@]}")
check "a YAML reader without Accept-Encoding (as Helm) gets both versions, plain" \
	test "$versions $(last_header content-encoding)" = "1.0.1 1.0.0 "

# Without JSON_INDEX the database keeps no JSON in its blocks: GET
# /api/charts assembles each name's from its versions' entries.  Restarted
# with JSON_INDEX on that database, the JSON index does the same.  Either
# way the entries must be the YAML index's, value for value.
entries='__import__("json").dumps(i["entries"], sort_keys=True)'
index_query "$BASE/index.yaml" "$entries" "${auth[@]}" >"$TMP/entries.yaml" ||
	fail "the YAML index cannot be read"
listing_is_index() { # API body file: the listing has the index's entries
	python3 - "$1" "$TMP/entries.yaml" <<'PY'
import json, sys
sys.exit(0 if json.load(open(sys.argv[1])) == json.loads(open(sys.argv[2]).read()) else 1)
PY
}
http "${auth[@]}" "$BASE/api/charts"
cp "$LAST_BODY" "$TMP/listing.1"
check "GET /api/charts (no JSON kept in the blocks) lists the index's entries" \
	listing_is_index "$TMP/listing.1"
check "the stack stops cleanly" stop_stack

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p JSON_INDEX=true || finish
http "${auth[@]}" "$BASE/index.yaml"
check "JSON_INDEX on a database written without it: the index is JSON" \
	test "$(head -c 1 "$LAST_BODY")" = "{"
index_query "$BASE/index.yaml" "$entries" "${auth[@]}" >"$TMP/entries.json"
check "... with the YAML index's entries" cmp -s "$TMP/entries.yaml" "$TMP/entries.json"
http "${auth[@]}" "$BASE/api/charts"
check "... and GET /api/charts lists them too" listing_is_index "$LAST_BODY"
check "the stack stops cleanly" stop_stack

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p DEPTH=1 JSON_INDEX=true || finish
for f in "$TMP"/charts/zipped-1.0.0.tgz "$TMP"/charts/filler1-1.0.0.tgz; do
	curl -s -o /dev/null -u u:p --data-binary "@$f" "$BASE/api/team/charts"
done
gzip_checks /team index.yaml
after_upload /team index.yaml 1.0.2

finish
