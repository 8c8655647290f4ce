"""fio 3.x output: JSON / json+ (preferred) and the normal text report.

With --status-interval fio writes one complete JSON document per interim
report, back to back, and the final report last; --output-format=json,normal
and a terminal add plain text around them. So the JSON parser scans for every
decodable document (json.JSONDecoder.raw_decode from each "{") and keeps the
last one that is a fio report.

Latencies: clat_ns (fio >= 3.0; fio 2.x had clat in us and is refused). With
json+ the full latency histogram (clat_ns.bins) lets any percentile be
recomputed with fio's own rule (stat.c calc_clat_percentiles: the first bin
whose cumulative count reaches p/100 * N); the printed percentiles are
cross-checked against it. fio's bins are log-linear with 64 sub-buckets per
power of two, so a percentile is within ~1.6 % of the true latency.
"""

from __future__ import annotations

import json
import math
import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, lines, to_float, match_version

_RESOLUTION = "fio-log-linear-64"
_TARGETS = {"clat_p50_us": 50.0, "clat_p99_us": 99.0, "clat_p999_us": 99.9}


def split_documents(text: str) -> tuple[list[dict], int]:
    """Every JSON object found in text, in order, and how many characters were not JSON."""
    dec = json.JSONDecoder()
    docs: list[dict] = []
    skipped = 0
    i = 0
    n = len(text)
    while i < n:
        j = text.find("{", i)
        if j < 0:
            skipped += len(text[i:].strip())
            break
        skipped += len(text[i:j].strip())
        try:
            obj, end = dec.raw_decode(text, j)
        except (json.JSONDecodeError, RecursionError):
            skipped += 1
            i = j + 1
            continue
        if isinstance(obj, dict):
            docs.append(obj)
        i = end
    return docs, skipped


def _num(d: dict, key: str, where: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ParseError(f"expected a number at {where}.{key}, got {v!r}")
    return float(v)


def _dict(d: object, key: str, where: str) -> dict:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, dict):
        raise ParseError(f"expected an object at {where}.{key}")
    return v


def _total(sections: list[dict], key: str) -> int | None:
    """Sum of an integer field over jobs, None when any job lacks it (info only, not a metric)."""
    vals = [s.get(key) for s in sections]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return sum(vals)  # type: ignore[arg-type]
    return None


def percentile_from_bins(bins: dict[int, int], pct: float) -> float | None:
    """fio's percentile rule over clat_ns.bins: first bin value whose cumulative count >= pct/100*N."""
    total = sum(bins.values())
    if total <= 0:
        return None
    cum = 0
    for value in sorted(bins):
        cum += bins[value]
        if cum >= pct / 100.0 * total:
            return float(value)
    return float(max(bins))


def _bins(clat: dict, where: str) -> dict[int, int] | None:
    raw = clat.get("bins")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ParseError(f"expected an object at {where}.clat_ns.bins")
    out: dict[int, int] = {}
    for k, v in raw.items():
        try:
            key = int(k)
        except ValueError:
            raise ParseError(f"expected integer nanosecond keys in {where}.clat_ns.bins, got {k!r}") from None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParseError(f"expected a non-negative count in {where}.clat_ns.bins[{k!r}], got {v!r}")
        out[key] = out.get(key, 0) + v
    return out


def _printed_percentiles(clat: dict, where: str) -> dict[float, float]:
    raw = clat.get("percentile") or {}
    if not isinstance(raw, dict):
        raise ParseError(f"expected an object at {where}.clat_ns.percentile")
    out = {}
    for k, v in raw.items():
        try:
            p = float(k)
        except ValueError:
            raise ParseError(f"expected percentile keys like '99.900000' in {where}.clat_ns.percentile, got {k!r}") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ParseError(f"expected a number at {where}.clat_ns.percentile[{k!r}], got {v!r}")
        out[p] = float(v)
    return out


def _lookup(printed: dict[float, float], pct: float) -> float | None:
    for p, v in printed.items():
        if abs(p - pct) < 1e-6:
            return v
    return None


def _direction(job: dict, where: str, warnings: list[str] | None = None) -> str:
    """'write' or 'read' (whichever did I/O; write wins when both did, as in the claim's workload)."""
    active = []
    for d in ("write", "read", "trim"):
        sec = job.get(d)
        if isinstance(sec, dict) and any(isinstance(sec.get(k), (int, float)) and sec.get(k) > 0
                                         for k in ("io_bytes", "total_ios")):
            active.append(d)
    if not active:
        raise ParseError(f"expected {where} to have done some I/O (read/write/trim io_bytes are all 0)")
    if len(active) > 1 and warnings is not None:
        warnings.append(f"{where} did {' and '.join(active)} I/O; the metrics are for {active[0]} "
                        f"(the others are in info['other_directions'])")
    return active[0]


