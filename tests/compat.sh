# tests/compat.sh — helpers for the ChartMuseum compatibility tests
# (tests/integration/7x-*.sh), sourced after tests/lib.sh.
#
# Each of those files runs its scenarios in eight configurations: DEPTH 0,
# 1, 2 and 3, each without and with CONTEXT_PATH=/my/crazy/path:
#
#   for cfg in "${COMPAT_CONFIGS[@]}"; do
#       compat_start "$cfg" BASIC_AUTH_USER=u BASIC_AUTH_PASS=p || continue
#       check_status "$C: GET $A/charts answers 200" 200 "$BASE$A/charts"
#   done
#
# compat_start sets P (the repo prefix: "", /org, /org/team or
# /org/team/repo at depth 0 to 3), A (/api + P), C
# (the configuration, for check names), ORIGIN (scheme://host:port, no
# context path) and starts a fresh stack with empty storage and state.

COMPAT_CONFIGS=("0 -" "0 /my/crazy/path" "1 -" "1 /my/crazy/path"
	"2 -" "2 /my/crazy/path" "3 -" "3 /my/crazy/path")
COMPAT_N=0

# compat_start "DEPTH CONTEXT|-" [VAR=value ...]
compat_start() {
	local depth ctx
	read -r depth ctx <<<"$1"
	shift
	[ "$ctx" != - ] || ctx=
	COMPAT_N=$((COMPAT_N + 1))
	STORAGE=$TMP/c$COMPAT_N/storage
	STATE=$TMP/c$COMPAT_N/state
	CTX=$ctx
	case "$depth" in
	0) P= ;;
	1) P=/org ;;
	2) P=/org/team ;;
	*) P=/org/team/repo ;;
	esac
	A=/api$P
	C="depth $depth${ctx:+, context $ctx}"
	local args=(DEPTH="$depth" "$@")
	[ -z "$ctx" ] || args+=(CONTEXT_PATH="$ctx")
	start_stack "${args[@]}" || return 1
	ORIGIN=${BASE%"$ctx"}
}

# compat_chart NAME VERSION [VALUES|-] [SALT]: a minimal chart (Chart.yaml,
# values.yaml with VALUES unless "-", one template) written directly;
# SALT changes the bytes (and so the digest) without changing the chart.
# Prints the .tgz path.
compat_chart() {
	local name=$1 version=$2 values=${3:-"replicas: 1"} salt=${4:-}
	local dir=$TMP/charts${salt:+-$salt}
	mkdir -p "$dir"
	python3 - "$name" "$version" "$dir/$name-$version.tgz" "$values" "$salt" <<'PY'
import io, sys, tarfile
name, version, out, values, salt = sys.argv[1:6]
files = [
    ("Chart.yaml", "apiVersion: v2\nname: %s\nversion: %s\ndescription: test chart %s\n"
     % (name, version, salt)),
    ("templates/cm.yaml",
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"),
]
if values != "-":
    files.append(("values.yaml", values + "\n"))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for path, text in files:
        data = text.encode()
        ti = tarfile.TarInfo("%s/%s" % (name, path))
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
        t.addfile(ti, io.BytesIO(data))
open(out, "wb").write(buf.getvalue())
PY
	printf '%s\n' "$dir/$name-$version.tgz"
}

# compat_prov TGZ: a provenance file beside TGZ with the structure Helm
# writes (the signature is not a real one: the server checks structure and
# digest only).  Prints its path.
compat_prov() {
	local tgz=$1
	python3 - "$tgz" <<'PY'
import hashlib, os, sys, tarfile
tgz = sys.argv[1]
data = open(tgz, "rb").read()
with tarfile.open(tgz) as t:
    chart_yaml = next(t.extractfile(m).read().decode() for m in t.getmembers()
                      if m.name.endswith("/Chart.yaml"))
body = chart_yaml + "\n...\nfiles:\n  %s: sha256:%s\n" % (
    os.path.basename(tgz), hashlib.sha256(data).hexdigest())
open(tgz + ".prov", "w").write(
    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + body +
    "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAA==\n=AAAA\n"
    "-----END PGP SIGNATURE-----\n")
PY
	printf '%s\n' "$tgz.prov"
}

# check_jq "desc" WANT_STATUS JQ_EXPR curl-args...: like check_json, with a
# jq filter that must yield true (jq starts much faster than python).
check_jq() {
	local desc=$1 want=$2 expr=$3
	shift 3
	http "$@"
	if [ "$LAST_STATUS" != "$want" ]; then
		fail "$desc: status $LAST_STATUS, want $want"
		head -c 600 "$LAST_BODY" | detail
		return 1
	fi
	if jq -e "$expr" "$LAST_BODY" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc: body does not satisfy: $expr"
		head -c 600 "$LAST_BODY" | detail
		return 1
	fi
}
