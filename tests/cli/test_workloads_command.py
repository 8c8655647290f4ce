"""`benchctl workloads` says what this host lacks, including kernel features drivers need."""

from click.testing import CliRunner

from benchctl.cli import cli
from benchctl.run.storage import blockdev


def _fio_here(monkeypatch, has_dm: bool) -> str:
    monkeypatch.setattr(blockdev, "has_device_mapper", lambda root=None: has_dm)
    res = CliRunner().invoke(cli, ["workloads"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("fio-dmcrypt:"))
    i = next(i for i, line in enumerate(lines) if i > start and line.strip().startswith("here:"))
    here = [lines[i]] + [x for x in lines[i + 1 :] if x.startswith("      ")]  # wrapped at 72 columns
    return " ".join(x.strip() for x in here)


def test_fio_dmcrypt_without_device_mapper_is_not_ready(monkeypatch):
    here = _fio_here(monkeypatch, has_dm=False)
    assert "device-mapper" in here and "--set crypt=none" in here


def test_fio_dmcrypt_with_device_mapper_lists_no_kernel_gap(monkeypatch):
    assert "device-mapper" not in _fio_here(monkeypatch, has_dm=True)
