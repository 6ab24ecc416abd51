"""A threaded HTTP server on 127.0.0.1 for the tests' fake services (FCM, Web Push, the
agent's event sink): on a free port the first time, on the same port when started again (a
service that goes away and comes back), stopped with a bound."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str, port: int = 0) -> None:
        self.port = port  # 0 until the first start picks a free one
        self._handler, self._name = handler, name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen and answer; returns once it accepts connections (a no-op if it does)."""
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: new connections are refused until `start()`. Raises if the
        server's thread does not end within 5 s."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if thread.is_alive():
            raise RuntimeError(f"{self._name} thread did not stop within 5 s")
