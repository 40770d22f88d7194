#!/usr/bin/env bash
# Authentication: ChartMuseum's single user, an htpasswd file with bcrypt,
# sha512-crypt and yescrypt entries, AUTH_ANONYMOUS_GET; 401 always carries
# WWW-Authenticate; /health and /info need no credentials.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
tgz=$(make_chart mychart 0.1.0)
tgz2=$(make_chart mychart 0.2.0)

# check_401 "desc" curl-args...: 401 with the Basic challenge.
check_401() {
	local desc=$1
	shift
	http "$@"
	local wa
	wa=$(last_header www-authenticate)
	if [ "$LAST_STATUS" = 401 ] && [ "$wa" = 'Basic realm="chartdepot"' ]; then
		pass "$desc"
	else
		fail "$desc: status $LAST_STATUS, WWW-Authenticate '$wa'"
	fi
}

# --- BASIC_AUTH_USER / BASIC_AUTH_PASS
start_stack BASIC_AUTH_USER=admin BASIC_AUTH_PASS='s3cret:with:colons' || finish
good=(-u 'admin:s3cret:with:colons')
check_401 "GET /index.yaml without credentials answers 401 + WWW-Authenticate" "$BASE/index.yaml"
check_401 "GET /index.yaml with a wrong password answers 401 + WWW-Authenticate" -u admin:wrong "$BASE/index.yaml"
check_401 "GET /index.yaml with an unknown user answers 401" -u nobody:s3cret:with:colons "$BASE/index.yaml"
check_401 "a malformed Authorization header answers 401" -H 'Authorization: Basic !!!notbase64' "$BASE/index.yaml"
check_401 "a non-Basic scheme answers 401" -H 'Authorization: Bearer abc' "$BASE/index.yaml"
check_401 "GET / without credentials answers 401" "$BASE/"
check_401 "GET /api/charts without credentials answers 401" "$BASE/api/charts"
check_401 "GET /charts/mychart-0.1.0.tgz without credentials answers 401" "$BASE/charts/mychart-0.1.0.tgz"
check_401 "POST /api/charts without credentials answers 401" --data-binary "@$tgz" "$BASE/api/charts"
check "... and stores nothing" test -z "$(storage_files)"
check_401 "DELETE without credentials answers 401" -X DELETE "$BASE/api/charts/mychart/0.1.0"
check_status "GET /health needs no credentials" 200 "$BASE/health"
check_status "GET /info needs no credentials" 200 "$BASE/info"
check_status "GET /index.yaml with the right credentials answers 200" 200 "${good[@]}" "$BASE/index.yaml"
check_status "POST /api/charts with the right credentials answers 201" 201 "${good[@]}" --data-binary "@$tgz" "$BASE/api/charts"
check_status "GET / with the right credentials answers 200" 200 "${good[@]}" "$BASE/"
for i in 1 2 3 4 5 6; do http "${good[@]}" "$BASE/index.yaml"; [ "$LAST_STATUS" = 200 ] || break; done
check "repeated requests with the same credentials keep answering 200" test "$LAST_STATUS" = 200
check_401 "... and a wrong password right after still answers 401" -u admin:s3cret "$BASE/index.yaml"

# --- HTPASSWD_FILE: bcrypt (htpasswd -B), sha512-crypt and yescrypt (mkpasswd)
hp=$TMP/htpasswd
htpasswd -B -C 5 -b -c "$hp" alice 'alice-pw' 2>/dev/null
printf 'bob:%s\n' "$(mkpasswd -m sha-512 'bob-pw')" >>"$hp"
printf 'carol:%s\n' "$(mkpasswd -m yescrypt 'carol-pw')" >>"$hp"
check "the htpasswd file holds bcrypt, sha512-crypt and yescrypt entries" \
	sh -c "grep -q '^alice:\\\$2y\\\$' '$hp' && grep -q '^bob:\\\$6\\\$' '$hp' && grep -q '^carol:\\\$y\\\$' '$hp'"
