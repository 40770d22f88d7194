#!/usr/bin/env bash
# Fault 4 (issue 5): the disk fills during an upload.  Storage is a 2 MiB
# tmpfs (needs root: skipped, and said so, otherwise).  An upload that does
# not fit answers 507 with a JSON error and leaves nothing half-written (no
# temp file, no file under the final name, no index entry); an overwrite
# (?force) that does not fit leaves the old bytes intact; older charts are
# still served; once space is freed uploads succeed again.
# Then the state directory (SQLite, rendered index files) is the full one:
# an upload, a forced overwrite or a delete that cannot be recorded
# answers 507 and changes nothing in storage either, and the index rendered before is still served.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/tools/rel.sh"

skip() {
	printf '%s: skipped: %s\n' "$TEST_NAME" "$*"
	printf '%s: 0 passed, 0 failed\n' "$TEST_NAME"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "mounting a small tmpfs needs root"
mkdir -p "$STORAGE"
mount -t tmpfs -o size=2m,mode=0755 chartdepot-test "$STORAGE" 2>"$TMP/mount.err" ||
	skip "mount -t tmpfs failed: $(cat "$TMP/mount.err")"
unmount_storage() {
	local rc=$?
	stop_stack >/dev/null 2>&1 || true
	umount "$STORAGE" 2>/dev/null || umount -l "$STORAGE" 2>/dev/null || true
	if mountpoint -q "$STATE" 2>/dev/null; then
		umount "$STATE" 2>/dev/null || umount -l "$STATE" 2>/dev/null || true
	fi
	return "$rc"
}
# (set +e: a failing command in an EXIT trap would otherwise skip cleanup.)
trap '_rc=$?; set +e; unmount_storage; (exit $_rc); cleanup' EXIT

# A chart with SIZE KiB of incompressible data (deterministic).
sized_chart() {
	python3 - "$1" "$2" "$3" "$4" <<'PY'
import io, random, sys, tarfile
name, version, kib, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
files = {"Chart.yaml": ("apiVersion: v2\nname: %s\nversion: %s\ndescription: sized\n" % (name, version)).encode(),
         "files/data.bin": random.Random(name + version + str(kib)).randbytes(kib * 1024)}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for p, d in files.items():
        ti = tarfile.TarInfo("%s/%s" % (name, p)); ti.size = len(d); ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(d))
open(out, "wb").write(buf.getvalue())
PY
}
c=$TMP/charts
mkdir -p "$c"
sized_chart old 1.0.0 40 "$c/old-1.0.0.tgz"
sized_chart old 1.0.0 600 "$c/old-1.0.0-bigger.tgz"
sized_chart big 1.0.0 600 "$c/big-1.0.0.tgz"
sized_chart tiny 1.0.0 1 "$c/tiny-1.0.0.tgz"
sized_chart later 1.0.0 300 "$c/later-1.0.0.tgz"

start_stack CACHE_INTERVAL=1h || finish
check_status "an older chart uploads" 201 --data-binary "@$c/old-1.0.0.tgz" "$BASE/api/charts"

# Fill the file system, then give back 150 KiB: less than the big chart.
dd if=/dev/zero of="$STORAGE/filler.bin" bs=64k 2>/dev/null || true
truncate -s -150K "$STORAGE/filler.bin"
sync
avail=$(df -k --output=avail "$STORAGE" | tail -n 1 | tr -d ' ')
check "storage is nearly full (${avail} KiB free)" test "$avail" -lt 300

check_json "an upload that does not fit answers 507 with a JSON error" 507 \
	'isinstance(j.get("error"), str) and j["error"]' --data-binary "@$c/big-1.0.0.tgz" "$BASE/api/charts"
check "... no file under the final name" test ! -e "$STORAGE/big-1.0.0.tgz"
check "... no temp file left" test -z "$(storage_tmp_files)"
check "... the error names no server path" sh -c "! grep -qF '$STORAGE' '$LAST_BODY'"
check_json "a multipart upload that does not fit answers 507 too" 507 \
	'isinstance(j.get("error"), str)' -F "chart=@$c/big-1.0.0.tgz" "$BASE/api/charts"
check_json "an overwrite (?force) that does not fit answers 507" 507 \
	'isinstance(j.get("error"), str)' --data-binary "@$c/old-1.0.0-bigger.tgz" "$BASE/api/charts?force"
check "... and the old bytes are intact" cmp -s "$c/old-1.0.0.tgz" "$STORAGE/old-1.0.0.tgz"
check "... no temp file left" test -z "$(storage_tmp_files)"
vs=$(index_versions "$BASE/index.yaml" big || echo fetch-failed)
check "the index does not list the chart that did not fit ('$vs')" test -z "$vs"
check_index_equals_storage "the index equals storage"
check_status "the older chart is still served" 200 "$BASE/charts/old-1.0.0.tgz"
check "... byte for byte" cmp -s "$LAST_BODY" "$c/old-1.0.0.tgz"
check_json "the API still answers" 200 'isinstance(j, dict) and "old" in j' "$BASE/api/charts"

