"""Where `model pagetables` takes the modelled machine's memory from.

Three sources, one at a time: a kernel release's rules (the RAM wholly
mapped unless told otherwise, as in a qemu guest); a fingerprint
(`benchctl env --format json`: MemTotal plus memmap, and its granule); or
the installed RAM as typed, whose unmapped part (firmware no-map, holes) is
either given or assumed from data/machine.toml with its range. Deciding
here, not in the command, keeps the rule beside the arithmetic it feeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchctl.errors import UsageError
from benchctl.human import parse_size


def _size(text: str, what: str) -> int:
    return parse_size(text, what=what, error=UsageError)


def parse_ram(text: str) -> int:
    """--ram as typed, in bytes: the installed RAM of the modelled machine (every model command)."""
    ram = _size(text, "--ram")
    if ram <= 0:
        raise UsageError("--ram must be positive")
    return ram


def _from_release(
    ram: str | None, unmapped: str, kernel_image: str, release: tuple[str, str, str | None]
) -> dict[str, Any]:
    from benchctl.model.releases import release_report

    if not ram:
        raise UsageError("--release needs --ram")
    name, cpu, rodata = release
    unm = 0 if unmapped == "auto" else _size(unmapped, "--unmapped")
    kimg = None if kernel_image == "0" else _size(kernel_image, "--kernel-image")
    return release_report(parse_ram(ram), name, cpu, rodata, unmapped=unm, kernel_image=kimg)


def _installed(ram_text: str | None, unmapped: str, env_file: str | None) -> tuple[Any, ...]:
    """(installed bytes, granule or None, unmapped bytes, its range or None, source, notes)."""
    from benchctl.model.pagetables import from_fingerprint

    if env_file:
        from benchctl.documents import load_json

        if ram_text:
            raise UsageError("give --ram or --from-env, not both")
        doc = load_json(Path(env_file))
        installed, env_g = from_fingerprint(doc, env_file)
        arch = (doc.get("host") or {}).get("arch")
        notes = []
        if arch and arch not in ("aarch64", "arm64"):
            notes.append(f"the fingerprint is from a {arch} host; the arithmetic is arm64's linear map for its RAM")
        return installed, env_g, 0, None, f"{env_file}: MemTotal plus memmap", notes
    if not ram_text:
        raise UsageError("give --ram SIZE or --from-env FILE")
    ram = parse_ram(ram_text)
    if unmapped != "auto":
        return ram, None, _size(unmapped, "--unmapped"), None, "command line", []
    from benchctl.model.arms import mapped_ram
    from benchctl.model.profiles import load_machine

    figs = load_machine()
    res = figs["machine.reserved_in_map"]
    unm, lo_u, hi_u = (ram - int(mapped_ram(figs, ram, res.quantile(q))) for q in (0.5, 1.0, 0.0))
    return ram, None, unm, (lo_u, hi_u), "command line; unmapped memory assumed (data/machine.toml)", []


def pagetables_report(
    *,
    ram_text: str | None,
    unmapped: str,
    granule: str | None,
    env_file: str | None,
    kernel_image: str,
    kfence: str,
    perm_changes: int,
    release: str | None,
    cpu: str,
    rodata: str | None,
) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """(the report, the unmapped range when it was assumed) from `model pagetables`' options as typed
    (sizes as text; cpu and rodata count with a release only)."""
    from benchctl.model.pagetables import boot_memory_report, parse_granule

    if release:
        return _from_release(ram_text, unmapped, kernel_image, (release, cpu, rodata)), None
    g = parse_granule(granule) if granule else None
    installed, env_g, unm, unm_range, source, notes = _installed(ram_text, unmapped, env_file)
    r = boot_memory_report(
        installed,
        g or env_g or 4096,
        unmapped=unm,
        unmapped_range=unm_range,
        kernel_image=_size(kernel_image, "--kernel-image"),
        kfence_pool=_size(kfence, "--kfence"),
        perm_changes=perm_changes,
        source=source,
        notes=notes,
    )
    return r, unm_range
