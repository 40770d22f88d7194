#!/usr/bin/env bash
# Issue 3, behaviour 19: the Helm acceptance flow end to end, with Helm v3
# and Helm v4, at DEPTH 0 and at DEPTH 2 under CONTEXT_PATH=/my/crazy/path:
# repo add, search finds nothing, upload every test chart and its signed
# .prov (a prerelease 0.1.0-SNAPSHOT-1 among them), a bad chart and a bad
# prov → 400, repo update, search finds them, pull --verify succeeds,
# delete each version → 200 (the prerelease leaves the index too), repo
# update, every GET A/charts/<name>/<version> → 404, search finds nothing,
# pull --verify fails.  Then JSON_INDEX=true: the index is served as JSON
# and Helm v3 and v4 add, update and pull --verify from it.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"
# check_status, check_jq and helm_ok return 1 on a failure; under lib.sh's
# set -e that would end the file at its first failure and hide the rest.
set +e

need_helm || finish

# name:version of every test chart, each signed with the throwaway key.
SPECS=(mychart:0.1.0-SNAPSHOT-1 mychart:0.1.0 mychart:0.2.0 otherchart:1.0.0 other-chart.x:2.3.4)
for s in "${SPECS[@]}"; do
	make_signed_chart "${s%%:*}" "${s#*:}" >/dev/null
