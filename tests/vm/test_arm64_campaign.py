"""The memory claim on real arm64 kernels: a campaign of real kexec reboots under qemu (TCG).

Debian 12's arm64 kernel boots as two arms -- pte = rodata=full (6.1's
default: the linear map in 4 KiB PTEs) and block = rodata=on (blocks) -- two
boots each in ABAB order, each a real `kexec -e` from inside the guest,
driven by `benchctl campaign` through Ansible over ssh to a 127.0.0.1 port.
Every boot is verified (release, command line, rodata, linear map) and runs
boot-memory. Then `benchctl analyze` on the campaign folder gives the
boot-memory verdicts, with the page-table prediction of `benchctl model
pagetables` beside them. tests/vm/arm64_campaign.py builds and runs the guest.

    BENCHCTL_VM=1 .venv/bin/python -m pytest tests/vm/test_arm64_campaign.py -v -s
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import arm64_campaign as ac  # noqa: E402

pytestmark = pytest.mark.vm


def _skip_reason() -> str | None:
    if os.environ.get("BENCHCTL_VM") != "1":
        return "arm64 campaign: set BENCHCTL_VM=1 to boot Debian's arm64 kernel under qemu (about 6 minutes)"
    for tool in ("qemu-system-aarch64", "mmdebstrap", "depmod", "cpio", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"arm64 campaign: {tool} is not installed (scripts/setup.sh with BENCHCTL_VM=1)"
    if not (Path(sys.executable).parent / "ansible-playbook").exists():
        return "arm64 campaign: ansible-playbook is not installed (pip install -e '.[campaign]')"
    if os.geteuid() != 0:
        return "arm64 campaign: needs root (mmdebstrap, qemu's 9p export)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> dict:
    work = Path(os.environ.get("BENCHCTL_VM_WORK", "/var/tmp/benchctl-vm")) / "arm64-campaign"
    out = tmp_path_factory.mktemp("arm64-campaign")
    res = ac.campaign(work, out)
    print(
        f"\narm64 campaign: build {res['build_s']} s, cold boot {res['cold_boot_s']} s, "
        f"campaign {res['campaign_s']} s, total {res['total_s']} s; folder {res['folder']}"
    )
    print(res["run_output"])
    print(ac.report(Path(res["folder"])))
    return res


def _boots(res: dict) -> list[dict]:
    recs = [json.loads(p.read_text()) for p in Path(res["folder"]).glob("boots/*/*/boot.json")]
    return sorted(recs, key=lambda r: r["index"])


def test_four_real_kexec_boots_abab(campaign):
    boots = _boots(campaign)
    assert [b["arm"] for b in boots] == ["pte", "block", "pte", "block"]
    assert all(b["boot_method"] == "kexec" for b in boots)
    ids = [b["boot_id"] for b in boots]
    cold = json.loads((Path(campaign["out"]) / "cold-env.json").read_text())["boot"]["id"]
    assert len(set(ids + [cold])) == 5, "every kexec must give a new boot id (and none is the cold boot)"
    # the guest's own console saw each kexec'd kernel come up with the planned command line
    ups = [m for _, m in campaign["marks"] if m.startswith("up ")]
    assert len(ups) == 5 and [u.split()[-1] for u in ups] == [
        "rodata=full",
        "rodata=full",
        "rodata=on",
        "rodata=full",
        "rodata=on",
    ]
    assert [u.split()[2] for u in ups[1:]] == ids


def test_each_boot_verified_as_its_arm(campaign):
    for b in _boots(campaign):
        v = b["verified"]
        assert v["release"] == campaign["kver"]
        assert v["rodata"] == {"pte": "full", "block": "noalias"}[b["arm"]]
        assert v["linear_map"] == b["arm"] and v["linear_map_source"] == "inferred"  # Debian: no ptdump


def test_memtotal_moves_by_the_page_tables(campaign):
    """Reserved before the page allocator counts memory: the same MemTotal on every boot of an arm."""
    boots = _boots(campaign)
    total = {arm: {b["verified"]["mem_total_kb"] for b in boots if b["arm"] == arm} for arm in ("pte", "block")}
    assert len(total["pte"]) == 1 and len(total["block"]) == 1, total
    diff_kb = next(iter(total["block"])) - next(iter(total["pte"]))
    assert 3000 < diff_kb < 6000, f"block - pte MemTotal = {diff_kb} kB; ~4 MiB of PTE tables expected for 2 GiB"


def test_analyze_on_the_campaign_folder(campaign):
    """Arms from the plan; MemTotal's change is what the page-table arithmetic says for 2 GiB."""
    doc, text = ac.analyze(Path(campaign["folder"]))
    print(ac.verdict_lines(doc))
    assert (doc["baseline"], doc["candidate"]) == ("pte", "block")
    assert not any("boot method" in w for w in doc["checks"])  # all four boots by kexec
    claims = {c["id"]: c for c in doc["claims"]}
    total = claims["boot-memory-total"]
    pred = total["prediction"]
    assert pred["simulated"] and pred["ram_bytes"] == 2 << 30 and pred["saving_kb"] == 4104.0
    assert total["change_pct"] > 0 and abs(total["change_pct"] - pred["change_pct"]) < 0.01, (total, pred)
    # MemTotal is exact for a kernel: the same on both boots of an arm, so the change is exact and judged
    assert total["exact"] and total["ci_pct"] == [total["change_pct"]] * 2 and total["verdict"] == "confirmed", total
    assert claims["boot-memory"]["verdict"] != "not-judged", claims["boot-memory"]["warnings"][:1]
    assert "model pagetables (SIMULATED" in text
