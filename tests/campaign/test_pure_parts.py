"""The campaign's pure parts: arms and orders, plan validation, boot verification, the books, fetched results."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from benchctl.analyze import predictions
from benchctl.analyze.checks import boot_method
from benchctl.campaign import adaptive as campaign_adaptive
from benchctl.campaign import collect, progress, schedule, verify
from benchctl.campaign.playbook import parse_log, round_deadline
from benchctl.env.fingerprint import collect as fingerprint
from benchctl.errors import InputError, UsageError
from benchctl.results.table import BootMeta

ARM64 = Path(__file__).parents[1] / "fixtures" / "arm64"


def _plan(**kw) -> dict:
    arms = [
        schedule.parse_arm("pte=6.1.0-57-arm64:console=ttyAMA0 rodata=full", "kexec"),
        schedule.parse_arm("block=6.1.0-57-arm64:console=ttyAMA0 rodata=on", "kexec"),
    ]
    args = dict(
        arms=arms,
        hosts=["h1", "h2"],
        boots=2,
        order="abab",
        seed=0,
        method="kexec",
        boot_command=None,
        run={"suite": None, "workloads": ["boot-memory"], "preset": "quick", "set": [], "perf": False},
        timeouts=dict(schedule.DEFAULT_TIMEOUTS),
        inventory_source="lab.ini",
    )
    args.update(kw)
    return schedule.make_schedule(**args)


# -- arms --------------------------------------------------------------------------------------


def test_arm_from_a_release_is_debians_kernel_and_initrd():
    a = schedule.parse_arm("pte=6.1.0-57-arm64:console=ttyAMA0 rodata=full", "kexec")
    assert (a.kernel, a.initrd, a.release) == (
        "/boot/vmlinuz-6.1.0-57-arm64",
        "/boot/initrd.img-6.1.0-57-arm64",
        "6.1.0-57-arm64",
    )
    assert a.cmdline_mode == "whole" and a.expect == {
        "release": "6.1.0-57-arm64",
        "cmdline": ["console=ttyAMA0", "rodata=full"],
        "rodata": "full",
        "linear_map": "pte",
    }


def test_arm_extra_parameters_and_rodata_meaning_by_release():
    a = schedule.parse_arm("block=/boot/vmlinuz-6.1.0-57-arm64:+rodata=on", "kexec")
    assert a.cmdline_mode == "extra" and a.cmdline == "rodata=on" and a.expect["rodata"] == "noalias"
    b = schedule.parse_arm("block=/boot/vmlinuz-6.18.0:+rodata=on", "kexec")
    assert b.expect["rodata"] == "full"  # from 6.18, rodata=on is full protection
    c = schedule.parse_arm("new=/srv/k/Image", "kexec")
    assert c.cmdline_mode == "keep" and c.release is None and c.initrd is None
    assert c.expect == {"release": None, "cmdline": [], "rodata": None, "linear_map": None}


def test_grub_entry_kernel_release_from_the_title():
    a = schedule.parse_arm(
        "pte=Advanced options>Debian GNU/Linux, with Linux 6.1.0-57-arm64:rodata=full", "grub-reboot"
    )
    assert a.release == "6.1.0-57-arm64" and a.initrd is None


@pytest.mark.parametrize(
    "text", ["pte", "pte=", "p t=6.1.0", "-x=6.1.0", "pte=foo/bar", "pte=notarelease", "pte=6.1.0:rodata='unclosed"]
)
def test_bad_arm_is_a_usage_error(text):
    with pytest.raises(UsageError):
        schedule.parse_arm(text, "kexec")


def test_overrides():
    arms = {
        "pte": schedule.parse_arm("pte=6.1.0:rodata=full", "kexec"),
        "block": schedule.parse_arm("block=6.1.0:rodata=on", "kexec"),
    }
    schedule.apply_overrides(arms, ("pte=none",), ("block:linear_map=any", "pte:release=6.1.0-57-arm64"))
    assert arms["pte"].initrd is None and arms["block"].expect["linear_map"] is None
    assert arms["pte"].expect["release"] == "6.1.0-57-arm64"
    for bad in (("pte:color=red",), ("x:release=1",), ("pte:linear_map=huge",)):
        with pytest.raises(UsageError):
            schedule.apply_overrides(arms, (), bad)


def test_boot_orders():
    assert schedule.boot_order("abab", ["a", "b"], 2, 0, "h") == ["a", "b", "a", "b"]
    assert schedule.boot_order("abba", ["a", "b"], 3, 0, "h") == ["a", "b", "b", "a", "a", "b"]
    r1 = schedule.boot_order("random", ["a", "b"], 5, 7, "h1")
    assert sorted(r1) == ["a"] * 5 + ["b"] * 5 and r1 == schedule.boot_order("random", ["a", "b"], 5, 7, "h1")


def test_boot_command_placeholders():
    assert schedule.parse_boot_command("labctl boot {host} --cmdline {cmdline}", "command") == [
        "labctl",
        "boot",
        "{host}",
        "--cmdline",
        "{cmdline}",
    ]
    with pytest.raises(UsageError):
        schedule.parse_boot_command("labctl {hots}", "command")
    with pytest.raises(UsageError):
        schedule.parse_boot_command(None, "command")
    with pytest.raises(UsageError):
        schedule.parse_boot_command("x", "kexec")


def test_make_schedule_and_describe():
    p = _plan()
    assert p["baseline"] == "pte" and p["candidate"] == "block"
    assert [b["arm"] for b in p["hosts"]["h2"]] == ["pte", "block", "pte", "block"]
    assert schedule.validate(json.loads(json.dumps(p)), Path("plan.json")) == p
    text = schedule.describe(p)
    assert all(len(line) <= 72 for line in text.splitlines()), text
    text = " ".join(text.split())
    assert "2 host(s) x 4 boots" in text and "rodata noalias" in text and "h1: pte block pte block" in text


def test_three_arms_interleaved_and_described():
    """A baseline and two candidates (6.18 trusted CPU, untrusted, rodata=noalias): every round
    boots each arm once, ABBA reverses whole rounds, and the plan lists the candidates."""
    arms = [
        schedule.parse_arm("pte=6.18.15+deb13-arm64:console=ttyAMA0", "kexec"),
        schedule.parse_arm("block=6.18.15+deb13-arm64:console=ttyAMA0", "kexec"),
        schedule.parse_arm("noalias=6.18.15+deb13-arm64:console=ttyAMA0 rodata=noalias", "kexec"),
    ]
    p = _plan(arms=arms, boots=2)
    assert p["baseline"] == "pte" and p["candidates"] == ["block", "noalias"] and p["candidate"] == "block"
    assert [b["arm"] for b in p["hosts"]["h1"]] == ["pte", "block", "noalias"] * 2
    assert schedule.boot_order("abba", ["a", "b", "c"], 2, 0, "h") == ["a", "b", "c", "c", "b", "a"]
    assert sorted(schedule.boot_order("random", ["a", "b", "c"], 2, 1, "h")) == ["a", "a", "b", "b", "c", "c"]
    assert schedule.validate(json.loads(json.dumps(p)), Path("plan.json")) == p
    text = " ".join(schedule.describe(p).split())
    assert "2 host(s) x 6 boots" in text and "candidate noalias" in text and "candidate block" in text
    bad = json.loads(json.dumps(p))
    bad["candidates"] = ["block", "purple"]
    with pytest.raises(InputError, match="candidates"):
        schedule.validate(bad, Path("plan.json"))
    with pytest.raises(UsageError, match="labelled 'pte'"):
        _plan(arms=[arms[0], arms[1], arms[0]])


# -- a plan edited by hand -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda p: p.update(format="benchctl-campaign-plan/2"), "newer than this benchctl"),
        (lambda p: p.update(format="something"), "format: 'something' is not"),
        (lambda p: p.update(baseline="nope"), "baseline: 'nope' is not an arm"),
        (lambda p: p.update(candidate="pte"), "candidate: the same arm as the baseline"),
        (lambda p: p["hosts"]["h1"].pop(0), "hosts.h1[0].index: 1, expected 0"),
        (lambda p: p["hosts"].update(h1=[]), "hosts.h1: not a non-empty list"),
        (lambda p: p["hosts"].update({"../x": p["hosts"]["h1"]}), "hosts.../x: not a valid host name"),
        (lambda p: p["arms"]["pte"].update(cmdline_mode="sometimes"), "arms.pte.cmdline_mode"),
        (lambda p: p["arms"]["pte"]["expect"].update(linear_map="huge"), "arms.pte.expect.linear_map"),
        (lambda p: p["run"].update(suite="bbml2"), "run: give either a suite name or"),
        (lambda p: p["run"].update(perf="yes"), "run.perf: 'yes' is not a bool"),
        (lambda p: p["timeouts"].update(suite_s=True), "timeouts.suite_s: True is not a int"),
        (lambda p: p.update(boot_method="command", boot_command=None), "boot_command"),
    ],
)
def test_nonsense_plans_name_the_key(edit, words):
    p = _plan()
    edit(p)
    with pytest.raises(InputError) as e:
        schedule.validate(p, Path("DIR/plan.json"))
    assert words in str(e.value) and "DIR/plan.json" in str(e.value)


def test_load_plan_of_a_folder_without_one(tmp_path):
    with pytest.raises(InputError, match="no plan.json"):
        schedule.load_schedule(tmp_path)
    with pytest.raises(InputError, match="no such directory"):
        schedule.load_schedule(tmp_path / "missing")


# -- verification --------------------------------------------------------------------------------


def test_recorded_pte_boot_is_the_pte_arm_and_not_the_block_arm():
    fp = fingerprint(ARM64 / "qemu-n1-6.1-4k-rodatafull")
    pte = schedule.parse_arm("pte=6.1.192:console=ttyAMA0 panic=-1", "kexec").expect
    pte["rodata"], pte["linear_map"] = "full", "pte"
    v = verify.verify(fp, "pte", pte)
    assert v.ok and v.observed["linear_map_source"] == "ptdump", v.mismatches
    block = schedule.parse_arm("block=6.1.192:console=ttyAMA0 panic=-1 rodata=on", "kexec").expect
    w = verify.verify(fp, "block", block)
    assert not w.ok
    assert "command line lacks rodata=on" in w.mismatches
    assert "rodata.effective is full, planned noalias" in w.mismatches
    assert "linear_map.state is pte (ptdump), planned block" in w.mismatches
    assert w.line().startswith(f"boot {fp['boot']['id'][:8]} is not arm block: ")


def test_unchecked_expectations_are_listed():
    fp = fingerprint(ARM64 / "qemu-n1-6.1-4k-rodataon")
    v = verify.verify(fp, "new", {"release": None, "cmdline": [], "rodata": None, "linear_map": None})
    assert v.ok and v.unchecked == [
        "command line",
        "kernel release",
        "rodata.effective",
        "linear_map.state",
        "MIDR",
        "BBML2 line",
        "linear_map.source",
    ]
    assert "not checked" in v.line()


def test_cmdline_last_occurrence_wins():
    assert verify.cmdline_mismatches(["rodata=on"], "rodata=full rodata=on") == []
    assert verify.cmdline_mismatches(["rodata=on"], "rodata=on rodata=full") == [
        "command line has rodata=full, planned rodata=on"
    ]
    assert verify.cmdline_mismatches(["nokaslr"], "BOOT_IMAGE=/x nokaslr") == []
    assert verify.cmdline_mismatches(["nokaslr"], "quiet") == ["command line lacks nokaslr"]


# -- the books -----------------------------------------------------------------------------------


def test_progress_next_boot_status_and_eta(tmp_path):
    p = _plan()
    prog = progress.empty(p)
    assert progress.next_boot(p, prog, "h1") == 0 and progress.eta_seconds(p, prog) is None
    prog["hosts"]["h1"]["done"]["0"] = {"arm": "pte"}
    prog["hosts"]["h2"]["done"]["0"] = {"arm": "pte"}
    prog["hosts"]["h2"]["last_error"] = {"index": 1, "phase": "reboot", "message": "gone", "at": "t"}
    prog["rounds"].append({"seconds": 40.0, "boots_done": 2})
    assert progress.next_boot(p, prog, "h1") == 1
    assert progress.eta_seconds(p, prog) == 120.0  # 3 rounds left x 40 s
    progress.save(tmp_path, prog)
    again = progress.load(tmp_path, p)
    rep = progress.status_report(p, again)
    assert rep["boots_done"] == 2 and rep["boots_planned"] == 8
    assert rep["hosts"]["h1"]["done"] == {"pte": 1, "block": 0}
    text = progress.status_text(p, again)
    assert "2/8 boots done" in text and "ETA 2 min" in text and "last error (boot 1, reboot, t): gone" in text


def test_progress_refuses_a_plan_edited_under_finished_boots(tmp_path):
    p = _plan()
    prog = progress.empty(p)
    prog["hosts"]["h1"]["done"]["1"] = {"arm": "block"}
    progress.save(tmp_path, prog)
    p["hosts"]["h1"][1]["arm"] = "pte"
    p["hosts"]["h1"][0]["arm"] = "block"
    with pytest.raises(InputError, match=r"hosts.h1\[1\].arm is 'pte' but boot 1 of h1 was measured as 'block'"):
        progress.load(tmp_path, p)
    other = _plan()
    with pytest.raises(InputError, match="belongs to campaign"):
        progress.load(tmp_path, other)


# -- fetched results -----------------------------------------------------------------------------


def _archive(path: Path, top: str, files: dict[str, object], extra: tarfile.TarInfo | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            tar.addfile(extra)
    return path


VER = {
    "format": verify.VERIFY_FORMAT,
    "arm": "pte",
    "ok": True,
    "boot_id": "b-1",
    "mismatches": [],
    "observed": {"linear_map": "pte"},
}


def test_store_a_checked_boot(tmp_path):
    arc = _archive(
        tmp_path / "a.tar.gz",
        "boot-000.r1",
        {"verify.json": VER, "runs/host/run-1/run.json": {"run_id": "run-1", "boot_id": "b-1", "arm": "pte"}},
    )
    final, ver, runs = collect.store(
        arc,
        "boot-000.r1",
        tmp_path / "boots",
        tmp_path / "aborted",
        host="h1",
        index=0,
        arm="pte",
        record={"host": "h1"},
    )
    assert final == tmp_path / "boots/h1/000-pte" and ver["boot_id"] == "b-1"
    assert runs == [final / "runs/host/run-1"]
    rec = json.loads((final / "boot.json").read_text())
    assert rec["format"] == collect.BOOT_FORMAT and rec["boot_id"] == "b-1" and rec["runs"] == ["runs/host/run-1"]


@pytest.mark.parametrize(
    "files, words",
    [
        (
            {"verify.json": VER, "runs/h/r/run.json": {"run_id": "r", "boot_id": "b-0", "arm": "pte"}},
            "run r was measured on boot b-0, not on the verified boot b-1",
        ),
        (
            {"verify.json": VER, "runs/h/r/run.json": {"run_id": "r", "boot_id": "b-1", "arm": "block"}},
            "run r is labelled arm 'block'",
        ),
        ({"verify.json": {**VER, "ok": False}}, "does not confirm arm pte"),
        ({"verify.json": VER}, "the suite left no run folder"),
    ],
)
def test_store_refuses_what_does_not_add_up(tmp_path, files, words):
    arc = _archive(tmp_path / "a.tar.gz", "t", files)
    with pytest.raises(collect.Refused, match=words):
        collect.store(arc, "t", tmp_path / "boots", tmp_path / "aborted", host="h1", index=0, arm="pte", record={})
    assert not (tmp_path / "boots/h1/000-pte").exists()
    assert list((tmp_path / "aborted/h1").iterdir())  # kept aside, not deleted


def test_store_refuses_links_and_escapes(tmp_path):
    link = tarfile.TarInfo("t/runs/evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    arc = _archive(tmp_path / "a.tar.gz", "t", {"verify.json": VER}, extra=link)
    with pytest.raises(collect.Refused, match="not a plain file"):
        collect.store(arc, "t", tmp_path / "boots", tmp_path / "aborted", host="h1", index=0, arm="pte", record={})
    arc = _archive(tmp_path / "b.tar.gz", "../t", {"verify.json": VER})
    with pytest.raises(collect.Refused, match="outside"):
        collect.store(arc, "t", tmp_path / "boots", tmp_path / "aborted", host="h1", index=0, arm="pte", record={})


# -- reading Ansible's output --------------------------------------------------------------------


def test_parse_log_finds_unreachable_and_failed_hosts():
    unreachable = {
        "changed": False,
        "unreachable": True,
        "msg": "Failed to connect to the host via ssh: ssh: connect to host 10.77.255.254 port 22: No route to host",
    }
    log = "\n".join(
        [
            "TASK [reach: the host answers] ***************",
            "fatal: [h9]: UNREACHABLE! => " + json.dumps(unreachable),
            "TASK [plan: which boot, which arm] ***",
            'fatal: [h2]: FAILED! => {"msg": "line one\\nthe last line"}',
        ]
    )
    got = parse_log(log)
    assert got["h9"][1] == "UNREACHABLE" and got["h9"][2].endswith("No route to host")
    assert got["h2"] == ("plan: which boot, which arm", "FAILED", "the last line")


def test_round_deadline_covers_the_plans_timeouts():
    p = _plan()
    t = p["timeouts"]
    assert round_deadline(p) > t["reboot_s"] + t["suite_s"] + t["connect_s"]


# -- analyze: boot methods and the page-table prediction ---------------------------------------


def _boot(arm: str, boot: str, method: str | None) -> BootMeta:
    return BootMeta(arm, "h", boot, f"run-{boot}", "boot-memory", "dir", boot_method=method)


def test_boot_method_check():
    same = [_boot("pte", "1", "kexec"), _boot("block", "2", "kexec"), _boot("pte", "3", "kexec")]
    assert boot_method(same, "pte", "block") == []
    assert boot_method([_boot("pte", "1", None), _boot("block", "2", None)], "pte", "block") == []
    cold = [_boot("pte", "0", "cold"), *same]
    [w] = boot_method(cold, "pte", "block")
    assert w.startswith("boot method differs between boots (pte: cold 1, kexec 2; block: kexec 1)")
    [w] = boot_method([_boot("pte", "1", "kexec"), _boot("block", "2", None)], "pte", "block")
    assert "block: unknown 1" in w


def test_pagetables_prediction_from_a_recorded_fingerprint():
    env = json.loads(json.dumps(fingerprint(ARM64 / "qemu-n1-6.1-4k-rodatafull")))
    pred = predictions.pagetables(env)
    assert pred["ram_bytes"] == 2 << 30 and pred["granule_bytes"] == 4096 and pred["saving_bytes"] == 4202496
    assert "'Memory:' boot line" in pred["ram_from"] and pred["simulated"] is True
    env["memory"]["ram_kb"] = None
    assert "MemTotal" in predictions.pagetables(env)["ram_from"]
    text = predictions.describe({**pred, "saving_kb": 4104.0, "change_pct": 0.2022})
    assert text.startswith("model pagetables (SIMULATED, exact arithmetic): +0.202 % (+4104 kB of PTE tables for 2 GiB")


# -- the host's one step: verify, run, pack ---------------------------------------------------------


def test_measure_refuses_a_wrong_arm_boot_before_measuring(tmp_path):
    from benchctl.campaign.measure import RunSpec, measure
    from benchctl.errors import RunFailed

    expect = {"release": "6.1.192", "cmdline": ["rodata=on"], "rodata": "noalias", "linear_map": "block"}
    with pytest.raises(RunFailed, match=r"^verify: boot \w+ is not arm block: "):
        measure(
            "block", expect, tmp_path / "b", RunSpec(workloads=["boot-memory"]), ARM64 / "qemu-n1-6.1-4k-rodatafull"
        )
    assert (tmp_path / "b/verify.json").is_file() and not (tmp_path / "b/runs").exists()
    assert not (tmp_path / "b.tar.gz").exists()


def test_pack_has_one_top_folder(tmp_path):
    from benchctl.campaign.measure import pack

    (tmp_path / "boot-000.r1/runs/h").mkdir(parents=True)
    (tmp_path / "boot-000.r1/verify.json").write_text("{}")
    archive = pack(tmp_path / "boot-000.r1")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert archive.name == "boot-000.r1.tar.gz" and all(n.split("/")[0] == "boot-000.r1" for n in names)
    assert "boot-000.r1/verify.json" in names


# -- arms that differ by CPU identity (the change itself: Debian's 6.18 on a trusted CPU) ----------

TRIXIE = Path(__file__).parents[1] / "fixtures" / "arm64-trixie"
K18 = "6.18.15+deb13-arm64"


def _identity_arms(*expects: str) -> dict[str, schedule.Arm]:
    arms = {
        "pte": schedule.parse_arm(f"pte={K18}:console=ttyAMA0", "command"),
        "block": schedule.parse_arm(f"block={K18}:console=ttyAMA0", "command"),
    }
    schedule.apply_overrides(arms, (), expects)
    return arms


def test_expect_cpu_identity_bbml2_line_and_linear_map_source():
    arms = _identity_arms("block:midr=C00FAC30", "block:bbml2=yes", "block:linear_map_source=kcore", "pte:midr=any")
    assert arms["block"].expect["midr"] == "0xc00fac30"  # normalised as the fingerprint prints it
    assert (arms["block"].expect["bbml2"], arms["block"].expect["linear_map_source"]) == ("yes", "kcore")
    assert arms["pte"].expect["midr"] is None


@pytest.mark.parametrize(
    "item, words",
    [
        ("block:midr=ampere", "a MIDR is a hexadecimal number"),
        ("block:bbml2=maybe", "bbml2 is one of yes, no"),
        ("block:linear_map_source=guess", "linear_map_source is one of ptdump, kcore"),
    ],
)
def test_bad_identity_expectations_are_usage_errors(item, words):
    with pytest.raises(UsageError, match=words):
        _identity_arms(item)


def test_boot_command_midr_placeholder_needs_every_arms_identity():
    arms = _identity_arms("block:midr=0xc00fac30")
    cmd = schedule.parse_boot_command("labctl boot {host} --midr {midr}", "command")
    with pytest.raises(UsageError, match="arm pte has no CPU identity: add --expect pte:midr="):
        _plan(arms=list(arms.values()), method="command", boot_command=cmd)
    schedule.apply_overrides(arms, (), ("pte:midr=0x414fd0c1",))
    p = _plan(arms=list(arms.values()), method="command", boot_command=cmd)
    assert p["arms"]["pte"]["expect"]["midr"] == "0x414fd0c1"
    edited = json.loads(json.dumps(p))
    edited["arms"]["pte"]["expect"]["bbml2"] = "perhaps"
    with pytest.raises(InputError, match="arms.pte.expect.bbml2"):
        schedule.validate(edited, Path("plan.json"))


@pytest.mark.parametrize(
    "tree, arm, expect, mismatch",
    [
        ("ampereone-6.18", "block", {"midr": "0xc00fac30", "bbml2": "yes"}, None),
        ("n1-6.18", "pte", {"midr": "0x414fd0c1", "bbml2": "no"}, None),
        ("n1-6.18", "block", {"midr": "0xc00fac30"}, "MIDR is 0x414fd0c1, planned 0xc00fac30 on every CPU"),
        ("n1-6.18", "block", {"bbml2": "yes"}, "kernel log BBML2 line is absent, planned present"),
        ("ampereone-6.17", "after", {"bbml2": "yes"}, "kernel log BBML2 line is absent, planned present"),
    ],
)
def test_recorded_trixie_boots_checked_for_their_cpu_identity(tree, arm, expect, mismatch):
    fp = fingerprint(TRIXIE / tree)
    v = verify.verify(fp, arm, {"release": None, "cmdline": [], "rodata": None, "linear_map": None, **expect})
    assert v.mismatches == ([mismatch] if mismatch else [])
    assert v.observed["emulation"]["emulated"] is True


def test_release_confound_is_named_and_follows_the_verdict():
    from benchctl.analyze.checks import releases
    from benchctl.analyze.report.common import verdict_word

    boots = [
        BootMeta(arm="before", host="h", boot="a", run="r1", workload="w", source="run", kernel_release="6.17.13"),
        BootMeta(arm="after", host="h", boot="b", run="r2", workload="w", source="run", kernel_release="6.18.15"),
    ]
    (w,) = releases(boots, "before", "after")
    assert w.startswith("release confound:") and "6.17.13" in w and "6.18.15" in w
    same = [BootMeta(**{**b.as_dict(), "kernel_release": "6.18.15"}) for b in boots]
    assert releases(same, "before", "after") == []
    assert verdict_word({"verdict": "confirmed", "warnings": [w]}) == "CONFIRMED (release confound)"
    assert verdict_word({"verdict": "not-judged", "warnings": [w]}) == "NOT JUDGED"


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--preset", "nosuch"], "--preset nosuch"),
        (["--set", "nosuch=1"], "--set nosuch"),
        (["--workload", "seqread-xfs", "--set", "size=banana"], "--set size"),
        (["--workload", "nosuch"], "no workload 'nosuch'"),
    ],
)
def test_campaign_plan_refuses_what_would_fail_after_a_reboot(tmp_path, extra, words):
    """Preset, --set keys and values are resolved as `benchctl run` would, before plan.json exists."""
    import subprocess
    import sys

    inv = tmp_path / "hosts.ini"
    inv.write_text("[lab]\nlocalhost\n")
    out = tmp_path / "camp"
    argv = [sys.executable, "-m", "benchctl", "campaign", "plan", "--arm", "pte=6.1", "--arm", "block=6.1"]
    r = subprocess.run(
        [*argv, "--hosts", str(inv), *extra, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert words in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_inventory_is_written_without_pyyaml(tmp_path, monkeypatch):
    """With ansible-core installed system-wide, benchctl's venv has no yaml module: the plan used to die
    with a traceback there. The inventory is JSON (which is YAML); ansible reads it (test_campaign_fleet)."""
    import sys

    from benchctl.campaign.inventory import GROUP, write_inventory

    monkeypatch.setitem(sys.modules, "yaml", None)
    path = write_inventory(tmp_path, {"h1": {"ansible_port": 2222}}, "lab.ini")
    body = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#"))
    assert json.loads(body) == {GROUP: {"hosts": {"h1": {"ansible_port": 2222}}}}
    assert path.stat().st_mode & 0o777 == 0o600


# -- campaign/adaptive.py: the plan's record, its validation, the boots it allows (the real adaptive
# campaign is test_campaign_fleet.py::test_until_decided_stops_on_the_exact_memory_claim)


def test_record_writes_a_valid_adaptive_plan_once():
    p = _plan(boots=4, hosts=["h1"])
    assert campaign_adaptive.record(p, "bbml2", 3, None)
    assert p["adaptive"]["max_boots"] == 3 and p["adaptive"]["confidence"] == 0.95
    assert Path(p["adaptive"]["claims"]).name == "bbml2.toml"
    schedule.validate(p, Path("plan.json"))
    assert not campaign_adaptive.record(p, None, None, None)  # a resumed run keeps it
    with pytest.raises(UsageError, match="already adaptive with max_boots 3"):
        campaign_adaptive.record(p, None, 4, None)


def test_max_boots_cannot_exceed_the_plan():
    with pytest.raises(UsageError, match="plan at least 6"):
        campaign_adaptive.record(_plan(boots=4, hosts=["h1"]), None, 6, None)


def test_a_bad_record_is_exit_3_naming_the_key():
    p = _plan(boots=4, hosts=["h1"])
    p["adaptive"] = {"claims": "bbml2", "max_boots": 1, "confidence": 0.95}
    with pytest.raises(InputError, match="adaptive: expected"):
        schedule.validate(p, Path("plan.json"))


@pytest.mark.parametrize("order", ["abab", "abba", "random"])
def test_allowed_cuts_where_an_arm_would_exceed_max_boots(order):
    p = _plan(boots=5, order=order, seed=3, hosts=["h1"])
    assert campaign_adaptive.allowed(p, "h1") == 10  # not adaptive: the whole plan
    campaign_adaptive.record(p, "bbml2", 2, None)
    n = campaign_adaptive.allowed(p, "h1")
    first = [b["arm"] for b in p["hosts"]["h1"][:n]]
    assert first.count("pte") <= 2 and first.count("block") <= 2
    assert p["hosts"]["h1"][n]["arm"] in {a for a in ("pte", "block") if first.count(a) == 2}


def test_adaptive_needs_two_boots_per_arm_planned():
    with pytest.raises(UsageError, match="the plan has 1 boot per arm; an adaptive campaign needs at least 2"):
        campaign_adaptive.record(_plan(boots=1, hosts=["h1"]), None, None, None)
