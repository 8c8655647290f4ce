"""xfs_io pread/pwrite output (xfsprogs 6.1): bandwidth per command.

Two forms (see docs in workload-tools.md §5, from io/pread.c and libfrog/convert.c):

default, two lines per command:
    read 67108864/67108864 bytes at offset 0
    64 MiB, 64 ops; 0.0021 sec (28.435 GiB/sec and 29117.3794 ops/sec)
-C (compact CSV), one line per command:
    67108864,64,0:00:00.00,7236237222.342,6901.014

bandwidth_bytes_s is computed from whichever printed figure is the more
precise: TOTAL / time (TOTAL is exact, the time has 4 decimals below 1 s and
centiseconds above) or the printed rate (%.3f in its unit, or a whole number
of its unit). A 4 GiB read in 0.1359 s carries +-0.04 % from the time; a 64 MiB
read in 0.0021 s carries +-2.4 %, where the printed rate (28.435 GiB/s, +-0.002 %)
is far better; -C always prints the rate to 1e-3 B/s.
"""

from __future__ import annotations

import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, is_transcript_line, lines, to_float, match_version

_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60}
_U = "|".join(_UNITS)

_HEAD = re.compile(r"^(read|wrote) (\d+)/(\d+) bytes at offset (\d+)\s*$")
_SUMMARY = re.compile(
    rf"^(\d+(?:\.\d+)?) ({_U}), (\d+) ops; (.+?) \((\d+(?:\.\d+)?) ({_U})/sec and (\d+(?:\.\d+)?) ops/sec\)\s*$"
)
_CSV = re.compile(r"^(\d+),(\d+),(\d+:\d\d:\d\d\.\d\d),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)\s*$")
_ERROR = re.compile(r"^(\S.*?): (No such file or directory|Permission denied|Is a directory|.*error.*)$", re.I)


def parse_time(s: str) -> tuple[float, float]:
    """Seconds and half the last printed digit (the rounding bound) of an xfs_io time.

    timestr() prints "0.%04u sec" under 1 s and "H:MM:SS.cc" from 1 s up.
    """
    s = s.strip()
    m = re.fullmatch(r"(\d+(?:\.(\d+))?) sec", s)
    if m:
        decimals = len(m.group(2) or "")
        return to_float(m.group(1), "xfs_io time"), 0.5 * 10.0 ** -decimals
    m = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.(\d+))?)", s)
    if m:
        decimals = len(m.group(4) or "")
        secs = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + to_float(m.group(3), "xfs_io time")
        return secs, 0.5 * 10.0 ** -decimals
    raise ParseError(f"expected an xfs_io time like '0.0119 sec' or '0:00:11.83', got {s!r}")


def _rate_uncertainty(number: str) -> float:
    """Half the last printed digit of a rate number, in its unit ("28.435" -> 5e-4, "31" -> 0.5).

    cvtstr() prints "%.f" when the value in *bytes* is an integer that fits
    an int, so "31 MiB/sec" is rounded to whole MiB (1500 bytes prints "1 KiB").
    """
    if "." not in number:
        return 0.5
    return 0.5 * 10.0 ** -len(number.split(".", 1)[1])


def _best(total: int, seconds: float, dt: float, rate_bps: float, drate_bps: float) -> tuple[float, str, float] | None:
    """(bytes/s, source, relative uncertainty), choosing the more precise printed figure; None if both are 0."""
    rel_time = dt / seconds if seconds > 0 else float("inf")
    rel_rate = drate_bps / rate_bps if rate_bps > 0 else float("inf")
    if rel_time <= rel_rate and seconds > 0:
        return total / seconds, "total/time", rel_time
    if rate_bps > 0:
        return rate_bps, "printed-rate", rel_rate
    return None