@guarded
def parse_json(text: str) -> ParseResult:
    """fio --output-format=json or json+ (possibly several documents): the final report."""
    docs, skipped = split_documents(text)
    reports = [d for d in docs if "jobs" in d or "fio version" in d]
    if not reports:
        raise ParseError("expected a fio JSON report (an object with 'fio version' and 'jobs')")
    doc = reports[-1]
    res = ParseResult()
    if len(reports) > 1:
        res.warnings.append(f"{len(reports) - 1} interim report(s) before the final one were skipped (--status-interval)")
    if skipped:
        res.warnings.append(f"{skipped} characters of non-JSON text around the report were skipped")
    version = doc.get("fio version")
    if not isinstance(version, str):
        raise ParseError("expected a 'fio version' string in the fio JSON report")
    m = re.match(r"fio-(\d+)", version)
    if m and int(m.group(1)) < 3:
        raise ParseError(f"{version} is not supported: fio >= 3.0 is needed (clat_ns; fio 2.x reports clat in us)")
    jobs = doc.get("jobs")
    if not isinstance(jobs, list) or not jobs or not all(isinstance(j, dict) for j in jobs):
        raise ParseError("expected a non-empty 'jobs' list in the fio JSON report")
    for i, job in enumerate(jobs):
        err = job.get("error", 0)
        if err not in (0, None):
            raise ParseError(f"fio job {job.get('jobname', i)!r} failed with error {err!r}")
    direction = _direction(jobs[0], "jobs[0]", res.warnings)
    sections = []
    for i, job in enumerate(jobs):
        sec = _dict(job, direction, f"jobs[{i}]")
        if "clat_ns" not in sec:
            if "clat" in sec:
                raise ParseError("this fio JSON has 'clat' (us) but no 'clat_ns': fio < 3.0 is not supported")
            raise ParseError(f"expected jobs[{i}].{direction}.clat_ns in the fio JSON report")
        sections.append(sec)
    iops = sum(_num(s, "iops", f"jobs[].{direction}") for s in sections)
    bw = sum(_num(s, "bw", f"jobs[].{direction}") for s in sections)
    clats = [_dict(s, "clat_ns", f"jobs[].{direction}") for s in sections]
    n_total = sum(_num(c, "N", "clat_ns") for c in clats)
    note = {"direction": direction, "latency_resolution": _RESOLUTION}
    res.measurements.append(Measurement("iops", iops, "IOPS", {"direction": direction}))
    res.measurements.append(Measurement("bandwidth_kib_s", bw, "KiB/s", {"direction": direction}))
    if n_total > 0:
        mean_ns = sum(_num(c, "mean", "clat_ns") * _num(c, "N", "clat_ns") for c in clats) / n_total
        res.measurements.append(Measurement("clat_mean_us", mean_ns / 1000.0, "us", {"direction": direction}))
    else:
        res.warnings.append("no completion latency samples (clat_ns.N = 0): no latency metrics")
    bins_list = [_bins(c, f"jobs[{i}].{direction}") for i, c in enumerate(clats)]
    merged: dict[int, int] | None = None
    if all(b is not None for b in bins_list):
        merged = {}
        for b in bins_list:
            for k, v in b.items():  # type: ignore[union-attr]
                merged[k] = merged.get(k, 0) + v
    printed = _printed_percentiles(clats[0], f"jobs[0].{direction}") if len(clats) == 1 else {}
    if len(clats) > 1 and merged is None:
        res.warnings.append(f"{len(clats)} jobs without --group_reporting or json+ bins: percentiles cannot be combined")
    cross: dict[str, dict] = {}
    if n_total > 0:
        for metric, pct in _TARGETS.items():
            from_print = _lookup(printed, pct)
            from_bins = percentile_from_bins(merged, pct) if merged else None
            if from_print is not None and from_bins is not None:
                cross[metric] = {"printed_ns": from_print, "bins_ns": from_bins}
                if from_print != from_bins:
                    res.warnings.append(f"{metric}: fio printed {from_print:g} ns but its bins give {from_bins:g} ns")
            value = from_print if from_print is not None else from_bins
            if value is None:
                res.warnings.append(f"{metric}: fio did not report the {pct:g}th percentile (add it to --percentile_list "
                                    "or use --output-format=json+)")
                continue
            src = "percentile" if from_print is not None else "bins"
            res.measurements.append(Measurement(metric, value / 1000.0, "us", dict(note, source=src)))
    job0 = jobs[0]
    res.info = {
        "tool": "fio",
        "version": version,
        "global_options": doc.get("global options", {}),
        "job_options": job0.get("job options", {}),
        "jobname": job0.get("jobname"),
        "jobs": len(jobs),
        "direction": direction,
        "runtime_ms": sections[0].get("runtime"),
        "job_runtime_ms": job0.get("job_runtime"),
        "elapsed_s": job0.get("elapsed"),
        "io_bytes": _total(sections, "io_bytes"),
        "total_ios": _total(sections, "total_ios"),
        "usr_cpu": job0.get("usr_cpu"),
        "sys_cpu": job0.get("sys_cpu"),
        "disk_util": doc.get("disk_util", []),
        "reports_in_stream": len(reports),
        "json_plus": merged is not None,
        "percentile_crosscheck": cross,
        "timestamp": doc.get("timestamp"),
    }
    others = {}
    for d in ("read", "write", "trim"):
        sec = job0.get(d)
        if d != direction and isinstance(sec, dict) and isinstance(sec.get("io_bytes"), int) and sec["io_bytes"] > 0:
            others[d] = {k: sec.get(k) for k in ("iops", "bw", "io_bytes", "runtime", "total_ios")}
    if others:
        res.info["other_directions"] = others
    lat = sections[0].get("lat_ns")
    if isinstance(lat, dict) and isinstance(lat.get("percentile"), dict):
        res.info["lat_ns_percentile"] = lat["percentile"]
    return res


