#!/usr/bin/env python3
"""authmatrix.py — every route × every refused credential variant, for
tests/integration/82-auth-every-route.sh.

    authmatrix.py BASE USER PASSWORD CHART_DIR

Prints one "FAIL ..." line per request that is not 401 + WWW-Authenticate:
Basic realm="chartdepot" + a JSON error (HEAD: no body), then a summary
"ok ..." line or a "FAIL ..." one; then checks that the read routes with
the right credentials are not 401.
"""
import base64
import http.client
import json
import sys
import urllib.parse

base, user, password, charts = sys.argv[1:5]
u = urllib.parse.urlsplit(base)
prefix = u.path.rstrip("/")

ROUTES = [
    ("GET", "/", None), ("HEAD", "/", None), ("GET", "/metrics", None),
    ("GET", "/index.yaml", None), ("HEAD", "/index.yaml", None),
    ("GET", "/charts/mychart-0.1.0.tgz", None), ("HEAD", "/charts/mychart-0.1.0.tgz", None),
    ("GET", "/charts/mychart-0.1.0.tgz.prov", None),
    ("GET", "/api/charts", None), ("HEAD", "/api/charts", None),
    ("GET", "/api/charts/mychart", None), ("HEAD", "/api/charts/mychart", None),
    ("GET", "/api/charts/mychart/0.1.0", None), ("GET", "/api/charts/mychart/latest", None),
    ("GET", "/api/charts/mychart/0.1.0/templates", None), ("GET", "/api/charts/mychart/0.1.0/values", None),
    ("POST", "/api/charts", "newchart-1.0.0.tgz"), ("POST", "/api/charts?force", "newchart-1.0.0.tgz"),
    ("POST", "/api/prov", "mychart-0.1.0.tgz.prov"),
    ("DELETE", "/api/charts/mychart/0.2.0", None),
    ("GET", "/team/index.yaml", None), ("GET", "/team/charts/mychart-0.1.0.tgz", None),
    ("GET", "/api/team/charts", None), ("GET", "/api/team/charts/mychart/0.1.0", None),
    ("POST", "/api/team/charts", "newchart-1.0.0.tgz"),
    ("DELETE", "/api/team/charts/mychart/0.1.0", None),
]


def b64(s):
    return base64.b64encode(s.encode()).decode()


VARIANTS = [
    ("no credentials", None),
    ("wrong password", "Basic " + b64(user + ":wrong-password")),
    ("unknown user", "Basic " + b64("nobody:" + password)),
    ("empty user and password", "Basic " + b64(":")),
    ("the user without a password", "Basic " + b64(user + ":")),
    ("the password with a trailing newline", "Basic " + b64(user + ":" + password + "\n")),
    ("the user in another case", "Basic " + b64(user.upper() + ":" + password)),
    ("malformed: not base64", "Basic !!!notbase64"),
    ("malformed: base64 without a colon", "Basic " + b64(user)),
    ("malformed: Basic with no value", "Basic"),
    ("malformed: Basic and a space", "Basic "),
    ("malformed: two values", "Basic %s %s" % (b64(user + ":x"), b64(user + ":y"))),
    ("malformed: 5000 bytes", "Basic " + "A" * 5000),
    ("non-Basic scheme: Bearer", "Bearer " + password),
    ("non-Basic scheme: Digest", 'Digest username="%s", realm="chartdepot"' % user),
    ("non-Basic scheme: Negotiate", "Negotiate " + b64(user + ":" + password)),
]
GOOD = "Basic " + b64(user + ":" + password)


def request(method, path, body_file, auth):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Connection": "close"}
    if auth is not None:
        headers["Authorization"] = auth
    body = open(charts + "/" + body_file, "rb").read() if body_file else None
    c.request(method, prefix + path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("WWW-Authenticate"), data


bad = good = 0
for method, path, body in ROUTES:
    for what, auth in VARIANTS:
        status, wa, data = request(method, path, body, auth)
        why = None
        if status != 401 or wa != 'Basic realm="chartdepot"':
            why = "status %d, WWW-Authenticate %r" % (status, wa)
        elif method != "HEAD":
            try:
                j = json.loads(data)
                if not (isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"]):
                    why = "401 body is not a JSON error: %r" % data[:100]
            except Exception:
                why = "401 body is not JSON: %r" % data[:100]
        if why:
            bad += 1
            print("FAIL %s %s with %s: %s" % (method, path, what, why))
        else:
            good += 1
line = "%d routes × %d credential variants answer 401 + WWW-Authenticate + a JSON error (%d of %d)" % (
    len(ROUTES), len(VARIANTS), good, good + bad)
print(("ok " if bad == 0 else "FAIL ") + line)

wrong = []
for method, path, body in ROUTES:
    if method in ("GET", "HEAD"):
        status, _, _ = request(method, path, body, GOOD)
        if status == 401 or status >= 500:
            wrong.append("%s %s: %d" % (method, path, status))
print(("ok " if not wrong else "FAIL ") + "every read route with the right credentials answers neither 401 nor 5xx" +
      ("" if not wrong else ": " + "; ".join(wrong)))
