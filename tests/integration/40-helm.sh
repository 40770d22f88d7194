#!/usr/bin/env bash
# What a Helm user does, with Helm v3 and Helm v4 against the same
# authenticated repository: repo add, update, search, pull --version,
# pull --verify with the uploaded .prov, template, and dependency update of a
# chart that depends on a chart in this repository.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
a1=$(make_signed_chart mychart 0.1.0)
a2=$(make_signed_chart mychart 0.2.0)
plain=$(make_chart otherchart 1.0.0)

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
auth=(-u u:p)
check_status "upload mychart 0.1.0 with its .prov" 201 "${auth[@]}" -F "chart=@$a1" -F "prov=@$a1.prov" "$BASE/api/charts"
check_status "upload mychart 0.2.0 with its .prov" 201 "${auth[@]}" -F "chart=@$a2" -F "prov=@$a2.prov" "$BASE/api/charts"
check_status "upload otherchart 1.0.0 without a .prov" 201 "${auth[@]}" --data-binary "@$plain" "$BASE/api/charts"

# helm_ok v "desc" args...: the Helm command succeeds; its output is kept in
# $TMP/helm.out for further checks.
helm_ok() {
	local v=$1 desc=$2
	shift 2
	if helm_v "$v" "$@" >"$TMP/helm.out" 2>&1; then
		pass "helm v$v: $desc"
	else
		fail "helm v$v: $desc"
		detail <"$TMP/helm.out"
		return 1
	fi
}
helm_fails() {
	local v=$1 desc=$2
	shift 2
	if helm_v "$v" "$@" >"$TMP/helm.out" 2>&1; then
		fail "helm v$v: $desc"
		detail <"$TMP/helm.out"
		return 1
	fi
	pass "helm v$v: $desc"
}

for v in 3 4; do
	helm_fails "$v" "repo add with a wrong password fails" \
		repo add badrepo "$BASE" --username u --password wrong
	helm_ok "$v" "repo add myrepo --username --password" \
		repo add myrepo "$BASE" --username u --password p
	helm_ok "$v" "repo update" repo update
	helm_ok "$v" "search repo myrepo/" search repo myrepo/
	check "helm v$v: search shows myrepo/mychart at 0.2.0 and myrepo/otherchart" \
		sh -c "grep -qE '^myrepo/mychart\s+0\.2\.0' '$TMP/helm.out' && grep -qE '^myrepo/otherchart\s+1\.0\.0' '$TMP/helm.out'"
	helm_ok "$v" "search repo --versions lists both versions" search repo myrepo/mychart --versions
	check "helm v$v: both versions of mychart are found" \
		sh -c "grep -qE '^myrepo/mychart\s+0\.2\.0' '$TMP/helm.out' && grep -qE '^myrepo/mychart\s+0\.1\.0' '$TMP/helm.out'"

	d=$TMP/pull$v
	mkdir -p "$d/plain" "$d/verify" "$d/noprov"
	helm_ok "$v" "pull myrepo/mychart --version 0.1.0" pull myrepo/mychart --version 0.1.0 -d "$d/plain"
	check "helm v$v: the pulled chart is the uploaded file" cmp -s "$a1" "$d/plain/mychart-0.1.0.tgz"
	helm_ok "$v" "pull --verify --keyring with the uploaded .prov" \
		pull myrepo/mychart --version 0.1.0 --verify --keyring "$KEYRING_PUB" -d "$d/verify"
	check "helm v$v: pull --verify kept the chart and its .prov" \
		test -f "$d/verify/mychart-0.1.0.tgz" -a -f "$d/verify/mychart-0.1.0.tgz.prov"
	helm_fails "$v" "pull --verify of a chart without a .prov fails" \
		pull myrepo/otherchart --version 1.0.0 --verify --keyring "$KEYRING_PUB" -d "$d/noprov"
	helm_ok "$v" "template myrepo/mychart" template demo myrepo/mychart --version 0.2.0
	check "helm v$v: template renders the chart's Deployment" grep -q '^kind: Deployment' "$TMP/helm.out"
	helm_ok "$v" "show chart myrepo/mychart" show chart myrepo/mychart
	check "helm v$v: show chart prints the newest version" grep -qx 'version: 0.2.0' "$TMP/helm.out"

	# A chart whose dependencies live in this repository, by URL and by alias.
	for how in url alias; do
		p=$TMP/parent$v-$how
		rm -rf "$p"
		helm_v "$v" create "$p" >/dev/null 2>&1 || helm_v 3 create "$p" >/dev/null
		repo_ref=$BASE
		[ "$how" = alias ] && repo_ref=@myrepo
		cat >>"$p/Chart.yaml" <<YAML
dependencies:
  - name: mychart
    version: "~0.1.0"
    repository: "$repo_ref"
YAML
		helm_ok "$v" "dependency update of a chart depending on mychart (repository by $how)" \
			dependency update "$p"
		check "helm v$v: the dependency mychart 0.1.0 was fetched (by $how)" \
			cmp -s "$a1" "$p/charts/mychart-0.1.0.tgz"
	done

	# After a delete, an update no longer offers the version.
	if [ "$v" = 4 ]; then
		check_status "DELETE mychart 0.1.0" 200 "${auth[@]}" -X DELETE "$BASE/api/charts/mychart/0.1.0"
		helm_ok "$v" "repo update after a delete" repo update
		helm_ok "$v" "search --versions after a delete" search repo myrepo/mychart --versions
		check "helm v$v: the deleted version is gone from search" \
			sh -c "! grep -qE '^myrepo/mychart\s+0\.1\.0' '$TMP/helm.out'"
		helm_fails "$v" "pull of the deleted version fails" \
			pull myrepo/mychart --version 0.1.0 -d "$d/gone"
	fi
done

finish
