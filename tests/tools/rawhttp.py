#!/usr/bin/env python3
"""rawhttp.py — sends hand-made HTTP/1.1 requests, one connection each, and
judges the answers, for tests/integration/81-hostile-requests.sh.

    rawhttp.py HOST PORT CASES_FILE OUT_DIR CANARY...

CASES_FILE is Python: a list named CASES of (description, request bytes,
allowed statuses).  A case passes when the status is in the allowed set
and no response (headers or body) holds any CANARY string.  An allowed
status of 0 means "the server may close the connection without an
answer".  Prints "ok <desc>" / "FAIL <desc>: why" lines; every response is
kept in OUT_DIR/<n>.resp for a later grep.
"""
import os
import socket
import sys

host, port, cases_file, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
canaries = [c.encode() for c in sys.argv[5:]]
scope = {}
exec(open(cases_file).read(), scope)
os.makedirs(out, exist_ok=True)


def exchange(raw, half_close):
    s = socket.create_connection((host, port), timeout=15)
    try:
        s.sendall(raw)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


for n, case in enumerate(scope["CASES"]):
    desc, raw, allowed = case[0], case[1], case[2]
    half_close = case[3] if len(case) > 3 else False
    try:
        data = exchange(raw, half_close)
    except Exception as e:  # a refused connection is a failure here
        print("FAIL %s: %s" % (desc, e))
        continue
    open(os.path.join(out, "%03d.resp" % n), "wb").write(data)
    status = 0
    if data.startswith(b"HTTP/1."):
        try:
            status = int(data.split(b" ", 2)[1])
        except Exception:
            status = -1
    leaked = [c for c in canaries if c in data]
    # Every status line in the stream (a lying Content-Length can make two).
    statuses = []
    for line in data.split(b"\r\n"):
        f = line.split(b" ")
        if line.startswith(b"HTTP/1.") and len(f) > 1 and f[1].isdigit():
            statuses.append(int(f[1]))
    if leaked:
        print("FAIL %s: the response holds a canary (%s)" % (desc, leaked[0].decode()))
    elif any(s >= 500 for s in statuses):
        print("FAIL %s: a response is a 5xx (%s): %r" % (desc, statuses, data[:300]))
    elif status not in allowed:
        print("FAIL %s: status %d, want one of %s: %r" % (desc, status, sorted(allowed), data[:300]))
    else:
        print("ok %s (%d)" % (desc, status))
