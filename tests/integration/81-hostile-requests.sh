#!/usr/bin/env bash
# Hostile requests (issue 5): "..", "%2e%2e", "%2f", "//", NUL, overlong
# paths and headers, repo names with dots or spaces, methods other than
# GET/HEAD/POST/DELETE, Content-Lengths that lie, and nginx's internal
# locations asked for directly: each gets a clean 4xx (never a 5xx), and no
# response ever holds a byte of the canary files planted beside the storage
# root, beside the index directory and in /etc/passwd's first line.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

# Canaries: files an escape from the storage root or the index directory
# would reach first.
canary="CANARY-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$STORAGE" "$STATE"
for f in "$TMP/canary.tgz" "$TMP/canary-0.1.0.tgz" "$TMP/index.yaml" "$STATE/canary.yaml" \
	"$STATE/canary.tgz"; do
	printf '%s\n' "$canary" >"$f"
done
passwd_line=$(head -n 1 /etc/passwd)

start_stack BASIC_AUTH_USER=u BASIC_AUTH_PASS=p DEPTH_DYNAMIC=true || finish
make_tiny_charts "$TMP/charts" mychart:0.1.0
check_status "a chart uploads to the root repo" 201 -u u:p --data-binary "@$TMP/charts/mychart-0.1.0.tgz" "$BASE/api/charts"
check_status "a chart uploads to repo team" 201 -u u:p --data-binary "@$TMP/charts/mychart-0.1.0.tgz" "$BASE/api/team/charts"
outside_files() {
	(cd "$TMP" && find . \( -path ./storage -o -path ./state -o -path ./responses -o -name 'cases.py' -o -name 'last.*' \) \
		-prune -o -type f -print | sort)
}
files_before=$(outside_files)

