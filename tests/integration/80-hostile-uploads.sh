#!/usr/bin/env bash
# Hostile uploads (issue 5): every archive, multipart body and provenance
# file that tests/tools/hostile.py makes gets 400 with a JSON error that
# says what is wrong, stores nothing (storage dir, temp files, index, db),
# and the server keeps serving with bounded worker memory.  Versions Helm
# itself accepts (v1.2.3, 1.2, 01.2.3) still upload; what Helm's `helm
# package` rejects, the server rejects too.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

bad=$TMP/hostile
python3 "$TOOLS/hostile.py" "$bad" || { fail "tests/tools/hostile.py writes the hostile inputs"; finish; }

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p WORKERS=2 || finish
auth=(-u u:p)

results=$TMP/results
mkdir -p "$results"
down=0
while IFS=$'\t' read -r id endpoint ctype want regex what; do
	http "${auth[@]}" -H "Content-Type: $ctype" --data-binary "@$bad/$id.body" "$BASE/api/$endpoint"
	printf '%s\t%s\t%s\t%s\n' "$LAST_STATUS" "$want" "$regex" "$what" >"$results/$id.meta"
	cp "$LAST_BODY" "$results/$id.resp"
	# The server keeps serving after each one.
	http "$BASE/health"
	[ "$LAST_STATUS" = 200 ] || { down=$((down + 1)); echo "health after $id: $LAST_STATUS" >>"$TMP/down"; }
done <"$bad/manifest.tsv"

while IFS= read -r line; do
	case "$line" in
	ok\ *) pass "${line#ok }" ;;
	*) fail "${line#FAIL }" ;;
	esac
done < <(python3 - "$results" <<'PY'
import json, os, re, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if not f.endswith(".meta"):
        continue
    got, want, regex, what = open(os.path.join(d, f)).read().rstrip("\n").split("\t")
    raw = open(os.path.join(d, f[:-5] + ".resp"), "rb").read()
    desc = "%s: %s with a JSON error matching /%s/" % (what, want, regex)
    try:
        j = json.loads(raw)
        msg = j.get("error") if isinstance(j, dict) else None
    except Exception:
        msg = None
    if got == want and isinstance(msg, str) and msg and re.search(regex, msg, re.I):
        print("ok %s (%r)" % (desc, msg))
    else:
        print("FAIL %s: got %s %r" % (desc, got, raw[:200]))
PY
)

check "the server answered /health after every hostile upload" test "$down" -eq 0
[ ! -s "$TMP/down" ] || detail <"$TMP/down"
check "nothing was stored (no chart, provenance or temp file)" test -z "$(storage_files)"
storage_files | detail
check "nothing was written beside the storage directory" \
	test ! -e "$TMP/canary.tgz" -a ! -e "$TMP/escape.yaml" -a ! -e /tmp/escape.yaml -a ! -e "$STATE/../canary-0.1.0.tgz"
entries=$(index_query "$BASE/index.yaml" "repr(i.get('entries'))" "${auth[@]}" || echo fetch-failed)
check "the index is still empty" test "$entries" = "{}"
check "the database holds no chart row" test "$(db_chart_rows)" = 0
check "no error message names a server path" sh -c "! grep -lF '$TMP' '$results'/*.resp"

# Memory: the gzip bombs, the million entries and 10,000 parts did not
# make any worker grow past a bound (peak RSS, VmHWM), nor stay grown.
hwm=$(workers_max_kb VmHWM)
rss=$(workers_max_kb VmRSS)
peak_mib=160 now_mib=64
if sanitized; then peak_mib=900 now_mib=700; fi  # shadow memory and quarantine
check "worker peak RSS stayed under $peak_mib MiB (was ${hwm} kB)" test "$hwm" -gt 0 -a "$hwm" -lt $((peak_mib * 1024))
check "worker RSS is under $now_mib MiB afterwards (is ${rss} kB)" test "$rss" -gt 0 -a "$rss" -lt $((now_mib * 1024))
check "no worker died (no 'killed by signal' in the log)" sh -c "! grep -q 'killed by signal' '$STACK_LOG'"