start_stack HTPASSWD_FILE="$hp" || finish
for who in alice:bcrypt bob:sha512-crypt carol:yescrypt; do
	user=${who%%:*} kind=${who#*:}
	check_status "$user ($kind) reads the index with the right password" 200 -u "$user:$user-pw" "$BASE/index.yaml"
	check_401 "$user ($kind) with a wrong password answers 401" -u "$user:not-$user-pw" "$BASE/index.yaml"
done
check_status "an htpasswd user can upload" 201 -u alice:alice-pw --data-binary "@$tgz2" "$BASE/api/charts"
check_401 "no credentials answers 401 with an htpasswd file" "$BASE/index.yaml"

# --- both at once
start_stack HTPASSWD_FILE="$hp" BASIC_AUTH_USER=admin BASIC_AUTH_PASS=pw || finish
check_status "with both, the single user works" 200 -u admin:pw "$BASE/index.yaml"
check_status "with both, an htpasswd user works" 200 -u bob:bob-pw "$BASE/index.yaml"

# --- AUTH_ANONYMOUS_GET
start_stack BASIC_AUTH_USER=admin BASIC_AUTH_PASS=pw AUTH_ANONYMOUS_GET=true || finish
check_status "with AUTH_ANONYMOUS_GET, GET /index.yaml needs no credentials" 200 "$BASE/index.yaml"
check_status "with AUTH_ANONYMOUS_GET, GET /api/charts needs no credentials" 200 "$BASE/api/charts"
check_status "with AUTH_ANONYMOUS_GET, a chart download needs no credentials" 200 "$BASE/charts/mychart-0.1.0.tgz"
check_status "with AUTH_ANONYMOUS_GET, HEAD needs no credentials" 200 -I "$BASE/index.yaml"
check_401 "with AUTH_ANONYMOUS_GET, POST without credentials answers 401" --data-binary "@$tgz" "$BASE/api/charts?force"
check_401 "with AUTH_ANONYMOUS_GET, DELETE without credentials answers 401" -X DELETE "$BASE/api/charts/mychart/0.1.0"
check "... and the chart is still there" test -f "$STORAGE/mychart-0.1.0.tgz"
check_status "with AUTH_ANONYMOUS_GET, DELETE with credentials answers 200" 200 -u admin:pw -X DELETE "$BASE/api/charts/mychart/0.1.0"

# --- anonymous reads cannot create repositories (DEPTH=1)
start_stack DEPTH=1 BASIC_AUTH_USER=admin BASIC_AUTH_PASS=pw AUTH_ANONYMOUS_GET=true || finish
check_status "with AUTH_ANONYMOUS_GET, an anonymous read of a new repo's index answers 200" 200 "$BASE/ghost/index.yaml"
check_status "an authenticated read of another new repo answers 200" 200 -u admin:pw "$BASE/team/index.yaml"
http -u admin:pw -H 'Accept: application/json' "$BASE/"
check "the authenticated read registered its repo" grep -q '"team"' "$LAST_BODY"
check "the anonymous read registered nothing" sh -c "! grep -q ghost '$LAST_BODY'"
check "... not in the database either" sh -c "! sqlite3 '$STATE/chartdepot.db' 'SELECT repo FROM repo' | grep -q ghost"

# --- no auth configured: everything open (ChartMuseum's default)
start_stack || finish
check_status "without any auth setting, GET /index.yaml answers 200" 200 "$BASE/index.yaml"
check_status "without any auth setting, POST answers 201" 201 --data-binary "@$tgz" "$BASE/api/charts"

# --- the password never reaches a log
check "no log line holds a password" \
	sh -c "! grep -rqE 's3cret|alice-pw|bob-pw|carol-pw' '$TMP'/stack.*.log '$STATE/nginx/'*.log"

finish