# --- normal text report -------------------------------------------------------

_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_BW_UNITS = {"B/s": 1 / 1024, "KiB/s": 1.0, "MiB/s": 1024.0, "GiB/s": 1024.0 ** 2, "TiB/s": 1024.0 ** 3}
_LAT_UNITS = {"nsec": 1e-3, "usec": 1.0, "msec": 1e3, "sec": 1e6}


@guarded
def parse_text(text: str) -> ParseResult:
    """fio's normal text report. Coarser than JSON: IOPS has 3 significant digits, BW 3-4."""
    res = ParseResult()
    info: dict = {"tool": "fio"}
    all_lines = [ln.rstrip() for ln in lines(text)]
    iops = bw = mean = None
    direction = None
    pct: dict[float, float] = {}
    for idx, line in enumerate(all_lines):
        s = line.strip()
        m = re.fullmatch(r"fio-(\d+)\.(\d+)\S*", s)
        if m:
            info["version"] = s
            if int(m.group(1)) < 3:
                raise ParseError(f"{s} is not supported: fio >= 3.0 is needed")
            continue
        m = re.match(r"^(\S+): \(groupid=(\d+), jobs=(\d+)\): err=\s*(-?\d+)", s)
        if m:
            info["jobname"] = m.group(1)
            if int(m.group(4)) != 0:
                raise ParseError(f"fio job {m.group(1)!r} failed with err={m.group(4)}")
            continue
        m = re.match(r"^(write|read|trim): IOPS=([\d.]+)([kKMG]?), BW=([\d.]+)(B/s|KiB/s|MiB/s|GiB/s|TiB/s)", s)
        if m and iops is None:
            direction = m.group(1)
            iops = to_float(m.group(2), "IOPS") * _SUFFIX[m.group(3)]
            bw = to_float(m.group(4), "BW") * _BW_UNITS[m.group(5)]
            continue
        m = re.match(r"^clat \((nsec|usec|msec|sec)\):.*\bavg=\s*([\d.]+)", s)
        if m and mean is None and direction is not None:
            mean = to_float(m.group(2), "clat avg") * _LAT_UNITS[m.group(1)]
            continue
        m = re.match(r"^clat percentiles \((nsec|usec|msec|sec)\):", s)
        if m and not pct and direction is not None:
            scale = _LAT_UNITS[m.group(1)]
            for follow in all_lines[idx + 1:]:
                if not follow.strip().startswith("|"):
                    break
                for p, v in re.findall(r"([\d.]+)th=\[\s*(\d+)\]", follow):
                    pct[to_float(p, "percentile")] = to_float(v, "percentile value") * scale
    if iops is None or bw is None or direction is None:
        raise ParseError("expected a fio report line like '  write: IOPS=45.7k, BW=179MiB/s (...)'")
    res.measurements.append(Measurement("iops", iops, "IOPS", {"direction": direction, "source": "text-3sig"}))
    res.measurements.append(Measurement("bandwidth_kib_s", bw, "KiB/s", {"direction": direction, "source": "text-3sig"}))
    note = {"direction": direction, "latency_resolution": "fio-text-rounded", "source": "text"}
    if mean is not None:
        res.measurements.append(Measurement("clat_mean_us", mean, "us", {"direction": direction, "source": "text"}))
    for metric, target in _TARGETS.items():
        v = _lookup(pct, target)
        if v is None:
            res.warnings.append(f"{metric}: not in the text report")
        else:
            res.measurements.append(Measurement(metric, v, "us", dict(note)))
    res.warnings.append("parsed fio's text report: IOPS and bandwidth are rounded to 3 significant digits; "
                        "use --output-format=json+ for exact figures")
    info["direction"] = direction
    res.info = info
    return res


def parse_version(text: str) -> str:
    """'fio-3.33' (fio --version) -> '3.33'."""
    return match_version(r"\bfio-(\d+\.\d+\S*)", text, "'fio-X.Y' from fio --version")
