"""Identifier rules shared by every package."""

from __future__ import annotations

import uuid

import pytest

from common.events import event_schema
from common.ids import CAMERA_ID_PATTERN, UUID_PATTERN, camera_id_problem, is_camera_id, is_event_id


@pytest.mark.parametrize("value", ["front", "a", "cam_2-back", "0", "a" * 32])
def test_camera_ids_allowed(value: str) -> None:
    assert is_camera_id(value)
    assert camera_id_problem(value) is None


@pytest.mark.parametrize(
    "value", ["", "Front", "-front", "_x", "a" * 33, "front\n", "fr ont", "../etc", "ﬁ"]
)
def test_camera_ids_refused_with_the_rule(value: str) -> None:
    assert not is_camera_id(value)
    problem = camera_id_problem(value)
    assert problem is not None
    assert "a-z 0-9 - _" in problem


def test_event_ids_are_lowercase_hyphenated_uuids() -> None:
    value = str(uuid.uuid4())
    assert is_event_id(value)
    assert not is_event_id(value.upper())
    assert not is_event_id(value.replace("-", ""))
    assert not is_event_id(value + "\n")


def test_the_event_schema_uses_the_same_rules() -> None:
    properties = event_schema()["properties"]
    assert properties["camera"]["pattern"] == CAMERA_ID_PATTERN
    assert properties["id"]["pattern"] == UUID_PATTERN
