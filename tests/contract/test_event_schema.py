"""The agent-event payload contract: Event.to_payload() against agent/schemas/event.schema.json.

`jsonschema` is not a dependency, so `schema_errors` is a small validator for exactly the
keywords this schema uses; a keyword it does not know fails the test instead of being
silently ignored. The server's tests can validate what they accept with the same function.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from agent.events import CAMERA_ID_PATTERN, KINDS, Event, Kind, event_schema
from common.clock import MAX_EPOCH_MS

SCHEMA = event_schema()

# Keywords that only annotate (draft 2020-12: `format` is an annotation unless asserted).
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "format"})
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


Check = Callable[[Any, Any, dict[str, Any], str], list[str]]


def _pattern(value: Any, rule: str, schema: dict[str, Any], where: str) -> list[str]:
    # ECMA-262's `$` (JSON Schema's regex dialect) matches only at the very end; Python's
    # also before a trailing newline, so it is read as `\Z` here.
    python_rule = rule[:-1] + r"\Z" if rule.endswith("$") else rule
    if isinstance(value, str) and not re.search(python_rule, value):
        return [f"{where}: {value!r} does not match {rule}"]
    return []


def _bound(above: bool) -> Check:
    def check(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
        if not _TYPES["number"](value) or (value <= rule if above else value >= rule):
            return []
        return [f"{where}: {value!r} {'>' if above else '<'} {rule}"]

    return check


def _count(more: bool) -> Check:
    def check(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
        if not isinstance(value, list) or (len(value) <= rule if more else len(value) >= rule):
            return []
        return [f"{where}: {'more' if more else 'fewer'} than {rule} items"]

    return check


def _items(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, list):
        return []
    return [e for i, item in enumerate(value) for e in schema_errors(item, rule, f"{where}[{i}]")]


def _required(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [f"{where}: missing {key!r}" for key in rule if key not in value]


def _additional(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
    assert rule is False, "only additionalProperties: false is supported"
    if not isinstance(value, dict):
        return []
    extra = set(value) - set(schema.get("properties", {}))
    return [f"{where}: unexpected {key!r}" for key in sorted(extra)]


def _properties(value: Any, rule: Any, schema: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    return [e for key, sub in rule.items() if key in value
            for e in schema_errors(value[key], sub, f"{where}.{key}")]  # fmt: skip


_CHECKS: dict[str, Check] = {
    "enum": lambda v, rule, _s, w: [] if v in rule else [f"{w}: {v!r} not one of {rule}"],
    "pattern": _pattern,
    "minimum": _bound(above=False),
    "maximum": _bound(above=True),
    "minItems": _count(more=False),
    "maxItems": _count(more=True),
    "items": _items,
    "required": _required,
    "additionalProperties": _additional,
    "properties": _properties,
}


def schema_errors(instance: Any, schema: dict[str, Any] = SCHEMA, where: str = "$") -> list[str]:
    """Every violation of `schema` by `instance` (empty: valid). A keyword this validator
    does not know fails the test instead of being silently ignored."""
    kind = schema.get("type")
    if kind is not None and not _TYPES[kind](instance):
        return [f"{where}: expected {kind}, got {instance!r}"]
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS or keyword == "type":
            continue
        if keyword not in _CHECKS:
            pytest.fail(f"schema keyword {keyword!r} is not supported by this validator")
        errors += _CHECKS[keyword](instance, rule, schema, where)
    return errors


EVENT_ID = "0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10"
VALID = {"id": EVENT_ID, "camera": "front-door", "kind": "ring", "at_ms": 1_790_000_000_000}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("offset", [None, 0, 5000, -120_000])
def test_every_payload_the_agent_makes_is_valid(kind: Kind, offset: int | None) -> None:
    bare = Event.new("front-door", kind, 1_790_000_000_123)
    full = Event.new("cam_2", kind, 0, score=0.25, box=(0.0, 0.5, 0.25, 1.0))
    edge = Event.new("a", kind, MAX_EPOCH_MS, score=1, box=(1, 1, 0, 0))
    for event in (bare, full, edge):
        payload = event.to_payload(offset)
        assert schema_errors(payload) == []
        assert ("clock_offset_ms" in payload) is (offset is not None)
        assert Event.from_payload({k: v for k, v in payload.items() if k != "clock_offset_ms"}) == (
            event
        )


def test_absent_optional_fields_are_omitted_not_null() -> None:
    assert Event(EVENT_ID, "front-door", "ring", 1_790_000_000_000).to_payload(None) == VALID


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"extra": 1}, "unexpected 'extra'"),
        ({"kind": "knock"}, "not one of"),
        ({"id": "not-a-uuid"}, "does not match"),
        ({"id": EVENT_ID.upper()}, "does not match"),
        ({"camera": "Front Door"}, "does not match"),
        ({"camera": "x" * 33}, "does not match"),
        ({"at_ms": -1}, "< 0"),
        ({"at_ms": MAX_EPOCH_MS + 1}, f"> {MAX_EPOCH_MS}"),
        ({"at_ms": 10**400}, f"> {MAX_EPOCH_MS}"),
        ({"clock_offset_ms": 10**400}, "> 946080000000"),
        ({"at_ms": 1.5}, "expected integer"),
        ({"at_ms": "1790000000000"}, "expected integer"),
        ({"score": 1.5}, "> 1"),
        ({"score": True}, "expected number"),
        ({"box": [0.1, 0.2, 0.3]}, "fewer than 4"),
        ({"box": [0.1, 0.2, 0.3, 0.4, 0.5]}, "more than 4"),
        ({"box": [0.1, 0.2, 0.3, 1.2]}, "> 1"),
        ({"clock_offset_ms": 12.5}, "expected integer"),
        ({"id": None}, "expected string"),
    ],
)
def test_bad_payloads_are_rejected(change: dict[str, Any], complaint: str) -> None:
    errors = schema_errors({**VALID, **change})
    assert any(complaint in error for error in errors), errors


@pytest.mark.parametrize("field", ["id", "camera", "kind", "at_ms"])
def test_required_fields(field: str) -> None:
    payload = {k: v for k, v in VALID.items() if k != field}
    assert schema_errors(payload) == [f"$: missing {field!r}"]


def test_the_event_type_refuses_what_the_schema_refuses() -> None:
    """So the outbox never holds an event the server would reject as malformed."""
    bad: list[dict[str, Any]] = [
        {"id": "not-a-uuid"},
        {"id": EVENT_ID.upper()},
        {"camera": "Front Door"},
        {"kind": "knock"},
        {"at_ms": -1},
        {"at_ms": MAX_EPOCH_MS + 1},
        {"at_ms": True},
        {"score": 1.5},
        {"score": math.nan},
        {"box": (0.1, 0.2, 0.3)},
        {"box": (0.1, 0.2, 0.3, math.inf)},
    ]
    for change in bad:
        with pytest.raises(ValueError, match="must"):
            Event(**{**VALID, **change})


def test_new_events_get_distinct_uuid4s() -> None:
    ids = {Event.new("front-door", "ring", 0).id for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_schema_mirrors_the_agents_rules() -> None:
    properties = SCHEMA["properties"]
    assert properties["camera"]["pattern"] == CAMERA_ID_PATTERN
    assert properties["kind"]["enum"] == list(KINDS)
    assert SCHEMA["additionalProperties"] is False
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
