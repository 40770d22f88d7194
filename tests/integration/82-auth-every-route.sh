#!/usr/bin/env bash
# Every route × {no credentials, wrong password, unknown user, malformed
# header, non-Basic scheme} answers 401 with WWW-Authenticate and a JSON
# error, and a refused write changes nothing — with BASIC_AUTH_USER and
# with an htpasswd file.  The same routes with the right credentials do not
# answer 401 (so the matrix can fail).  Failed attempts are not logged with
# their password.  API_RATE_LIMIT (nginx limit_req) slows one address down
# with 429 + Retry-After.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

make_tiny_charts "$TMP/charts" mychart:0.1.0 mychart:0.2.0 newchart:1.0.0
prov=$TMP/charts/mychart-0.1.0.tgz.prov
cat >"$prov" <<EOF
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

apiVersion: v2
name: mychart
version: 0.1.0

...
files:
  mychart-0.1.0.tgz: sha256:$(sha256 "$TMP/charts/mychart-0.1.0.tgz")
-----BEGIN PGP SIGNATURE-----

wsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAAAA
=AAAA
-----END PGP SIGNATURE-----
EOF

# Every route of fcgi/route.c (but /health and /info, which are open, and
# artifacthub-repo.yml, which needs an option) × the refused credential
# variants: tests/tools/authmatrix.py.
matrix() {
	local label=$1 user=$2 pass=$3 before after line
	before=$(storage_files)
	while IFS= read -r line; do
		case "$line" in
		ok\ *) pass "$label: ${line#ok }" ;;
		*) fail "$label: ${line#FAIL }" ;;
		esac
	done < <(timeout 300 python3 "$TOOLS/authmatrix.py" "$BASE" "$user" "$pass" "$TMP/charts" 2>&1)
	after=$(storage_files)
	check "$label: no refused write changed storage" test "$before" = "$after"
}

seed() {
	local user=$1 pass=$2
	check_status "$3: seed mychart 0.1.0" 201 -u "$user:$pass" --data-binary "@$TMP/charts/mychart-0.1.0.tgz" "$BASE/api/charts"
	check_status "$3: seed mychart 0.2.0" 201 -u "$user:$pass" --data-binary "@$TMP/charts/mychart-0.2.0.tgz" "$BASE/api/charts"
	check_status "$3: seed the provenance file" 201 -u "$user:$pass" --data-binary "@$prov" "$BASE/api/prov"
	check_status "$3: seed team/mychart 0.1.0" 201 -u "$user:$pass" --data-binary "@$TMP/charts/mychart-0.1.0.tgz" "$BASE/api/team/charts"
}

# --- BASIC_AUTH_USER / BASIC_AUTH_PASS
secret='Sup3r-s3cret-pw'
start_stack AUTH_FAILURE_LIMIT=0 BASIC_AUTH_USER=admin BASIC_AUTH_PASS="$secret" DEPTH_DYNAMIC=true ENABLE_METRICS=true || finish
seed admin "$secret" basic
matrix "BASIC_AUTH_USER" admin "$secret"
check_status "/health needs no credentials" 200 "$BASE/health"
check_status "/info needs no credentials" 200 "$BASE/info"
stop_stack
mkdir -p "$TMP/logs1" && cp "$STATE"/nginx/*.log "$TMP/logs1/"

# --- HTPASSWD_FILE (bcrypt)
rm -rf "$STORAGE" "$STATE"
hp=$TMP/htpasswd
htpasswd -B -C 5 -b -c "$hp" alice 'alice-Secret-9' 2>/dev/null
start_stack AUTH_FAILURE_LIMIT=0 HTPASSWD_FILE="$hp" DEPTH_DYNAMIC=true ENABLE_METRICS=true || finish
seed alice 'alice-Secret-9' htpasswd
matrix "HTPASSWD_FILE" alice 'alice-Secret-9'
stop_stack
mkdir -p "$TMP/logs2" && cp "$STATE"/nginx/*.log "$TMP/logs2/"

check "no log holds a password that was tried or configured" \
	sh -c "! grep -rqaE '$secret|alice-Secret-9|wrong-password|right-password' '$TMP'/stack.*.log '$TMP/logs1' '$TMP/logs2' 2>/dev/null"
check "refused requests are logged (401 in nginx's access log)" grep -q '" 401 ' "$TMP/logs1/access.log" "$TMP/logs2/access.log"

# --- API_RATE_LIMIT: nginx's limit_req per client address.
rm -rf "$STORAGE" "$STATE"
start_stack AUTH_FAILURE_LIMIT=0 BASIC_AUTH_USER=admin BASIC_AUTH_PASS="$secret" API_RATE_LIMIT=5r/s API_RATE_BURST=5 || finish
codes=$TMP/codes
: >"$codes"
for _ in $(seq 1 40); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -u admin:wrong "$BASE/index.yaml" >>"$codes" || true
done
n429=$(grep -c '^429$' "$codes" || true)
n401=$(grep -c '^401$' "$codes" || true)
check "40 rapid failed logins from one address: some are refused with 429 ($n429 × 429, $n401 × 401)" \
	test "$n429" -gt 0 -a "$n401" -gt 0 -a $((n429 + n401)) -eq 40
for _ in $(seq 1 30); do
	http -u admin:wrong "$BASE/index.yaml"
	[ "$LAST_STATUS" != 429 ] || break
done
check "... a 429 comes with a JSON error" sh -c "test '$LAST_STATUS' = 429 && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"error\"]' '$LAST_BODY'"
check "... and Retry-After" test -n "$(last_header retry-after)"
sleep 1.5
check_status "... and the right credentials work again a moment later" 200 -u "admin:$secret" "$BASE/index.yaml"

finish
