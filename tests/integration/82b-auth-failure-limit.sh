#!/usr/bin/env bash
# AUTH_FAILURE_LIMIT: the worker's own failed-login counter per client
# address (lib/authfail.c), beside nginx's limit_req.  After the limit, the
# address gets 429 + Retry-After with a JSON error and its credentials are
# not checked at all, the right ones included; /health is unaffected; the
# crossing is logged once with the address and without the password.  One
# worker, so that every request meets the same counter.
. "$(dirname "$0")/../lib.sh"

secret='Limit-s3cret-pw'
start_stack WORKERS=1 AUTH_FAILURE_LIMIT=10 BASIC_AUTH_USER=admin BASIC_AUTH_PASS="$secret" || finish

check_status "the right credentials work before any failure" 200 -u "admin:$secret" "$BASE/index.yaml"

codes=$TMP/codes
: >"$codes"
for _ in $(seq 1 12); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -u admin:wrong-password "$BASE/index.yaml" >>"$codes" || true
done
n401=$(grep -c '^401$' "$codes" || true)
n429=$(grep -c '^429$' "$codes" || true)
check "12 wrong passwords from one address: 10 × 401 then 2 × 429 (got $n401 × 401, $n429 × 429)" \
	test "$(tr '\n' ' ' <"$codes")" = "401 401 401 401 401 401 401 401 401 401 429 429 "

http -u admin:wrong-password "$BASE/index.yaml"
check "a refused address gets 429" test "$LAST_STATUS" = 429
check "... with the JSON error" sh -c "python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == {\"error\": \"too many failed logins, retry later\"}' '$LAST_BODY'"
ra=$(last_header retry-after)
check "... and Retry-After within the window ($ra s)" test -n "$ra" -a "${ra:-0}" -ge 1 -a "${ra:-0}" -le 60
check "... and no WWW-Authenticate" test -z "$(last_header www-authenticate)"

check_status "the right credentials from the refused address get 429 too" 429 -u "admin:$secret" "$BASE/index.yaml"
check_status "... on a write as well" 429 -u "admin:$secret" --data-binary 'x' "$BASE/api/charts"
check "... which stored nothing" test -z "$(storage_files)"
check_status "no credentials still gets 401, not 429" 401 "$BASE/index.yaml"
check_status "/health is unaffected" 200 "$BASE/health"
check_status "/health with the refused credentials is unaffected" 200 -u admin:wrong-password "$BASE/health"
check_status "/info is unaffected" 200 "$BASE/info"

stop_stack
check "the crossing is logged once, naming the address" \
	test "$(grep -c 'failed logins from 127.0.0.1' "$STACK_LOG")" = 1
check "no log holds the passwords" \
	sh -c "! grep -rqaE '$secret|wrong-password' '$STACK_LOG' '$STATE'/nginx/*.log"

# --- a success clears the address's count
rm -rf "$STORAGE" "$STATE"
start_stack WORKERS=1 AUTH_FAILURE_LIMIT=3 BASIC_AUTH_USER=admin BASIC_AUTH_PASS="$secret" || finish
for _ in 1 2; do http -u admin:wrong "$BASE/index.yaml"; done
check_status "2 failures, then the right password works" 200 -u "admin:$secret" "$BASE/index.yaml"
for _ in 1 2; do http -u admin:wrong "$BASE/index.yaml"; done
check_status "... and the count started again: a third failure after it is still checked (401)" 401 -u admin:wrong "$BASE/index.yaml"
check_status "... and that third failure in a row refuses the address" 429 -u "admin:$secret" "$BASE/index.yaml"

# --- AUTH_FAILURE_LIMIT=0 turns the limiter off
rm -rf "$STORAGE" "$STATE"
start_stack WORKERS=1 AUTH_FAILURE_LIMIT=0 BASIC_AUTH_USER=admin BASIC_AUTH_PASS="$secret" || finish
: >"$codes"
for _ in $(seq 1 30); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -u admin:wrong "$BASE/index.yaml" >>"$codes" || true
done
check "with AUTH_FAILURE_LIMIT=0, 30 wrong passwords all get 401" test "$(grep -c '^401$' "$codes")" = 30
check_status "... and the right one still works" 200 -u "admin:$secret" "$BASE/index.yaml"

finish
