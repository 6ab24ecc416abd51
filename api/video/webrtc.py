"""WebRTC live view: the media worker process (`python -m liveview`), its sessions and caps.

The API does the signalling: it checks the offer, counts the viewer against the caps (the
place is taken in the same step as the check), hands the offer to the worker and waits for
its answer. The worker (GStreamer webrtcbin, docs/architecture.md#webrtc) pulls each watched
camera once from the relay and sends its H.264 to every viewer as it is. Nothing of the media
runs on the API's event loop: the loop only writes and reads JSON lines on the worker's pipes.

The worker runs under the supervisor: when it exits, every session ends with it (the browsers
notice and ask again) and it is started again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from api.config import WebRtcSettings
from api.errors import BadOffer, LiveViewUnavailable, NotFound
from common.process import exited, send, spawn, stop_process
from common.sdp import OfferRefused, check_offer

logger = logging.getLogger(__name__)
worker_log = logging.getLogger("liveview")

# The worker answers an offer in about 0.1 s with its camera's pull running, and within the
# pull's start (up to 5 s for a camera that sends no video) otherwise.
ANSWER_TIMEOUT_S = 8.0
# How often the worker is told which cameras to keep pulling (webrtc.warm): those online.
WARM_EVERY_S = 2.0
# The worker's exit status when GStreamer's WebRTC is not installed.
UNAVAILABLE = 3
# A worker that says nothing this long after its start is not working.
READY_TIMEOUT_S = 10.0


class WorkerExited(Exception):
    """The media worker ended (transient for the supervisor: it is started again)."""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    camera_id: str
    ufrag: str  # the offer's ICE username fragment: another one in a PATCH is a restart


@dataclass(slots=True)
class _Worker:
    proc: asyncio.subprocess.Process
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class LiveView:
    """Sessions of WebRTC viewers, and the worker that serves them."""

    def __init__(
        self,
        settings: WebRtcSettings,
        pull_base: str,
        cameras: Callable[[], list[str]] = list,
        *,
        python: str = sys.executable,
    ) -> None:
        """`cameras`: the ids of the cameras online now (kept warm when webrtc.warm)."""
        self.settings = settings
        self._pull_base = pull_base.rstrip("/")
        self._online = cameras
        self._python = python
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pulls: set[str] = set()
        self._worker: _Worker | None = None
        self.results: Counter[str] = Counter()  # sessions by how they ended or were refused

    # -- what routes use ---------------------------------------------------------------
    @property
    def available(self) -> bool:
        worker = self._worker
        return worker is not None and worker.ready.is_set() and worker.proc.returncode is None

    async def offer(self, camera_id: str, sdp: str) -> tuple[Session, str]:
        """A new viewer of `camera_id`: its session and the SDP answer. Raises BadOffer, or
        LiveViewUnavailable (caps reached, worker down, camera not sending)."""
        try:
            check_offer(sdp)
        except OfferRefused as exc:
            self.results["bad_offer"] += 1
            raise BadOffer(str(exc)) from None
        session = self._take_place(camera_id, _ufrag(sdp))
        try:
            reply = await self._ask(session, sdp)
        except BaseException:
            self._forget(session.id, tell_worker=True)
            raise
        if reply["op"] != "answer":
            self._forget(session.id, tell_worker=False)
            raise self._refusal(camera_id, reply)
        self.results["answered"] += 1
        return session, str(reply["sdp"])

    async def close(self, camera_id: str, session_id: str) -> None:
        self._session(camera_id, session_id)
        self.results["closed"] += 1
        self._forget(session_id, tell_worker=True)

    def _session(self, camera_id: str, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None or session.camera_id != camera_id:
            raise NotFound(
                "WebRTC session", session_id, why=f"not one of camera {camera_id!r} (ended?)"
            )
        return session

    def ufrag(self, camera_id: str, session_id: str) -> str:
        return self._session(camera_id, session_id).ufrag

    def add_candidates(self, camera_id: str, session_id: str, candidates: list[str]) -> None:
        self._session(camera_id, session_id)
        for candidate in candidates:
            self._send(
                {"op": "candidate", "session": session_id, "mline": 0, "candidate": candidate}
            )

    def viewers(self) -> dict[str, int]:
        """Sessions per camera (answered or being answered)."""
        counts: Counter[str] = Counter(s.camera_id for s in self._sessions.values())
        return dict(counts)

    def pulls(self) -> set[str]:
        """Cameras the worker pulls from the relay now."""
        return set(self._pulls)

    def health(self) -> dict[str, Any]:
        worker = self._worker
        return {
            "state": "running" if self.available else "stopped",
            "pid": None if worker is None else worker.proc.pid,
            "viewers": len(self._sessions),
            "pulls": len(self._pulls),
        }

    # -- sessions ----------------------------------------------------------------------
    def _take_place(self, camera_id: str, ufrag: str) -> Session:
        if not self.available:
            self.results["unavailable"] += 1
            raise LiveViewUnavailable(
                "WebRTC live view is not running now; play HLS", "webrtc_unavailable", 5
            )
        on_camera = sum(1 for s in self._sessions.values() if s.camera_id == camera_id)
        cap = self.settings.max_viewers_per_camera
        if on_camera >= cap:
            self.results["too_many_viewers"] += 1
            raise LiveViewUnavailable(
                f"camera {camera_id!r} has {on_camera} WebRTC viewers, the most allowed "
                f"(webrtc.max_viewers_per_camera); play HLS",
                "too_many_viewers",
            )
        if len(self._sessions) >= self.settings.max_viewers:
            self.results["too_many_viewers"] += 1
            raise LiveViewUnavailable(
                f"{len(self._sessions)} WebRTC viewers, the most allowed "
                "(webrtc.max_viewers); play HLS",
                "too_many_viewers",
            )
        session = Session(secrets.token_urlsafe(18), camera_id, ufrag)
        self._sessions[session.id] = session
        return session

    async def _ask(self, session: Session, sdp: str) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[session.id] = future
        try:
            self._send(
                {
                    "op": "offer",
                    "session": session.id,
                    "camera": session.camera_id,
                    "url": f"{self._pull_base}/{session.camera_id}",
                    "sdp": sdp,
                }
            )
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                return await future
        except TimeoutError:
            self.results["timeout"] += 1
            raise LiveViewUnavailable(
                "the media worker did not answer in time; play HLS", "webrtc_unavailable"
            ) from None
        finally:
            self._pending.pop(session.id, None)

    def _refusal(self, camera_id: str, reply: dict[str, Any]) -> Exception:
        reason, message = str(reply.get("reason")), str(reply.get("message"))
        self.results[reason] += 1
        if reason == "bad_offer":
            return BadOffer(message)
        if reason == "camera_unavailable":
            return LiveViewUnavailable(
                f"camera {camera_id!r} sends no video now: {message}", "camera_offline"
            )
        return LiveViewUnavailable(f"WebRTC failed: {message}; play HLS", "webrtc_unavailable")

    def _forget(self, session_id: str, *, tell_worker: bool) -> None:
        if self._sessions.pop(session_id, None) is not None and tell_worker:
            # A worker that is gone took the session with it.
            with contextlib.suppress(LiveViewUnavailable):
                self._send({"op": "close", "session": session_id})

    def _send(self, command: dict[str, Any]) -> None:
        worker = self._worker
        if worker is None or worker.proc.stdin is None or worker.proc.returncode is not None:
            raise LiveViewUnavailable(
                "WebRTC live view is not running now; play HLS", "webrtc_unavailable", 5
            )
        worker.proc.stdin.write(json.dumps(command, separators=(",", ":")).encode() + b"\n")

    # -- the worker's messages ---------------------------------------------------------
    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        session_id = str(message.get("session"))
        if op in ("answer", "refused"):
            self._on_reply(session_id, message)
        elif op == "connected":
            if session_id in self._sessions:
                self.results["connected"] += 1  # DTLS up: the browser gets the video
        elif op == "ended":
            if self._sessions.pop(session_id, None) is not None:
                self.results[f"ended: {message.get('reason')}"] += 1
                logger.info("WebRTC session ended: %s", message.get("reason"))
        elif op == "pull":
            self._on_pull(str(message.get("camera")), bool(message.get("open")))
        elif op == "ready" and self._worker is not None:
            self._worker.ready.set()

    def _on_reply(self, session_id: str, message: dict[str, Any]) -> None:
        future = self._pending.get(session_id)
        if future is not None and not future.done():
            future.set_result(message)
        elif message["op"] == "answer":  # the asker left: end what the worker made for it
            self._send({"op": "close", "session": session_id})

    def _on_pull(self, camera_id: str, is_open: bool) -> None:
        if is_open:
            self._pulls.add(camera_id)
        else:
            self._pulls.discard(camera_id)

    # -- the worker process (a supervised loop) ----------------------------------------
    def _argv(self) -> list[str]:
        s = self.settings
        stun = [u for server in s.ice_servers for u in server.urls if u.startswith("stun:")]
        config = {
            "port_min": s.udp_port_min,
            "port_max": s.udp_port_max,
            "ice_tcp": s.ice_tcp,
            "stun_server": f"stun://{stun[0].removeprefix('stun:')}" if stun else None,
            "turn_servers": [_turn_uri(url, server.username, server.credential.get_secret_value())
                             for server in s.ice_servers for url in server.urls
                             if url.startswith("turn")],
            "additional_hosts": s.additional_hosts,
            "source_linger_s": s.source_linger_s,
        }  # fmt: skip
        return [self._python, "-m", "liveview", json.dumps(config)]

    async def run(self) -> None:
        """Run the worker until cancelled; raises WorkerExited when it ends by itself."""
        proc = await spawn(
            self._argv(),
            death_signal=signal.SIGTERM,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        worker = self._worker = _Worker(proc)
        pipes = [
            asyncio.create_task(self._read(worker)),
            asyncio.create_task(self._log(worker)),
            asyncio.create_task(self._keep_warm(worker)),
        ]
        try:
            status = await exited(proc)
        finally:
            self._lost(worker)
            await stop_process(proc, group=True)
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
        if status == UNAVAILABLE:
            raise WorkerExited(
                "GStreamer's WebRTC is not installed (the worker's log says what is missing); "
                "live view plays over HLS"
            )
        raise WorkerExited(f"the WebRTC media worker exited with status {status}")

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                self._line(await stdout.readline())
        except TimeoutError:
            pass
        if not worker.ready.is_set():
            logger.error("the WebRTC media worker did not start; stopping it")
            send(worker.proc, signal.SIGTERM)
            return
        logger.info("WebRTC media worker running (pid %d)", worker.proc.pid)
        while line := await stdout.readline():
            self._line(line)

    async def _keep_warm(self, worker: _Worker) -> None:
        if not self.settings.warm:
            return
        await worker.ready.wait()
        while worker.proc.returncode is None:
            urls = {camera: f"{self._pull_base}/{camera}" for camera in self._online()}
            self._send({"op": "warm", "cameras": urls})
            await asyncio.sleep(WARM_EVERY_S)  # a poll of presence, which has no event

    def _line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            worker_log.warning("not a message: %r", line[:200])
            return
        if isinstance(message, dict):
            self._on_message(message)

    async def _log(self, worker: _Worker) -> None:
        assert worker.proc.stderr is not None
        while line := await worker.proc.stderr.readline():
            worker_log.info("%s", line.decode(errors="replace").rstrip()[:2000])

    def _lost(self, worker: _Worker) -> None:
        """The worker is gone: every session and pending offer with it."""
        if self._worker is worker:
            self._worker = None
        for future in self._pending.values():
            if not future.done():
                future.set_result({"op": "refused", "reason": "failed", "message": "worker exited"})
        if self._sessions:
            self.results["ended: worker exited"] += len(self._sessions)
        self._sessions.clear()
        self._pulls.clear()


def _ufrag(sdp: str) -> str:
    found = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.MULTILINE)
    return "" if found is None else found.group(1)


def _turn_uri(url: str, username: str, credential: str) -> str:
    """webrtcbin's form of a TURN server: turn(s)://user:pass@host:port (URL-escaped)."""
    scheme, _, rest = url.partition(":")
    return f"{scheme}://{quote(username, safe='')}:{quote(credential, safe='')}@{rest}"