# Completely full: even a 1 KiB chart cannot be written.
dd if=/dev/zero of="$STORAGE/filler2.bin" bs=4k 2>/dev/null || true
check_json "with the disk completely full a tiny upload answers 507" 507 \
	'isinstance(j.get("error"), str)' --data-binary "@$c/tiny-1.0.0.tgz" "$BASE/api/charts"
check "... nothing half-written" test ! -e "$STORAGE/tiny-1.0.0.tgz" -a -z "$(storage_tmp_files)"
check_json "... and the server still serves /health" 200 'j == {"healthy": True}' "$BASE/health"

# Space freed: uploads work again.
rm -f "$STORAGE/filler.bin" "$STORAGE/filler2.bin"
check_status "after freeing space the chart uploads: 201" 201 --data-binary "@$c/big-1.0.0.tgz" "$BASE/api/charts"
check "... stored byte for byte" cmp -s "$c/big-1.0.0.tgz" "$STORAGE/big-1.0.0.tgz"
check_status "... and so does another" 201 --data-binary "@$c/later-1.0.0.tgz" "$BASE/api/charts"
check_status "... and the overwrite" 201 --data-binary "@$c/old-1.0.0-bigger.tgz" "$BASE/api/charts?force"
check_index_equals_storage "the index equals storage, every digest right"
check "no 5xx other than 507 was answered" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -v '^507$' | grep -q '^5'"
check "no worker died" sh -c "! grep -q 'killed by signal' '$STACK_LOG'"

# --- The state directory fills (storage has room).
stop_stack
rm -rf "${STORAGE:?}"/* "$STATE"
mkdir -p "$STATE"
mount -t tmpfs -o size=3m,mode=0755 chartdepot-test "$STATE" || { fail "mount a 3 MiB tmpfs as STATE_DIR"; finish; }
start_stack CACHE_INTERVAL=1h || finish
make_tiny_charts "$c" keep:1.0.0 gone:1.0.0 new:1.0.0
check_status "state full: a chart uploads first" 201 --data-binary "@$c/keep-1.0.0.tgz" "$BASE/api/charts"
check_status "state full: a second one too" 201 --data-binary "@$c/gone-1.0.0.tgz" "$BASE/api/charts"
check_status "state full: the index is rendered before the disk fills" 200 "$BASE/index.yaml"
cp "$LAST_BODY" "$TMP/index.before"
dd if=/dev/zero of="$STATE/filler.bin" bs=4k 2>/dev/null || true
check_json "state full: an upload that cannot be recorded answers 507" 507 \
	'isinstance(j.get("error"), str)' --data-binary "@$c/new-1.0.0.tgz" "$BASE/api/charts"
check "state full: ... and leaves no chart in storage (the client was told it failed)" test ! -e "$STORAGE/new-1.0.0.tgz"
check_json "state full: a delete that cannot be recorded answers 507" 507 \
	'isinstance(j.get("error"), str)' -X DELETE "$BASE/api/charts/gone/1.0.0"
check "state full: ... and leaves the chart in storage (the index still lists it)" test -e "$STORAGE/gone-1.0.0.tgz"
check "state full: ... put back after the refused commit (the files were set aside in its transaction)" \
	grep -q 'delete of gone-1.0.0.tgz not committed (.*): its files are back' "$STACK_LOG"
check_status "state full: ... so the listed chart still downloads" 200 "$BASE/charts/gone-1.0.0.tgz"
sized_chart keep 1.0.0 2 "$c/keep-1.0.0-other.tgz"
check_json "state full: a forced overwrite that cannot be recorded answers 507" 507 \
	'isinstance(j.get("error"), str)' --data-binary "@$c/keep-1.0.0-other.tgz" "$BASE/api/charts?force"
check "state full: ... and the old bytes stay in storage" cmp -s "$c/keep-1.0.0.tgz" "$STORAGE/keep-1.0.0.tgz"
check "state full: ... put back after the refused commit (the new file was in place in its transaction)" \
	grep -q 'overwrite of keep-1.0.0.tgz not committed (.*): the old file is back' "$STACK_LOG"
check "state full: ... and no temp file is left" test -z "$(storage_tmp_files)"
check_status "state full: the index rendered before is still served" 200 "$BASE/index.yaml"
check "state full: ... unchanged" cmp -s "$LAST_BODY" "$TMP/index.before"
check_status "state full: an older chart is still served" 200 "$BASE/charts/keep-1.0.0.tgz"
rm -f "$STATE/filler.bin"
check_status "state freed: the upload the client retries succeeds: 201" 201 --data-binary "@$c/new-1.0.0.tgz" "$BASE/api/charts"
check_status "state freed: the delete the client retries succeeds: 200" 200 -X DELETE "$BASE/api/charts/gone/1.0.0"
index_settled() { local d; d=$(index_vs_storage) && [ -z "$d" ]; }
wait_until 15 index_settled || true
check_index_equals_storage "state freed: the index equals storage (the indexer retried its commit)"
check "state full: no 5xx other than 507 was answered" sh -c "! awk '{print \$9}' '$STATE/nginx/access.log' | grep -v '^507$' | grep -q '^5'"

finish
