"""xfs_io parser on the recorded outputs (xfsprogs 6.1.0) and the format's edge cases."""

from __future__ import annotations

import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.xfs_io import parse, parse_time, parse_version

GiB = 1 << 30
MiB = 1 << 20


def test_small_64mib_pwrite_then_pread(tools_dir):
    r = parse((tools_dir / "xfs_io-small-64MiB.txt").read_text())
    bw = [m for m in r.measurements if m.metric == "bandwidth_bytes_s"]
    assert [m.note["command_index"] for m in bw] == [0, 1]
    assert [m.note["op"] for m in bw] == ["write", "read"]
    # 0.0119 s / 0.0021 s are too coarse: the printed GiB/sec rates win
    assert bw[0].value == pytest.approx(5.246 * GiB)
    assert bw[1].value == pytest.approx(28.435 * GiB)
    assert bw[1].note["source"] == "printed-rate"
    cmd = r.info["commands"][1]
    assert (cmd["total"], cmd["ops"], cmd["seconds"]) == (67108864, 64, 0.0021)
    assert cmd["rate_printed"] == "28.435 GiB/sec"


def test_misc_units_times_and_missing_file(tools_dir):
    r = parse((tools_dir / "xfs_io-misc.txt").read_text())
    bw = r.measurements
    assert len(bw) == 5
    assert r.info["commands"][0]["total"] == 512 and r.info["commands"][0]["size_printed"] == "512.000000 bytes"
    assert bw[0].value == pytest.approx(31 * MiB)  # time 0.0000 sec: only the rate is usable
    assert bw[1].value == pytest.approx(358 * MiB)  # 1500 bytes prints as "1 KiB"
    # 4 GiB cold read in 0.6912 s: TOTAL/time (+-0.007 %) beats 5.786 GiB/sec (+-0.009 %)
    assert bw[2].note["source"] == "total/time"
    assert bw[2].value == pytest.approx(4294967296 / 0.6912)
    assert bw[3].value == pytest.approx(29.429 * GiB)
    assert bw[4].value == pytest.approx(67.297 * MiB)
    assert any("No such file or directory" in w for w in r.warnings)


def test_compact_csv(tools_dir):
    r = parse((tools_dir / "xfs_io-compact-C.txt").read_text())
    assert [m.value for m in r.measurements] == [7236237222.342, 15675978509.694, 28722153984.017]
    assert r.info["commands"][2]["total"] == 4294967296 and r.info["commands"][2]["ops"] == 4096


def test_long_time_format_uses_total_over_time():
    text = (
        "read 107374182400/107374182400 bytes at offset 0\n"
        "100.000 GiB, 102400 ops; 0:01:21.04 (1.234 GiB/sec and 1263.5735 ops/sec)\n"
    )
    r = parse(text)
    # +-0.005 s of 81.04 s (6e-5) beats +-0.0005 of 1.234 GiB/s (4e-4)
    assert r.measurements[0].value == pytest.approx(107374182400 / 81.04)
    assert r.measurements[0].note["source"] == "total/time"


def test_short_long_format_prefers_the_printed_rate():
    text = (
        "read 107374182400/107374182400 bytes at offset 0\n"
        "100.000 GiB, 102400 ops; 0:00:11.83 (8.453 GiB/sec and 8656.0000 ops/sec)\n"
    )
    m = parse(text).measurements[0]
    assert m.note["source"] == "printed-rate" and m.value == pytest.approx(8.453 * GiB)


@pytest.mark.parametrize("unit,scale", [("KiB", 1 << 10), ("TiB", 1 << 40), ("PiB", 1 << 50), ("EiB", 1 << 60)])
def test_every_unit(unit, scale):
    text = f"read 1024/1024 bytes at offset 0\n1 KiB, 1 ops; 0.0000 sec (1.500 {unit}/sec and 1.0000 ops/sec)\n"
    assert parse(text).measurements[0].value == pytest.approx(1.5 * scale)


def test_short_read_at_eof_is_warned():
    text = (
        "read 4294967296/107374182400 bytes at offset 0\n"
        "4.000 GiB, 4096 ops; 0.1634 sec (24.469 GiB/sec and 25056.4320 ops/sec)\n"
    )
    r = parse(text)
    assert any("end of file" in w for w in r.warnings)


def test_time_formats():
    assert parse_time("0.0119 sec") == (0.0119, pytest.approx(0.00005))
    assert parse_time("1:02:03.45")[0] == pytest.approx(3723.45)
    with pytest.raises(ParseError):
        parse_time("soon")


def test_missing_file_alone_is_a_parse_error():
    with pytest.raises(ParseError, match="No such file"):
        parse("/mnt/x/nonexistent: No such file or directory\n")


def test_nothing_recognisable():
    with pytest.raises(ParseError, match="expected xfs_io"):
        parse("hello\n")


def test_version():
    assert parse_version("xfs_io version 6.1.0\n") == "6.1.0"
    with pytest.raises(ParseError):
        parse_version("xfs_io\n")


def test_detect(tools_dir):
    for f in tools_dir.glob("xfs_io-*.txt"):
        assert detect(f.read_text()) == "xfs_io"


def test_read_past_eof_transfers_nothing():
    text = (
        "read 0/1048576 bytes at offset 1073741824\n"
        "0.000000 bytes, 0 ops; 0.0000 sec (0.000000 bytes/sec and 0.0000 ops/sec)\n"
        "read 1024/1024 bytes at offset 0\n1 KiB, 1 ops; 0.0001 sec (9.766 MiB/sec and 10000.0000 ops/sec)\n"
    )
    r = parse(text)
    assert [m.note["command_index"] for m in r.measurements] == [1]
    assert any("command 0" in w for w in r.warnings)


def test_recorded_long_run_and_eof():
    from pathlib import Path

    r = parse((Path(__file__).parents[1] / "fixtures" / "parsers" / "xfs_io-long-eof.txt").read_text())
    cmds = r.info["commands"]
    assert cmds[0]["seconds"] == 1.86 and cmds[0]["time_printed"] == "0:00:01.86"
    assert cmds[0]["size_printed"] == "1 GiB" and cmds[0]["ops"] == 2097152
    assert cmds[2]["total"] == 1 << 30 and cmds[2]["requested"] == 2 << 30
    assert cmds[3]["total"] == 0
    bw = {m.note["command_index"]: m for m in r.measurements}
    assert set(bw) == {0, 1, 2}  # the read at EOF moved no bytes
    assert bw[0].value == pytest.approx(550.486 * MiB)  # +-0.0005 MiB/s beats +-0.005 s of 1.86 s
    assert bw[1].value == 1607198243.332
    assert bw[2].value == pytest.approx(32.370 * GiB)
    assert any("end of file" in w for w in r.warnings) and any("command 3" in w for w in r.warnings)
    assert len(r.info["echoed_commands"]) == 4