@guarded
def parse(text: str) -> ParseResult:
    """One bandwidth_bytes_s measurement per pread/pwrite command, in order."""
    res = ParseResult()
    commands: list[dict] = []
    errors: list[str] = []
    echoed: list[str] = []
    pending: dict | None = None
    for raw in lines(text):
        line = raw.rstrip()
        if not line.strip():
            continue
        if is_transcript_line(line):
            if line.startswith("$ "):
                echoed.append(line[2:])
            continue
        m = _HEAD.match(line)
        if m:
            pending = {"op": "read" if m.group(1) == "read" else "write", "total": int(m.group(2)),
                       "requested": int(m.group(3)), "offset": int(m.group(4))}
            continue
        m = _SUMMARY.match(line)
        if m:
            if pending is None:
                raise ParseError(f"expected a 'read|wrote TOTAL/REQUESTED bytes at offset OFF' line before {line!r}")
            seconds, dt = parse_time(m.group(4))
            unit = _UNITS[m.group(6)]
            rate = to_float(m.group(5), "xfs_io rate") * unit
            drate = _rate_uncertainty(m.group(5)) * unit
            cmd = dict(pending, form="default", size_printed=f"{m.group(1)} {m.group(2)}", ops=int(m.group(3)),
                       seconds=seconds, time_printed=m.group(4), rate_printed=f"{m.group(5)} {m.group(6)}/sec",
                       rate_bytes_s_printed=rate, ops_per_sec_printed=to_float(m.group(7), "xfs_io ops/sec"))
            cmd["bandwidth"] = _best(cmd["total"], seconds, dt, rate, drate)
            commands.append(cmd)
            pending = None
            continue
        m = _CSV.match(line)
        if m:
            total = int(m.group(1))
            seconds, dt = parse_time(m.group(3))
            rate = to_float(m.group(4), "xfs_io -C bytes/sec")
            cmd = {"op": None, "total": total, "form": "csv", "ops": int(m.group(2)), "seconds": seconds,
                   "time_printed": m.group(3), "rate_bytes_s_printed": rate,
                   "ops_per_sec_printed": to_float(m.group(5), "xfs_io -C ops/sec")}
            cmd["bandwidth"] = _best(total, seconds, dt, rate, _rate_uncertainty(m.group(4)))
            commands.append(cmd)
            continue
        if _ERROR.match(line):
            errors.append(line.strip())
            continue
        res.warnings.append(f"ignored a line xfs_io does not print for pread/pwrite: {line.strip()[:120]!r}")
    if pending is not None:
        res.warnings.append(f"the last {pending['op']} has no summary line (interrupted or failed)")
    if not commands:
        if errors:
            raise ParseError(f"xfs_io failed: {errors[0]}")
        raise ParseError("expected xfs_io pread/pwrite output ('read N/N bytes at offset 0' and a summary line, "
                         "or -C CSV 'bytes,ops,H:MM:SS.cc,bytes/s,ops/s')")
    for e in errors:
        res.warnings.append(f"xfs_io reported an error: {e}")
    for i, cmd in enumerate(commands):
        best = cmd.pop("bandwidth")
        if best is None or cmd["total"] == 0:
            res.warnings.append(f"command {i}: transferred {cmd['total']} bytes; no bandwidth")
            continue
        bps, source, rel = best
        note = {"command_index": i, "source": source, "rel_uncertainty": rel}
        if cmd["op"]:
            note["op"] = cmd["op"]
        res.measurements.append(Measurement("bandwidth_bytes_s", bps, "B/s", note))
        if cmd.get("requested") is not None and cmd["total"] < cmd["requested"]:
            res.warnings.append(f"command {i}: {cmd['op']} stopped at {cmd['total']} of {cmd['requested']} bytes "
                                "(end of file): the bandwidth is over the bytes actually transferred")
    res.info = {"tool": "xfs_io", "commands": commands}
    if echoed:
        res.info["echoed_commands"] = echoed
    return res


def parse_version(text: str) -> str:
    """'xfs_io version 6.1.0' (xfs_io -V) -> '6.1.0'."""
    return match_version(r"xfs_io version (\d+(?:\.\d+)+\S*)", text, "'xfs_io version X.Y.Z' from xfs_io -V")
