#!/usr/bin/env python3
"""hostile.py — writes hostile upload bodies for tests/integration/80-hostile-uploads.sh.

    hostile.py OUT_DIR

Every byte is a function of this file alone (fixed mtimes, no randomness),
so a failure reproduces.  Nothing here is committed as a blob: the suite
makes it each run.  Writes OUT_DIR/<id>.body and OUT_DIR/manifest.tsv, one
line per upload:

    id  endpoint  content-type  want-status  error-regex  what

endpoint is "charts" or "prov" (POST /api/<endpoint>); error-regex is a
Python regex the JSON error must match (case-insensitive), so a 400 that
says nothing about what is wrong fails the test.  Archive cases appear
twice: sent raw and as a multipart "chart" field.

Gzip bombs use concatenated gzip members (RFC 1952 section 2.2: a gzip
file is a series of members): one compressed block of zeros written many
times, so a ~1 MB body expands to 1 GiB without compressing 1 GiB here.
"""
import gzip
import io
import os
import sys
import tarfile
import zlib

MTIME = 1700000000
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
manifest = []

TPL = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"


def chart_yaml(name="mychart", version="0.1.0", extra=b""):
    return b"apiVersion: v2\nname: " + name.encode() + b"\nversion: " + version.encode() + \
        b"\ndescription: hostile test\n" + extra


