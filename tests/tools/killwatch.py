#!/usr/bin/env python3
"""killwatch.py — SIGKILLs the chartdepot-fcgi worker that is writing an
upload, the moment its temp file appears, for the fault tests.

    killwatch.py DIR MASTER_PID TIMEOUT_S

Watches DIR with inotify (IN_CREATE) for a ".cd-tmp-*" file, finds the
worker (a child of MASTER_PID) holding it open, SIGKILLs it and prints
"killed PID while it held NAME".  When no worker holds it any more (the
write finished first) it prints "late NAME" and kills nothing.  Prints
"ready" once the watch is in place; exits 1 on timeout.
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
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
if fd < 0 or libc.inotify_add_watch(fd, directory.encode(), IN_CREATE) < 0:
    print("inotify failed: errno %d" % ctypes.get_errno())
    sys.exit(2)
print("ready", flush=True)


def workers():
    try:
        kids = open("/proc/%d/task/%d/children" % (master, master)).read().split()
    except OSError:
        return []
    return [int(k) for k in kids]


def holder(path):
    for w in workers():
        try:
            for f in os.listdir("/proc/%d/fd" % w):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (w, f)) == path:
                        return w
                except OSError:
                    pass
        except OSError:
            pass
    return None


deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    buf = os.read(fd, 65536)
    off = 0
    while off < len(buf):
        _, mask, _, n = struct.unpack_from("iIII", buf, off)
        name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode()
        off += 16 + n
        if not name.startswith(".cd-tmp-"):
            continue
        path = os.path.join(directory, name)
        for _ in range(200):  # the worker opens it as it creates it
            w = holder(path)
            if w is not None or not os.path.exists(path):
                break
        if w is None:
            print("late %s" % name, flush=True)
            sys.exit(0)
        os.kill(w, signal.SIGKILL)
        print("killed %d while it held %s" % (w, name), flush=True)
        sys.exit(0)
print("timeout", flush=True)
sys.exit(1)
