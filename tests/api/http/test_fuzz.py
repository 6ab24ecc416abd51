"""The API fuzzed from its own OpenAPI (schemathesis over the in-process app, no sockets):
whatever comes in, with an app token (the service token, or a user's API token on the
routes of users), with a camera's device token (the agent route) or with nothing, the
answer is never a 5xx and always one the OpenAPI declares: its status, its content type and
its body's schema.

Each operation gets `DOORBELL_FUZZ_EXAMPLES` examples (default 15) of input that fits its
schema and as many that does not, each sent once per credential, under a fixed seed and
under a random one printed at the start: a failure under the random seed is replayed with
`DOORBELL_FUZZ_SEED=<seed>`. Failures are collected over every operation, then reported.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, CheckFunction, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import AccountOptions, create_app
from api.config import Settings
from common.clock import wall_ms
from tests.api.conftest import BUFFER_S, DEVICE_TOKEN, PASSWORD, TOKEN, USER
from tests.api.fakes import CHEAP_HASHER, FakeBuffer, FakeClock, RecordingNotifier

# WHEP's bodies are SDP text, which schemathesis has no serializer for: random bytes, random
# text, and offers that are nearly right (tests/api/video/test_webrtc.py has the real ones).
SDP_BODIES = st.one_of(
    st.binary(max_size=256),
    st.text(max_size=256).map(str.encode),
    st.sampled_from(
        [
            b"v=0\r\n",
            b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n",
            b"a=ice-ufrag:abcd\r\na=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host\r\n",
        ]
    ),
)
schemathesis.openapi.media_type("application/sdp", SDP_BODIES)
schemathesis.openapi.media_type("application/trickle-ice-sdpfrag", SDP_BODIES)

FIXED_SEED = 20261201
EXAMPLES = int(os.environ.get("DOORBELL_FUZZ_EXAMPLES", "15"))
AGENT_PATH = "/api/v1/agent/events"
# Held open until the client leaves (a comment every 15 s); it takes nothing but the
# credentials every /api/v1 route shares. Its refusals are tested in test_events.
SKIPPED = {("GET", "/api/v1/events/stream")}
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing kept between runs: a run is its seed
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


Operation = APIOperation[Any, Any, Any, Any]


@dataclass(frozen=True)
class Credentials:
    name: str
    headers: dict[str, str] = field(default_factory=dict)


SERVICE_TOKEN = Credentials("service token", {"Authorization": f"Bearer {TOKEN}"})
CAMERA_TOKEN = Credentials("device token", {"Authorization": f"Bearer {DEVICE_TOKEN}"})
NOTHING = Credentials("none")
# Routes for a signed-in user (a service token gets 403 there): fuzzed with a user's token.
USER_PATHS = ("/api/v1/session", "/api/v1/sessions", "/api/v1/account/", "/api/v1/tokens")


@dataclass(frozen=True)
class Fuzzed:
    schema: BaseSchema
    user_token: Credentials


def credentials_for(operation: Operation, user_token: Credentials) -> tuple[Credentials, ...]:
    """The agent route takes a camera's device token, users' routes a user's API token,
    every other route the service token; and each is also sent nothing."""
    if operation.path == AGENT_PATH:
        return (CAMERA_TOKEN, NOTHING)
    if operation.path.startswith(USER_PATHS):
        return (user_token, NOTHING)
    return (SERVICE_TOKEN, NOTHING)


def user_api_token(app: Any) -> Credentials:
    """Sign in as `USER` and make an API token, through the app."""
    with asgi.get_client(app) as client:
        session = client.post("/api/v1/session", json={"username": USER, "password": PASSWORD})
        session.raise_for_status()
        csrf = {"X-CSRF-Token": session.json()["csrf_token"]}
        made = client.post("/api/v1/tokens", json={"name": "fuzz"}, headers=csrf)
        made.raise_for_status()
    return Credentials("user token", {"Authorization": f"Bearer {made.json()['token']}"})


@pytest.fixture
def fuzzed(tier_settings: Settings) -> Iterator[Fuzzed]:
    """The app of the in-process tier (fake buffer and push), its lifespan run by
    schemathesis's ASGI client in one event loop of its own; stopped at the end."""
    now = wall_ms()
    app = create_app(
        tier_settings,
        buffers={"front": FakeBuffer(first_ms=now - BUFFER_S * 1000, newest_ms=now)},
        notifier=RecordingNotifier(),
        accounts=AccountOptions(clock=FakeClock(now), hasher=CHEAP_HASHER),
    )
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield Fuzzed(schema, user_api_token(app))
    finally:
        asgi.shutdown_lifespans()


def seeds() -> list[int]:
    chosen = os.environ.get("DOORBELL_FUZZ_SEED")
    return [FIXED_SEED, int(chosen) if chosen else random.SystemRandom().randrange(2**32)]


@pytest.mark.parametrize("seed", seeds(), ids=["fixed-seed", "random-seed"])
def test_no_input_gets_a_5xx_or_an_undeclared_answer(fuzzed: Fuzzed, seed: int) -> None:
    print(f"fuzz seed {seed} (replay: DOORBELL_FUZZ_SEED={seed})")
    started, sent = time.monotonic(), 0
    failures: list[str] = []
    for result in fuzzed.schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation schemathesis cannot read: {result.err()}")
            continue
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                sent += fuzz(operation, mode, seed, credentials_for(operation, fuzzed.user_token))
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing invalid to send: the operation takes no parameters
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis: an exception group
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
    print(f"fuzz: {sent} requests in {time.monotonic() - started:.1f} s (seed {seed})")
    assert sent > 0
    assert not failures, f"seed {seed}:\n\n" + "\n\n".join(failures)


def fuzz(
    operation: Operation, mode: GenerationMode, seed: int, who: tuple[Credentials, ...]
) -> int:
    """Send `EXAMPLES` generated requests, each with every credential of `who`; how many
    were sent."""
    sent = 0

    @hypothesis.seed(seed)
    @SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case[Operation]) -> None:
        nonlocal sent
        for credentials in who:
            case.call_and_validate(headers=credentials.headers, checks=CHECKS)
            sent += 1

    run()
    return sent
