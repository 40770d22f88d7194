#!/usr/bin/env python3
"""killwatch.py — SIGKILLs the chartdepot-fcgi worker that is writing an
upload, the moment it holds a new file in DIR open, for the fault tests.

    killwatch.py DIR MASTER_PID TIMEOUT_S

Uploads are written to an unnamed O_TMPFILE in DIR (/proc shows it as
"DIR/#<inode> (deleted)") or, where that is unsupported, to a ".cd-tmp-*"
file.  The workers (children of MASTER_PID) are polled through /proc for
such a file open; the first one seen is SIGKILLed and "killed PID while it
held NAME" printed.  A ".cd-tmp-*" or ".tgz" name that appears (inotify)
with no worker holding a temp file means the write finished first: "late
NAME", nothing killed.  Prints "ready" once watching; exits 1
on timeout.
"""
import ctypes
import os
import select
import signal
import struct
import sys
import time

IN_CREATE = 0x100
directory, master, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
directory = os.path.realpath(directory)
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
if fd < 0 or libc.inotify_add_watch(fd, directory.encode(), IN_CREATE) < 0:
    print("inotify failed: errno %d" % ctypes.get_errno())
    sys.exit(2)


def workers():
    try:
        kids = open("/proc/%d/task/%d/children" % (master, master)).read().split()
    except OSError:
        return []
    return [int(k) for k in kids]


def is_temp(target):
    """An upload being written in directory: unnamed or .cd-tmp-."""
    head, _, name = target.partition(directory + "/")
    if head or not name or "/" in name:
        return False
    return (name.startswith("#") and name.endswith(" (deleted)")) or name.startswith(".cd-tmp-")


def writer():
    """(pid, name) of a worker holding a temp file in directory, or None."""
    for w in workers():
        try:
            fds = os.listdir("/proc/%d/fd" % w)
        except OSError:
            continue
        for f in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (w, f))
            except OSError:
                continue
            if is_temp(target):
                return w, target[len(directory) + 1:]
    return None


print("ready", flush=True)
deadline = time.monotonic() + timeout
late = None
while time.monotonic() < deadline:
    hit = writer()
    if hit is not None:
        os.kill(hit[0], signal.SIGKILL)
        print("killed %d while it held %s" % hit, flush=True)
        sys.exit(0)
    r, _, _ = select.select([fd], [], [], 0.001)
    if r:
        buf = os.read(fd, 65536)
        off = 0
        while off < len(buf):
            _, mask, _, n = struct.unpack_from("iIII", buf, off)
            name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode()
            off += 16 + n
            # A temp name, or the final name linked into place: the
            # write is over unless a worker still holds a temp file.
            if name.startswith(".cd-tmp-") or name.endswith(".tgz"):
                late = name
        if late is not None and writer() is None:
            print("late %s" % late, flush=True)
            sys.exit(0)
print("timeout", flush=True)
sys.exit(1)
