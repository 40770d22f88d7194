#!/usr/bin/env bash
# Chart downloads on both sides of the 32 KiB line where the worker stops
# sending the file as its own response body and names nginx's sendfile
# location (/@cd/charts/): every byte, the type, HEAD, Range, the
# validators and conditional requests (304, 412), and a forced overwrite
# read back at once, at depth 0 and in a depth-1 repo.  The same checks on
# both sides: a client must not be able to tell the worker's answer from
# nginx's static handler.
. "$(dirname "$0")/../lib.sh"

# A valid chart whose archive is about KIB KiB (incompressible filler).
sized_chart() {
	python3 - "$1" "$2" "$3" "$4" <<'PY'
import io, random, sys, tarfile
name, version, kib, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rnd = random.Random(name + version + str(kib))
files = {"Chart.yaml": ("apiVersion: v2\nname: %s\nversion: %s\ndescription: sized\n" % (name, version)).encode(),
         "templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
         "files/filler.bin": rnd.randbytes(kib * 1024)}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
    for p, d in files.items():
        ti = tarfile.TarInfo("%s/%s" % (name, p)); ti.size = len(d); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(d))
open(out, "wb").write(buf.getvalue())
PY
}
small=$TMP/small-1.0.0.tgz big=$TMP/big-1.0.0.tgz big2=$TMP/big2/big-1.0.0.tgz
mkdir -p "$TMP/big2"
sized_chart small 1.0.0 20 "$small"
sized_chart big 1.0.0 40 "$big"
sized_chart big 1.0.0 41 "$big2"
check "the small chart is under 32 KiB and the big one over" \
	test "$(wc -c <"$small")" -lt 32768 -a "$(wc -c <"$big")" -gt 32768

# downloads PREFIX: the checks for both charts under BASE/PREFIX.
downloads() {
	local p=$1 f file etag
	for f in "$small" "$big"; do
		file=$(basename "$f")
		http "${auth[@]}" "$BASE$p/charts/$file"
		check "GET $p/charts/$file ($(wc -c <"$f") bytes) answers 200 with the stored bytes" \
			sh -c "[ '$LAST_STATUS' = 200 ] && cmp -s '$LAST_BODY' '$f'"
		check "... as application/gzip with an ETag" \
			test "$(last_header content-type)" = application/gzip -a -n "$(last_header etag)"
		etag=$(last_header etag)
		lastmod=$(last_header last-modified)
		check "... the ETag is nginx's \"<mtime hex>-<size hex>\" and Last-Modified is that mtime" \
			test "$etag" = "\"$(printf '%x-%x' "$(stat -c %Y "$STORAGE$p/$file")" "$(wc -c <"$f")")\"" \
			-a "$lastmod" = "$(TZ=GMT date -d "@$(stat -c %Y "$STORAGE$p/$file")" '+%a, %d %b %Y %H:%M:%S GMT')"
		check "... with Cache-Control: no-cache" test "$(last_header cache-control)" = no-cache
		check_status "... and 304 for If-None-Match with that ETag" 304 "${auth[@]}" \
			-H "If-None-Match: $etag" "$BASE$p/charts/$file"
		check "... the 304 carries the ETag and no body" \
			test "$(last_header etag)" = "$etag" -a "$(curl -s -o /dev/null -w '%{size_download}' \
			"${auth[@]}" -H "If-None-Match: $etag" "$BASE$p/charts/$file")" = 0
		check_status "... 304 for a weak tag in a list (If-None-Match compares weakly)" 304 "${auth[@]}" \
			-H "If-None-Match: \"x\", W/$etag" "$BASE$p/charts/$file"
		check_status "... 304 for If-None-Match: *" 304 "${auth[@]}" -H "If-None-Match: *" \
			"$BASE$p/charts/$file"
		check_status "... 200 for another ETag" 200 "${auth[@]}" -H 'If-None-Match: "0-0"' \
			"$BASE$p/charts/$file"
		check_status "... 304 for If-Modified-Since equal to Last-Modified" 304 "${auth[@]}" \
			-H "If-Modified-Since: $lastmod" "$BASE$p/charts/$file"
		check_status "... 200 for If-Modified-Since at another time (nginx: exact match)" 200 "${auth[@]}" \
			-H "If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT" "$BASE$p/charts/$file"
		check_status "... If-None-Match decides over If-Modified-Since" 200 "${auth[@]}" \
			-H 'If-None-Match: "0-0"' -H "If-Modified-Since: $lastmod" "$BASE$p/charts/$file"
		check_status "... 412 for If-Match with another ETag" 412 "${auth[@]}" \
			-H 'If-Match: "0-0"' "$BASE$p/charts/$file"
		check_status "... 200 for If-Match with its ETag" 200 "${auth[@]}" -H "If-Match: $etag" \
			"$BASE$p/charts/$file"
		check_status "... 412 for If-Unmodified-Since before it" 412 "${auth[@]}" \
			-H "If-Unmodified-Since: Thu, 01 Jan 2015 00:00:00 GMT" "$BASE$p/charts/$file"
		http "${auth[@]}" -I -H "If-None-Match: $etag" "$BASE$p/charts/$file"
		check "... HEAD with that ETag answers 304 too" test "$LAST_STATUS" = 304
		head -c 200 "$f" | tail -c 100 >"$TMP/range.want"
		http "${auth[@]}" -r 100-199 "$BASE$p/charts/$file"
		check "... a Range request gets 206 and those 100 bytes" \
			sh -c "[ '$LAST_STATUS' = 206 ] && cmp -s '$LAST_BODY' '$TMP/range.want'"
		http "${auth[@]}" -I "$BASE$p/charts/$file"
		check "... HEAD answers 200 with its Content-Length" \
			sh -c "[ '$LAST_STATUS' = 200 ] && [ '$(last_header content-length)' = $(wc -c <"$f") ]"
		check_status "... and 401 without credentials" 401 "$BASE$p/charts/$file"
	done
	check_json "a forced overwrite of the big chart with a bigger one answers 201" 201 'j == {"saved": True}' \
		"${auth[@]}" --data-binary "@$big2" "$BASE/api$p/charts?force"
	http "${auth[@]}" "$BASE$p/charts/big-1.0.0.tgz"
	check "... and the next GET sends the new bytes" sh -c "[ '$LAST_STATUS' = 200 ] && cmp -s '$LAST_BODY' '$big2'"
	check_status "nginx's internal chart location is not reachable from outside" 404 "${auth[@]}" \
		"$BASE/@cd/charts$p/big-1.0.0.tgz"
}

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
auth=(-u u:p)
for f in "$small" "$big"; do
	check_status "$(basename "$f") uploads" 201 "${auth[@]}" --data-binary "@$f" "$BASE/api/charts"
done
downloads ""

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p DEPTH=1 || finish
for f in "$small" "$big"; do
	check_status "$(basename "$f") uploads to repo team" 201 "${auth[@]}" --data-binary "@$f" "$BASE/api/team/charts"
done
downloads /team

finish
