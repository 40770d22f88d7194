#!/usr/bin/env python3
"""readers.py — clients that keep reading while the server is restarted,
for tests/integration/88-fault-restarts.sh.

    readers.py BASE EXPECT_JSON THREADS STOP_FILE

EXPECT_JSON maps each path to read ("/charts/x-1.0.0.tgz") to the sha256
of its bytes, and "/index.yaml" to {name-version: digest} of the index.
Threads loop over the paths until STOP_FILE exists.  Each answer is one of:
  good     200, as many bytes as Content-Length, the right digest (for the
           index: it parses and lists exactly the expected versions)
  refused  the connection was refused (nothing listening)
  reset    the connection was closed before a byte of the answer
  pool     502 or 503 with a JSON error: nginx up, the worker pool not
  bad      anything else: a short body, a reset mid-body, a wrong digest,
           another status
Prints "counts good=N refused=N reset=N pool=N bad=N" and one "bad ..." line per
bad answer (10 at most).
"""
import hashlib
import http.client
import json
import os
import sys
import threading
import urllib.parse

import yaml

base, expect_file, nthreads, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
expect = json.load(open(expect_file))
u = urllib.parse.urlsplit(base)
paths = sorted(expect)
lock = threading.Lock()
counts = {"good": 0, "refused": 0, "reset": 0, "pool": 0, "bad": 0}
bad = []
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def judge(path):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        try:
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
        except ConnectionRefusedError:
            return "refused", None
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            # Closed before a byte of the answer: a connection nginx had
            # not accepted yet when it closed its listening socket.
            return "reset", None
        except Exception as e:
            return "bad", "%s: before the answer: %s: %s" % (path, type(e).__name__, e)
        try:
            data = r.read()  # raises IncompleteRead on a short body
        except Exception as e:
            return "bad", "%s: during the body: %s: %s" % (path, type(e).__name__, e)
    finally:
        c.close()
    cl = r.getheader("Content-Length")
    if r.status in (502, 503):
        try:
            if json.loads(data).get("error"):
                return "pool", None
        except Exception:
            pass
        return "bad", "%s: %d without a JSON error: %r" % (path, r.status, data[:100])
    if r.status != 200:
        return "bad", "%s: status %d: %r" % (path, r.status, data[:100])
    if cl is not None and int(cl) != len(data):
        return "bad", "%s: %d bytes, Content-Length %s" % (path, len(data), cl)
    want = expect[path]
    if isinstance(want, dict):
        try:
            idx = yaml.load(data, Loader=Loader)
            got = {"%s-%s" % (n, e["version"]): e["digest"] for n, es in idx["entries"].items() for e in es}
        except Exception as e:
            return "bad", "%s: does not parse (%d bytes): %s" % (path, len(data), e)
        if got != want:
            return "bad", "%s: lists %d versions, want %d (or digests differ)" % (path, len(got), len(want))
        return "good", None
    if hashlib.sha256(data).hexdigest() != want:
        return "bad", "%s: sha256 differs (%d bytes)" % (path, len(data))
    return "good", None


def loop(t):
    i = t
    while not os.path.exists(stop):
        kind, why = judge(paths[i % len(paths)])
        i += 1
        with lock:
            counts[kind] += 1
            if why and len(bad) < 10:
                bad.append(why)


ts = [threading.Thread(target=loop, args=(t,)) for t in range(nthreads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("counts " + " ".join("%s=%d" % kv for kv in counts.items()), flush=True)
for b in bad:
    print("bad " + b)
