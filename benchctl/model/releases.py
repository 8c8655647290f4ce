"""Release-aware page tables: the kernel release and the CPU decide the arms, the release's build the alias.

The 2 GiB guests measured a MemTotal change of +4,032 kB on 6.18 (a CPU the
kernel trusts vs one it does not) and +4,052 kB on 6.1 (rodata=on vs full);
a model that does not know the release misses both by 1-2 %. What differs by
release: whether the series is in (6.18), which MIDRs are trusted (the
allow-list grew in 6.18), what rodata= means (changed in 6.18), where the
kernel image alias starts (_stext in 6.1, _text later) and how long it is,
and whether KFENCE takes a pool at boot. The first three are
benchctl.env.arm64's (the same rules judge a real fingerprint); the last
three are data/releases.toml. The block arm is the release on this CPU with
this rodata=; the PTE arm the same kernel with its linear map PTE-mapped
(rodata full on a CPU off the allow-list). When the CPU gets PTEs too, the
change is 0, as the 6.17 guests measured (AmpereOne and V3 r0p2 identical).
"""

from __future__ import annotations

from typing import Any

from benchctl.documents import load_toml
from benchctl.errors import UsageError
from benchctl.model.datafiles import data_path
from benchctl.model.pagetables import MiB, boot_memory_report
from benchctl.model.profiles import figure, load_cpu


def releases() -> dict[str, dict[str, Any]]:
    """data/releases.toml, each figure checked and sourced."""
    path = data_path("releases.toml")
    out = {}
    for key, raw in load_toml(path).items():
        out[key] = {
            "build": str(raw.get("build", "")),
            "alias_start": figure(raw["alias_start"], f"release {key}: alias_start", path),
            "alias_size": figure(raw["alias_size"], f"release {key}: alias_size", path),
            "kfence": figure(raw["kfence"], f"release {key}: kfence", path),
        }
    return out


def arms_for(release: str, cpu: str, rodata: str | None) -> dict[str, Any]:
    """What `release` does with `cpu`'s linear map at this rodata= (None: the default)."""
    from benchctl.env.arm64.expected import expected_linear_map, parse_release
    from benchctl.env.arm64.expected import rodata as rodata_rule
    from benchctl.env.arm64.midr import Midr, allow_list_for, is_bbml2_noabort

    rel = parse_release(release)
    data = releases()
    key = None if rel is None else f"{rel.major}.{rel.minor}"
    if key not in data:
        raise UsageError(f"no rules for release {release!r}; known: {', '.join(sorted(data))}")
    profile = load_cpu(cpu)
    bbml2 = is_bbml2_noabort(Midr(profile.midr_value), allow_list_for(rel))
    params: dict[str, str | None] = {} if rodata is None else {"rodata": rodata}
    ro = rodata_rule(rel, params, {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "y"})
    kfence = str(data[key]["kfence"].value)
    exp = expected_linear_map(
        rel=rel, bbml2=bbml2, rodata_effective=ro.effective, kfence_late=kfence == "late", debug_pagealloc_on=False
    )
    return {"key": key, "rules": data[key], "cpu": profile, "bbml2": bbml2, "rodata": ro, "expected": exp}


def release_report(
    installed: int, release: str, cpu: str, rodata: str | None, *, unmapped: int = 0, kernel_image: int | None = None
) -> dict[str, Any]:
    """`model pagetables --release`: boot_memory_report with the release's rules, and the change over the
    alias assumption's range when the alias size is assumed."""
    a = arms_for(release, cpu, rodata)
    rules = a["rules"]
    size = rules["alias_size"]
    kimg = int(size.quantile(0.5)) if kernel_image is None else kernel_image
    kstart = int(rules["alias_start"].value)
    kfence = 2 * MiB if rules["kfence"].value == "early" else 0
    blocks = a["expected"].state == "block"
    notes = [
        f"release {a['key']} ({rules['build']}): kernel image alias {kimg / MiB:.2f} MiB from "
        f"{kstart / MiB:.4g} MiB ({size.status}), KFENCE {rules['kfence'].value}",
        f"{a['cpu'].name} ({'on' if a['bbml2'] else 'off'} {a['key']}'s allow-list), rodata "
        f"{a['rodata'].effective}: {a['expected'].state}-mapped ({a['expected'].reason})",
    ]
    if not blocks:
        notes.append("both arms PTE-mapped: the change is 0")
    rules_kw: dict[str, Any] = {"kfence_pool": kfence, "kernel_start": kstart, "block_allowed": blocks}
    r = boot_memory_report(
        installed, 4096, unmapped=unmapped, kernel_image=kimg, source="command line", notes=notes, **rules_kw
    )
    r["release"] = {
        "key": a["key"],
        "build": rules["build"],
        "cpu": a["cpu"].key,
        "bbml2_noabort": a["bbml2"],
        "rodata": a["rodata"].effective,
        "linear_map": a["expected"].state,
        "why": a["expected"].reason,
        "alias_start_bytes": kstart,
        "alias_bytes": kimg,
        "kfence": rules["kfence"].value,
    }
    if size.uncertain and kernel_image is None and blocks:
        ends = [
            boot_memory_report(installed, 4096, unmapped=unmapped, kernel_image=int(size.quantile(q)), **rules_kw)[
                "boot_memory"
            ]["mem_total_change"]
            for q in (0.0, 1.0)
        ]
        r["release"]["mem_total_change_range_bytes"] = sorted(ends)
    return r
