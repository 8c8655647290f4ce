"""dm-crypt: the exact cryptsetup/dmsetup commands benchctl runs, and pure parsers of their output.

The key is random per run (os.urandom), written to cryptsetup's stdin pipe and
never to disk or a command line (ps shows argv to every user). What is
recorded about the mapping comes from `dmsetup table` with the key field
removed and from `cryptsetup status`; both parsers are tested on outputs
recorded inside a nested VM with real dm-crypt (tests/fixtures/dmcrypt/).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from benchctl.errors import InputError, RunFailed

DEFAULT_CIPHER = "aes-xts-plain64"
DEFAULT_KEY_BITS = 512


def open_argv(device: str, name: str, cipher: str = DEFAULT_CIPHER, key_bits: int = DEFAULT_KEY_BITS) -> list[str]:
    """cryptsetup open in plain mode reading exactly key_bits/8 bytes of key from stdin.

    With --key-file=- and --keyfile-size, plain mode uses the bytes read as the binary key
    (no passphrase hashing, no newline stripping), so the random bytes are the key.
    """
    return ["cryptsetup", "open", "--type", "plain", "--cipher", cipher, "--key-size", str(key_bits),
            "--key-file", "-", "--keyfile-size", str(key_bits // 8), "--batch-mode", device, name]


def close_argv(name: str) -> list[str]:
    return ["cryptsetup", "close", name]


def new_key(key_bits: int = DEFAULT_KEY_BITS) -> bytes:
    if key_bits % 8 or key_bits <= 0:
        raise InputError(f"key_bits={key_bits}: must be a positive multiple of 8")
    return os.urandom(key_bits // 8)


def open_mapping(device: str, name: str, cipher: str, key_bits: int, log_command=None) -> None:
    """Create the mapping; the key travels only through the pipe to cryptsetup."""
    argv = open_argv(device, name, cipher, key_bits)
    key = new_key(key_bits)
    try:
        proc = subprocess.run(argv, input=key, capture_output=True, timeout=120)
    finally:
        del key
    if log_command:
        log_command(argv, rc=proc.returncode)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RunFailed(f"cryptsetup open failed (rc {proc.returncode}): {err[-1] if err else 'no message'}")


def parse_table(text: str) -> dict[str, Any]:
    """One `dmsetup table NAME` line of a crypt target, with the key left out.

    Format (kernel Documentation/admin-guide/device-mapper/dm-crypt.rst):
    start length crypt <cipher> <key> <iv_offset> <device> <offset> [<#opt_params> <opt_params>...]
    The key is hex, or `:<size>:<type>:<description>` for a keyring key; dmsetup may print it
    as zeros. It is never returned.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) != 1:
        raise InputError(f"dmsetup table: expected one line, got {len(lines)}")
    f = lines[0].split()
    if f and f[0].endswith(":"):   # `dmsetup table` without a name prefixes each line with it
        f = f[1:]
    if len(f) < 8 or f[2] != "crypt":
        raise InputError(f"dmsetup table: not a crypt target line: {' '.join(f[:3])!r}")
    try:
        start, length, iv_offset, offset = int(f[0]), int(f[1]), int(f[5]), int(f[7])
    except ValueError:
        raise InputError("dmsetup table: start, length, iv_offset and offset must be integers") from None
    out: dict[str, Any] = {
        "start_sector": start, "length_sectors": length, "target": "crypt", "cipher": f[3],
        "key": "keyring" if f[4].startswith(":") else "hex",
        "iv_offset": iv_offset, "device": f[6], "offset_sectors": offset, "flags": [],
    }
    if f[4].startswith(":"):
        parts = f[4].split(":")
        if len(parts) > 1 and parts[1].isdigit():
            out["key_bits"] = int(parts[1]) * 8
    elif all(c in "0123456789abcdefABCDEF-" for c in f[4]):
        out["key_bits"] = len(f[4]) * 4
    if len(f) > 8:
        try:
            n = int(f[8])
        except ValueError:
            raise InputError(f"dmsetup table: bad optional parameter count {f[8]!r}") from None
        out["flags"] = f[9:9 + n]
    return out


def parse_status(text: str) -> dict[str, str]:
    """`cryptsetup status NAME`: its `key: value` lines (type, cipher, keysize, device, flags ...)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    if "cipher" not in out:
        raise InputError("cryptsetup status: no cipher line")
    return out


def describe(name: str, log_command=None) -> dict[str, Any]:
    """What to record about a live mapping: table fields (no key) and cryptsetup status."""
    argv_t = ["dmsetup", "table", name]
    t = subprocess.run(argv_t, capture_output=True, text=True, timeout=30)
    if log_command:
        log_command(argv_t, rc=t.returncode)
    info: dict[str, Any] = {"name": name}
    if t.returncode == 0:
        info["table"] = parse_table(t.stdout)
    argv_s = ["cryptsetup", "status", name]
    s = subprocess.run(argv_s, capture_output=True, text=True, timeout=30)
    if log_command:
        log_command(argv_s, rc=s.returncode)
    if s.returncode == 0:
        info["status"] = parse_status(s.stdout)
    return info


def crypto_driver(cipher: str, crypto_text: str) -> str | None:
    """The kernel driver behind a cipher name from /proc/crypto (e.g. xts-aes-aesni)."""
    want = cipher.split("-")
    name = f"{want[1]}({want[0]})" if len(want) >= 2 else cipher
    best: tuple[int, str] | None = None
    for block in crypto_text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
        if fields.get("name") == name and fields.get("driver"):
            prio = int(fields.get("priority", "0") or 0)
            if best is None or prio > best[0]:
                best = (prio, fields["driver"])
    return best[1] if best else None
