"""HdrHistogram percentile text, on memtier's recorded output."""

import pytest

from benchctl.parsers.hdrtext import is_percentile_text, parse


def test_memtier_full_run_percentiles(tools_dir):
    text = (tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.txt").read_text()
    assert is_percentile_text(text.splitlines()[0])
    c = parse(text)
    assert len(c.values) == 172      # 177 lines - header - blank - 3 footer lines
    assert c.percentiles[0] == 0.0 and c.percentiles[-1] == 1.0
    assert c.values[0] == 0.01 and c.values[-1] == 9.73
    assert c.total_count == 124708 and c.mean == pytest.approx(0.080) and c.max == pytest.approx(9.727)
    p50 = next(v for v, p in zip(c.values, c.percentiles) if p >= 0.5)
    assert p50 == 0.06      # stdout.txt reports p50 0.063 ms for Totals


def test_not_percentile_text():
    with pytest.raises(ValueError, match="header"):
        parse("Type Ops/sec\n")
    with pytest.raises(ValueError, match="no percentile rows"):
        parse("       Value   Percentile   TotalCount 1/(1-Percentile)\n\n#[Mean = 1, StdDeviation = 0]\n")
