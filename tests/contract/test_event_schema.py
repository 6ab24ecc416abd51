"""The agent-event payload contract: Event.to_payload() against agent/schemas/event.schema.json.

`jsonschema` is not a dependency, so `schema_errors` is a small validator for exactly the
keywords this schema uses; a keyword it does not know fails the test instead of being
silently ignored. The server's tests can validate what they accept with the same function.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import pytest

from agent.events import CAMERA_ID, KINDS, Event, Kind, event_schema

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


def schema_errors(instance: Any, schema: dict[str, Any] = SCHEMA, where: str = "$") -> list[str]:
    """Every violation of `schema` by `instance` (empty: valid)."""
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS or keyword == "properties":
            continue
        if keyword == "type":
            if not _TYPES[rule](instance):
                return [f"{where}: expected {rule}, got {instance!r}"]
        elif keyword == "enum":
            if instance not in rule:
                errors.append(f"{where}: {instance!r} not one of {rule}")
        elif keyword == "pattern":
            # ECMA-262's `$` (JSON Schema's regex dialect) matches only at the very end;
            # Python's also before a trailing newline, so it is read as `\Z` here.
            python_rule = rule[:-1] + r"\Z" if rule.endswith("$") else rule
            if isinstance(instance, str) and not re.search(python_rule, instance):
                errors.append(f"{where}: {instance!r} does not match {rule}")
        elif keyword == "minimum":
            if _TYPES["number"](instance) and not instance >= rule:
                errors.append(f"{where}: {instance!r} < {rule}")
        elif keyword == "maximum":
            if _TYPES["number"](instance) and not instance <= rule:
                errors.append(f"{where}: {instance!r} > {rule}")
        elif keyword == "minItems":
            if isinstance(instance, list) and len(instance) < rule:
                errors.append(f"{where}: fewer than {rule} items")
        elif keyword == "maxItems":
            if isinstance(instance, list) and len(instance) > rule:
                errors.append(f"{where}: more than {rule} items")
        elif keyword == "items":
            if isinstance(instance, list):
                for i, item in enumerate(instance):
                    errors += schema_errors(item, rule, f"{where}[{i}]")
        elif keyword == "required":
            if isinstance(instance, dict):
                errors += [f"{where}: missing {key!r}" for key in rule if key not in instance]
        elif keyword == "additionalProperties":
            assert rule is False, "only additionalProperties: false is supported"
            if isinstance(instance, dict):
                extra = set(instance) - set(schema.get("properties", {}))
                errors += [f"{where}: unexpected {key!r}" for key in sorted(extra)]
        else:
            pytest.fail(f"schema keyword {keyword!r} is not supported by this validator")
    properties = schema.get("properties", {})
    if isinstance(instance, dict):
        for key, sub in properties.items():
            if key in instance:
                errors += schema_errors(instance[key], sub, f"{where}.{key}")
    return errors


EVENT_ID = "0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10"
VALID = {"id": EVENT_ID, "camera": "front-door", "kind": "ring", "at_ms": 1_790_000_000_000}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("offset", [None, 0, 5000, -120_000])
def test_every_payload_the_agent_makes_is_valid(kind: Kind, offset: int | None) -> None:
    bare = Event.new("front-door", kind, 1_790_000_000_123)
    full = Event.new("cam_2", kind, 0, score=0.25, box=(0.0, 0.5, 0.25, 1.0))
    edge = Event.new("a", kind, 2**53, score=1, box=(1, 1, 0, 0))
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
    assert properties["camera"]["pattern"] == CAMERA_ID.pattern
    assert properties["kind"]["enum"] == list(KINDS)
    assert SCHEMA["additionalProperties"] is False
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