def tinfo(path, size=0, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(path)
    ti.size, ti.mode, ti.mtime, ti.type, ti.linkname = size, 0o644, MTIME, kind, link
    ti.uname = ti.gname = "root"
    return ti


def tar_bytes(members, fmt=tarfile.GNU_FORMAT):
    """members: (path, data) or (TarInfo, data)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for path, data in members:
            ti = path if isinstance(path, tarfile.TarInfo) else tinfo(path, len(data))
            t.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


def tar_stream(members):
    """Tar entries with no end-of-archive blocks (tarfile pads to 10 KiB of
    zeros, which would end the archive before what we append)."""
    out = b""
    for path, data in members:
        out += tinfo(path, len(data)).tobuf(tarfile.GNU_FORMAT) + data + b"\0" * (-len(data) % 512)
    return out


def gz(data):
    return gzip.compress(data, 9, mtime=MTIME)


def ok_members(cy, top="mychart"):
    return [(top + "/Chart.yaml", cy), (top + "/templates/cm.yaml", TPL)]


def multipart(fields, boundary="hostileBoundary7MA4YWxkTrZu0gW"):
    out = b""
    for name, fname, data in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        out += b'Content-Disposition: form-data; name="' + name.encode() + b'"'
        if fname:
            out += b'; filename="' + fname.encode() + b'"'
        out += b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def emit(ident, body, endpoint="charts", ctype="application/octet-stream", status=400,
         regex=".", what=""):
    open(os.path.join(OUT, ident + ".body"), "wb").write(body)
    manifest.append((ident, endpoint, ctype, str(status), regex, what or ident))


def archive(ident, body, regex, what, status=400):
    """An archive case: raw and as a multipart field."""
    emit("raw-" + ident, body, regex=regex, what="raw " + what, status=status)
    mp, ct = multipart([("chart", ident + ".tgz", body)])
    emit("form-" + ident, mp, ctype=ct, regex=regex, what="multipart " + what, status=status)


def zeros_members(total, chunk=16 << 20):
    """gzip members that decompress to `total` zero bytes."""
    member = gz(b"\0" * chunk)
    n, rest = divmod(total, chunk)
    return member * n + (gz(b"\0" * rest) if rest else b"")


# --- names and paths --------------------------------------------------------
archive("name-slash", gz(tar_bytes(ok_members(chart_yaml(name="a/b")))),
        r"name", "chart named a/b")
archive("name-dotdot", gz(tar_bytes(ok_members(chart_yaml(name="..")))),
        r"name", "chart named ..")
archive("name-path", gz(tar_bytes(ok_members(chart_yaml(name="../../../canary")))),
        r"name", "chart named ../../../canary")
archive("name-absolute", gz(tar_bytes(ok_members(chart_yaml(name="/etc/passwd")))),
        r"name", "chart named /etc/passwd")
archive("entry-dotdot", gz(tar_bytes(ok_members(chart_yaml()) + [("mychart/../../escape.yaml", TPL)])),
        r"\.\.|path|outside", "tar entry mychart/../../escape.yaml")
archive("entry-absolute", gz(tar_bytes(ok_members(chart_yaml()) + [("/tmp/escape.yaml", TPL)])),
        r"absolute|path|/tmp", "tar entry with an absolute path")
archive("entry-symlink", gz(tar_bytes(ok_members(chart_yaml()) + [
    (tinfo("mychart/templates/passwd.yaml", 0, tarfile.SYMTYPE, "/etc/passwd"), b"")])),
    r"link", "tar symlink to /etc/passwd")
archive("entry-hardlink", gz(tar_bytes(ok_members(chart_yaml()) + [
    (tinfo("mychart/templates/hard.yaml", 0, tarfile.LNKTYPE, "mychart/Chart.yaml"), b"")])),
    r"link", "tar hardlink")
archive("entry-device", gz(tar_bytes(ok_members(chart_yaml()) + [
    (tinfo("mychart/templates/dev", 0, tarfile.CHRTYPE), b"")])),
    r"regular|device|not a", "tar character device entry")
archive("entry-fifo", gz(tar_bytes(ok_members(chart_yaml()) + [
    (tinfo("mychart/templates/fifo", 0, tarfile.FIFOTYPE), b"")])),
    r"regular|fifo|not a", "tar FIFO entry")
archive("chart-yaml-at-root", gz(tar_bytes([("Chart.yaml", chart_yaml()), ("templates/cm.yaml", TPL)])),
        r"chart\.yaml|director", "Chart.yaml at the archive root")
archive("chart-yaml-two-deep", gz(tar_bytes([("a/mychart/Chart.yaml", chart_yaml()),
                                              ("a/mychart/templates/cm.yaml", TPL)])),
        r"chart\.yaml|director", "Chart.yaml two levels deep")
archive("no-chart-yaml", gz(tar_bytes([("mychart/values.yaml", b"a: 1\n"), ("mychart/templates/cm.yaml", TPL)])),
        r"chart\.yaml", "archive without Chart.yaml")
archive("two-top-dirs", gz(tar_bytes(ok_members(chart_yaml()) + [("other/x.yaml", TPL)])),
        r"director|top", "entries under two top directories")

# --- sizes --------------------------------------------------------------------
# One entry that claims (and holds) 1 GiB of zeros.
hdr = tar_stream(ok_members(chart_yaml()))  # no end-of-archive blocks: more entries follow
bomb = tinfo("mychart/files/bomb.bin", 1 << 30).tobuf(tarfile.GNU_FORMAT)
archive("gzip-bomb-one-file", gz(hdr + bomb) + zeros_members((1 << 30) + 1024),
        r"larger|size|MiB", "gzip bomb: ~1 MB expanding to one 1 GiB entry")
# 256 entries of 4 MiB each (each under Helm's 5 MiB per-file limit).
body = gz(hdr)
four = gz(b"\0" * (4 << 20))
for i in range(256):
    body += gz(tinfo("mychart/files/z%03d.bin" % i, 4 << 20).tobuf(tarfile.GNU_FORMAT)) + four
body += gz(b"\0" * 1024)
archive("gzip-bomb-many-files", body, r"larger|decompressed|MiB",
        "gzip bomb: ~1 MB expanding to 256 entries of 4 MiB (1 GiB)")
# gzip of 1 GiB of zeros, no tar structure at all.
archive("gzip-bomb-zeros", zeros_members(1 << 30), r"empty|archive|chart|tar",
        "gzip bomb: 1 GiB of zeros with no tar header")
# A million empty entries: 1000 identical header blocks per member, 1000 members.
hdr_empty = tinfo("mychart/e", 0).tobuf(tarfile.GNU_FORMAT)
archive("million-entries", gz(hdr) + gz(hdr_empty * 1000) * 1000 + gz(b"\0" * 1024),
        r"entries", "tar with a million empty entries")
archive("chart-yaml-6mib", gz(tar_bytes(ok_members(chart_yaml(extra=b"# " + b"a" * (6 << 20) + b"\n")))),
        r"larger|MiB|size", "Chart.yaml over 5 MiB")

# --- YAML ---------------------------------------------------------------------
laughs = b"x: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
for i in range(1, 10):
    laughs += b"x%d: &a%d [%s]\n" % (i, i, b", ".join([b"*a%d" % (i - 1)] * 10))
archive("yaml-alias-bomb", gz(tar_bytes(ok_members(chart_yaml(extra=laughs)))),
        r"alias|nodes|too many|large", "YAML alias bomb (billion laughs) in Chart.yaml")
archive("yaml-deep-nesting", gz(tar_bytes(ok_members(chart_yaml(extra=b"deep: " + b"[" * 20000 + b"]" * 20000 + b"\n")))),
        r"nest|deep|depth", "YAML nested 20,000 levels deep")
archive("invalid-utf8", gz(tar_bytes(ok_members(b"apiVersion: v2\nname: mychart\nversion: 0.1.0\ndescription: \"\xff\xfe\xc0\xaf\"\n"))),
        r"utf-?8|encoding|invalid|character", "invalid UTF-8 in Chart.yaml")
archive("yaml-not-yaml", gz(tar_bytes(ok_members(b"name: [unclosed\nversion: {{\n"))),
        r"yaml|chart\.yaml", "Chart.yaml that is not YAML")
archive("type-weird", gz(tar_bytes(ok_members(chart_yaml(extra=b"type: weird\n")))),
        r"type", "type: weird")
for v in ("1.2.3.4", "1.2.3-01", "latest", ""):
    archive("version-" + (v or "empty"), gz(tar_bytes(ok_members(chart_yaml(version=v)))),
            r"version", "version %r (Helm rejects it)" % v)

# --- framing --------------------------------------------------------------------
valid = gz(tar_bytes(ok_members(chart_yaml()) + [("mychart/values.yaml", bytes(range(256)) * 64)]))
archive("not-gzip", b"this is not a chart\n" * 10, r"gzip|archive|format", "body that is not gzip")
archive("truncated-gzip", valid[: len(valid) // 2], r"truncat|archive|gzip|unexpected|eof|damaged",
        "gzip truncated in the middle")
archive("gzip-not-tar", gz(b"plain text, no tar\n" * 50), r"archive|tar|format|empty",
        "gzip that holds no tar")
archive("prov-as-chart", b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: x\n",
        r"provenance", "a provenance file sent as the chart")
emit("raw-empty-body", b"", regex=r"empty", what="raw empty body")
mp, ct = multipart([("chart", "empty.tgz", b"")])
emit("form-empty-field", mp, ctype=ct, regex=r"empty", what="multipart with an empty chart field")

# --- multipart ------------------------------------------------------------------
mp, _ = multipart([("chart", "c.tgz", valid)])
emit("form-missing-boundary", mp, ctype="multipart/form-data", regex=r"boundary",
     what="multipart without a boundary parameter")
emit("form-wrong-boundary", mp, ctype="multipart/form-data; boundary=notTheOneUsed",
     regex=r"boundary|multipart|form|part", what="multipart whose boundary never appears")
# A delimiter line inside the file's bytes cuts the part: the archive is truncated.
cut = len(valid) // 2
inj = valid[:cut] + b"\r\n--hostileBoundary7MA4YWxkTrZu0gW\r\n" + valid[cut:]
mp, ct = multipart([("chart", "c.tgz", inj)])
emit("form-boundary-in-data", mp, ctype=ct, regex=r"archive|gzip|truncat|part|multipart|header|damaged",
     what="multipart with a delimiter line inside the chart bytes")
mp, ct = multipart([("chart", "c.tgz", valid)])
emit("form-unterminated", mp[: -len(b"--hostileBoundary7MA4YWxkTrZu0gW--\r\n") - 2], ctype=ct,
     regex=r"multipart|part|boundary|terminat|end", what="multipart with an unterminated part")
emit("form-no-closing", mp[:-len(b"--\r\n")] + b"\r\n", ctype=ct,
     regex=r"multipart|part|boundary|terminat|end|chart|archive", what="multipart without the closing delimiter")
mp, ct = multipart([("f%d" % i, None, b"x") for i in range(10000)])
emit("form-10000-parts", mp, ctype=ct, regex=r"parts|many", what="multipart with 10,000 parts")
mp, ct = multipart([("other", "c.tgz", valid)])
emit("form-no-chart-field", mp, ctype=ct, regex=r"form field|chart", what="multipart without a chart field")
body = b"--hostileBoundary7MA4YWxkTrZu0gW\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n" + valid + \
    b"\r\n--hostileBoundary7MA4YWxkTrZu0gW--\r\n"
emit("form-huge-part-header", body, ctype=ct, regex=r"header|part|multipart",
     what="multipart part with 20 KB of headers")

# --- provenance ---------------------------------------------------------------
sha = __import__("hashlib").sha256(valid).hexdigest()
def prov(digest, sig=True, name="mychart", version="0.1.0"):
    p = (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" +
         chart_yaml(name, version) + b"\n...\nfiles:\n  " + ("%s-%s.tgz" % (name, version)).encode() +
         b": sha256:" + digest.encode() + b"\n")
    if sig:
        p += (b"-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAAAA\n=AAAA\n"
              b"-----END PGP SIGNATURE-----\n")
    return p
emit("prov-no-signature", prov(sha, sig=False), endpoint="prov", regex=r"signature",
     what="provenance file without a signature block")
emit("prov-not-prov", b"not a signature\n" * 4, endpoint="prov", regex=r"provenance|PGP",
     what="provenance upload that is not a provenance file")
mp, ct = multipart([("chart", "mychart-0.1.0.tgz", valid), ("prov", "mychart-0.1.0.tgz.prov", prov("0" * 64))])
emit("form-prov-sha-mismatch", mp, ctype=ct, regex=r"sha256|match",
     what="chart + provenance whose sha256 does not match the chart")
mp, ct = multipart([("chart", "mychart-0.1.0.tgz", valid), ("prov", "x.prov", prov(sha, sig=False))])
emit("form-prov-no-signature", mp, ctype=ct, regex=r"signature",
     what="chart + provenance without a signature block")
mp, ct = multipart([("chart", "mychart-0.1.0.tgz", valid), ("prov", "x.prov", prov(sha, name="other"))])
emit("form-prov-other-chart", mp, ctype=ct, regex=r"provenance|other",
     what="chart + provenance for another chart")
emit("prov-name-path", prov(sha, name="../../canary"), endpoint="prov", regex=r"name|valid",
     what="provenance naming chart ../../canary")

with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
    for row in manifest:
        f.write("\t".join(row) + "\n")
