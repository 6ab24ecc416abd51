"""A stand-in for the server's `POST /api/v1/agent/events` (which the events issue adds): a
real HTTP server on 127.0.0.1 that records every event and answers 200 with the server time,
the response the agent's uplink expects. `stop()` closes the port, `start()` reopens it on
the same one, to play an API that is down."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer
from tests.stack.harness import free_port


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when it arrived
    authorization: str
    body: dict[str, Any]


class EventReceiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._http: LoopbackServer | None = None
        self.port = free_port()  # known before start: agents are configured with it first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                arrival = Arrival(time.monotonic(), self.headers.get("Authorization", ""), body)
                with receiver._lock:
                    receiver.arrivals.append(arrival)
                receiver.arrived.set()
                reply = json.dumps({"server_time_ms": time.time_ns() // 1_000_000}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = LoopbackServer(Handler, "event receiver", self.port)
        self._http.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def of(self, camera: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Bodies received for `camera` (of `kind`), in arrival order."""
        with self._lock:
            return [
                a.body
                for a in self.arrivals
                if a.body["camera"] == camera and kind in (None, a.body["kind"])
            ]

    def authorizations(self) -> set[str]:
        with self._lock:
            return {a.authorization for a in self.arrivals}
