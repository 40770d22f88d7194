#!/usr/bin/env bash
# DEPTH=1: one repository per first path segment, created on first upload,
# as ChartMuseum and charthall do; GET / lists the repositories.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
a=$(make_signed_chart mychart 0.1.0)
b=$(make_chart otherchart 1.0.0)

start_stack DEPTH=1 BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || finish
auth=(-u u:p)

check_status "upload mychart to repo team1" 201 "${auth[@]}" -F "chart=@$a" -F "prov=@$a.prov" "$BASE/api/team1/charts"
check_status "upload otherchart to repo team2" 201 "${auth[@]}" --data-binary "@$b" "$BASE/api/team2/charts"
check_status "upload mychart to repo team2 as well" 201 "${auth[@]}" --data-binary "@$a" "$BASE/api/team2/charts"
check_status "a second upload of mychart to team1 answers 409" 409 "${auth[@]}" --data-binary "@$a" "$BASE/api/team1/charts"
check "the charts are stored under <root>/<repo>/" \
	test -f "$STORAGE/team1/mychart-0.1.0.tgz" -a -f "$STORAGE/team1/mychart-0.1.0.tgz.prov" \
	-a -f "$STORAGE/team2/otherchart-1.0.0.tgz" -a -f "$STORAGE/team2/mychart-0.1.0.tgz"
check "nothing is stored at the root" test -z "$(find "$STORAGE" -maxdepth 1 -type f)"

check "team1's index lists mychart only" \
	test "$(index_query "$BASE/team1/index.yaml" "sorted(i['entries'])" "${auth[@]}")" = "['mychart']"
check "team2's index lists mychart and otherchart" \
	test "$(index_query "$BASE/team2/index.yaml" "sorted(i['entries'])" "${auth[@]}")" = "['mychart', 'otherchart']"
check "index urls are relative charts/<file>" \
	test "$(index_query "$BASE/team1/index.yaml" "i['entries']['mychart'][0]['urls']" "${auth[@]}")" = "['charts/mychart-0.1.0.tgz']"
check_json "GET /api/team1/charts lists team1's charts" 200 'sorted(j) == ["mychart"]' "${auth[@]}" "$BASE/api/team1/charts"
check_json "GET /api/team2/charts/otherchart/1.0.0 answers the version" 200 'j["version"] == "1.0.0"' \
	"${auth[@]}" "$BASE/api/team2/charts/otherchart/1.0.0"
check_status "GET /api/team1/charts/otherchart answers 404" 404 "${auth[@]}" "$BASE/api/team1/charts/otherchart"
http "${auth[@]}" "$BASE/team1/charts/mychart-0.1.0.tgz"
check "GET /team1/charts/mychart-0.1.0.tgz answers the stored bytes" \
	sh -c "[ '$LAST_STATUS' = 200 ] && cmp -s '$LAST_BODY' '$a'"
check_status "GET /team1/charts/mychart-0.1.0.tgz.prov answers 200" 200 "${auth[@]}" "$BASE/team1/charts/mychart-0.1.0.tgz.prov"
check_status "GET /team1/charts/otherchart-1.0.0.tgz answers 404 (it is team2's)" 404 "${auth[@]}" "$BASE/team1/charts/otherchart-1.0.0.tgz"
check_body_contains "GET / lists team1" team1 "${auth[@]}" "$BASE/"
check_body_contains "GET / lists team2" team2 "${auth[@]}" "$BASE/"
check_status "a repo segment with .. answers 400" 400 "${auth[@]}" "$BASE/%2e%2e/index.yaml"
check_status "an upload to a repo segment with .. answers 400" 400 "${auth[@]}" --data-binary "@$b" "$BASE/api/%2e%2e/charts"
check "... and writes nothing outside the storage root" test ! -e "$TMP/otherchart-1.0.0.tgz"

check_json "DELETE /api/team2/charts/mychart/0.1.0 answers 200" 200 'j == {"deleted": True}' \
	"${auth[@]}" -X DELETE "$BASE/api/team2/charts/mychart/0.1.0"
check "team2 no longer lists mychart" \
	test "$(index_query "$BASE/team2/index.yaml" "sorted(i['entries'])" "${auth[@]}")" = "['otherchart']"
check "team1 still lists mychart" \
	test "$(index_query "$BASE/team1/index.yaml" "sorted(i['entries'])" "${auth[@]}")" = "['mychart']"

# Any [A-Za-z0-9._-]+ segment is a repo name, including ones that look like
# the server's own internal paths.
for repo in _cd api health charts; do
	http "${auth[@]}" --data-binary "@$b" "$BASE/api/$repo/charts"
	st_up=$LAST_STATUS
	http "${auth[@]}" "$BASE/$repo/charts/otherchart-1.0.0.tgz"
	st_dl=$LAST_STATUS
	cmp -s "$LAST_BODY" "$b" || st_dl="$st_dl (other bytes)"
	vs=$(index_versions "$BASE/$repo/index.yaml" otherchart "${auth[@]}" || echo none)
	check "repo named $repo: upload $st_up, download $st_dl, index lists [$vs]" \
		test "$st_up" = 201 -a "$st_dl" = 200 -a "$vs" = 1.0.0
done

for v in 3 4; do
	mkdir -p "$TMP/h$v"
	if helm_v "$v" repo add team1 "$BASE/team1" --username u --password p >"$TMP/h.out" 2>&1 &&
		helm_v "$v" repo update >>"$TMP/h.out" 2>&1 &&
		helm_v "$v" pull team1/mychart --version 0.1.0 --verify --keyring "$KEYRING_PUB" -d "$TMP/h$v" >>"$TMP/h.out" 2>&1 &&
		cmp -s "$a" "$TMP/h$v/mychart-0.1.0.tgz"; then
		pass "helm v$v: repo add <base>/team1, update, pull --verify"
	else
		fail "helm v$v: repo add <base>/team1, update, pull --verify"
		detail <"$TMP/h.out"
	fi
done

finish