cases=$TMP/cases.py
CHART="$TMP/charts/mychart-0.1.0.tgz" python3 - >"$cases" <<'PY'
import os
print(r'''
import os
CHART = open(%r, "rb").read()
AUTH = b"Authorization: Basic dTpw\r\n"
def req(method, path, headers=b"", body=None, auth=True, cl=True):
    h = method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if auth:
        h += AUTH
    h += headers
    if body is not None and cl:
        h += b"Content-Length: %%d\r\n" %% len(body)
    return h + b"\r\n" + (body or b"")
C4 = {400, 404}
CASES = []
def get(path, allowed=C4, headers=b""):
    CASES.append(("GET " + path.decode("latin-1")[:80], req(b"GET", path, headers), allowed))

# The harness itself: these must work, or the test cannot see anything.
get(b"/index.yaml", {200})
get(b"/charts/mychart-0.1.0.tgz", {200})
get(b"/team/charts/mychart-0.1.0.tgz", {200})
get(b"/index.yaml?../../canary.tgz", {200})

# Traversal, encoded and not.
for p in [b"/charts/../canary.tgz", b"/charts/%%2e%%2e/canary.tgz", b"/charts/%%2E%%2E/canary.tgz",
          b"/charts/.%%2e/canary.tgz", b"/charts/..%%2fcanary.tgz", b"/charts/%%2e%%2e%%2fcanary.tgz",
          b"/charts/..%%2f..%%2fcanary.tgz", b"/charts/%%2e%%2e%%2f%%2e%%2e%%2fcanary.tgz",
          b"/%%2e%%2e/charts/canary.tgz", b"/%%2e%%2e/%%2e%%2e/%%2e%%2e/%%2e%%2e/etc/passwd",
          b"/charts/..%%5ccanary.tgz", b"/charts/..\\\\canary.tgz", b"/charts/%%252e%%252e%%252fcanary.tgz",
          b"/charts/%%c0%%ae%%c0%%ae/canary.tgz", b"/charts/%%c0%%af..%%c0%%afcanary.tgz",
          b"/charts/....//canary.tgz", b"/charts//canary.tgz", b"//charts/canary.tgz", b"//index.yaml",
          b"/team//index.yaml", b"/team/..%%2f..%%2fcanary-0.1.0.tgz",
          b"/%%2e%%2e/index.yaml", b"/%%2e/index.yaml", b"/./index.yaml", b"/../index.yaml",
          b"/charts/mychart-0.1.0.tgz/..", b"/charts/%%2e%%2e%%2fstate%%2fcanary.tgz",
          b"/api/charts/%%2e%%2e/0.1.0", b"/api/charts/mychart/%%2e%%2e",
          b"/api/charts/..%%2f..%%2fcanary/0.1.0/values", b"/api/%%2e%%2e/charts",
          b"/%%2e%%2e/%%2e%%2e/canary-0.1.0.tgz"]:
    get(p)
# NUL, raw and encoded.
for p in [b"/charts/%%00", b"/charts/mychart-0.1.0.tgz%%00.prov", b"/index.yaml%%00", b"/team%%00/index.yaml",
          b"/charts/canary.tgz%%00mychart-0.1.0.tgz", b"/api/charts/mychart%%00/0.1.0"]:
    get(p)
CASES.append(("raw NUL byte in the request line", req(b"GET", b"/charts/mychart-0.1.0.tgz\x00x"), C4))
# nginx's internal locations are not reachable from outside.
for p in [b"/@cd/charts/mychart-0.1.0.tgz", b"/@cd/charts/../canary.tgz", b"/@cd/charts/%%2e%%2e/canary.tgz",
          b"/@cd/index/../canary.yaml", b"/@cd/index/%%2e%%2e/canary.yaml", b"/@cd/error/500",
          b"/@cd/index-gz/root/@/1.yaml", b"/@cd/index-gz/../canary.yaml",
          b"/%%40cd/charts/mychart-0.1.0.tgz"]:
    get(p, {400, 404})
# Repo names with dots or spaces.
for p in [b"/a%%20b/index.yaml", b"/a+b/index.yaml", b"/.../index.yaml", b"/.hidden/index.yaml",
          b"/a%%09b/index.yaml", b"/team%%2f..%%2f/index.yaml"]:
    get(p)
# A dot inside a name is an ordinary (empty) repo, as in ChartMuseum.
get(b"/team./index.yaml", {200, 400, 404})
get(b"/te%%2eam/index.yaml", {200, 400, 404})
CASES.append(("raw space in a repo name", req(b"GET", b"/a b/index.yaml"), C4))
# Uploads aimed outside the root.
for p in [b"/api/%%2e%%2e/charts", b"/api/..%%2f..%%2f/charts", b"/api/a%%20b/charts", b"/api/%%2e/charts",
          b"/api/team%%2f..%%2f../charts", b"/api/%%00/charts", b"/api/x/..%%2f..%%2f..%%2ftmp/charts"]:
    CASES.append(("POST a chart to " + p.decode(), req(b"POST", p, body=CHART), C4))
# Overlong paths and headers.
get(b"/" + b"a" * 20000, {400, 404, 414})
get(b"/" + b"a" * 8000 + b"/index.yaml", C4)
get(b"/a" * 3000 + b"/index.yaml", C4)
get(b"/api/charts/" + b"n" * 6000, C4)
get(b"/index.yaml", {400, 431}, headers=b"X-Big: " + b"x" * 40000 + b"\r\n")
get(b"/index.yaml", {200, 400, 431}, headers=b"".join(b"X-H%%d: v\r\n" %% i for i in range(2000)))
get(b"/index.yaml", {200}, headers=b"X-Request-Id: " + b"r" * 10000 + b"\r\n")
CASES.append(("an Authorization header of 10 KB", req(b"GET", b"/index.yaml", b"Authorization: Basic " + b"A" * 10000 + b"\r\n", auth=False), {401}))
CASES.append(("a Host header of 12 KB", req(b"GET", b"/index.yaml", b"Host: " + b"h" * 12000 + b"\r\n"), {200, 400}))
# Methods other than GET/HEAD/POST/DELETE.
for m in [b"PUT", b"PATCH", b"OPTIONS", b"TRACE", b"CONNECT", b"PROPFIND", b"MKCOL", b"FOO", b"get", b"G\x01T"]:
    for p in [b"/index.yaml", b"/api/charts", b"/charts/mychart-0.1.0.tgz", b"/api/charts/mychart/0.1.0"]:
        CASES.append((m.decode("latin-1") + " " + p.decode(), req(m, p, body=b"x"), {400, 404, 405}))
CASES.append(("DELETE on a traversal path", req(b"DELETE", b"/api/charts/%%2e%%2e/0.1.0"), C4))
CASES.append(("DELETE ../canary", req(b"DELETE", b"/api/charts/..%%2f..%%2fcanary/0.1.0"), C4))
# Content-Lengths that lie.
CASES.append(("Content-Length 1000 with 10 bytes and EOF", req(b"POST", b"/api/charts", b"Content-Length: 1000\r\n", b"0123456789", cl=False), {0, 400}, True))
CASES.append(("Content-Length 10 with a whole chart behind it", req(b"POST", b"/api/charts", b"Content-Length: 10\r\n", CHART, cl=False), {400}))
CASES.append(("Content-Length -1", req(b"POST", b"/api/charts", b"Content-Length: -1\r\n", CHART, cl=False), {400}))
CASES.append(("Content-Length abc", req(b"POST", b"/api/charts", b"Content-Length: abc\r\n", CHART, cl=False), {400}))
CASES.append(("Content-Length twice, different", req(b"POST", b"/api/charts", b"Content-Length: 5\r\nContent-Length: %%d\r\n" %% len(CHART), CHART, cl=False), {400}))
CASES.append(("Content-Length 99999999999999999999", req(b"POST", b"/api/charts", b"Content-Length: 99999999999999999999\r\n", CHART, cl=False), {400, 413}))
CASES.append(("Content-Length 1 GiB, no body", req(b"POST", b"/api/charts", b"Content-Length: 1073741824\r\n", b"", cl=False), {413}))
CASES.append(("Content-Length with Transfer-Encoding: chunked", req(b"POST", b"/api/charts", b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n", cl=False), {400}))
CASES.append(("Transfer-Encoding: chunked with a bad chunk size", req(b"POST", b"/api/charts", b"Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n", cl=False), {400}))
CASES.append(("a body on a GET", req(b"GET", b"/index.yaml", b"Content-Length: 1000\r\n", b"x" * 10, cl=False), {0, 200, 400}, True))
''' % os.environ["CHART"])
PY