# --- Versions: the server agrees with `helm package`.  Helm accepts
# v1.2.3, 1.2 and 01.2.3 (the server must too) and refuses 1.2.3.4 and
# 1.2.3-01 (the server must too).
need_helm || finish
for v in v1.2.3 1.2 01.2.3 1.2.3.4 1.2.3-01; do
	src=$TMP/vsrc/$v/vchart
	mkdir -p "$src/templates"
	printf 'apiVersion: v2\nname: vchart\nversion: %s\ndescription: version test\n' "$v" >"$src/Chart.yaml"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' >"$src/templates/cm.yaml"
	helm_ok=no
	if helm_v 3 package "$src" -d "$TMP/vout" >/dev/null 2>"$TMP/helm.err"; then helm_ok=yes; fi
	case "$v" in
	v1.2.3|1.2|01.2.3) check "helm package accepts version $v" test "$helm_ok" = yes ;;
	*) check "helm package refuses version $v" test "$helm_ok" = no ;;
	esac
	if [ "$helm_ok" = yes ]; then
		tgz=$TMP/vout/vchart-$v.tgz
		check_status "version $v (helm accepts it) uploads: 201" 201 "${auth[@]}" --data-binary "@$tgz" "$BASE/api/charts"
		check "... stored as vchart-$v.tgz, byte for byte" cmp -s "$tgz" "$STORAGE/vchart-$v.tgz"
	else
		make_tiny_charts "$TMP/vout" "vchart:$v"
		check_json "version $v (helm refuses it) answers 400 naming the version" 400 \
			'"version" in j.get("error", "").lower()' "${auth[@]}" --data-binary "@$TMP/vout/vchart-$v.tgz" "$BASE/api/charts"
		check "... and stores nothing" test ! -e "$STORAGE/vchart-$v.tgz"
	fi
done
check_index_equals_storage "the index lists exactly the accepted versions, with their digests" "$BASE/index.yaml" "${auth[@]}"

# --- The boundary string inside the data, not at a line start, is data
# (RFC 2046 section 5.1.1): the upload succeeds with the exact bytes.
make_tiny_charts "$TMP/bd" bchart:0.1.0
python3 - "$TMP/bd/bchart-0.1.0.tgz" "$TMP/bd/body" "$TMP/bd/ctype" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
b = b"bNdRy42"
part = lambda name, extra, payload: (b"--" + b + b"\r\nContent-Disposition: form-data; name=\"" + name +
                                     b"\"" + extra + b"\r\n\r\n" + payload + b"\r\n")
body = (part(b"note", b"", b"text with --" + b + b" and x--" + b + b"-- inside a line") +
        part(b"chart", b"; filename=\"c.tgz\"", data) + b"--" + b + b"--\r\n")
open(sys.argv[2], "wb").write(body)
open(sys.argv[3], "w").write("multipart/form-data; boundary=" + b.decode())
PY
check_status "multipart with the boundary text inside a field's data (not at a line start) uploads: 201" 201 \
	"${auth[@]}" -H "Content-Type: $(cat "$TMP/bd/ctype")" --data-binary "@$TMP/bd/body" "$BASE/api/charts"
check "... stored byte for byte" cmp -s "$TMP/bd/bchart-0.1.0.tgz" "$STORAGE/bchart-0.1.0.tgz"

# --- A provenance file for a stored chart whose sha256 does not match.
check_json "a provenance upload whose sha256 does not match the stored chart answers 400" 400 \
	'"sha256" in j.get("error", "") or "match" in j.get("error", "")' "${auth[@]}" --data-binary @- "$BASE/api/prov" <<'EOF'
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

apiVersion: v2
name: bchart
version: 0.1.0

...
files:
  bchart-0.1.0.tgz: sha256:0000000000000000000000000000000000000000000000000000000000000000
-----BEGIN PGP SIGNATURE-----

wsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAAAA
=AAAA
-----END PGP SIGNATURE-----
EOF
check "... and no .prov was stored" test ! -e "$STORAGE/bchart-0.1.0.tgz.prov"
check "no temp file is left in storage" test -z "$(storage_tmp_files)"

finish
