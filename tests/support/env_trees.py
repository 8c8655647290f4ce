"""Build fingerprint trees for cases no machine recorded, by editing recorded ones.

Every tree starts as a copy of a real tree in tests/fixtures/arm64/qemu-*/
(recorded in arm64 Linux 6.1 guests, see QEMU.md) and changes only the named
files: the kernel release (proc/version, proc/sys/kernel/osrelease,
boot/config-RELEASE), the command line, MIDR (sysfs midr_el1 and cpuinfo),
config options (both proc/config.gz and boot/config-*), the kernel log, the
ptdump, and meminfo. Each test says which recorded tree it derives from.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

ARM64 = Path(__file__).parents[1] / "fixtures" / "arm64"
BLOCK_EXCERPT = ARM64 / "ptdump-block-excerpt.txt"
PTE_EXCERPT = ARM64 / "ptdump-pte-excerpt.txt"
PTDUMP = "sys/kernel/debug/kernel_page_tables"

AMPEREONE = 0xC00FAC30  # implementer 0xC0, part 0xAC3, r0p0 (reference/kernel.md 1.2)
BBML2_LINE = "[    0.000000] CPU features: detected: BBM Level 2 without conflict abort"


def _config_file(tree: Path) -> Path:
    return next((tree / "boot").glob("config-*"))


def _write_config(tree: Path, text: str, release: str) -> None:
    old = _config_file(tree)
    old.unlink()
    (tree / "boot" / f"config-{release}").write_text(text)
    (tree / "proc" / "config.gz").write_bytes(gzip.compress(text.encode()))


def derive(
    tmp: Path,
    base: str,
    name: str | None = None,
    *,
    release: str | None = None,
    cmdline: str | None = None,
    midr: int | None = None,
    config: dict[str, str | None] | None = None,
    ptdump: str | None = None,
    drop_ptdump: bool = False,
    dmesg_add: list[str] = (),
    meminfo_add: str = "",
    hugepagesize_kb: int | None = None,
) -> Path:
    """Copy tests/fixtures/arm64/<base> to tmp/<name> and apply the given edits.

    config: {CONFIG_NAME: value}; value None removes the option (as 6.18 removed
    CONFIG_RODATA_FULL_DEFAULT_ENABLED), "n" writes "# ... is not set".
    """
    tree = tmp / (name or base)
    shutil.copytree(ARM64 / base, tree)
    old_release = (tree / "proc/sys/kernel/osrelease").read_text().strip()
    new_release = release or old_release
    if release:
        (tree / "proc/sys/kernel/osrelease").write_text(release + "\n")
        version = (tree / "proc/version").read_text()
        (tree / "proc/version").write_text(
            version.replace(f"Linux version {old_release} ", f"Linux version {release} ", 1)
        )
    cfg = _config_file(tree).read_text()
    for key, value in (config or {}).items():
        cfg = re.sub(rf"^(# )?{key}[= ].*\n", "", cfg, flags=re.MULTILINE)
        if value == "n":
            cfg += f"# {key} is not set\n"
        elif value is not None:
            cfg += f"{key}={value}\n"
    _write_config(tree, cfg, new_release)
    if cmdline is not None:
        (tree / "proc/cmdline").write_text(cmdline + "\n")
    if midr is not None:
        for f in tree.glob("sys/devices/system/cpu/cpu*/regs/identification/midr_el1"):
            f.write_text(f"0x{midr:016x}\n")
        info = (tree / "proc/cpuinfo").read_text()
        info = re.sub(r"(CPU implementer\t: )\S+", rf"\g<1>0x{(midr >> 24) & 0xFF:02x}", info)
        info = re.sub(r"(CPU variant\t: )\S+", rf"\g<1>0x{(midr >> 20) & 0xF:x}", info)
        info = re.sub(r"(CPU part\t: )\S+", rf"\g<1>0x{(midr >> 4) & 0xFFF:03x}", info)
        info = re.sub(r"(CPU revision\t: )\S+", rf"\g<1>{midr & 0xF}", info)
        (tree / "proc/cpuinfo").write_text(info)
    if ptdump is not None:
        (tree / PTDUMP).write_text(ptdump)
    if drop_ptdump:
        (tree / PTDUMP).unlink()
    if dmesg_add:
        with open(tree / "dmesg.txt", "a") as f:
            f.write("".join(line + "\n" for line in dmesg_add))
    meminfo = (tree / "proc/meminfo").read_text()
    if hugepagesize_kb is not None:
        meminfo = re.sub(
            r"^Hugepagesize:\s+\d+ kB", f"Hugepagesize:    {hugepagesize_kb} kB", meminfo, flags=re.MULTILINE
        )
    (tree / "proc/meminfo").write_text(meminfo + meminfo_add)
    return tree


def size_text(nbytes: int) -> str:
    """ptdump's size column: the largest unit that divides the size exactly (note_page())."""
    value, units = nbytes >> 10, "KMGTPE"
    unit = 0
    while value and value % 1024 == 0 and unit < len(units) - 1:
        value //= 1024
        unit += 1
    return f"{value}{units[unit]}"


def ptdump_text(entries: list[tuple[int, int, str, str]]) -> str:
    """A Linear Mapping section in the kernel's layout from (start, end, level, attrs)."""
    base = 0xFFFF000000000000
    lines = ["---[ Linear Mapping start ]---"]
    for start, end, level, attrs in entries:
        lines.append(
            f"0x{base + start:016x}-0x{(base + end) & (2**64 - 1):016x}   "
            f"{size_text(end - start):>10} {level:<3}  {attrs}".rstrip()
        )
    lines.append("---[ Linear Mapping end ]---")
    return "\n".join(lines) + "\n"


RW = "     RW NX SHD AF            UXN    MEM/NORMAL-TAGGED"
RW_CON = "     RW NX SHD AF    CON     UXN    MEM/NORMAL-TAGGED"
RW_BLK = "     RW NX SHD AF        BLK UXN    MEM/NORMAL-TAGGED"
RO = "     ro NX SHD AF            UXN    MEM/NORMAL"
F_RW = "F    RW NX SHD AF            UXN    MEM/NORMAL-TAGGED"
K, M, G = 1 << 10, 1 << 20, 1 << 30