done
ch=$TMP/charts
check "helm package --sign made every chart and its .prov" \
	test "$(ls "$ch" | wc -l)" = $((2 * ${#SPECS[@]}))
printf 'not a chart at all' >"$TMP/bad.tgz"
# A gzip'd tar without Chart.yaml, and a prov without a signed Chart.yaml.
mkdir -p "$TMP/badsrc/x/templates" && echo 'kind: ConfigMap' >"$TMP/badsrc/x/templates/a.yaml"
make_tgz "$TMP/badsrc" "$TMP/nochartyaml.tgz"
printf -- '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\ngarbage\n' >"$TMP/bad.prov"

helm_out=$TMP/helm.out
helm_ok() {
	local v=$1 desc=$2
	shift 2
	if helm_v "$v" "$@" >"$helm_out" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		detail <"$helm_out"
		return 1
	fi
}
helm_fails() {
	local v=$1 desc=$2
	shift 2
	if helm_v "$v" "$@" >"$helm_out" 2>&1; then
		fail "$desc"
		detail <"$helm_out"
		return 1
	fi
	pass "$desc"
}

# acceptance V: the flow with Helm vV on a fresh stack (compat_start done).
acceptance() {
	local v=$1 r=r$COMPAT_N s name ver d=$TMP/pull$COMPAT_N
	local hc="$C, helm v$v"
	mkdir -p "$d/ok" "$d/gone"

	helm_ok "$v" "$hc: repo add $r $BASE$P" repo add "$r" "$BASE$P"
	helm_ok "$v" "$hc: search repo on the empty repo" search repo "$r/" --devel --versions
	check "$hc: search finds nothing" sh -c "! grep -q '^$r/' '$helm_out'"

	local i=0
	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		i=$((i + 1))
		if [ $((i % 2)) = 1 ]; then
			check_jq "$hc: raw upload of $name $ver answers 201" 201 '. == {"saved": true}' \
				--data-binary "@$ch/$name-$ver.tgz" "$BASE$A/charts"
			check_jq "$hc: raw upload of its prov answers 201" 201 '. == {"saved": true}' \
				--data-binary "@$ch/$name-$ver.tgz.prov" "$BASE$A/prov"
		else
			check_jq "$hc: multipart upload of $name $ver with its prov answers 201" 201 '. == {"saved": true}' \
				-F "chart=@$ch/$name-$ver.tgz" -F "prov=@$ch/$name-$ver.tgz.prov" "$BASE$A/charts"
		fi
	done
	check_jq "$hc: a bad chart (not gzip) answers 400" 400 '.error | type == "string"' \
		--data-binary "@$TMP/bad.tgz" "$BASE$A/charts"
	check_jq "$hc: a bad chart (no Chart.yaml) answers 400" 400 '.error | type == "string"' \
		--data-binary "@$TMP/nochartyaml.tgz" "$BASE$A/charts"
	check_jq "$hc: a bad prov answers 400" 400 '.error | type == "string"' \
		--data-binary "@$TMP/bad.prov" "$BASE$A/prov"
	check_jq "$hc: a bad prov by multipart answers 400" 400 '.error | type == "string"' \
		-F "prov=@$TMP/bad.prov" "$BASE$A/charts"
	# Another chart's prov names a digest this chart does not have.
	cp "$ch/otherchart-1.0.0.tgz.prov" "$TMP/mismatch.prov"
	sed -i 's/^name: otherchart/name: mychart/; s/^version: 1.0.0/version: 0.2.0/; s/otherchart-1.0.0.tgz:/mychart-0.2.0.tgz:/' "$TMP/mismatch.prov"
	check_jq "$hc: a prov whose digest does not match the stored chart answers 400" 400 '.error | type == "string"' \
		--data-binary "@$TMP/mismatch.prov" "$BASE$A/prov?force"

	helm_ok "$v" "$hc: repo update" repo update "$r"
	helm_ok "$v" "$hc: search repo --devel --versions" search repo "$r/" --devel --versions
	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		check "$hc: search finds $name $ver" grep -qE "^$r/${name//./\\.}[[:space:]]+${ver//./\\.}[[:space:]]" "$helm_out"
	done
	helm_ok "$v" "$hc: search repo (no --devel) shows mychart 0.2.0" search repo "$r/mychart"
	check "$hc: ... the newest release, not the prerelease" grep -qE "^$r/mychart[[:space:]]+0\.2\.0[[:space:]]" "$helm_out"
	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		if helm_ok "$v" "$hc: pull --verify $name $ver succeeds" \
			pull "$r/$name" --version "$ver" --verify --keyring "$KEYRING_PUB" -d "$d/ok"; then
			check "$hc: ... the pulled chart and prov are the uploaded ones" \
				sh -c "cmp -s '$ch/$name-$ver.tgz' '$d/ok/$name-$ver.tgz' && cmp -s '$ch/$name-$ver.tgz.prov' '$d/ok/$name-$ver.tgz.prov'"
		fi
	done
	check "$hc: the index lists the prerelease" \
		test "$(index_versions "$BASE$P/index.yaml" mychart)" = "0.2.0 0.1.0 0.1.0-SNAPSHOT-1"

	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		check_jq "$hc: DELETE $A/charts/$name/$ver answers 200" 200 '. == {"deleted": true}' \
			-X DELETE "$BASE$A/charts/$name/$ver"
		check "$hc: ... and the index no longer lists $name $ver" \
			sh -c "! printf ' %s ' '$(index_versions "$BASE$P/index.yaml" "$name")' | grep -qF ' $ver '"
		[ "$ver" != 0.1.0-SNAPSHOT-1 ] || check "$hc: after the prerelease's delete the index lists mychart 0.2.0 0.1.0 only" \
			test "$(index_versions "$BASE$P/index.yaml" mychart)" = "0.2.0 0.1.0"
	done
	check "$hc: the index has no entries left" sh -c "curl -s '$BASE$P/index.yaml' | grep -qx 'entries: {}'"
	check "$hc: storage holds no chart or prov of the repo" test -z "$(find "$STORAGE$P" -maxdepth 1 -type f -name '*.tgz*')"
	helm_ok "$v" "$hc: repo update after the deletes" repo update "$r"
	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		check_jq "$hc: GET $A/charts/$name/$ver answers 404" 404 '.error | type == "string"' \
			"$BASE$A/charts/$name/$ver"
	done
	helm_ok "$v" "$hc: search repo after the deletes" search repo "$r/" --devel --versions
	check "$hc: search finds nothing" sh -c "! grep -q '^$r/' '$helm_out'"
	for s in "${SPECS[@]}"; do
		name=${s%%:*} ver=${s#*:}
		helm_fails "$v" "$hc: pull --verify $name $ver fails" \
			pull "$r/$name" --version "$ver" --verify --keyring "$KEYRING_PUB" -d "$d/gone"
	done
	check "$hc: nothing was pulled after the deletes" test -z "$(ls "$d/gone")"
}

for cfg in "0 -" "2 /my/crazy/path"; do
	for v in 3 4; do
		t0=$SECONDS
		compat_start "$cfg" || continue
		acceptance "$v"
		stop_stack
		echo "# $C, helm v$v took $((SECONDS - t0))s"
	done
done

# JSON_INDEX: the index is JSON (which is YAML too); Helm reads it.
for cfg in "0 -" "2 /my/crazy/path"; do
	t0=$SECONDS
	compat_start "$cfg" JSON_INDEX=true || continue
	C="$C, JSON_INDEX"
	check_status "$C: upload mychart 0.1.0 with its prov" 201 \
		-F "chart=@$ch/mychart-0.1.0.tgz" -F "prov=@$ch/mychart-0.1.0.tgz.prov" "$BASE$A/charts"
	check_status "$C: upload mychart 0.1.0-SNAPSHOT-1" 201 --data-binary "@$ch/mychart-0.1.0-SNAPSHOT-1.tgz" "$BASE$A/charts"
	d010=$(sha256 "$ch/mychart-0.1.0.tgz")
	check_jq "$C: GET $P/index.yaml is JSON with the entries, digest and urls" 200 \
		".apiVersion == \"v1\" and (.entries.mychart | map(.version)) == [\"0.1.0\", \"0.1.0-SNAPSHOT-1\"] and .entries.mychart[0].digest == \"$d010\" and .entries.mychart[0].urls == [\"charts/mychart-0.1.0.tgz\"]" \
		"$BASE$P/index.yaml"
	if [ -n "$CTX" ]; then
		check "$C: the JSON index's serverInfo.contextPath is $CTX" \
			test "$(jq -r .serverInfo.contextPath "$LAST_BODY")" = "$CTX"
	fi
	check "$C: the JSON index starts with {" test "$(head -c 1 "$LAST_BODY")" = "{"
	check "$C: ... and is served as application/json" \
		sh -c "case '$(last_header content-type)' in application/json*) exit 0 ;; *) exit 1 ;; esac"
	check_status "$C: HEAD $P/index.yaml answers 200" 200 -I "$BASE$P/index.yaml"
	for v in 3 4; do
		r=j$COMPAT_N
		mkdir -p "$TMP/json$COMPAT_N-$v"
		helm_ok "$v" "$C, helm v$v: repo add from the JSON index" repo add "$r" "$BASE$P"
		helm_ok "$v" "$C, helm v$v: repo update" repo update "$r"
		helm_ok "$v" "$C, helm v$v: search --devel --versions" search repo "$r/mychart" --devel --versions
		check "$C, helm v$v: search finds 0.1.0 and 0.1.0-SNAPSHOT-1" \
			sh -c "grep -qE '^$r/mychart[[:space:]]+0\.1\.0[[:space:]]' '$helm_out' && grep -qE '^$r/mychart[[:space:]]+0\.1\.0-SNAPSHOT-1[[:space:]]' '$helm_out'"
		helm_ok "$v" "$C, helm v$v: pull --verify from the JSON index" \
			pull "$r/mychart" --version 0.1.0 --verify --keyring "$KEYRING_PUB" -d "$TMP/json$COMPAT_N-$v"
		check "$C, helm v$v: the pulled chart is the uploaded one" \
			cmp -s "$ch/mychart-0.1.0.tgz" "$TMP/json$COMPAT_N-$v/mychart-0.1.0.tgz"
	done
	check_status "$C: DELETE the prerelease answers 200" 200 -X DELETE "$BASE$A/charts/mychart/0.1.0-SNAPSHOT-1"
	check_jq "$C: the JSON index no longer lists it" 200 '(.entries.mychart | map(.version)) == ["0.1.0"]' "$BASE$P/index.yaml"
	stop_stack
	echo "# $C took $((SECONDS - t0))s"
done

finish
