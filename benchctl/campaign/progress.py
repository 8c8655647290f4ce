"""The campaign's books: which boots are done, what failed, and how long is left.

progress.json (format benchctl-campaign-progress/1) is replaced atomically
after every boot, so a controller killed at any instruction leaves either
the previous or the new state, never half of one; events.jsonl is an
append-only, fsync'd log of the same facts for people and post-mortems.
A boot is "done" only once its run folders are stored in the campaign folder
and checked; everything else (a killed round, a failed host) is done again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchctl.campaign.schedule import candidates
from benchctl.documents import load_json
from benchctl.errors import InputError
from benchctl.human import fit
from benchctl.osutil.fsutil import append_json, atomic_write_json

PROGRESS_FORMAT = "benchctl-campaign-progress/1"
PROGRESS_FILE = "progress.json"
EVENTS_FILE = "events.jsonl"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def empty(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": PROGRESS_FORMAT,
        "campaign": plan["id"],
        "updated": now(),
        "hosts": {h: {"done": {}, "last_error": None, "errors": []} for h in plan["hosts"]},
        "rounds": [],
    }


def load(folder: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """progress.json, checked against the plan (a hand edit of either must not mislabel a boot)."""
    path = Path(folder) / PROGRESS_FILE
    if not path.exists():
        return empty(plan)
    data = load_json(path)
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise InputError(f"not a campaign progress file (format {fmt!r}, expected {PROGRESS_FORMAT!r})", path)
    if data.get("campaign") != plan["id"]:
        raise InputError(
            f"belongs to campaign {data.get('campaign')!r}, but plan.json is campaign {plan['id']!r}: "
            "a plan from another campaign was copied in",
            path,
        )
    hosts = data.get("hosts")
    if not isinstance(hosts, dict):
        raise InputError("hosts: not an object", path)
    for host, h in hosts.items():
        done = h.get("done") if isinstance(h, dict) else None
        if not isinstance(done, dict):
            raise InputError(f"hosts.{host}.done: not an object", path)
        if done and host not in plan["hosts"]:
            raise InputError(
                f"host {host} has {len(done)} finished boot(s) but is no longer in plan.json; put it "
                "back (its boots stay valid) or start a new campaign folder",
                Path(folder) / "plan.json",
            )
        for key, rec in done.items():
            i = int(key) if re.fullmatch(r"\d+", key) else -1
            seq = plan["hosts"].get(host, [])
            if i < 0 or i >= len(seq):
                raise InputError(
                    f"hosts.{host}[{key}] was measured, but plan.json has only {len(seq)} boots for "
                    f"{host}; restore the plan or start a new campaign folder",
                    Path(folder) / "plan.json",
                )
            if seq[i]["arm"] != rec.get("arm"):
                raise InputError(
                    f"hosts.{host}[{i}].arm is {seq[i]['arm']!r} but boot {i} of {host} was measured "
                    f"as {rec.get('arm')!r}; restore the plan or start a new campaign folder",
                    Path(folder) / "plan.json",
                )
    for host in plan["hosts"]:
        hosts.setdefault(host, {"done": {}, "last_error": None, "errors": []})
    data.setdefault("rounds", [])
    return data


def save(folder: Path, progress: dict[str, Any]) -> None:
    progress["updated"] = now()
    atomic_write_json(Path(folder) / PROGRESS_FILE, progress)


def event(campaign_dir: Path, kind: str, **fields: Any) -> None:
    append_json(Path(campaign_dir) / EVENTS_FILE, {"t": now(), "event": kind, **fields})


def next_boot(plan: dict[str, Any], progress: dict[str, Any], host: str) -> int | None:
    """The first planned boot of a host that is not done (boots are done in plan order)."""
    done = progress["hosts"][host]["done"]
    for boot in plan["hosts"][host]:
        if str(boot["index"]) not in done:
            return int(boot["index"])
    return None


@dataclass
class HostStatus:
    host: str
    done: dict[str, int]
    planned: dict[str, int]
    next_index: int | None
    last_error: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.next_index is None


def host_status(plan: dict[str, Any], progress: dict[str, Any]) -> list[HostStatus]:
    out = []
    for host, seq in plan["hosts"].items():
        planned: dict[str, int] = {a: 0 for a in plan["arms"]}
        done: dict[str, int] = {a: 0 for a in plan["arms"]}
        for b in seq:
            planned[b["arm"]] += 1
        for rec in progress["hosts"][host]["done"].values():
            done[rec["arm"]] = done.get(rec["arm"], 0) + 1
        out.append(
            HostStatus(host, done, planned, next_boot(plan, progress, host), progress["hosts"][host].get("last_error"))
        )
    return out


def eta_seconds(plan: dict[str, Any], progress: dict[str, Any], current_s: float | None = None) -> float | None:
    """Rounds left (the slowest host's remaining boots; hosts boot in parallel) x mean round time
    (`current_s`: a round that has a boot done but is not in the books yet)."""
    times = [r["seconds"] for r in progress.get("rounds", []) if r.get("seconds") and r.get("boots_done")]
    times += [current_s] if current_s else []
    left = max((len(plan["hosts"][h]) - len(progress["hosts"][h]["done"]) for h in plan["hosts"]), default=0)
    if left == 0:
        return 0.0
    if not times:
        return None
    return left * sum(times) / len(times)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no boot finished yet)"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def status_report(plan: dict[str, Any], progress: dict[str, Any]) -> dict[str, Any]:
    """What `benchctl campaign status --format json` prints."""
    hosts = host_status(plan, progress)
    return {
        "format": "benchctl-campaign-status/1",
        "campaign": plan["id"],
        "arms": {
            "baseline": plan["baseline"],
            "candidate": plan["candidate"],
            "candidates": candidates(plan),
        },
        "boots_done": sum(sum(h.done.values()) for h in hosts),
        "boots_planned": sum(sum(h.planned.values()) for h in hosts),
        "eta_s": eta_seconds(plan, progress),
        "hosts": {
            h.host: {"done": h.done, "planned": h.planned, "next": h.next_index, "last_error": h.last_error}
            for h in hosts
        },
        "updated": progress.get("updated"),
    }


def status_text(plan: dict[str, Any], progress: dict[str, Any]) -> str:
    rep = status_report(plan, progress)
    arms = [plan["baseline"], *candidates(plan)]
    head = (
        f"campaign {plan['id']}: {rep['boots_done']}/{rep['boots_planned']} boots done "
        f"({plan['boot_method']}, order {plan['order']}); ETA {fmt_duration(rep['eta_s'])}"
    )
    lines = [head]
    width = max(len(h) for h in plan["hosts"])
    for host, h in rep["hosts"].items():
        per_arm = ", ".join(f"{a} {h['done'][a]}/{h['planned'][a]}" for a in arms)
        state = "finished" if h["next"] is None else f"next boot {h['next']}"
        lines.append(f"  {host:<{width}}  {per_arm}  {state}")
        err = h["last_error"]
        if err:
            lines.append(
                f"  {'':<{width}}  last error (boot {err.get('index')}, {err.get('phase')}, {err.get('at')}): "
                f"{err.get('message')}"
            )
    a = progress.get("adaptive")  # campaign/adaptive.py: the claims' states at the last complete pair
    if a:
        lines.append(f"  adaptive: {'every claim decided' if a.get('decided') else 'claims undecided'}")
        lines += [f"    {c['id']}: {c['verdict']} after {c['n_pairs']} pair(s)" for c in a.get("claims", [])]
    return fit("\n".join(lines))
