"""Constant-time secret matching."""

from __future__ import annotations

from api.http.auth import matches_any


def test_matches_any() -> None:
    assert matches_any("b", ["a", "b"])
    assert not matches_any("c", ["a", "b"])
    assert not matches_any("", ["a"])
    assert not matches_any("a", [])
    assert matches_any("é", ["é"])
