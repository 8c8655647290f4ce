"""The claims the model predicts, read tolerantly from analysis/claims/*.toml.

The model needs only id, workload, metric and the published change; it
does not validate the file (analyze does). If no claims file is found it
falls back to the claims table in ../shared/domain.md, copied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchctl.errors import InputError


@dataclass(frozen=True)
class Claim:
    id: str
    workload: str        # as written in the claims file
    metric: str
    published: tuple[float, float] | None  # claimed change in percent (low, high)
    kind: str            # model workload key ("memcached", "dmcrypt", "seqread", "boot") or ""

    @property
    def published_sign(self) -> int:
        if not self.published:
            return 0
        mid = (self.published[0] + self.published[1]) / 2
        return (mid > 0) - (mid < 0)


# domain.md "Claims (AmpereOne, 192 cores, 1 socket, 256 GB, 4 KiB pages)"
BUILTIN = [
    ("boot-memory", "boot-memory", "mem_free_kb", (0.231, 0.231)),
    ("memcached-ops", "memcached", "ops_per_sec", (3.5, 3.5)),
    ("memcached-p99", "memcached", "p99_latency_us", (-9.6, -9.6)),
    ("memcached-tlb", "memcached", "kernel_tlb_walk_mpki", (-28.5, -28.5)),
    ("dmcrypt-iops", "fio-dmcrypt", "iops", (90.0, 150.0)),
    ("seqread-bw", "seqread-xfs", "bandwidth_bytes_s", (150.0, 150.0)),
]


def model_kind(workload: str) -> str:
    w = workload.lower()
    if "memcache" in w:
        return "memcached"
    if "crypt" in w or "fio" in w:
        return "dmcrypt"
    if "seq" in w or "xfs" in w:
        return "seqread"
    if "boot" in w or "mem" in w:
        return "boot"
    return ""


def default_claims_path() -> Path | None:
    """analysis/claims/bbml2.toml of the source tree, if present."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        p = base / "analysis" / "claims" / "bbml2.toml"
        if p.is_file():
            return p
    return None


def load_claims(path: Path | None = None) -> tuple[list[Claim], str]:
    """(claims, where they came from)."""
    from benchctl.model.profiles import load_toml

    path = path or default_claims_path()
    if path is None:
        return [Claim(i, w, m, p, model_kind(w)) for i, w, m, p in BUILTIN], "built-in table (domain.md)"
    doc = load_toml(Path(path))
    raw = doc.get("claim", doc.get("claims", []))
    if isinstance(raw, dict):  # [claims.<id>] style
        raw = [dict(v, id=v.get("id", k)) for k, v in raw.items() if isinstance(v, dict)]
    out = []
    for c in raw:
        if not isinstance(c, dict) or "id" not in c:
            continue
        if "workload" not in c or "metric" not in c:
            raise InputError(f"claim {c['id']}: needs workload and metric", path)
        pub = None
        if isinstance(c.get("range"), list) and len(c["range"]) == 2:
            pub = (float(c["range"][0]), float(c["range"][1]))
        elif isinstance(c.get("value"), (int, float)):
            pub = (float(c["value"]), float(c["value"]))
        out.append(Claim(str(c["id"]), str(c["workload"]), str(c["metric"]), pub, model_kind(str(c["workload"]))))
    if not out:
        raise InputError("no [[claim]] entries found", path)
    return out, str(path)
