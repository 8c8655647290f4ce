"""dm-crypt code paths on outputs recorded inside the nested VM (tests/fixtures/dmcrypt/)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from benchctl.errors import InputError, ResourceError
from benchctl.run.drivers import fio_dmcrypt
from benchctl.run.storage import blockstack, dmcrypt

FIX = Path(__file__).parents[2] / "fixtures" / "dmcrypt"


def test_table_fixture_parses_without_key() -> None:
    text = (FIX / "dmsetup-table.txt").read_text()
    t = dmcrypt.parse_table(text)
    assert t == {
        "start_sector": 0,
        "length_sectors": 131072,
        "target": "crypt",
        "cipher": "aes-xts-plain64",
        "key": "hex",
        "iv_offset": 0,
        "device": "1:0",
        "offset_sectors": 0,
        "flags": [],
        "key_bits": 512,
    }
    assert all(len(str(v)) < 64 for v in t.values())  # nothing key-sized is returned


def test_table_with_flags_keyring_and_name_prefix() -> None:
    line = (
        "benchctl-x: 0 2097152 crypt aes-xts-plain64 :64:logon:cryptsetup:abc 0 7:0 4096 "
        "2 allow_discards no_read_workqueue\n"
    )
    t = dmcrypt.parse_table(line)
    assert t["key"] == "keyring" and t["key_bits"] == 512
    assert t["flags"] == ["allow_discards", "no_read_workqueue"] and t["offset_sectors"] == 4096


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0 100 linear 7:0 0\n",
        "0 1 crypt a b\n",
        "a\nb\n",
        "0 8 crypt aes k 0 7:0 0 x\n",
        "x 8 crypt aes k 0 7:0 0\n",
    ],
)
def test_table_bad_input(bad: str) -> None:
    with pytest.raises(InputError):
        dmcrypt.parse_table(bad)


def test_status_fixture() -> None:
    s = dmcrypt.parse_status((FIX / "cryptsetup-status.txt").read_text())
    assert s["type"] == "PLAIN" and s["cipher"] == "aes-xts-plain64" and s["keysize"] == "512 bits"
    assert s["device"] == "/dev/ram0" and s["key location"] == "dm-crypt"
    with pytest.raises(InputError):
        dmcrypt.parse_status("Device x not found\n")


def test_crypto_driver_from_proc_crypto() -> None:
    text = (FIX / "proc-crypto.txt").read_text()
    assert dmcrypt.crypto_driver("aes-xts-plain64", text) == "xts-aes-aesni"
    assert dmcrypt.crypto_driver("serpent-xts-plain64", text) is None


def test_open_argv_reads_key_from_stdin_only() -> None:
    argv = dmcrypt.open_argv("/dev/ram0", "benchctl-x")
    assert argv[argv.index("--key-file") + 1] == "-"
    assert argv[argv.index("--keyfile-size") + 1] == "64"
    assert argv[argv.index("--type") + 1] == "plain" and argv[-2:] == ["/dev/ram0", "benchctl-x"]


def test_keys_are_random_and_sized() -> None:
    a, b = dmcrypt.new_key(512), dmcrypt.new_key(512)
    assert len(a) == 64 and a != b
    with pytest.raises(InputError):
        dmcrypt.new_key(500)


def test_open_mapping_passes_key_on_a_pipe(tmp_path: Path, monkeypatch) -> None:
    """A stand-in cryptsetup records what it was given: the key arrives on stdin, never in argv or a file."""
    shim = tmp_path / "cryptsetup"
    shim.write_text(
        '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$SHIM_OUT.argv"\ncat > "$SHIM_OUT.stdin"\n'
        'ls -l /proc/$$/fd/0 > "$SHIM_OUT.fd0"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("SHIM_OUT", str(tmp_path / "out"))
    logged = []
    dmcrypt.open_mapping("/dev/ram0", "benchctl-t", "aes-xts-plain64", 512, log_command=lambda a, **k: logged.append(a))
    key = (tmp_path / "out.stdin").read_bytes()
    assert len(key) == 64
    assert "pipe:" in (tmp_path / "out.fd0").read_text()
    argv_text = (tmp_path / "out.argv").read_text()
    assert key.hex() not in argv_text and key.hex() not in json.dumps(logged)


def test_record_note_from_vm_stack() -> None:
    info = json.loads((FIX / "stack-fio-dmcrypt-vm.json").read_text())
    note = fio_dmcrypt.record_note(info)
    assert note == {
        "crypt": "dm-crypt",
        "backing": "brd",
        "fs": "ext4",
        "cipher": "aes-xts-plain64",
        "key_bits": 512,
        "cipher_driver": "xts-aes-aesni",
    }
    assert fio_dmcrypt.record_note({"crypt": "none", "backing": "loop-tmpfs", "fs": "ext4"})["crypt"] == "none"


def test_require_device_mapper_message(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match=r"--set crypt=none"):
        blockstack.require_device_mapper(tmp_path, try_load=False)


def test_published_fio_command() -> None:
    argv = fio_dmcrypt.fio_argv("/mnt/x", "100G")
    published = (
        "fio --directory=/data --random_generator=lfsr --norandommap --randrepeat 1 --status-interval=999 "
        "--rw=write --bs=4k --loops=1 --ioengine=sync --iodepth=1 --numjobs=1 --fsync_on_close=1 "
        "--group_reporting --thread --name=iops-test-job --eta-newline=1 --size 100G"
    ).split()
    assert argv[: len(published)] == [a.replace("/data", "/mnt/x") for a in published]
    assert argv[len(published) :] == ["--output-format=json+"]


@pytest.mark.parametrize(
    "text,value", [("128G", 128 << 30), ("256M", 256 << 20), ("4k", 4096), ("100", 100), (512, 512), ("1.5G", 3 << 29)]
)
def test_parse_size(text, value) -> None:
    assert blockstack.parse_size(text) == value


def test_parse_size_bad() -> None:
    with pytest.raises(InputError, match="ramdisk_size"):
        blockstack.parse_size("lots", "ramdisk_size")


# -- fuzz: the parsers of cryptsetup/dmsetup/meminfo output raise only InputError ---------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from benchctl.run.drivers import boot_memory  # noqa: E402

_TOKENS = st.sampled_from(
    [
        "0",
        "131072",
        "crypt",
        "aes-xts-plain64",
        "00" * 64,
        ":64:logon:x",
        "7:0",
        "1",
        "allow_discards",
        "-1",
        "x",
        "benchctl-a:",
        "",
        "2",
        "linear",
        "\t",
        "ü",
        "9" * 30,
    ]
)
_LINES = st.lists(st.lists(_TOKENS, max_size=14).map(" ".join), max_size=3).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), _LINES))
def test_fuzz_parse_table(text: str) -> None:
    try:
        out = dmcrypt.parse_table(text)
    except InputError:
        return
    assert out["target"] == "crypt" and "00" * 64 not in json.dumps(out)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_parse_status_and_meminfo(text: str) -> None:
    for fn in (dmcrypt.parse_status, boot_memory.parse_meminfo, boot_memory.parse_uptime):
        try:
            fn(text)
        except InputError:
            pass
