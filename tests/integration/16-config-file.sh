#!/usr/bin/env bash
# 16-config-file: a ChartMuseum YAML config file (CONFIG) configures the
# pool, the indexer and the nginx config run-local generates, and the
# environment still wins over it.
. "$(dirname "$0")/../lib.sh"

need_helm || finish
tgz=$(make_chart mychart 0.1.0)
cfgfile=$TMP/chartmuseum.yaml
cat >"$cfgfile" <<YAML
basicauth:
  user: fileuser
  pass: filepass
allowoverwrite: true
maxuploadsize: 1048576
YAML

start_stack CONFIG="$cfgfile" || finish
check "the generated nginx config takes client_max_body_size from the file" \
	grep -qE 'client_max_body_size 1048576;' "$STATE/nginx/nginx.conf"
check_status "the file's user is required: no credentials answers 401" 401 "$BASE/index.yaml"
check_status "the file's user and password are accepted" 200 -u fileuser:filepass "$BASE/index.yaml"
check_status "upload with the file's credentials answers 201" 201 -u fileuser:filepass --data-binary "@$tgz" "$BASE/api/charts"
check_status "allowoverwrite from the file: the same upload again answers 201" 201 -u fileuser:filepass --data-binary "@$tgz" "$BASE/api/charts"
head -c 1100000 /dev/zero >"$TMP/big.bin"
check_status "a body over the file's maxuploadsize answers 413" 413 -u fileuser:filepass --data-binary "@$TMP/big.bin" "$BASE/api/charts"
stop_stack

start_stack CONFIG="$cfgfile" MAX_UPLOAD_SIZE=2m || finish
check "the environment wins over the file for nginx too" \
	grep -qE 'client_max_body_size 2097152;' "$STATE/nginx/nginx.conf"
stop_stack

printf 'basicauth:\n  usr: typo\n' >"$TMP/typo.yaml"
check "a config file with an unknown key stops run-local with a message naming it" \
	sh -c "! CONFIG='$TMP/typo.yaml' STATE_DIR='$TMP/typo-state' STORAGE_LOCAL_ROOTDIR='$TMP/typo-charts' PORT=1 '$ROOT/scripts/run-local' 2>'$TMP/typo.err' && grep -q 'basicauth.usr' '$TMP/typo.err'"

finish
