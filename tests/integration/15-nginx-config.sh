#!/usr/bin/env bash
# Both nginx configurations come from nginx/chartdepot.conf.in through
# scripts/gen-nginx, and `nginx -t` accepts each of them.
. "$(dirname "$0")/../lib.sh"

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
gen=$ROOT/scripts/gen-nginx

# nginx -t on a whole config file, with its prefix and temp paths in TMP.
nginx_test() {
	local conf=$1 prefix=$2
	mkdir -p "$prefix/logs"
	"$nginx_bin" -t -q -p "$prefix/" -c "$conf" -e "$prefix/logs/error.log" >"$TMP/nginx-t.log" 2>&1 || {
		detail <"$TMP/nginx-t.log"
		return 1
	}
}

# The production site is a server block (plus http-level map/upstream) for
# Debian's sites-enabled: wrap it in a minimal nginx.conf the way Debian's
# own includes it.
wrap_site() {
	local site=$1 prefix=$2
	mkdir -p "$prefix/tmp"
	cat <<CONF
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log;
events { worker_connections 64; }
http {
	client_body_temp_path $prefix/tmp/body;
	fastcgi_temp_path $prefix/tmp/fastcgi;
	proxy_temp_path $prefix/tmp/proxy;
	scgi_temp_path $prefix/tmp/scgi;
	uwsgi_temp_path $prefix/tmp/uwsgi;
	access_log off;
	include $site;
}
CONF
}

# --- local variant (what run-local uses)
state=$TMP/local/state
mkdir -p "$state/nginx/tmp" "$TMP/local/charts"
STATE_DIR=$state STORAGE_LOCAL_ROOTDIR=$TMP/local/charts PORT=18080 "$gen" --local "$TMP/local.conf"
check "gen-nginx --local writes a config" test -s "$TMP/local.conf"
check "nginx -t passes on the local config" nginx_test "$TMP/local.conf" "$state/nginx"
check "the local config listens on 127.0.0.1:PORT only" \
	grep -qE '^\s*listen 127\.0\.0\.1:18080;' "$TMP/local.conf"
check "the local config runs nginx in the foreground" grep -qE '^daemon off;' "$TMP/local.conf"
check "the local config keeps pid, logs and temp files under STATE_DIR/nginx" \
	test "$(grep -cE "^\s*(pid|client_body_temp_path|fastcgi_temp_path|access_log|error_log) $state/nginx/" "$TMP/local.conf")" -ge 5
check "the local config passes to the socket in STATE_DIR" \
	grep -qF "server unix:$state/fcgi.sock;" "$TMP/local.conf"

# --- production site (what make install installs)
env -i PATH="$PATH" "$gen" --production "$TMP/site"
wrap_site "$TMP/site" "$TMP/prod" >"$TMP/prod.conf"
check "nginx -t passes on the production site" nginx_test "$TMP/prod.conf" "$TMP/prod"
check "the production site passes to /run/chartdepot/fcgi.sock" \
	grep -qF 'server unix:/run/chartdepot/fcgi.sock;' "$TMP/site"
check "the production site aliases the installed storage and index paths" \
	sh -c "grep -qF 'alias /var/lib/chartdepot/charts/;' '$TMP/site' && grep -qF 'alias /var/lib/chartdepot/state/index/;' '$TMP/site'"
check "the production site listens on PORT (default 8080)" grep -qE '^\s*listen 8080;' "$TMP/site"

# --- one template: the server blocks are the same apart from paths and listen
norm() {
	sed -e 's/^\t\t*//' -e '/^\s*#/d' -e '/^\s*$/d' \
	    -e 's|/[^ ;]*/fcgi.sock|SOCK|' -e 's|alias /[^;]*;|alias X;|' \
	    -e 's|_log /[^ ;]*|_log X|' -e 's|listen [^;]*;|listen X;|' \
	    -e '/limit_req/d' "$1"
}
sed -n '/^\t# chartdepot — nginx site/,$p' "$TMP/local.conf" | sed '$d' >"$TMP/local-site"
check "the local server block and the production site come from the same template" \
	diff <(norm "$TMP/local-site") <(norm "$TMP/site")

