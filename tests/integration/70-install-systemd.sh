#!/usr/bin/env bash
# `make install DESTDIR=... PREFIX=...` puts binaries, units, the nginx site
# and the env example in place; `systemd-analyze verify` accepts every unit;
# nginx -t accepts the installed site; `make uninstall` leaves nothing.
. "$(dirname "$0")/../lib.sh"

dest=$TMP/dest
prefix=/usr/local
mkdir -p "$dest"

if make -s -C "$ROOT" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$BUILD" >"$TMP/install.log" 2>&1; then
	pass "make install DESTDIR=... PREFIX=$prefix succeeds"
else
	fail "make install DESTDIR=... PREFIX=$prefix succeeds"
	detail <"$TMP/install.log"
	finish
fi

for f in "$prefix/bin/chartdepot-fcgi" "$prefix/bin/chartdepot-indexer"; do
	check "installs $f (executable)" test -x "$dest$f"
done
units=(chartdepot-fcgi.socket chartdepot-fcgi.service chartdepot-indexer.service)
for u in "${units[@]}"; do
	check "installs /lib/systemd/system/$u" test -f "$dest/lib/systemd/system/$u"
done
check "installs the sysusers snippet" test -f "$dest/usr/lib/sysusers.d/chartdepot.conf"
check "installs the tmpfiles snippet" test -f "$dest/usr/lib/tmpfiles.d/chartdepot.conf"
check "installs the nginx site" test -f "$dest/etc/nginx/sites-available/chartdepot"
check "installs the env example" test -f "$dest/etc/chartdepot/chartdepot.env.example"
check "installs an env file to start from" test -f "$dest/etc/chartdepot/chartdepot.env"
check "the env file is not world-readable (it may hold passwords)" \
	test "$(stat -c %a "$dest/etc/chartdepot/chartdepot.env")" = 640
check "the services run $prefix/bin binaries" \
	grep -qx "ExecStart=$prefix/bin/chartdepot-fcgi" "$dest/lib/systemd/system/chartdepot-fcgi.service"
check "no unit is left with a template placeholder" \
	sh -c "! grep -l '@[A-Z_]*@' '$dest'/lib/systemd/system/chartdepot*"

sock=$dest/lib/systemd/system/chartdepot-fcgi.socket
check "the socket is /run/chartdepot/fcgi.sock, 0660 chartdepot:www-data" \
	sh -c "grep -qx 'ListenStream=/run/chartdepot/fcgi.sock' '$sock' && grep -qx 'SocketUser=chartdepot' '$sock' && grep -qx 'SocketGroup=www-data' '$sock' && grep -qx 'SocketMode=0660' '$sock'"
for u in chartdepot-fcgi.service chartdepot-indexer.service; do
	f=$dest/lib/systemd/system/$u
	for k in User=chartdepot EnvironmentFile=/etc/chartdepot/chartdepot.env NoNewPrivileges=yes \
		ProtectSystem=strict ReadWritePaths=/var/lib/chartdepot PrivateTmp=yes ProtectHome=yes \
		PrivateDevices=yes RestrictAddressFamilies=AF_UNIX MemoryDenyWriteExecute=yes \
		SystemCallFilter=@system-service CapabilityBoundingSet=; do
		grep -qx -- "$k" "$f" || { fail "$u has $k"; continue 2; }
	done
	pass "$u is hardened (User, EnvironmentFile, NoNewPrivileges, ProtectSystem=strict, ...)"
done

