"""The kernel ring buffer: /dev/kmsg records, and `dmesg` where /dev/kmsg cannot be read.

One reader for the fingerprint (the BBML2 "detected" line, ignored rodata=
options) and for the run's kernel log (what the kernel printed during a
run, for taint). /dev/kmsg returns one record per read():
"prio,seq,usec,flags;message\\n" followed by " KEY=value" continuation lines;
EPIPE means records were overwritten while reading and the next read resumes
after them. Every sequence number is exact, which `dmesg` timestamps are not.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from dataclasses import dataclass

KMSG = "/dev/kmsg"
RECORD_MAX = 16384       # a read() shorter than the record fails (EINVAL); records are at most 8 KiB
DMESG_TIMEOUT_S = 10.0   # a full ring buffer on a slow host prints in well under a second
_RECORD = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$")


@dataclass(frozen=True)
class KmsgRecord:
    seq: int
    t: float          # seconds since boot
    message: str


class DmesgError(Exception):
    """`dmesg` could not run, timed out or failed; str() says which."""


def read_kmsg(path: str = KMSG) -> list[KmsgRecord]:
    """Every record in the ring buffer, oldest first; OSError if the device cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    out = []
    try:
        while True:
            try:
                raw = os.read(fd, RECORD_MAX)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:
                    continue
                raise
            if not raw:
                break
            m = _RECORD.match(raw.decode("utf-8", errors="replace").split("\n", 1)[0])
            if m:
                out.append(KmsgRecord(int(m.group(2)), int(m.group(3)) / 1e6, m.group(4)))
    finally:
        os.close(fd)
    return out


def run_dmesg(exe: str = "dmesg", timeout: float = DMESG_TIMEOUT_S) -> str:
    """The output of `dmesg` (lines "[seconds] message"); DmesgError naming the failure."""
    try:
        proc = subprocess.run([exe], capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DmesgError(f"dmesg: {e}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise DmesgError(f"dmesg exit {proc.returncode}: {err[0] if err else ''}".rstrip(": "))
    return proc.stdout.decode("utf-8", errors="replace")