out=$TMP/responses
while IFS= read -r line; do
	case "$line" in
	ok\ *) pass "${line#ok }" ;;
	*) fail "${line#FAIL }" ;;
	esac
done < <(timeout 300 python3 "$TOOLS/rawhttp.py" 127.0.0.1 "$PORT" "$cases" "$out" "$canary" "$passwd_line" 2>&1)

check "no response holds the canary (grep over all $(ls "$out" | wc -l) responses)" \
	sh -c "! grep -rlaF '$canary' '$out'"
check "no response holds /etc/passwd's first line" sh -c "! grep -rlaF '$passwd_line' '$out'"
check "the canaries are unchanged" sh -c "grep -qxF '$canary' '$TMP/canary.tgz' && grep -qxF '$canary' '$STATE/canary.yaml' && grep -qxF '$canary' '$TMP/canary-0.1.0.tgz'"
files_after=$(outside_files)
check "no file appeared outside the storage and state directories" test "$files_before" = "$files_after"
[ "$files_before" = "$files_after" ] || diff <(echo "$files_before") <(echo "$files_after") | detail
check "nothing was written under /tmp by the uploads" test ! -e /tmp/charts -a ! -e /tmp/mychart-0.1.0.tgz
check "storage holds only the two uploaded charts and what the odd repos may have" \
	sh -c "cd '$STORAGE' && test -z \"\$(find . -type f ! -path ./mychart-0.1.0.tgz ! -path ./team/mychart-0.1.0.tgz ! -path './.../*' ! -path './.hidden/*' ! -path './team./*')\""
check_json "the server keeps serving" 200 'j == {"healthy": True}' "$BASE/health"
check_status "... and serves the chart" 200 -u u:p "$BASE/charts/mychart-0.1.0.tgz"
check "... byte for byte" cmp -s "$LAST_BODY" "$TMP/charts/mychart-0.1.0.tgz"
check "no 5xx in nginx's access log" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -q '^5'"
check "no worker died" sh -c "! grep -q 'killed by signal' '$STACK_LOG'"

finish
