"""`benchctl bisect` over Debian's arm64 kernels, by real kexec reboots of the arm64 guest.

Every plain -arm64 image of the 6.16, 6.17 and 6.18 series in trixie-backports' index is
unpacked into the guest tree of tests/vm/arm64_campaign.py (each with its initramfs), the
guest is cold-booted once with the AmpereOne MIDR (a CPU 6.18 trusts), and two bisections run
over the kernels in version order, every step a kexec reboot verified before it counts:

1. fact:linear_map.state=block: the first kernel whose linear map (walked in /proc/kcore) is
   block-mapped under the default (full) rodata: the first 6.18.x, the release of the series;
2. log:BBM Level 2 without TLB conflict abort: the first kernel that detects BBML2 on the
   AmpereOne (6.17 lists only V3 r0p2; 6.18 added AmpereOne): a kernel-log pattern.

    python3 tests/vm/arm64_bisect.py [--out DIR]      # make bisect-demo

prints each bisection's log (`benchctl bisect log`: every step's boot id and evidence) and
the timings. Every wait has a deadline (tests/support/deadline.py, boot_controller.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import arm64_campaign as camp  # noqa: E402
import arm64_guest  # noqa: E402
import deadline  # noqa: E402
from arm64_env import initramfs  # noqa: E402
from campaign_fleet import kill_control_masters  # noqa: E402
from harness import REPO, log  # noqa: E402

SERIES = [(6, 16), (6, 17), (6, 18)]
CRITERIA = [
    ("linear-map", "fact:linear_map.state=block"),
    ("bbml2-line", "log:BBM Level 2 without TLB conflict abort"),
]
STEP_BUDGET_S = 2 * (camp.REBOOT_TIMEOUT_S + 300) + 120


def kernels(guest: camp.Guest, work: Path) -> list[str]:
    """Every 6.16-6.18 image of the index in the tree, oldest first, each with the campaign initramfs."""
    index = arm64_guest.fetch_index()
    infos = arm64_guest.pick_series(index, SERIES)
    out = arm64_guest.add_kernels(work, guest.root, infos)
    for kver in out:
        initrd = guest.root / "boot" / f"initrd.img-{kver}"
        stamp = work / f"campaign-initrd-{kver}.init"
        if not initrd.exists() or not stamp.exists() or stamp.read_text() != camp.INIT:
            initrd.write_bytes(initramfs(guest.root, kver, camp.PRELOAD, camp.INIT, work / "initramfs"))
            stamp.write_text(camp.INIT)
    return out


def bisect(guest: camp.Guest, out: Path, name: str, criterion: str, kvers: list[str], env: dict) -> dict:
    folder = out / name
    inv = camp.inventory(guest, out / "lab.ini")
    args = [a for k in kvers for a in ("--kernel", f"{k.split('+')[0]}={k}:{camp.BASE_CMDLINE}")]
    r = camp.benchctl(
        "bisect", "start", *args, "--bad-if", criterion, "--hosts", str(inv),
        "--expect", f"midr={camp.MIDR['ampereone']}", "--expect", "linear_map_source=kcore",
        "--reboot-timeout", str(camp.REBOOT_TIMEOUT_S), "--connect-timeout", "60", "-o", str(folder),
        timeout=120, env=env,
    )  # fmt: skip
    if r.returncode != 0:
        raise deadline.Failed(f"bisect start: {r.stderr}")
    t0 = time.monotonic()
    r = camp.benchctl("bisect", "run", str(folder), timeout=len(kvers) * STEP_BUDGET_S, env=env)
    (out / f"{name}-run.txt").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise deadline.Failed(f"bisect run exited {r.returncode}:\n{r.stdout}{r.stderr}")
    doc = json.loads(camp.benchctl("bisect", "log", str(folder), "--format", "json", timeout=60).stdout)
    text = camp.benchctl("bisect", "log", str(folder), timeout=60).stdout
    return {"doc": doc, "text": text, "wall_s": round(time.monotonic() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    work = a.work or arm64_guest.default_work()
    out = (a.out or REPO / "results" / "bisect-demo" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    guest = camp.build(work)
    kvers = kernels(guest, work)
    log(f"kernels in order: {' '.join(kvers)}")
    t_build = time.monotonic() - t0
    env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(out / "cp")}
    results = {}
    try:
        camp.start(guest, guest.kernels["with"], "ampereone")
        for name, criterion in CRITERIA:
            results[name] = bisect(guest, out, name, criterion, kvers, env)
    finally:
        camp.stop(guest)
        kill_control_masters(out / "cp")
        for log_file in guest.console_logs:
            shutil.copy2(log_file, out / log_file.name)
    for name, res in results.items():
        d = res["doc"]
        print(f"== bisection {name}: {d['criterion']}")
        print(res["text"], end="")
        print(f"   {len(d['steps'])} steps, {d['boots']} boots, wall {res['wall_s']} s")
    print(f"kernels: {' '.join(kvers)}; build {t_build:.0f} s, total {time.monotonic() - t0:.0f} s; folders in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
