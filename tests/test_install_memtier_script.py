"""scripts/install-memtier.sh: checksum, source lookup, failures as one line, nothing left behind.

The script runs from a copy of scripts/ and vendor/SHA256SUMS in a temporary
tree (it works relative to its own folder), with a PATH that hides any
installed memtier_benchmark, so these cases never touch the real install.
The successful build itself is what scripts/setup.sh does before the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARBALL = ROOT / "vendor" / "memtier_benchmark-2.3.0.tar.gz"
NO_MEMTIER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _tree(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "vendor").mkdir()
    shutil.copy(ROOT / "scripts" / "install-memtier.sh", repo / "scripts")
    shutil.copy(ROOT / "vendor" / "SHA256SUMS", repo / "vendor")
    (tmp_path / "tmp").mkdir()
    return repo


def _run(repo: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    if shutil.which("memtier_benchmark", path=NO_MEMTIER_PATH):
        pytest.skip("memtier_benchmark is installed in /usr/bin here: the script would rightly do nothing")
    full = {k: v for k, v in os.environ.items() if not k.startswith("BENCHCTL_MEMTIER")}
    full.update(PATH=NO_MEMTIER_PATH, TMPDIR=str(tmp_path / "tmp"), **env)
    return subprocess.run(
        ["bash", str(repo / "scripts" / "install-memtier.sh")], env=full, capture_output=True, text=True, timeout=300
    )


def _one_error_line(p: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 1 and len(lines) == 1, (p.returncode, p.stderr)
    assert lines[0].startswith("setup: memtier_benchmark: ")
    return lines[0]


def _nothing_left(tmp_path: Path) -> None:
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.is_dir()], "build folder left behind"


def test_tarball_with_wrong_checksum_is_refused(tmp_path):
    repo = _tree(tmp_path)
    bad = repo / "vendor" / TARBALL.name
    bad.write_bytes(TARBALL.read_bytes() + b"x")
    line = _one_error_line(_run(repo, tmp_path))
    assert "sha256" in line and "vendor/SHA256SUMS expects c093d855" in line and "git checkout vendor/" in line
    _nothing_left(tmp_path)


def test_unlisted_tarball_needs_to_be_named(tmp_path):
    repo = _tree(tmp_path)
    shutil.copy(TARBALL, repo / "vendor" / "memtier_benchmark-9.9.9.tar.gz")
    line = _one_error_line(_run(repo, tmp_path))
    assert "not listed in vendor/SHA256SUMS" in line and "BENCHCTL_MEMTIER_SRC" in line


def test_missing_source_is_named(tmp_path):
    repo = _tree(tmp_path)
    line = _one_error_line(_run(repo, tmp_path, BENCHCTL_MEMTIER_SRC=str(tmp_path / "nowhere.tar.gz")))
    assert "nowhere.tar.gz does not exist" in line


def test_no_source_release_is_a_note_not_a_failure(tmp_path):
    repo = _tree(tmp_path)
    p = _run(repo, tmp_path)
    assert p.returncode == 0 and "no source release" in p.stdout and p.stderr == ""


def test_opt_out_does_nothing(tmp_path):
    repo = _tree(tmp_path)
    shutil.copy(TARBALL, repo / "vendor")
    p = _run(repo, tmp_path, BENCHCTL_MEMTIER="0")
    assert p.returncode == 0 and p.stdout == "" and p.stderr == ""


@pytest.mark.skipif(
    shutil.which("autoreconf") is None,
    reason="autoreconf is not installed (setup installs it only when it has to build memtier)",
)
def test_failed_build_names_the_step_and_keeps_the_log(tmp_path):
    repo = _tree(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "configure.ac").write_text("AC_INIT(\n")
    (repo / ".venv" / "bin").mkdir(parents=True)  # where a non-root build would go
    line = _one_error_line(_run(repo, tmp_path, BENCHCTL_MEMTIER_SRC=str(src)))
    assert "failed at autoreconf" in line and "apt-get install autoconf" in line
    log = Path(line.split("full log in ")[1].split(";")[0])
    assert log.is_file() and log.parent == tmp_path / "tmp" and "== autoreconf" in log.read_text()
    _nothing_left(tmp_path)


@pytest.mark.skipif(
    shutil.which("autoreconf") is None,
    reason="autoreconf is not installed (setup installs it only when it has to build memtier)",
)
def test_build_past_its_deadline_is_stopped(tmp_path):
    repo = _tree(tmp_path)
    shutil.copy(TARBALL, repo / "vendor")
    (repo / ".venv" / "bin").mkdir(parents=True)
    line = _one_error_line(_run(repo, tmp_path, BENCHCTL_MEMTIER_BUILD_TIMEOUT="1"))
    assert "did not finish within 1 s" in line and "BENCHCTL_MEMTIER_BUILD_TIMEOUT" in line
    _nothing_left(tmp_path)
    assert not (repo / ".venv" / "bin" / "memtier_benchmark").exists()
