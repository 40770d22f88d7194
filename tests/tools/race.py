#!/usr/bin/env python3
"""race.py — concurrent clients for tests/integration/87-fault-races.sh.

    race.py same BASE STORAGE ROUNDS CLIENTS
        Per round, CLIENTS threads released by one barrier upload the same
        name and version with different bytes.  Prints ok/FAIL lines: exactly
        one 201 and the rest 409; the stored file is the winner's bytes.

    race.py mixed BASE CHART_DIR UPLOADERS DELETERS READERS PER_CLIENT
        UPLOADERS threads upload up-<u>-<k> charts, DELETERS delete the
        pre-uploaded del-<d>-<k> charts, READERS fetch index.yaml (parsed:
        never truncated) and a chart that stays, until the writers are done.
        Prints ok/FAIL lines and writes nothing else.

Every request has its own connection and a 60 s timeout.
"""
import hashlib
import http.client
import io
import sys
import tarfile
import threading
import time
import urllib.parse

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def conn(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60), u.path.rstrip("/")


def req(base, method, path, body=None):
    c, prefix = conn(base)
    try:
        c.request(method, prefix + path, body=body, headers={"Connection": "close"})
        r = c.getresponse()
        data = r.read()
        return r.status, data, r.getheader("Content-Length")
    except Exception as e:
        return 0, str(e).encode(), None
    finally:
        c.close()


def chart(name, version, desc):
    files = {"Chart.yaml": ("apiVersion: v2\nname: %s\nversion: %s\ndescription: %s\n" % (name, version, desc)).encode()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for p, d in files.items():
            ti = tarfile.TarInfo("%s/%s" % (name, p)); ti.size = len(d); ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(d))
    return buf.getvalue()


def report(ok, desc):
    print(("ok " if ok else "FAIL ") + desc, flush=True)


def same(base, storage, rounds, clients):
    for rnd in range(rounds):
        version = "1.0.%d" % rnd
        bodies = [chart("contended", version, "client %d" % i) for i in range(clients)]
        results = [None] * clients
        barrier = threading.Barrier(clients)

        def run(i):
            barrier.wait()
            results[i] = req(base, "POST", "/api/charts", bodies[i])[0]
        ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        n201 = results.count(201)
        n409 = results.count(409)
        report(n201 == 1 and n409 == clients - 1,
               "round %d: %d clients upload contended-%s at once: exactly one 201, %d × 409 (got %s)"
               % (rnd, clients, version, clients - 1, sorted(results)))
        try:
            stored = open("%s/contended-%s.tgz" % (storage, version), "rb").read()
        except OSError:
            stored = None
        winner = [bodies[i] for i in range(clients) if results[i] == 201]
        report(stored is not None and len(winner) == 1 and stored == winner[0],
               "round %d: the stored file is the winner's bytes" % rnd)


def mixed(base, chart_dir, uploaders, deleters, readers, per):
    lock = threading.Lock()
    statuses = {"upload": [], "delete": [], "read-index": [], "read-chart": []}
    problems = []
    done = threading.Event()
    keep = open("%s/keep-1.0.0.tgz" % chart_dir, "rb").read()

    def note(kind, st, what=None):
        with lock:
            statuses[kind].append(st)
            if what:
                problems.append(what)

    def uploader(u):
        for k in range(per):
            body = open("%s/up%d-1.0.%d.tgz" % (chart_dir, u, k), "rb").read()
            st, data, _ = req(base, "POST", "/api/charts", body)
            note("upload", st, None if st == 201 else "upload up%d 1.0.%d: %d %r" % (u, k, st, data[:100]))

    def deleter(d):
        for k in range(per):
            st, data, _ = req(base, "DELETE", "/api/charts/del%d/1.0.%d" % (d, k))
            note("delete", st, None if st == 200 else "delete del%d 1.0.%d: %d %r" % (d, k, st, data[:100]))

    def reader(r):
        while not done.is_set():
            st, data, cl = req(base, "GET", "/index.yaml")
            why = None
            if st != 200:
                why = "GET /index.yaml: %d %r" % (st, data[:100])
            elif cl is not None and int(cl) != len(data):
                why = "GET /index.yaml: %d bytes, Content-Length %s" % (len(data), cl)
            else:
                try:
                    idx = yaml.load(data, Loader=Loader)
                    if "keep" not in idx["entries"]:
                        why = "GET /index.yaml: the chart that stays is missing"
                except Exception as e:
                    why = "GET /index.yaml: does not parse: %s" % e
            note("read-index", st, why)
            st, data, _ = req(base, "GET", "/charts/keep-1.0.0.tgz")
            note("read-chart", st, None if st == 200 and data == keep else
                 "GET keep-1.0.0.tgz: %d, %d bytes" % (st, len(data)))

    writers = [threading.Thread(target=uploader, args=(u,)) for u in range(uploaders)]
    writers += [threading.Thread(target=deleter, args=(d,)) for d in range(deleters)]
    rs = [threading.Thread(target=reader, args=(r,)) for r in range(readers)]
    t0 = time.monotonic()
    for t in rs + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in rs:
        t.join()
    took = time.monotonic() - t0
    total = sum(len(v) for v in statuses.values())
    fivexx = sum(1 for v in statuses.values() for s in v if s >= 500 or s == 0)
    report(fivexx == 0, "%d requests in %.1f s (%d uploaders, %d deleters, %d readers): no 5xx, no failed request (%d)"
           % (total, took, uploaders, deleters, readers, fivexx))
    report(statuses["upload"].count(201) == uploaders * per,
           "every upload answered 201 (%d of %d)" % (statuses["upload"].count(201), uploaders * per))
    report(statuses["delete"].count(200) == deleters * per,
           "every delete answered 200 (%d of %d)" % (statuses["delete"].count(200), deleters * per))
    bad_reads = [p for p in problems if p.startswith("GET")]
    report(not bad_reads and len(statuses["read-index"]) > 0,
           "every index read (%d) was 200, whole, parsed, and held the chart that stays; every chart read the exact bytes"
           % len(statuses["read-index"]))
    for p in problems[:10]:
        print("detail " + p)


if __name__ == "__main__":
    if sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        mixed(sys.argv[2], sys.argv[3], *map(int, sys.argv[4:8]))
