"""benchmarks/bench_recompress.py: every recompressor gives one small JPEG back byte for byte (.vcn: the same
pixels), and the report says so."""

import pytest
from conftest import natural_crop

from benchmarks.bench_recompress import jpeg_file, recompress, recompressors, render, totals
from vcnlit.pixels import from_uint8


@pytest.mark.parametrize("channels", [1, 3])
def test_one_small_jpeg_round_trips_through_every_tool(channels):
    tools = recompressors()
    assert set(tools) == {"lepton", "brunsli", "jpegxl"}
    jpeg, header = jpeg_file(from_uint8(natural_crop("astronaut", (64, 80), rgb=channels == 3)), 40)
    assert jpeg[:2] == b"\xff\xd8" and header.rate == 40
    row = recompress(jpeg, header, tools)
    assert row["jpeg"] == len(jpeg)
    assert row["vcn_exact"] in ("bytes", "pixels") and 0 < row["vcn"] < len(jpeg)
    for t in tools:
        assert row[f"{t}_exact"] == "bytes" and row[t] > 0, t
    sums = totals([{"quality": 40, **row}], (40,), tools)
    assert sums["40"] == sums["all"] and sums["all"]["lepton_exact"] == ["bytes"]
    md = render({"command": "python -m benchmarks.bench_recompress", "git_commit": None, "date": "today",
                 "tools": {}, "sets": {"test_gray": {"images": ["x"], "totals": sums}}})
    assert "| test_gray | 40 |" in md and " !" not in md
