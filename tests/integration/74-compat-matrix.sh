#!/usr/bin/env bash
# Issue 3, behaviour 1, 2, 4, 6, 7, 8, 9 and 18 at DEPTH 0, 1, 2 and 3, each
# without and with CONTEXT_PATH=/my/crazy/path, plus one DEPTH_DYNAMIC
# configuration that runs them at depths 0, 1 and 3 in one stack: reads of
# /, /health and index.yaml, downloads, the chart listing, DELETE, empty and
# raw and multipart uploads with ?force (allowed, or refused by
# DISABLE_FORCE_OVERWRITE in the context-path configurations), a chart whose
# name climbs out of its repo, and repo segments that are not
# [A-Za-z0-9._-]+ (400, nothing touches storage or the rendered indexes).
# At depth 1 and with DEPTH_DYNAMIC, repos named api, apix, health, charts,
# info and index.yaml, names such as a., and hidden names such as .a (400).  Last,
# `chartdepot-indexer --print-index` (ChartMuseum's GEN_INDEX).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"
# check_status, check_jq and helm_ok return 1 on a failure; under lib.sh's
# set -e that would end the file at its first failure and hide the rest.
set +e

CONFIGS=("0 -" "0 /my/crazy/path" "1 -" "1 /my/crazy/path" "2 -" "2 /my/crazy/path" "3 -" "3 /my/crazy/path")
PREFIX_OF=("" /org /org/team /org/team/repo)

# The charts every configuration uploads, made once.
for v in 0.1.0 0.2.0 0.3.0 0.4.0; do
	compat_chart mychart "$v" >/dev/null
	compat_prov "$TMP/charts/mychart-$v.tgz" >/dev/null
done
ch=$TMP/charts
d010=$(sha256 "$ch/mychart-0.1.0.tgz")
NOTFOUND_FORM='{"error": "no package or provenance file found in form fields chart and prov"}'

# A chart and a prov whose Chart.yaml name climbs out of the repo; the
# archive's own paths are harmless (evil/...), as Helm would package it.
EVIL_NAME=../../../../charts/org2/repo2/evil
python3 - "$ch/evil.tgz" "$EVIL_NAME" <<'PY'
import hashlib, io, sys, tarfile
out, name = sys.argv[1:3]
chart_yaml = "apiVersion: v2\nname: %s\nversion: 0.1.0\ndescription: climbs\n" % name
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for path, text in (("Chart.yaml", chart_yaml), ("values.yaml", "a: 1\n"),
                       ("templates/cm.yaml", "kind: ConfigMap\n")):
        data = text.encode()
        ti = tarfile.TarInfo("evil/" + path)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
        t.addfile(ti, io.BytesIO(data))
open(out, "wb").write(buf.getvalue())
body = chart_yaml + "\n...\nfiles:\n  evil-0.1.0.tgz: sha256:%s\n" % hashlib.sha256(buf.getvalue()).hexdigest()
open(out + ".prov", "w").write(
    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + body +
    "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAA==\n=AAAA\n"
    "-----END PGP SIGNATURE-----\n")
PY

# Everything under storage and the rendered indexes (files and directories).
# The indexer's gzip copies of index files (and their temp files) appear on
# their own a few seconds after a render: not the requests' doing.
tree() {
	(cd "$TMP/c$COMPAT_N" && find storage state/index ! -name '*.gz' ! -name '.gz-*' 2>/dev/null |
		sort) || true
}

# Files named after the evil chart anywhere under the temp dir or the
# directories its name would reach.
evil_traces() {
	find "$TMP" -path "$TMP/charts" -prune -o \( -name 'evil*' -o -path '*org2*' \) -print 2>/dev/null
	local d=$STORAGE$P
	[ ! -e "$(realpath -m "$d/$EVIL_NAME-0.1.0.tgz")" ] || echo "$(realpath -m "$d/$EVIL_NAME-0.1.0.tgz")"
	[ ! -e "$(realpath -m "$d/$(dirname "$EVIL_NAME")")" ] || echo "$(realpath -m "$d/$(dirname "$EVIL_NAME")")"
	[ ! -e /charts/org2 ] || echo /charts/org2
}

