"""What the arm64 kernel should have done with the linear map, from boot inputs alone.

A fingerprint that only reported the observed mapping could not tell a
misconfigured boot (wrong kernel, stray debug_pagealloc, rodata= spelled for
the wrong kernel) from a real result; comparing against this prediction can.
Rules: ../shared/domain.md "When the linear map is PTE-mapped regardless" and
"rodata= changed meaning in v6.18"; code: arch/arm64/mm/mmu.c
force_pte_mapping(), arch/arm64/include/asm/setup.h arch_parse_debug_rodata(),
init/main.c set_debug_rodata(), lib/kstrtox.c kstrtobool().
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

SERIES_VERSION = (6, 18)  # "arm64: mm: support large block mapping when rodata=full" in v6.18-rc1
RC_FIX = 6  # sleeping-in-atomic fixes (DEBUG_PAGEALLOC/KFENCE) landed in v6.18-rc6

_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?")


@dataclass(frozen=True)
class Release:
    major: int
    minor: int
    patch: int
    rc: int | None

    @property
    def mm(self) -> tuple[int, int]:
        return (self.major, self.minor)


def parse_release(release: str | None) -> Release | None:
    """ "6.18.0-rc3+", "6.1.192-64k", "6.18-rc1" -> Release; None if not a kernel release."""
    if not release:
        return None
    m = _RELEASE.match(release.strip())
    if not m:
        return None
    return Release(int(m[1]), int(m[2]), int(m[3] or 0), int(m[4]) if m[4] else None)


def has_series(rel: Release | None) -> bool | None:
    """True on >= 6.18 (any -rc): mainline kernels below never block-map under rodata_full.
    A backport would be missed; the observed-vs-expected warning exposes that."""
    return None if rel is None else rel.mm >= SERIES_VERSION


def parse_cmdline(cmdline: str | None) -> dict[str, str | None]:
    """Kernel parameters -> {name: value or None}; the last occurrence wins (early_param
    handlers run in order); everything after "--" belongs to init and is dropped."""
    if not cmdline:
        return {}
    try:
        words = shlex.split(cmdline)
    except ValueError:
        words = cmdline.split()
    out: dict[str, str | None] = {}
    for word in words:
        if word == "--":
            break
        name, eq, value = word.partition("=")
        out[name] = value if eq else None
    return out


def kstrtobool(s: str | None) -> bool | None:
    """lib/kstrtox.c kstrtobool(): None where the kernel returns -EINVAL."""
    if not s:
        return None
    if s[0] in "yYtTeE1":
        return True
    if s[0] in "nNfFdD0":
        return False
    if s[0] in "oO" and len(s) > 1:
        if s[1] in "nN":
            return True
        if s[1] in "fF":
            return False
    return None


def _config_is(config: dict[str, str | None] | None, name: str) -> bool | None:
    if config is None:
        return None
    value = config.get(name)
    return value == "y" or value == "m"


@dataclass
class Rodata:
    requested: str | None  # value on the command line (None: not given)
    effective: str | None  # "full" | "noalias" | "off" | None (unknown)
    reason: str
    warnings: list[str] = field(default_factory=list)


def rodata(rel: Release | None, params: dict[str, str | None], config: dict[str, str | None] | None) -> Rodata:
    """Effective linear-alias protection, applying the v6.18 change of meaning.

    <= 6.17: full / on (= no alias protection, here "noalias") / off; default full
    iff CONFIG_RODATA_FULL_DEFAULT_ENABLED=y; anything else is rejected by
    set_debug_rodata() and the default stays.
    >= 6.18: on (= full, the default) / noalias / off; "full" is rejected
    ("Invalid option string for rodata: 'full'") and the default (full) stays.
    """
    requested = params.get("rodata")
    if "rodata" in params and requested is None:
        requested = ""
    if rel is None:
        return Rodata(requested, None, "kernel release unknown")
    if rel.mm >= SERIES_VERSION:
        table, default, default_why = {"on": "full", "noalias": "noalias", "off": "off"}, "full", "default on >= 6.18"
    else:
        table = {"full": "full", "on": "noalias", "off": "off"}
        cfg = None if config is None else config.get("CONFIG_RODATA_FULL_DEFAULT_ENABLED")
        if config is None:
            default, default_why = None, "no kernel config: CONFIG_RODATA_FULL_DEFAULT_ENABLED unknown"
        elif cfg == "y":
            default, default_why = "full", "CONFIG_RODATA_FULL_DEFAULT_ENABLED=y"
        else:
            default, default_why = "noalias", "CONFIG_RODATA_FULL_DEFAULT_ENABLED is not set"
    if requested is None:
        return Rodata(None, default, default_why)
    if requested in table:
        return Rodata(requested, table[requested], f"rodata={requested} on {rel.major}.{rel.minor}")
    kernel = f"{rel.major}.{rel.minor}"
    hint = ""
    if requested == "full":
        hint = "; from 6.18 full protection is spelled rodata=on"
    elif requested == "noalias":
        hint = "; on <= 6.17 no alias protection is spelled rodata=on"
    warning = (
        f"rodata={requested} is rejected by Linux {kernel} ('Invalid option string for rodata: "
        f"'{requested}''); effective: {default or 'unknown'}, the default ({default_why}){hint}"
    )
    return Rodata(requested, default, f"rodata={requested} rejected; {default_why}", [warning])


def kfence_late_init(params: dict[str, str | None], config: dict[str, str | None] | None) -> tuple[bool | None, str]:
    """KFENCE initialised late (pool not allocated at boot): kfence_early_init is
    !!CONFIG_KFENCE_SAMPLE_INTERVAL, overridden by kfence.sample_interval=."""
    if _config_is(config, "CONFIG_KFENCE") is False:
        return False, "CONFIG_KFENCE is not set"
    value = params.get("kfence.sample_interval")
    if value is not None:
        try:
            interval = int(value, 0)
        except ValueError:
            interval = None
        if interval is not None:
            if config is None and interval == 0:
                return None, "kfence.sample_interval=0 but kernel config unknown (KFENCE may be off)"
            return interval == 0, f"kfence.sample_interval={value}"
    if config is None:
        return None, "no kernel config: CONFIG_KFENCE_SAMPLE_INTERVAL unknown"
    sample = config.get("CONFIG_KFENCE_SAMPLE_INTERVAL")
    if sample is None:
        return None, "CONFIG_KFENCE=y but CONFIG_KFENCE_SAMPLE_INTERVAL missing from config"
    return sample == "0", f"CONFIG_KFENCE_SAMPLE_INTERVAL={sample}"


def debug_pagealloc(params: dict[str, str | None], config: dict[str, str | None] | None) -> tuple[bool | None, str]:
    """debug_pagealloc_enabled(): needs CONFIG_DEBUG_PAGEALLOC; debug_pagealloc=<bool>
    (kstrtobool) overrides CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT."""
    built = _config_is(config, "CONFIG_DEBUG_PAGEALLOC")
    if built is False:
        return False, "CONFIG_DEBUG_PAGEALLOC is not set"
    requested = kstrtobool(params.get("debug_pagealloc"))
    if requested is not None:
        if built is None and requested:
            return None, "debug_pagealloc=on but kernel config unknown"
        return requested, f"debug_pagealloc={params['debug_pagealloc']}"
    if config is None:
        return None, "no kernel config: CONFIG_DEBUG_PAGEALLOC unknown"
    default = _config_is(config, "CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT")
    return bool(default), f"CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT={'y' if default else 'n'}"


@dataclass
class Expectation:
    state: str  # "block" | "pte" | "unknown"
    reason: str


def expected_linear_map(
    *,
    rel: Release | None,
    bbml2: bool | None,
    rodata_effective: str | None,
    kfence_late: bool | None,
    debug_pagealloc_on: bool | None,
) -> Expectation:
    """force_pte_mapping() as of v6.18 (and can_set_direct_map() before it):
    debug_pagealloc -> PTE; else BBML2_NOABORT CPU on a kernel with the series ->
    blocks (the KFENCE pool alone is PTE-mapped); else rodata_full or KFENCE late
    init -> PTE; else blocks. An Arm CCA realm guest is not detected here."""
    if debug_pagealloc_on:
        return Expectation("pte", "debug_pagealloc=on forces PTEs on every CPU")
    exp = _without_debug_pagealloc(rel, bbml2, rodata_effective, kfence_late)
    if exp.state == "block" and debug_pagealloc_on is None:
        return Expectation("unknown", "blocks unless debug_pagealloc is on, which is unknown (no kernel config)")
    return exp


def _without_debug_pagealloc(
    rel: Release | None, bbml2: bool | None, rodata_effective: str | None, kfence_late: bool | None
) -> Expectation:
    series = has_series(rel)
    if series is None:
        return Expectation("unknown", "kernel release unknown")
    if series and bbml2:
        return Expectation("block", "BBML2_NOABORT CPU on a kernel with the block-mapping series (>= 6.18)")
    why = "kernel < 6.18 lacks the block-mapping series" if not series else "CPU lacks BBML2_NOABORT"
    if rodata_effective == "full":
        if series and bbml2 is None:
            return Expectation("unknown", "rodata_full, and whether every CPU has BBML2_NOABORT is unknown")
        return Expectation("pte", f"rodata=full semantics and {why}")
    if kfence_late:
        if series and bbml2 is None:
            return Expectation("unknown", "KFENCE late init, and whether every CPU has BBML2_NOABORT is unknown")
        return Expectation("pte", f"KFENCE late init (sample_interval=0) and {why}")
    if rodata_effective is None:
        return Expectation("unknown", "effective rodata mode unknown")
    if kfence_late is None:
        return Expectation("unknown", "whether KFENCE initialises late is unknown")
    return Expectation(
        "block",
        f"rodata={rodata_effective}, no debug_pagealloc, KFENCE early init or off (its pool alone is PTE-mapped)",
    )


def rc_bug_warning(rel: Release | None, dpa_on: bool | None, config: dict[str, str | None] | None) -> str | None:
    """v6.18-rc1..rc5 sleep in atomic context in split_kernel_leaf_mapping() with
    DEBUG_PAGEALLOC or KFENCE (fixed in rc6: ce2b3a50ad92, 40a292f70147, 53357f14f924)."""
    if rel is None or rel.mm != SERIES_VERSION or rel.rc is None or rel.rc >= RC_FIX:
        return None
    if dpa_on or _config_is(config, "CONFIG_KFENCE"):
        return (
            f"Linux {rel.major}.{rel.minor}-rc{rel.rc} splits the linear map in atomic context with "
            "DEBUG_PAGEALLOC/KFENCE (fixed in 6.18-rc6): expect 'BUG: sleeping function called from "
            "invalid context'; use rc6 or later"
        )
    return None
