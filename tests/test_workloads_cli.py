"""`benchctl workloads` says what this host lacks, including kernel features drivers need."""

from click.testing import CliRunner

from benchctl.run.storage import blockdev
from benchctl.cli import cli


def _fio_here(monkeypatch, has_dm: bool) -> str:
    monkeypatch.setattr(blockdev, "has_device_mapper", lambda root=None: has_dm)
    res = CliRunner().invoke(cli, ["workloads"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("fio-dmcrypt:"))
    return next(line for line in lines[start:] if line.strip().startswith("here:"))


def test_fio_dmcrypt_without_device_mapper_is_not_ready(monkeypatch):
    here = _fio_here(monkeypatch, has_dm=False)
    assert "device-mapper" in here and "--set crypt=none" in here


def test_fio_dmcrypt_with_device_mapper_lists_no_kernel_gap(monkeypatch):
    assert "device-mapper" not in _fio_here(monkeypatch, has_dm=True)
