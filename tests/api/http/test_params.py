"""Clip parameters: what is accepted, and errors naming the parameter and what is allowed."""

from __future__ import annotations

import pytest

from api.errors import BadRequest
from api.http.params import TimeRange, clip_range, parse_format, parse_instant

NOW = 1_800_000_000_000


@pytest.mark.parametrize("value", ["0", "-5", "1e9", "nan", "inf", "abc", "", "901"])
def test_bad_seconds_name_the_parameter_and_the_range(value: str) -> None:
    with pytest.raises(BadRequest) as info:
        clip_range(value, None, None, NOW, 900)
    assert info.value.parameter == "seconds"
    assert "from 1 to 900" in str(info.value)


def test_seconds_means_the_last_n_seconds() -> None:
    assert clip_range("30", None, None, NOW, 900) == TimeRange(NOW - 30_000, NOW)
    assert clip_range("2.5", None, None, NOW, 900) == TimeRange(NOW - 2500, NOW)


def test_start_and_end_in_ms_or_iso_with_offset() -> None:
    got = clip_range(None, "2026-11-23T10:15:00Z", "2026-11-23T11:15:30+01:00", NOW, 900)
    assert got.end_ms - got.start_ms == 30_000
    start = parse_instant("start", "2026-11-23T10:15:00Z")
    assert start == 1_795_428_900_000
    assert parse_instant("end", "2026-11-23T11:15:30.5+01:00") == start + 30_500
    assert clip_range(None, "1000", "6000", NOW, 900) == TimeRange(1000, 6000)


@pytest.mark.parametrize(
    ("start", "end", "parameter"),
    [
        ("6000", "1000", "end"),
        ("1000", "1000", "end"),
        ("1000", None, "end"),
        (None, "1000", "start"),
        ("2026-11-23T10:15:00", "2026-11-23T10:16:00Z", "start"),
        ("yesterday", "1000", "start"),
        ("0", "1000000000", "end"),
    ],
)
def test_bad_ranges(start: str | None, end: str | None, parameter: str) -> None:
    with pytest.raises(BadRequest) as info:
        clip_range(None, start, end, NOW, 900)
    assert info.value.parameter == parameter


def test_seconds_and_a_range_together_are_refused() -> None:
    with pytest.raises(BadRequest, match="not both"):
        clip_range("5", "1000", "2000", NOW, 900)


def test_formats() -> None:
    assert parse_format("zip") == "zip"
    with pytest.raises(BadRequest, match="mp4, zip, fmp4"):
        parse_format("avi")