# matrix FORCE_ALLOWED: behaviour 1, 2, 4, 6, 7, 8, 9, 18 for repo P
# (A = /api + P) on the running stack; C names the configuration.
matrix() {
	local force=$1 want_force=201 rc=$C${P:+, repo ${P#/}}
	[ "$force" = 1 ] || want_force=409
	local dir=$STORAGE$P

	# 1: /, /health, the index.
	check_status "$rc: GET / answers 200" 200 "$BASE/"
	check_jq "$rc: GET /health answers 200 {\"healthy\":true}" 200 '. == {"healthy": true}' "$BASE/health"
	check_status "$rc: GET $P/index.yaml answers 200" 200 "$BASE$P/index.yaml"
	check "$rc: ... an index with no entries yet" grep -qx 'entries: {}' "$LAST_BODY"
	check_status "$rc: HEAD $P/index.yaml answers 200" 200 -I "$BASE$P/index.yaml"

	# 7: empty bodies.
	check_jq "$rc: POST $A/charts with an empty body answers 400 with a JSON error" 400 '.error | type == "string"' \
		--data-binary '' "$BASE$A/charts"
	check_jq "$rc: POST $A/prov with an empty body answers 400 with a JSON error" 400 '.error | type == "string"' \
		--data-binary '' "$BASE$A/prov"

	# 8: raw chart and raw prov: again → 409, again with ?force.
	check_jq "$rc: raw upload of mychart 0.1.0 answers 201" 201 '. == {"saved": true}' \
		--data-binary "@$ch/mychart-0.1.0.tgz" "$BASE$A/charts"
	check_jq "$rc: the same raw upload again answers 409" 409 '. == {"error": "file already exists"}' \
		--data-binary "@$ch/mychart-0.1.0.tgz" "$BASE$A/charts"
	check_status "$rc: again with ?force answers $want_force" $want_force \
		--data-binary "@$ch/mychart-0.1.0.tgz" "$BASE$A/charts?force"
	check_jq "$rc: raw upload of its prov answers 201" 201 '. == {"saved": true}' \
		--data-binary "@$ch/mychart-0.1.0.tgz.prov" "$BASE$A/prov"
	check_jq "$rc: the same prov again answers 409" 409 '. == {"error": "file already exists"}' \
		--data-binary "@$ch/mychart-0.1.0.tgz.prov" "$BASE$A/prov"
	check_status "$rc: the prov again with ?force answers $want_force" $want_force \
		--data-binary "@$ch/mychart-0.1.0.tgz.prov" "$BASE$A/prov?force"
	check "$rc: the chart and prov are stored in the repo's directory" \
		cmp -s "$ch/mychart-0.1.0.tgz.prov" "$dir/mychart-0.1.0.tgz.prov"

	# 2: downloads.
	http "$BASE$P/charts/mychart-0.1.0.tgz"
	check "$rc: GET $P/charts/mychart-0.1.0.tgz answers 200 with the uploaded bytes" \
		test "$LAST_STATUS $(sha256 "$LAST_BODY")" = "200 $d010"
	check_status "$rc: GET $P/charts/mychart-0.1.0.tgz.prov answers 200" 200 "$BASE$P/charts/mychart-0.1.0.tgz.prov"
	check "$rc: ... as application/pgp-signature" test "$(last_header content-type)" = application/pgp-signature
	check_status "$rc: GET $P/charts/fakechart-0.1.0.tgz answers 404" 404 "$BASE$P/charts/fakechart-0.1.0.tgz"
	check_status "$rc: GET $P/charts/fakechart-0.1.0.tgz.prov answers 404" 404 "$BASE$P/charts/fakechart-0.1.0.tgz.prov"

	# 4: one chart's versions.
	check_jq "$rc: GET $A/charts/mychart answers 200 with 0.1.0" 200 'map(.version) == ["0.1.0"]' \
		"$BASE$A/charts/mychart"
	check_jq "$rc: GET $A/charts/fakechart answers 404 chart not found" 404 '. == {"error": "chart not found"}' \
		"$BASE$A/charts/fakechart"
	check_status "$rc: HEAD $A/charts/mychart answers 200" 200 -I "$BASE$A/charts/mychart"
	check_status "$rc: HEAD $A/charts/fakechart answers 404" 404 -I "$BASE$A/charts/fakechart"

	# 9: multipart.
	check_jq "$rc: multipart chart=@mychart-0.2.0.tgz answers 201" 201 '. == {"saved": true}' \
		-F "chart=@$ch/mychart-0.2.0.tgz" "$BASE$A/charts"
	check_jq "$rc: multipart prov=@mychart-0.2.0.tgz.prov answers 201" 201 '. == {"saved": true}' \
		-F "prov=@$ch/mychart-0.2.0.tgz.prov" "$BASE$A/charts"
	check_jq "$rc: multipart chart and prov of 0.3.0 together answer 201" 201 '. == {"saved": true}' \
		-F "chart=@$ch/mychart-0.3.0.tgz" -F "prov=@$ch/mychart-0.3.0.tgz.prov" "$BASE$A/charts"
	check "$rc: the multipart uploads are stored" \
		test -f "$dir/mychart-0.2.0.tgz" -a -f "$dir/mychart-0.2.0.tgz.prov" -a -f "$dir/mychart-0.3.0.tgz" -a -f "$dir/mychart-0.3.0.tgz.prov"
	check_jq "$rc: multipart unknown=@tgz answers 400 naming the fields" 400 ". == $NOTFOUND_FORM" \
		-F "unknown=@$ch/mychart-0.4.0.tgz" "$BASE$A/charts"
	check_jq "$rc: a prov in the chart field answers 400" 400 '.error | type == "string"' \
		-F "chart=@$ch/mychart-0.4.0.tgz.prov" "$BASE$A/charts"
	check_jq "$rc: a chart in the prov field answers 400" 400 '.error | type == "string"' \
		-F "prov=@$ch/mychart-0.4.0.tgz" "$BASE$A/charts"
	check "$rc: nothing of 0.4.0 is stored" test ! -e "$dir/mychart-0.4.0.tgz" -a ! -e "$dir/mychart-0.4.0.tgz.prov"
	# DELETE takes an exact version only: never latest or a constraint.
	check_jq "$rc: DELETE $A/charts/mychart/latest answers 404" 404 '.error | type == "string"' \
		-X DELETE "$BASE$A/charts/mychart/latest"
	check_jq "$rc: DELETE $A/charts/mychart/%5E0 answers 404" 404 '.error | type == "string"' \
		-X DELETE "$BASE$A/charts/mychart/%5E0"
	check "$rc: the index lists 0.3.0 0.2.0 0.1.0 (nothing deleted)" \
		test "$(index_versions "$BASE$P/index.yaml" mychart)" = "0.3.0 0.2.0 0.1.0"

	# 6: DELETE twice.
	check_jq "$rc: DELETE $A/charts/mychart/0.1.0 answers 200 {\"deleted\":true}" 200 '. == {"deleted": true}' \
		-X DELETE "$BASE$A/charts/mychart/0.1.0"
	check_jq "$rc: the same DELETE again answers 404 with a JSON error" 404 '.error | type == "string"' \
		-X DELETE "$BASE$A/charts/mychart/0.1.0"
	check "$rc: ... that names no server path" sh -c "! grep -qF '$TMP' '$LAST_BODY'"
	check "$rc: the index no longer lists 0.1.0" \
		test "$(index_versions "$BASE$P/index.yaml" mychart)" = "0.3.0 0.2.0"
	check "$rc: the chart and its prov are gone from storage" \
		test ! -e "$dir/mychart-0.1.0.tgz" -a ! -e "$dir/mychart-0.1.0.tgz.prov"
	check_status "$rc: its download answers 404" 404 "$BASE$P/charts/mychart-0.1.0.tgz"

	# 18: a chart whose name climbs out of the repo.
	local before after
	before=$(tree)
	check_jq "$rc: raw upload of a chart named $EVIL_NAME answers 400" 400 '.error | type == "string"' \
		--data-binary "@$ch/evil.tgz" "$BASE$A/charts"
	check_jq "$rc: ... by multipart too" 400 '.error | type == "string"' -F "chart=@$ch/evil.tgz" "$BASE$A/charts"
	check_jq "$rc: ... and its prov" 400 '.error | type == "string"' --data-binary "@$ch/evil.tgz.prov" "$BASE$A/prov"
	after=$(tree)
	check "$rc: the climbing chart wrote nothing anywhere" test -z "$(evil_traces)" -a "$before" = "$after"
	check_status "$rc: GET $P/%2e%2e/index.yaml answers 400" 400 --path-as-is "$BASE$P/%2e%2e/index.yaml"
	check_status "$rc: POST $A/%2e%2e/charts answers 400" 400 --path-as-is \
		--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE$A/%2e%2e/charts"
	if [ -n "$P" ]; then
		check_status "$rc: GET /%2e%2e/index.yaml answers 400" 400 --path-as-is "$BASE/%2e%2e/index.yaml"
		check_status "$rc: POST /api/%2e%2e/charts answers 400" 400 --path-as-is \
			--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE/api/%2e%2e/charts"
	fi
	check "$rc: ... and stores nothing" test "$before" = "$(tree)"
}

# bad_segments: at depth n ≥ 1, a last repo segment outside
# [A-Za-z0-9._-]+ (or . or ..) answers 400 on every route shape and
# touches neither storage nor the rendered indexes.
bad_segments() {
	local parent=${P%/*} before seg
	before=$(tree)
	for seg in 'a%20b' 'a@b' 'te%21am' '%2e%2e' '%2E' '.' '..' 'a%00b' 'a~b' 'caf%C3%A9' 'a%2Fb' 'a%5Cb'; do
		local bad=$parent/$seg
		check_jq "$C: GET $bad/index.yaml answers 400" 400 '.error | type == "string"' \
			--path-as-is "$BASE$bad/index.yaml"
		check_status "$C: GET $bad/charts/mychart-0.2.0.tgz answers 400" 400 \
			--path-as-is "$BASE$bad/charts/mychart-0.2.0.tgz"
		check_status "$C: GET /api$bad/charts answers 400" 400 --path-as-is "$BASE/api$bad/charts"
		check_status "$C: POST /api$bad/charts answers 400" 400 --path-as-is \
			--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE/api$bad/charts"
		check_status "$C: DELETE /api$bad/charts/mychart/0.2.0 answers 400" 400 --path-as-is \
			-X DELETE "$BASE/api$bad/charts/mychart/0.2.0"
	done
	check "$C: the bad repo segments touched neither storage nor the indexes" test "$before" = "$(tree)"
	check_jq "$C: GET / (as JSON) lists no repo with a bad segment" 200 \
		'.repos | length > 0 and all(.[]; test("^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$") and (split("/") | all(.[]; . != "." and . != "..")))' \
		-H 'Accept: application/json' "$BASE/"

	# Segments are compared after percent-decoding: %61 is a.
	local last=${P##*/} enc
	enc=$parent/$(printf '%%%02X' "'${last:0:1}")${last:1}
	check "$C: GET $enc/index.yaml is $P's index" \
		test "$(index_versions "$BASE$enc/index.yaml" mychart)" = "0.3.0 0.2.0"
	check_jq "$C: GET /api$enc/charts/mychart lists $P's versions" 200 'map(.version) == ["0.3.0", "0.2.0"]' \
		"$BASE/api$enc/charts/mychart"
}

# Repos whose names are the server's own words, at depth 1 (and with DEPTH_DYNAMIC).
# special_repos [NAME...]: those (default: the list below) and, unless
# names are given, names with dots.
special_repos() {
	local repo names=("$@")
	[ $# -gt 0 ] || names=(api apix health charts info index.yaml)
	for repo in "${names[@]}"; do
		check_jq "$C: upload to /api/$repo/charts answers 201" 201 '. == {"saved": true}' \
			--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE/api/$repo/charts"
		check_jq "$C: GET /api/$repo/charts lists mychart 0.4.0" 200 '.mychart | map(.version) == ["0.4.0"]' \
			"$BASE/api/$repo/charts"
		check_jq "$C: GET /api/$repo/charts/mychart/latest answers 0.4.0" 200 '.version == "0.4.0"' \
			"$BASE/api/$repo/charts/mychart/latest"
		check "$C: GET /$repo/index.yaml lists mychart 0.4.0" \
			test "$(index_versions "$BASE/$repo/index.yaml" mychart)" = 0.4.0
		check_status "$C: GET /$repo/charts/mychart-0.4.0.tgz answers 200" 200 "$BASE/$repo/charts/mychart-0.4.0.tgz"
		check "$C: ... stored under <root>/$repo/" test -f "$STORAGE/$repo/mychart-0.4.0.tgz"
	done
	check_jq "$C: /health still answers {\"healthy\":true}" 200 '. == {"healthy": true}' "$BASE/health"
	check_jq "$C: /info still answers the version" 200 '.version | type == "string"' "$BASE/info"
	check_jq "$C: DELETE /api/api/charts/mychart/0.4.0 answers 200" 200 '. == {"deleted": true}' \
		-X DELETE "$BASE/api/api/charts/mychart/0.4.0"
	check "$C: /api/index.yaml no longer lists it, /apix/index.yaml still does" \
		test "$(index_versions "$BASE/api/index.yaml" mychart)/$(index_versions "$BASE/apix/index.yaml" mychart)" = /0.4.0
	# Any [A-Za-z0-9._-]+ other than . and .. is a repo name (issue 3,
	# Multi-tenancy) except one with a leading dot: chartdepot keeps hidden
	# names (.git, .snapshot, its own .cd-tmp- files) out of the repo
	# namespace, a documented difference (README).
	[ $# = 0 ] || return 0
	for repo in a. -_x; do
		check_jq "$C: upload to repo $repo answers 201" 201 '. == {"saved": true}' \
			--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE/api/$repo/charts"
		check "$C: GET /$repo/index.yaml lists mychart 0.4.0" \
			test "$(index_versions "$BASE/$repo/index.yaml" mychart)" = 0.4.0
	done
	for repo in .a ..a; do
		check_jq "$C: upload to hidden repo name $repo answers 400" 400 'has("error")' \
			--data-binary "@$ch/mychart-0.4.0.tgz" "$BASE/api/$repo/charts"
		check "$C: nothing was stored under $repo" test ! -e "$STORAGE/$repo"
	done
}

n=0
for cfg in "${CONFIGS[@]}"; do
	read -r depth ctx <<<"$cfg"
	n=$((n + 1))
	# DISABLE_FORCE_OVERWRITE in the context-path configurations, so each
	# depth sees ?force both allowed and refused.
	force=1 extra=()
	if [ "$ctx" != - ]; then force=0 extra=(DISABLE_FORCE_OVERWRITE=1); fi
	t0=$SECONDS
	compat_start "$cfg" "${extra[@]}" || continue
	P=${PREFIX_OF[$depth]} A=/api${PREFIX_OF[$depth]}
	C="$C${extra:+, DISABLE_FORCE_OVERWRITE}"
	matrix "$force"
	[ "$depth" = 0 ] || bad_segments
	[ "$depth" != 1 ] || special_repos
	stop_stack
	echo "# $C took $((SECONDS - t0))s"
done

# DEPTH_DYNAMIC: the route shape decides; depths 0, 1 and 3 in one stack.
t0=$SECONDS
if compat_start "0 /my/crazy/path" DEPTH_DYNAMIC=1; then
	C="$C, DEPTH_DYNAMIC"
	for P in "" /dyn /dyn/a/b; do
		A=/api$P
		matrix 1
	done
	P=/dyn/a/b bad_segments
	# The spec's repos named api, apix, health and charts, with the depth
	# taken from the route shape.
	special_repos api apix health charts
	check "$C: each depth's charts are stored in its own directory" \
		test -f "$STORAGE/mychart-0.2.0.tgz" -a -f "$STORAGE/dyn/mychart-0.2.0.tgz" -a -f "$STORAGE/dyn/a/b/mychart-0.2.0.tgz"
	stop_stack
	echo "# $C took $((SECONDS - t0))s"
fi

# GEN_INDEX: chartdepot-indexer --print-index prints the depth-0 index of
# the storage, with the chart's digest and urls, and exits 0.
pi=$TMP/printindex
mkdir -p "$pi/storage" "$pi/state"
cp "$ch/mychart-0.1.0.tgz" "$ch/mychart-0.2.0.tgz" "$ch/mychart-0.2.0.tgz.prov" "$pi/storage/"
rc=0
env -i PATH="$PATH" STORAGE_LOCAL_ROOTDIR="$pi/storage" STATE_DIR="$pi/state" \
	timeout 20 "$BUILD/chartdepot-indexer" --print-index >"$pi/out.yaml" 2>"$pi/err" || rc=$?
check "--print-index exits 0" test "$rc" = 0
check "--print-index prints the index on stdout (versions, digest, urls, apiVersion)" python3 - "$pi/out.yaml" "$d010" <<'PY'
import sys, yaml
i = yaml.safe_load(open(sys.argv[1]))
e = i["entries"]["mychart"]
ok = (i["apiVersion"] == "v1" and [x["version"] for x in e] == ["0.2.0", "0.1.0"]
      and e[1]["digest"] == sys.argv[2] and e[1]["urls"] == ["charts/mychart-0.1.0.tgz"]
      and list(i["entries"]) == ["mychart"] and "generated" in i)
sys.exit(0 if ok else 1)
PY
check "--print-index writes nothing into storage" \
	test "$(cd "$pi/storage" && ls | tr '\n' ' ')" = "mychart-0.1.0.tgz mychart-0.2.0.tgz mychart-0.2.0.tgz.prov "
rc=0
env -i PATH="$PATH" STORAGE_LOCAL_ROOTDIR="$pi/storage" STATE_DIR="$pi/state" CONTEXT_PATH=/my/crazy/path \
	timeout 20 "$BUILD/chartdepot-indexer" --print-index >"$pi/out2.yaml" 2>"$pi/err" || rc=$?
check "--print-index with CONTEXT_PATH prints serverInfo.contextPath" \
	sh -c "[ $rc = 0 ] && python3 -c 'import sys,yaml; sys.exit(0 if yaml.safe_load(open(\"$pi/out2.yaml\"))[\"serverInfo\"][\"contextPath\"] == \"/my/crazy/path\" else 1)'"
mkdir -p "$pi/storage/org/team"
cp "$ch/mychart-0.3.0.tgz" "$pi/storage/org/team/"
rc=0
env -i PATH="$PATH" STORAGE_LOCAL_ROOTDIR="$pi/storage" STATE_DIR="$pi/state2" DEPTH=2 \
	timeout 20 "$BUILD/chartdepot-indexer" --print-index org/team >"$pi/out3.yaml" 2>"$pi/err" || rc=$?
check "--print-index org/team at DEPTH=2 prints that repo's index" \
	sh -c "[ $rc = 0 ] && python3 -c 'import sys,yaml; e=yaml.safe_load(open(\"$pi/out3.yaml\"))[\"entries\"]; sys.exit(0 if [x[\"version\"] for x in e[\"mychart\"]] == [\"0.3.0\"] else 1)'"
rc=0
env -i PATH="$PATH" STORAGE_LOCAL_ROOTDIR="$pi/storage" STATE_DIR="$pi/state2" DEPTH=2 \
	timeout 20 "$BUILD/chartdepot-indexer" --print-index ../x >"$pi/out4.yaml" 2>"$pi/err" || rc=$?
check "--print-index ../x exits 2 printing nothing" test "$rc" = 2 -a ! -s "$pi/out4.yaml"

finish
