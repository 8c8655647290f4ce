"""`benchctl env` end to end: this machine live, a tree copied from it, bad input, load()."""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest
from env_trees import ARM64, PTDUMP, derive

from benchctl.env.fingerprint import FORMAT, collect, load
from benchctl.env.probes import tools
from benchctl.errors import InputError

X86 = pytest.mark.skipif(platform.machine() != "x86_64", reason="checks this x86_64 machine's own DirectMap lines")


def run(*args: str) -> subprocess.CompletedProcess:
    return deadline.run([sys.executable, "-m", "benchctl", "env", *args], timeout=60, phase="benchctl env", text=True)


def one_line_error(r: subprocess.CompletedProcess, code: int = 3) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("benchctl: error: ")
    return lines[0]


def live_directmap() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("DirectMap"):
            label, value = line.split(":")
            out[label] = int(value.split()[0])
    return out


# -- this machine -----------------------------------------------------------------------------


@X86
@pytest.mark.live
def test_live_json_on_this_machine() -> None:
    r = run("--format", "json")
    assert r.returncode == 0, r.stderr
    fp = json.loads(r.stdout)
    assert fp["format"] == FORMAT and fp["root"] == "/"
    assert fp["host"]["arch"] == "x86_64"
    assert fp["kernel"]["release"] == os.uname().release
    assert fp["kernel"]["cmdline"] == Path("/proc/cmdline").read_text().strip()
    assert set(fp["memory"]["directmap"]) == set(live_directmap()) and fp["memory"]["directmap"]
    assert fp["linear_map"]["source"] == "meminfo-directmap"
    assert fp["linear_map"]["state"] in ("block", "pte", "mixed")
    assert fp["cpu"]["bbml2_noabort"] is None and "not arm64" in fp["missing"]["cpu.bbml2_noabort"]
    assert fp["boot"]["id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert fp["cpu"]["count"] == os.cpu_count()
    assert fp["verdict"].startswith("arm: ")
    for name, version in fp["tools"].items():
        if shutil.which(name) is None:
            assert version is None and fp["missing"][f"tools.{name}"] == "not on PATH"
    if shutil.which("fio"):
        assert fp["tools"]["fio"].startswith("fio-")
    if shutil.which("memcached"):
        assert fp["tools"]["memcached"][0].isdigit()
    assert list(fp["tools"]) == list(tools.VERSION_ARGS)  # "mkfs.xfs" stays one key
    if shutil.which("mkfs.xfs"):
        assert fp["tools"]["mkfs.xfs"][0].isdigit()


@pytest.mark.live
@pytest.mark.skipif(not os.path.exists("/dev/kmsg") or shutil.which("dmesg") is None, reason="no /dev/kmsg or dmesg")
def test_kmsg_reader_matches_dmesg() -> None:
    from benchctl.env.kmsg import read_kmsg

    try:
        ours = [r.message for r in read_kmsg()]
    except PermissionError:
        pytest.skip("/dev/kmsg not readable (dmesg_restrict)")
    theirs = deadline.run(["dmesg", "--notime"], timeout=60, text=True, check=True).stdout.splitlines()
    assert ours and theirs
    assert ours[0].strip() == theirs[0].strip()


@X86
@pytest.mark.live
def test_live_collect_is_fast() -> None:
    collect(Path("/"))  # warm the tool-version cache and imports
    t0 = time.perf_counter()
    fp = collect(Path("/"))
    elapsed = time.perf_counter() - t0
    assert fp["host"]["arch"] == "x86_64"
    assert elapsed < 1.0, elapsed


def test_tools_not_on_path_and_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow-fio"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setattr(tools, "TIMEOUT_S", 0.3)
    fp = collect(Path("/"), which=lambda name: str(slow) if name == "fio" else None)
    assert fp["tools"]["fio"] is None and "no answer within 0.3 s" in fp["missing"]["tools.fio"]
    assert fp["tools"]["memcached"] is None and fp["missing"]["tools.memcached"] == "not on PATH"


def test_failing_version_command_gives_no_version(tmp_path: Path) -> None:
    # Debian's /usr/bin/perf wrapper without a matching linux-perf package: numbers, but rc 1.
    wrapper = tmp_path / "perf"
    wrapper.write_text("#!/bin/sh\necho 'WARNING: perf not found for kernel 6.18' >&2\nexit 1\n")
    wrapper.chmod(0o755)
    version, reason = tools.probe_tool(str(wrapper), ["--version"])
    assert version is None and "exit 1" in reason and "perf not found" in reason


def test_version_from_output() -> None:
    assert tools.version_from_output("memcached 1.6.18\n") == "1.6.18"
    assert tools.version_from_output("fio-3.33\n") == "fio-3.33"
    assert tools.version_from_output("memaslap v1.0\n") == "1.0"
    assert tools.version_from_output("cryptsetup 2.6.1 flags: UDEV BLKID\n") == "2.6.1"
    assert tools.version_from_output("") is None


@X86
def test_tree_copied_from_this_machine(tmp_path: Path) -> None:
    # A recorded tree of this x86 machine, made the way QEMU.md's /init records one.
    tree = tmp_path / "x86"
    for rel in (
        "proc/cpuinfo",
        "proc/meminfo",
        "proc/cmdline",
        "proc/version",
        "proc/uptime",
        "proc/sys/kernel/osrelease",
        "proc/sys/kernel/random/boot_id",
        "proc/sys/kernel/perf_event_paranoid",
        "sys/devices/system/cpu/online",
        "sys/kernel/mm/transparent_hugepage/enabled",
    ):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(Path("/", rel).read_bytes())
    fp = collect(tree)
    assert fp["host"]["arch"] == "x86_64"  # from cpuinfo: no config copied
    assert fp["linear_map"]["source"] == "meminfo-directmap"
    assert set(fp["memory"]["directmap"]) == set(live_directmap())
    assert fp["kernel"]["page_size"] == 4096
    assert fp["rodata"]["effective"] is None and "arm64" in fp["missing"]["rodata.effective"]
    assert fp["linear_map"]["expected"] is None


# -- bad input ----------------------------------------------------------------------------------


def test_root_that_does_not_exist(tmp_path: Path) -> None:
    line = one_line_error(run("--root", str(tmp_path / "nope")))
    assert "not a directory" in line and str(tmp_path / "nope") in line


def test_root_that_is_not_a_tree(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    line = one_line_error(run("--root", str(tmp_path)))
    assert "not a recorded tree: no proc/" in line
    with pytest.raises(InputError):
        collect(tmp_path)


def test_malformed_ptdump_line(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon with one line of its dump cut short.
    lines = (ARM64 / "qemu-n1-6.1-4k-rodataon" / PTDUMP).read_text().splitlines(keepends=True)
    lines[4] = lines[4][:40] + "\n"
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", ptdump="".join(lines))
    line = one_line_error(run("--root", str(tree)))
    assert f"{tree / PTDUMP}:5: malformed page-table line" in line


def test_unreadable_file_in_tree(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon: proc/cmdline replaced by a directory (read() fails with EISDIR).
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon")
    (tree / "proc/cmdline").unlink()
    (tree / "proc/cmdline").mkdir()
    line = one_line_error(run("--root", str(tree)))
    assert f"{tree / 'proc/cmdline'}: cannot read: Is a directory" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_in_tree(tmp_path: Path) -> None:
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon")
    (tree / "proc/cpuinfo").chmod(0)
    line = one_line_error(run("--root", str(tree)))
    assert "proc/cpuinfo: cannot read: Permission denied" in line


def test_corrupt_config_gz_and_non_utf8(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon: config.gz truncated; then cpuinfo with a stray Latin-1 byte.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon")
    data = (tree / "proc/config.gz").read_bytes()
    (tree / "proc/config.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="config.gz: not valid gzip data"):
        collect(tree)
    (tree / "proc/config.gz").write_bytes(gzip.compress(b"CONFIG_ARM64=y\n"))
    (tree / "proc/cpuinfo").write_bytes(b"processor\t: 0\nModel\t: caf\xe9\n")
    with pytest.raises(InputError, match="cpuinfo: not UTF-8 text"):
        collect(tree)


def test_text_and_json_for_a_recorded_tree() -> None:
    tree = ARM64 / "qemu-n1-6.1-4k-rodataon"
    r = run("--root", str(tree))
    assert r.returncode == 0, r.stderr
    first = r.stdout.split("\nhost:")[0]  # the verdict, wrapped at 72 columns
    assert " ".join(first.split()) == (
        "arm: block-mapped linear map (ptdump), no BBML2_NOABORT (Neoverse N1 r4p1), rodata=noalias"
    )
    assert max(len(line) for line in r.stdout.splitlines()) <= 72
    fp = json.loads(run("--root", str(tree), "--format", "json").stdout)
    assert fp["linear_map"]["bytes"]["CONT_PMD"] == 2080374784


# -- load() ---------------------------------------------------------------------------------------


def test_load_round_trip_and_versions(tmp_path: Path) -> None:
    fp = collect(ARM64 / "qemu-n1-6.1-4k-rodatafull")
    path = tmp_path / "env-before.json"
    path.write_text(json.dumps(fp))
    assert load(path) == fp
    path.write_text(json.dumps(fp | {"format": "benchctl-env/2"}))
    with pytest.raises(InputError, match=r"env-before\.json: written in benchctl-env/2, newer"):
        load(path)
    path.write_text(json.dumps(fp | {"format": "benchctl-run/1"}))
    with pytest.raises(InputError, match="not a fingerprint"):
        load(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load(path)
    with pytest.raises(InputError, match="cannot read"):
        load(tmp_path / "absent.json")


def test_non_arm64_host_says_the_question_does_not_apply(tmp_path: Path) -> None:
    """This x86 VM is not 'arm: block-mapped linear map': the linear-map question is arm64's (issue 13)."""
    r = run()
    assert r.returncode == 0, r.stderr
    if json.loads(run("--format", "json").stdout)["host"]["arch"] == "aarch64":
        pytest.skip("this host is arm64")
    assert r.stdout.startswith("arm: does not apply (")
    assert max(len(line) for line in r.stdout.splitlines()) <= 72
