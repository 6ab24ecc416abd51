"""ffmpeg's CSV segment list lines and segment file names."""

from __future__ import annotations

import pytest

from segmenter.listing import parse_list_line, segment_filename, seq_of
from segmenter.model import ListEntry


def test_parses_a_finished_segment() -> None:
    entry = parse_list_line("seq-000000042.ts,41.960000,43.000000\n")
    assert entry == ListEntry("seq-000000042.ts", 41.96, 43.0)
    assert entry.duration_ms == 1040


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "seq-000000001.ts,1.0",
        "../../etc/passwd,0,1",
        "seq-1.ts,0,1",
        "seq-000000001.ts,abc,1",
        "seq-000000001.ts,2.0,1.0",
        "seq-000000001.ts,nan,1.0",
        "seq-000000001.ts,0,inf",
    ],
)
def test_refuses_malformed_lines(line: str) -> None:
    assert parse_list_line(line) is None


def test_names_round_trip() -> None:
    assert segment_filename(7) == "seq-000000007.ts"
    assert seq_of(segment_filename(1234567890)) == 1234567890
    assert seq_of("index.jsonl") is None
    assert seq_of("seq-000000001.ts.tmp") is None
