"""Range header parsing."""

from __future__ import annotations

import pytest

from api.errors import RangeNotSatisfiable
from api.http.ranges import parse_range


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("", None),
        ("bytes=0-999", (0, 999)),
        ("bytes=1000-", (1000, 9999)),
        ("bytes=-500", (9500, 9999)),
        ("bytes=-20000", (0, 9999)),
        ("bytes=9000-20000", (9000, 9999)),
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_spans(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 10_000) == span


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=20000-30000", "bytes=-0", "bytes=5-4"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 10_000)