# --- content every config carries
for f in "$TMP/local.conf" "$TMP/site"; do
	kind=$([ "$f" = "$TMP/site" ] && echo production || echo local)
	check "$kind: nginx asks the workers to keep connections (fastcgi_keep_conn on)" \
		grep -qE '^\s*fastcgi_keep_conn on;' "$f"
	check "$kind: only GETs go to the group whose connections nginx keeps" python3 - "$f" <<'PY'
import re, sys
conf = open(sys.argv[1]).read()
groups = dict(re.findall(r"upstream (\w+) \{([^}]*)\}", conf))
m = re.search(r"map \$request_method \$chartdepot_upstream \{([^}]*)\}", conf)
rows = dict(l.split() for l in m.group(1).replace(";", "").strip().splitlines())
kept = [g for g, body in groups.items() if "keepalive" in body]
ok = (rows == {"GET": "chartdepot_fcgi_reads", "default": "chartdepot_fcgi"}
      and kept == ["chartdepot_fcgi_reads"]
      and "fastcgi_pass $chartdepot_upstream;" in conf)
sys.exit(0 if ok else 1)
PY
	check "$kind: REQUEST_URI is passed raw" grep -qE '^\s*fastcgi_param REQUEST_URI\s+\$request_uri;' "$f"
	check "$kind: client_max_body_size is ChartMuseum's 20 MiB default" grep -qE '^\s*client_max_body_size 20m;' "$f"
	check "$kind: /@cd/charts/, /@cd/index/ and /@cd/index-gz/ are internal" \
		test "$(grep -cE '^\s*internal;' "$f")" -ge 3
	check "$kind: server_tokens off" grep -qE '^\s*server_tokens off;' "$f"
	check "$kind: 413 is answered as JSON" grep -qE '^\s*error_page 413 ' "$f"
done

# --- settings that reach the config
env -i PATH="$PATH" MAX_UPLOAD_SIZE=5m PORT=9443 "$gen" --production "$TMP/site-5m"
check "MAX_UPLOAD_SIZE becomes client_max_body_size" grep -qE '^\s*client_max_body_size 5m;' "$TMP/site-5m"
if env -i PATH="$PATH" PORT=http "$gen" --production "$TMP/bad" 2>"$TMP/bad.err"; then
	fail "a bad PORT is refused"
else
	check "a bad PORT is refused with a message naming PORT" grep -q 'PORT' "$TMP/bad.err"
fi
if env -i PATH="$PATH" MAX_UPLOAD_SIZE=lots "$gen" --production "$TMP/bad" 2>"$TMP/bad.err"; then
	fail "a bad MAX_UPLOAD_SIZE is refused"
else
	check "a bad MAX_UPLOAD_SIZE is refused with a message naming it" grep -q 'MAX_UPLOAD_SIZE' "$TMP/bad.err"
fi

# --- TLS_CERT/TLS_KEY: listen with TLS, nginx -t still passes
if command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
	env -i PATH="$PATH" PORT=8443 TLS_CERT="$TMP/cert.pem" TLS_KEY="$TMP/key.pem" \
		"$gen" --production "$TMP/site-tls"
	check "TLS_CERT and TLS_KEY make the site listen with TLS" grep -qE '^\s*listen 8443 ssl;' "$TMP/site-tls"
	wrap_site "$TMP/site-tls" "$TMP/prod-tls" >"$TMP/prod-tls.conf"
	check "nginx -t passes on the TLS site" nginx_test "$TMP/prod-tls.conf" "$TMP/prod-tls"
	STATE_DIR=$state STORAGE_LOCAL_ROOTDIR=$TMP/local/charts PORT=18443 \
		TLS_CERT="$TMP/cert.pem" TLS_KEY="$TMP/key.pem" "$gen" --local "$TMP/local-tls.conf"
	check "nginx -t passes on the local TLS config" nginx_test "$TMP/local-tls.conf" "$state/nginx"
else
	fail "openssl is available to make a test certificate (scripts/install-deps)"
fi

finish
