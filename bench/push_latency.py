"""Event-to-push latency and ring-to-clip-ready, on loopback, through the real stack.

    .venv/bin/python bench/push_latency.py [--events 1000] [--rings 5]

The server (`doorbell serve`, its nginx-rtmp relay, SQLite) runs as a child whose
firebase-admin sends to the tests' fake FCM v1 server (tests/fakefcm.py, started here; the
server is launched through tests/stack/run_server.py, which points the SDK at it).

- Event-to-push: `--events` rings are POSTed one after another to /api/v1/agent/events (a
  camera without video, so no clip work competes); the latency of each is from just before
  its POST leaves this process to the moment the fake FCM receives the push for it (both on
  CLOCK_MONOTONIC). That is an upper bound of the server's own figure, which /metrics keeps
  as `doorbell_event_to_push_seconds` (quoted too).
- Ring-to-clip-ready: `--rings` rings on a camera that publishes (ffmpeg sending a
  pre-encoded 640x480 25 fps stream in real time), 2 s apart; from the ring's time to the
  moment GET /api/v1/events/{id} says the clip is ready (polled every 20 ms), with the
  default 5 s pre-roll and 10 s post-roll.

There is no "original" to run beside it: the original pushed through AWS Lambda and API
Gateway, which cannot run here. Goals (issue 5): p50 <= 20 ms, p99 <= 100 ms; clip ready
<= post-roll + 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from _common import encode, machine, markdown_table, percentile, publisher_argv, wait_until

from tests.fakefcm import running_fake
from tests.stack.harness import TOKEN, Server, device_token, spawn, stop

POST_ROLL_S = 10.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post_ring(client: httpx.Client, server: Server, camera: str) -> tuple[str, int, int]:
    """(event id, monotonic ns before sending, the ring's wall-clock ms)."""
    event_id = str(uuid.uuid4())
    at_ms = time.time_ns() // 1_000_000
    sent_ns = time.monotonic_ns()
    response = client.post(
        f"{server.base}/api/v1/agent/events",
        json={"id": event_id, "camera": camera, "kind": "ring", "at_ms": at_ms,
              "clock_offset_ms": 0},
        headers={"Authorization": f"Bearer {device_token(camera)}"},
    )  # fmt: skip
    if response.status_code != 201:
        raise SystemExit(f"POST refused: {response.status_code} {response.text}")
    return event_id, sent_ns, at_ms


def push_latency(server: Server, fake_sends: object, count: int) -> dict[str, float]:
    sent: dict[str, int] = {}
    with httpx.Client(timeout=10) as client:
        for _ in range(count):
            event_id, sent_ns, _at = post_ring(client, server, "yard")
            sent[event_id] = sent_ns
            time.sleep(0.02)  # pacing: a doorbell sends a few events a second at most
    received: dict[str, int] = {}

    def all_arrived() -> bool:
        for request in fake_sends():  # type: ignore[operator]
            data = request.body["message"].get("data", {})
            if data.get("type") == "alert" and data.get("event_id") in sent:
                received.setdefault(data["event_id"], request.received_ns)
        return len(received) == len(sent)

    wait_until("every push at the fake FCM", all_arrived, 60, 0.2)
    latencies = [(received[i] - sent[i]) / 1e6 for i in sent]
    metrics = server.get("/metrics").text
    server_sum = server_count = 0.0
    for line in metrics.splitlines():
        if line.startswith("doorbell_event_to_push_seconds_sum"):
            server_sum = float(line.split()[1])
        if line.startswith("doorbell_event_to_push_seconds_count"):
            server_count = float(line.split()[1])
    return {
        "events": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "server_mean_ms": 1000 * server_sum / max(server_count, 1),
    }


def clip_ready(server: Server, rings: int) -> dict[str, float]:
    pending: dict[str, int] = {}
    ready_after: dict[str, float] = {}
    with httpx.Client(timeout=10) as client:
        for _ in range(rings):
            event_id, _sent, at_ms = post_ring(client, server, "front")
            pending[event_id] = at_ms
            time.sleep(2.0)  # rings 2 s apart: their clips overlap, as a busy door's would
        deadline = time.monotonic() + POST_ROLL_S + 60
        while pending and time.monotonic() < deadline:
            for event_id, at_ms in list(pending.items()):
                body = client.get(f"{server.base}/api/v1/events/{event_id}", headers=AUTH).json()
                state = body["clip"]["state"]
                if state == "ready":
                    ready_after[event_id] = (time.time_ns() // 1_000_000 - at_ms) / 1000
                    del pending[event_id]
                elif state == "failed":
                    raise SystemExit(f"clip of {event_id} failed: {body}")
            time.sleep(0.02)  # poll interval of the measurement
    if pending:
        raise SystemExit(f"clips not ready in time: {sorted(pending)}")
    values = sorted(ready_after.values())
    return {"rings": len(values), "median_s": statistics.median(values), "max_s": values[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rings", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="doorbell-push-") as tmp, running_fake() as fake:
        root = Path(tmp)
        server = Server(
            root,
            {"front": "front-stream-key-0123456789", "yard": "yard-stream-key-0123456789"},
            buffer_seconds=120,
            fcm_url=fake.fcm_url,
            extra={
                "push": {"credentials_file": str(fake.service_account(root / "sa.json"))},
                # `yard` has no video: its snapshots and clips fail after media_wait_s
                # (the default 15 s); at most max_recordings of them wait at once.
                "events": {"max_recordings": 64},
            },
        )
        server.start()
        publisher = None
        try:
            register = httpx.post(
                f"{server.base}/api/v1/devices",
                json={"token": "bench-phone", "platform": "android", "name": "bench"},
                headers=AUTH,
                timeout=5,
            )
            register.raise_for_status()
            pushes = push_latency(server, fake.sends, args.events)
            source = encode("static", root / "front.flv", 90)
            publisher = spawn(
                publisher_argv(source, server.publish_url("front"), loop=True), root / "pub.log"
            )
            wait_until(
                "front has 8 s of video",
                lambda: server.camera("front")["buffer"]["seconds"] >= 8,
                60,
            )
            clips = clip_ready(server, args.rings)
        finally:
            if publisher is not None:
                stop(publisher)
            server.stop()
    print(f"machine: {machine()}")
    print(json.dumps({"push": pushes, "clip_ready": clips}, indent=2))
    print(
        markdown_table(
            ["measure", "median", "p99 / max", "goal"],
            [
                [
                    f"event → push ({pushes['events']:.0f} events)",
                    f"{pushes['p50_ms']:.1f} ms",
                    f"{pushes['p99_ms']:.1f} ms",
                    "p50 ≤ 20 ms, p99 ≤ 100 ms",
                ],
                ["  server's own mean (/metrics)", f"{pushes['server_mean_ms']:.1f} ms", "", ""],
                [
                    f"ring → clip ready ({clips['rings']:.0f} rings, post-roll {POST_ROLL_S:g} s)",
                    f"{clips['median_s']:.2f} s",
                    f"{clips['max_s']:.2f} s",
                    f"≤ {POST_ROLL_S + 1.5:g} s",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
