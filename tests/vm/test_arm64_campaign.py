"""The change itself on real arm64 kernels: a campaign of cold boots under qemu (TCG), through Ansible.

Debian's 6.18 (newest 6.18.x in trixie-backports, with the block-mapping
series) boots as two arms that differ only by the CPU identity qemu gives the
guest: block = AmpereOne MIDR (on 6.18's BBML2_NOABORT allow-list: the
linear map stays in blocks under rodata=full), pte = Neoverse N1 (not on it:
PTEs). The identity cannot change across kexec, so every boot is a cold boot
by tests/vm/boot_controller.py (`--boot-method command`), two per arm in ABAB
order, driven by `benchctl campaign` through Ansible over ssh to a
127.0.0.1 port. Every boot is verified (release, command line, MIDR of every
CPU, the kernel's BBML2 line, the linear map walked in /proc/kcore) before
boot-memory runs; then `benchctl analyze` judges the memory claims, with the
page-table prediction of `benchctl model pagetables` beside them.
tests/vm/arm64_campaign.py builds and runs the guest (`make campaign-demo`
runs this design and the 6.17-vs-6.18 one with three boots per arm).

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
import arm64_guest  # noqa: E402

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
    out = tmp_path_factory.mktemp("arm64-campaign")
    res = ac.campaign(arm64_guest.default_work(), out, "same-kernel", boots=2)
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


def test_four_cold_boots_abab_by_the_boot_controller(campaign):
    boots = _boots(campaign)
    assert [b["arm"] for b in boots] == ["pte", "block", "pte", "block"]
    assert all(b["boot_method"] == "command" for b in boots)
    ids = [b["boot_id"] for b in boots]
    cold = json.loads((Path(campaign["out"]) / "cold-env.json").read_text())["boot"]["id"]
    assert len(set(ids + [cold])) == 5, "every boot must have a new boot id (and none is the first cold boot)"
    # each boot is a new qemu process with its own console: the first cold boot, then one per planned boot
    ups = campaign["ups"]
    assert len(ups) == 5 and [u.split()[1] for u in ups[1:]] == ids
    assert all(u.endswith(ac.BASE_CMDLINE) for u in ups)  # same command line on both arms


def test_each_boot_verified_as_its_cpu_identity_from_kcore(campaign):
    want = {"pte": ("0x414fd0c1", False), "block": ("0xc00fac30", True)}
    for b in _boots(campaign):
        v = b["verified"]
        assert v["release"] == campaign["kernels"]["with"]
        assert [m["value"] for m in v["midr"]] == [want[b["arm"]][0]]
        assert v["bbml2_dmesg"] is want[b["arm"]][1]
        assert (v["linear_map"], v["linear_map_source"]) == (b["arm"], "kcore")
        assert v["rodata"] == "full"  # 6.18's default: the arms differ by the CPU alone
        assert v["emulation"]["emulated"] is True


def test_memtotal_moves_by_the_page_tables(campaign):
    """Reserved before the page allocator counts memory: the same MemTotal on every boot of an arm."""
    boots = _boots(campaign)
    total = {arm: {b["verified"]["mem_total_kb"] for b in boots if b["arm"] == arm} for arm in ("pte", "block")}
    assert len(total["pte"]) == 1 and len(total["block"]) == 1, total
    diff_kb = next(iter(total["block"])) - next(iter(total["pte"]))
    assert 3000 < diff_kb < 6000, f"block - pte MemTotal = {diff_kb} kB; ~4 MiB of PTE tables expected for 2 GiB"


def test_analyze_confirms_the_memory_claim_exactly(campaign):
    """Arms from the plan; MemTotal's change is what the page-table arithmetic says for 2 GiB."""
    doc, text = ac.analyze(Path(campaign["folder"]))
    print(ac.verdict_lines(doc))
    assert (doc["baseline"], doc["candidate"]) == ("pte", "block")
    assert not any("boot method" in w or "release confound" in w for w in doc["checks"]), doc["checks"]
    claims = {c["id"]: c for c in doc["claims"]}
    total = claims["boot-memory-total"]
    pred = total["prediction"]
    # 6.18's rules (kernel image alias, KFENCE, allow-list) for the AmpereOne arm: 4032 kB, as measured
    assert pred["simulated"] and pred["ram_bytes"] == 2 << 30
    assert (pred["release"], pred["saving_kb"]) == ("6.18", 4032.0)
    assert total["change_pct"] > 0 and abs(total["change_pct"] - pred["change_pct"]) < 0.01, (total, pred)
    assert total["exact"] and total["ci_pct"] == [total["change_pct"]] * 2 and total["verdict"] == "confirmed", total
    assert claims["boot-memory"]["verdict"] != "not-judged", claims["boot-memory"]["warnings"][:1]
    assert "model pagetables (SIMULATED" in text
    assert "exact: +" in ac.verdict_lines(doc)


def test_the_boot_controller_left_no_guest_running(campaign):
    state = arm64_guest.default_work() / "state" / "arm64.json"
    pgid = json.loads(state.read_text()).get("pgid")
    assert pgid is None, f"boot_controller state still names qemu process group {pgid}"
