# shellcheck shell=bash disable=SC2034,SC2120
# tests/tools/rel.sh — helpers shared by the reliability tests
# (tests/integration/80-*.sh … 89-*.sh), sourced after tests/lib.sh.
#
# Processes are found from the stack's own pid (run-local's children), never
# by name across the machine, so parallel stacks do not get in each other's
# way.

TOOLS=$ROOT/tests/tools

# The pid of a direct child of $1 whose comm is $2 ("" when none).
child_named() {
	local p
	for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && { echo "$p"; return 0; }
	done
	echo ""
}

# The fcgi master, indexer and nginx master of the stack started by start_stack.
fcgi_master() { child_named "$STACK_PID" chartdepot-fcgi; }
indexer_pid() { child_named "$STACK_PID" chartdepot-inde; }
nginx_master() { child_named "$STACK_PID" nginx; }

# The fcgi workers (children of the master given, or of this stack's master).
fcgi_workers() {
	local m=${1:-$(fcgi_master)}
	[ -n "$m" ] || return 0
	ps -o pid= --ppid "$m" 2>/dev/null | tr -d ' '
}

# A /proc/<pid>/status field in kB (VmRSS, VmHWM).
proc_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# The largest value of a status field over the workers (0 when none).
workers_max_kb() {
	local p v max=0
	for p in $(fcgi_workers); do
		v=$(proc_kb "$p" "$1")
		[ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
	done
	echo "$max"
}

# Open file descriptors of one process.
proc_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# Leftover temp files anywhere under storage.
storage_tmp_files() {
	(cd "$STORAGE" 2>/dev/null && find . -name '.cd-tmp-*' | sed 's|^\./||' | sort) || true
}

# Rows in the chart table of the database.
db_chart_rows() {
	sqlite3 -readonly "$STATE/chartdepot.db" 'SELECT count(*) FROM chart' 2>/dev/null || echo "?"
}

# index_vs_storage [URL] [curl-args]: prints the differences between the
# index at URL (default $BASE/index.yaml) and the .tgz files in $STORAGE
# (name-version and sha256 digest); nothing when they are equal.  Fails when
# the index cannot be fetched.
index_vs_storage() {
	local url=${1:-$BASE/index.yaml}
	shift || true
	http "$@" "$url"
	[ "$LAST_STATUS" = 200 ] || { echo "GET $url answered $LAST_STATUS"; return 1; }
	python3 - "$LAST_BODY" "$STORAGE" <<'PY'
import hashlib, os, sys, yaml
idx = yaml.load(open(sys.argv[1], encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
got = {}
for name, es in (idx.get("entries") or {}).items():
    for e in es:
        got["%s-%s.tgz" % (name, e["version"])] = e.get("digest")
want = {}
root = sys.argv[2]
for f in os.listdir(root):
    if f.endswith(".tgz") and not f.startswith("."):
        want[f] = hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest()
bad = 0
for f in sorted(set(got) | set(want)):
    if got.get(f) != want.get(f):
        bad += 1
        if bad <= 10:
            print("%s: index %s, storage %s" % (f, got.get(f, "absent"), want.get(f, "absent")))
if bad > 10:
    print("... %d differences in all (%d in the index, %d in storage)" % (bad, len(got), len(want)))
sys.exit(0)
PY
}

# Checks that the index equals storage.
check_index_equals_storage() {
	local desc=$1 diff
	shift
	if diff=$(index_vs_storage "$@") && [ -z "$diff" ]; then
		pass "$desc"
	else
		fail "$desc"
		printf '%s\n' "$diff" | detail
	fi
}

# The stack's logs (run-local stderr of every start, nginx error log).
stack_logs() {
	cat "$TMP"/stack.*.log "$STATE/nginx/error.log" 2>/dev/null || true
}

# True when the servers are built with AddressSanitizer (make check-asan):
# their RSS then holds shadow memory and ASan's quarantine of freed blocks
# (256 MiB by default), so memory bounds are loosened and flatness is not
# judged on RSS.
# (ldd's output is read whole: `ldd | grep -q` under pipefail fails when
# grep exits before ldd has written its last line.)
sanitized() {
	case "$(ldd "$BUILD/chartdepot-fcgi" 2>/dev/null)" in
	*libasan*) return 0 ;;
	*) return 1 ;;
	esac
}