# systemd-analyze verify resolves ExecStart= and the units' dependencies
# under --root: a copy of the installed tree plus the system's own units.
if command -v systemd-analyze >/dev/null 2>&1; then
	vroot=$TMP/vroot
	mkdir -p "$vroot"
	cp -a "$dest/." "$vroot/"
	cp -rn /lib/systemd/system/. "$vroot/lib/systemd/system/" 2>/dev/null || true
	if (cd "$vroot/lib/systemd/system" && systemd-analyze verify --man=no --root="$vroot" "${units[@]}") \
		>"$TMP/verify.log" 2>&1 && [ ! -s "$TMP/verify.log" ]; then
		pass "systemd-analyze verify passes on every unit, without a warning"
	else
		fail "systemd-analyze verify passes on every unit, without a warning"
		detail <"$TMP/verify.log"
	fi
	# And it does notice a broken one.
	sed -i "s|^ExecStart=.*|ExecStart=$prefix/bin/no-such-binary|" "$vroot/lib/systemd/system/chartdepot-indexer.service"
	if (cd "$vroot/lib/systemd/system" && systemd-analyze verify --man=no --root="$vroot" chartdepot-indexer.service) >/dev/null 2>&1; then
		fail "systemd-analyze verify rejects a unit whose binary is missing (the check has teeth)"
	else
		pass "systemd-analyze verify rejects a unit whose binary is missing (the check has teeth)"
	fi
else
	echo "skipped: systemd-analyze is not installed (apt-get install systemd)"
	fail "systemd-analyze is available (scripts/install-deps installs systemd)"
fi

# The installed site passes nginx -t inside a Debian-like nginx.conf.
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
p=$TMP/nginx
mkdir -p "$p/tmp" "$p/logs"
cat >"$TMP/nginx.conf" <<CONF
pid $p/nginx.pid;
error_log $p/logs/error.log;
events { worker_connections 64; }
http {
	client_body_temp_path $p/tmp/body;
	fastcgi_temp_path $p/tmp/fastcgi;
	proxy_temp_path $p/tmp/proxy;
	scgi_temp_path $p/tmp/scgi;
	uwsgi_temp_path $p/tmp/uwsgi;
	include $dest/etc/nginx/sites-available/chartdepot;
}
CONF
check "nginx -t passes on the installed site" \
	"$nginx_bin" -t -q -p "$p/" -c "$TMP/nginx.conf" -e "$p/logs/error.log"

# An existing env file is kept on reinstall.
echo "DEPTH=1" >>"$dest/etc/chartdepot/chartdepot.env"
make -s -C "$ROOT" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$BUILD" >"$TMP/install2.log" 2>&1 || true
check "a second make install keeps the existing chartdepot.env" grep -qx "DEPTH=1" "$dest/etc/chartdepot/chartdepot.env"
# The site follows the env file.
echo "PORT=9090" >>"$dest/etc/chartdepot/chartdepot.env"
make -s -C "$ROOT" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$BUILD" >"$TMP/install3.log" 2>&1 || true
check "the installed site listens on the env file's PORT" \
	grep -qE '^\s*listen 9090;' "$dest/etc/nginx/sites-available/chartdepot"
# Back to the pristine env file, so uninstall may remove it.
cp "$ROOT/systemd/chartdepot.env.example" "$dest/etc/chartdepot/chartdepot.env"

if make -s -C "$ROOT" uninstall DESTDIR="$dest" PREFIX="$prefix" >"$TMP/uninstall.log" 2>&1; then
	pass "make uninstall succeeds"
else
	fail "make uninstall succeeds"
	detail <"$TMP/uninstall.log"
fi
left=$(cd "$dest" && find . -mindepth 1 | sort)
if [ -z "$left" ]; then
	pass "make uninstall leaves nothing behind"
else
	fail "make uninstall leaves nothing behind"
	printf '%s\n' "$left" | detail
fi

# A changed env file survives uninstall (it is the admin's).
make -s -C "$ROOT" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$BUILD" >/dev/null 2>&1 || true
echo "DEPTH=2" >>"$dest/etc/chartdepot/chartdepot.env"
make -s -C "$ROOT" uninstall DESTDIR="$dest" PREFIX="$prefix" >/dev/null 2>&1 || true
left=$(cd "$dest" && find . -type f | sort)
check "make uninstall keeps a changed chartdepot.env and nothing else" \
	test "$left" = "./etc/chartdepot/chartdepot.env"

finish
