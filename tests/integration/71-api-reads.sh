#!/usr/bin/env bash
# Issue 3, behaviour 3, 5, 15 and 16, at DEPTH 0 to 3, without and with
# CONTEXT_PATH: the chart listing and its paging, a version by exact
# number, `latest` or SemVer constraint, its templates and values, the
# context path, and basic auth with and without AUTH_ANONYMOUS_GET.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/compat.sh"

auth=(-u u:p)
c010=$(compat_chart mychart 0.1.0)
c020b=$(compat_chart mychart 0.2.0-beta.1)
c100=$(compat_chart mychart 1.0.0)
nov=$(compat_chart novalues 1.0.0 -)
b64=$(python3 -c 'import base64; print(base64.b64encode(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n").decode())')

for cfg in "${COMPAT_CONFIGS[@]}"; do
	compat_start "$cfg" BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || continue
	for f in "$c010" "$c020b" "$c100" "$nov"; do
		http "${auth[@]}" --data-binary "@$f" "$BASE$A/charts"
		[ "$LAST_STATUS" = 201 ] || fail "$C: upload $(basename "$f"): status $LAST_STATUS"
	done

	# 3: the listing and its paging.
	check_jq "$C: GET $A/charts answers 200 with both names" 200 'keys == ["mychart", "novalues"]' \
		"${auth[@]}" "$BASE$A/charts"
	check_jq "$C: ?offset=10&limit=5 answers 200 {}" 200 '. == {}' "${auth[@]}" "$BASE$A/charts?offset=10&limit=5"
	# The whole listing is streamed from the stored JSON blocks: the same
	# objects as the paged (in-memory) answer, in the same order.
	http "${auth[@]}" "$BASE$A/charts"
	cp "$LAST_BODY" "$TMP/all.json"
	http "${auth[@]}" "$BASE$A/charts?offset=0&limit=100"
	check "$C: the streamed listing has the same objects as the paged one" \
		sh -c "[ \"\$(jq -S -c . '$TMP/all.json')\" = \"\$(jq -S -c . '$LAST_BODY')\" ] && jq -e '.mychart | length == 3' '$TMP/all.json' >/dev/null"
	check_jq "$C: ?offset=1 without limit answers the names after the first" 200 'keys == ["novalues"]' \
		"${auth[@]}" "$BASE$A/charts?offset=1"
	check_jq "$C: ?offset=5 without limit answers {}" 200 '. == {}' "${auth[@]}" "$BASE$A/charts?offset=5"
	check_status "$C: HEAD $A/charts answers 200" 200 -I "${auth[@]}" "$BASE$A/charts"
	check_jq "$C: ?offset=1&limit=5 answers the second name" 200 'keys == ["novalues"]' \
		"${auth[@]}" "$BASE$A/charts?offset=1&limit=5"
	check_jq "$C: ?offset=-1&limit=5 answers 400" 400 \
		'. == {"error": "offset is not a valid non-negative integer"}' "${auth[@]}" "$BASE$A/charts?offset=-1&limit=5"
	check_jq "$C: ?offset=0&limit=0 answers 400" 400 \
		'. == {"error": "limit is not a valid positive integer"}' "${auth[@]}" "$BASE$A/charts?offset=0&limit=0"

	# 5: one version, by number, latest or constraint; HEAD alike.
	check_jq "$C: GET $A/charts/mychart/0.1.0 answers 0.1.0" 200 '.version == "0.1.0"' \
		"${auth[@]}" "$BASE$A/charts/mychart/0.1.0"
	check_jq "$C: /latest answers the highest release, not the prerelease" 200 '.version == "1.0.0"' \
		"${auth[@]}" "$BASE$A/charts/mychart/latest"
	check_jq "$C: /0.1.1 answers 404 with a JSON error" 404 '.error | type == "string"' \
		"${auth[@]}" "$BASE$A/charts/mychart/0.1.1"
	check_jq "$C: fakechart/0.1.0 answers 404 with a JSON error" 404 '.error | type == "string"' \
		"${auth[@]}" "$BASE$A/charts/fakechart/0.1.0"
	# constraint|its percent-encoding|the version it picks
	for triple in "0.1|0.1|0.1.0" "^0.1|%5E0.1|0.1.0" "~0.1.0|~0.1.0|0.1.0" \
		">=0.1.0 <2.0.0|%3E%3D0.1.0%20%3C2.0.0|1.0.0" "<1.0.0|%3C1.0.0|0.1.0" \
		">=0.2.0-0 <1.0.0|%3E%3D0.2.0-0%20%3C1.0.0|0.2.0-beta.1" "1.x|1.x|1.0.0"; do
		IFS='|' read -r con enc want <<<"$triple"
		check_jq "$C: constraint \"$con\" answers $want" 200 ".version == \"$want\"" \
			"${auth[@]}" "$BASE$A/charts/mychart/$enc"
	done
	check_jq "$C: a constraint nothing satisfies (^9) answers 404" 404 '.error | type == "string"' \
		"${auth[@]}" "$BASE$A/charts/mychart/%5E9"
	check_jq "$C: a malformed constraint answers 404" 404 '.error | type == "string"' \
		"${auth[@]}" "$BASE$A/charts/mychart/%3E%3D%3E1"
	check_status "$C: HEAD $A/charts/mychart/0.1.0 answers 200" 200 -I "${auth[@]}" "$BASE$A/charts/mychart/0.1.0"
	check_status "$C: HEAD .../latest answers 200" 200 -I "${auth[@]}" "$BASE$A/charts/mychart/latest"
	check_status "$C: HEAD .../0.1.1 answers 404" 404 -I "${auth[@]}" "$BASE$A/charts/mychart/0.1.1"
	check_status "$C: HEAD fakechart/0.1.0 answers 404" 404 -I "${auth[@]}" "$BASE$A/charts/fakechart/0.1.0"

	for v in 0.1.0 latest; do
		check_jq "$C: GET .../mychart/$v/templates answers the templates and parsed values" 200 \
			". == {templates: [{name: \"templates/cm.yaml\", data: \"$b64\"}], values: {replicas: 1}}" \
			"${auth[@]}" "$BASE$A/charts/mychart/$v/templates"
		http "${auth[@]}" "$BASE$A/charts/mychart/$v/values"
		check "$C: GET .../mychart/$v/values answers values.yaml as application/yaml" \
			test "$LAST_STATUS $(last_header content-type) $(cat "$LAST_BODY")" = "200 application/yaml replicas: 1"
		check_status "$C: HEAD .../mychart/$v/templates answers 200" 200 -I "${auth[@]}" "$BASE$A/charts/mychart/$v/templates"
		check_status "$C: HEAD .../mychart/$v/values answers 200" 200 -I "${auth[@]}" "$BASE$A/charts/mychart/$v/values"
	done
	check_status "$C: a constraint (^0.1) works for /templates too" 200 "${auth[@]}" \
		"$BASE$A/charts/mychart/%5E0.1/templates"
	for leaf in templates values; do
		check_jq "$C: GET .../mychart/0.1.1/$leaf answers 404" 404 '.error | type == "string"' \
			"${auth[@]}" "$BASE$A/charts/mychart/0.1.1/$leaf"
		check_jq "$C: GET .../fakechart/0.1.0/$leaf answers 404" 404 '.error | type == "string"' \
			"${auth[@]}" "$BASE$A/charts/fakechart/0.1.0/$leaf"
		check_status "$C: HEAD .../mychart/0.1.1/$leaf answers 404" 404 -I "${auth[@]}" "$BASE$A/charts/mychart/0.1.1/$leaf"
		check_status "$C: HEAD .../fakechart/0.1.0/$leaf answers 404" 404 -I "${auth[@]}" "$BASE$A/charts/fakechart/0.1.0/$leaf"
	done
	check_jq "$C: a chart without values.yaml: /values answers 404 values.yaml not found" 404 \
		'. == {"error": "values.yaml not found"}' "${auth[@]}" "$BASE$A/charts/novalues/1.0.0/values"
	check_jq "$C: ... and /templates answers empty values" 200 '.values == {} and (.templates | length) == 1' \
		"${auth[@]}" "$BASE$A/charts/novalues/1.0.0/templates"

	# 15: the context path.
	if [ -n "$CTX" ]; then
		check_status "$C: $P/index.yaml without the context path answers 404" 404 "${auth[@]}" "$ORIGIN$P/index.yaml"
		check_status "$C: $CTX$P/index.yaml answers 200" 200 "${auth[@]}" "$ORIGIN$CTX$P/index.yaml"
		check_status "$C: $CTX/health answers 200" 200 "$ORIGIN$CTX/health"
		check_status "$C: /health without the context path answers 404" 404 "$ORIGIN/health"
		check "$C: the index's serverInfo.contextPath is $CTX" \
			test "$(index_query "$BASE$P/index.yaml" "i['serverInfo']['contextPath']" "${auth[@]}")" = "$CTX"
		if helm_v 3 repo add "r$COMPAT_N" "$BASE$P" --username u --password p >"$TMP/h.out" 2>&1 &&
			helm_v 3 search repo "r$COMPAT_N/mychart" >>"$TMP/h.out" 2>&1 &&
			grep -q "r$COMPAT_N/mychart" "$TMP/h.out"; then
			pass "$C: helm repo add with the prefixed URL works and finds mychart"
		else
			fail "$C: helm repo add with the prefixed URL works and finds mychart"
			detail <"$TMP/h.out"
		fi
	fi

	# 16: basic auth.
	check_status "$C: /health answers 200 without credentials" 200 "$BASE/health"
	check_status "$C: / answers 401 without credentials" 401 "$BASE/"
	check_status "$C: / answers 401 with bad credentials" 401 -u u:wrong "$BASE/"
	check_status "$C: / answers 200 with good credentials" 200 "${auth[@]}" "$BASE/"
	check_status "$C: $P/index.yaml answers 401 without credentials" 401 "$BASE$P/index.yaml"
	check_status "$C: $P/index.yaml answers 401 with bad credentials" 401 -u u:wrong "$BASE$P/index.yaml"
	check_status "$C: $P/index.yaml answers 200 with good credentials" 200 "${auth[@]}" "$BASE$P/index.yaml"
	check_status "$C: $A/charts/mychart/0.1.0/values answers 401 without credentials" 401 \
		"$BASE$A/charts/mychart/0.1.0/values"

	compat_start "$cfg" BASIC_AUTH_USER=u BASIC_AUTH_PASS=p AUTH_ANONYMOUS_GET=1 || continue
	check_status "$C, AUTH_ANONYMOUS_GET: an upload with credentials answers 201" 201 "${auth[@]}" \
		--data-binary "@$c010" "$BASE$A/charts"
	check_status "$C, AUTH_ANONYMOUS_GET: / answers 200 without credentials" 200 "$BASE/"
	check_status "$C, AUTH_ANONYMOUS_GET: $P/index.yaml answers 200 without credentials" 200 "$BASE$P/index.yaml"
	check_status "$C, AUTH_ANONYMOUS_GET: $A/charts/mychart/latest answers 200 without credentials" 200 \
		"$BASE$A/charts/mychart/latest"
	check_status "$C, AUTH_ANONYMOUS_GET: a chart download answers 200 without credentials" 200 \
		"$BASE$P/charts/mychart-0.1.0.tgz"
	check_status "$C, AUTH_ANONYMOUS_GET: POST $A/charts answers 401 without credentials" 401 \
		--data-binary "@$c100" "$BASE$A/charts"
	check_status "$C, AUTH_ANONYMOUS_GET: POST $A/prov answers 401 without credentials" 401 \
		--data-binary "@$(compat_prov "$c010")" "$BASE$A/prov"
	check_status "$C, AUTH_ANONYMOUS_GET: DELETE answers 401 without credentials" 401 \
		-X DELETE "$BASE$A/charts/mychart/0.1.0"
done

# DEPTH_DYNAMIC: the route shape decides the depth, for the new routes too.
if compat_start "0 -" DEPTH_DYNAMIC=1; then
	check_status "DEPTH_DYNAMIC: upload to /api/org/charts answers 201" 201 --data-binary "@$c010" "$BASE/api/org/charts"
	check_status "DEPTH_DYNAMIC: upload to /api/charts answers 201" 201 --data-binary "@$c100" "$BASE/api/charts"
	check_jq "DEPTH_DYNAMIC: /api/org/charts/mychart/latest/templates answers org's 0.1.0" 200 \
		'.values == {replicas: 1}' "$BASE/api/org/charts/mychart/latest/templates"
	check_jq "DEPTH_DYNAMIC: /api/org/charts/mychart/%5E0 answers 0.1.0" 200 '.version == "0.1.0"' \
		"$BASE/api/org/charts/mychart/%5E0"
	check_jq "DEPTH_DYNAMIC: /api/charts/mychart/latest answers the depth-0 repo's 1.0.0" 200 '.version == "1.0.0"' \
		"$BASE/api/charts/mychart/latest"
	check_status "DEPTH_DYNAMIC: /api/charts/mychart/1.0.0/values answers 200" 200 "$BASE/api/charts/mychart/1.0.0/values"
	check_status "DEPTH_DYNAMIC: /api/org/charts/mychart/1.0.0/values answers 404" 404 "$BASE/api/org/charts/mychart/1.0.0/values"
fi

finish
