"""The WebRTC engine, measured: GStreamer's webrtcbin (our media worker) against aiortc sending
pre-encoded packets, on the same stream, to the same viewers, in one run.

    .venv/bin/pip install -c constraints-dev.txt -e ".[bench]"   # aiortc: this bench only
    .venv/bin/python bench/webrtc_engines.py [--viewers 1,5,10] [--windows 5] [--window-s 4]

The stream: `doorbell serve` with its nginx-rtmp relay and a simulated doorbell
(tests.stack.harness.simcam: the agent's test source, 640x480 25 fps, x264 1.5 Mbit/s, a
keyframe every second). Two senders serve it, each with one warm pull of the relay shared by
all its viewers, never decoding:

- webrtcbin: the server's own media worker (`python -m liveview`), through the real WHEP
  endpoint (POST /api/v1/cameras/front/whep).
- aiortc: `sender` below, a minimal WHEP endpoint (aiohttp on loopback) in its own process.
  PyAV demuxes the relay's RTMP without decoding (h264_mp4toannexb only: FLV carries
  length-prefixed NAL units, aiortc's packetizer wants start codes); the track's recv()
  returns av.Packet[Any], aiortc's documented passthrough (RTCRtpSender packs, never encodes). A
  new viewer gets the GOP kept since the last keyframe when its track starts, as ours does.

The viewers, the same for both: `viewers` below, N aiortc receivers in one separate process,
connected one after the other. They never decode: aiortc's decoder is replaced by a counter
of the complete frames its jitter buffer hands over (so "first frame" is the first complete
encoded frame received, not one painted). Offers are H.264 only (packetization-mode 1),
non-trickle, no STUN.

Measured per engine and N (0 = the warm pull alone, the baseline): the SENDER process's CPU
(% of one core, utime+stime of all its threads from /proc/<pid>/stat over `--window-s`, the
median of `--windows` windows), its RSS, the least-squares slope per additional viewer, the
time from the offer POST to the answer and to the first frame, the frame rate every
viewer received during the windows (the slowest viewer's), and the RTP packets the viewers
never received (aiortc's receiver stats: a packet retransmitted on a NACK counts as
received). The API process (signalling only once the viewers play) is not counted for
webrtcbin, as aiohttp's share is for aiortc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from _common import cpu_seconds, machine, markdown_table, tail, wait_until

from tests.stack.harness import TOKEN, Server, free_port, simcam, spawn, stop

try:
    import av
    from aiohttp import web
    from aiortc import (
        MediaStreamTrack,
        RTCConfiguration,
        RTCPeerConnection,
        RTCRtpReceiver,
        RTCRtpSender,
        RTCSessionDescription,
        rtcrtpreceiver,
    )
    from aiortc.rtcrtpparameters import RTCRtpCapabilities, RTCRtpCodecCapability
except ImportError as exc:  # pragma: no cover - the bench's own dependency
    raise SystemExit(
        f"bench/webrtc_engines.py needs aiortc ({exc}): "
        '.venv/bin/pip install -c constraints-dev.txt -e ".[bench]"'
    ) from exc

CAMERA, KEY = "front", "front-stream-key-0123456789"
UDP_PORTS = (47300, 47399)  # the worker's range here (not the default one a dev server uses)
ENGINES = ("webrtcbin", "aiortc")


# -- the aiortc sender ------------------------------------------------------------------------
class Source:
    """One demux of the relay's stream shared by every viewer: the packets since the last
    keyframe, and each playing viewer's queue (bounded, oldest dropped when full)."""

    def __init__(self) -> None:
        self.gop: list[av.Packet[Any]] = []
        self.queues: set[asyncio.Queue[av.Packet[Any]]] = set()

    def push(self, packet: av.Packet[Any]) -> None:
        if packet.is_keyframe:
            self.gop = []
        self.gop.append(packet)
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(packet)

    def subscribe(self) -> asyncio.Queue[av.Packet[Any]]:
        queue: asyncio.Queue[av.Packet[Any]] = asyncio.Queue(maxsize=256)
        for packet in self.gop:
            queue.put_nowait(packet)
        self.queues.add(queue)
        return queue


class PacketTrack(MediaStreamTrack):  # type: ignore[misc,unused-ignore]  # Any without aiortc
    """A video track whose recv() returns the camera's encoded packets (aiortc passthrough);
    it joins the source, with its kept GOP, when the sender first asks (DTLS connected)."""

    kind = "video"

    def __init__(self, source: Source) -> None:
        super().__init__()
        self._source = source
        self._queue: asyncio.Queue[av.Packet[Any]] | None = None

    async def recv(self) -> av.Packet[Any]:
        if self._queue is None:
            self._queue = self._source.subscribe()
        return await self._queue.get()

    def stop(self) -> None:
        if self._queue is not None:
            self._source.queues.discard(self._queue)
        super().stop()


def demux(url: str, source: Source, loop: asyncio.AbstractEventLoop, done: threading.Event) -> None:
    """The relay's stream read in this thread, never decoded, handed to the loop packet by
    packet; opened again (after a second) when it ends or fails."""
    while not done.is_set():
        try:
            with av.open(url, timeout=10) as container:
                stream = container.streams.video[0]
                annexb = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
                for packet in container.demux(stream):
                    for out in annexb.filter(packet):
                        out.time_base = stream.time_base or Fraction(1, 1000)  # FLV's
                        loop.call_soon_threadsafe(source.push, out)
                    if done.is_set():
                        return
        except (av.FFmpegError, IndexError) as exc:
            print(f"sender: {url}: {exc}", file=sys.stderr)
        done.wait(1.0)


def h264_only(capabilities: RTCRtpCapabilities | None) -> list[RTCRtpCodecCapability]:
    """The H.264 formats among aiortc's (42001f and 42e01f, packetization-mode 1)."""
    assert capabilities is not None
    return [c for c in capabilities.codecs if c.mimeType == "video/H264"]


@dataclass
class Sender:
    """aiortc's minimal WHEP endpoint: POST /whep (offer in, answer out), DELETE /whep/{id}."""

    source: Source
    sessions: dict[str, tuple[RTCPeerConnection, PacketTrack]] = field(default_factory=dict)

    async def offer(self, request: web.Request) -> web.Response:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await pc.setRemoteDescription(RTCSessionDescription(await request.text(), "offer"))
        for transceiver in pc.getTransceivers():
            transceiver.setCodecPreferences(h264_only(RTCRtpSender.getCapabilities("video")))
        track = PacketTrack(self.source)
        pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        session = secrets.token_urlsafe(12)
        self.sessions[session] = (pc, track)
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": f"/whep/{session}"},
        )

    async def end(self, request: web.Request) -> web.Response:
        found = self.sessions.pop(request.match_info["session"], None)
        if found is None:
            return web.Response(status=404)
        pc, track = found
        track.stop()
        await pc.close()
        return web.Response(status=204)

    async def state(self, _: web.Request) -> web.Response:
        body = {"viewers": len(self.sessions), "gop": len(self.source.gop)}
        return web.json_response(body)


async def serve_sender(url: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    sender, done, stopping = Sender(Source()), threading.Event(), asyncio.Event()
    thread = threading.Thread(target=demux, args=(url, sender.source, loop, done), daemon=True)
    thread.start()
    app = web.Application()
    app.router.add_post("/whep", sender.offer)
    app.router.add_delete("/whep/{session}", sender.end)
    app.router.add_get("/state", sender.state)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
    finally:
        done.set()
        for pc, track in sender.sessions.values():
            track.stop()
            await pc.close()
        await runner.cleanup()
        thread.join(timeout=12)


# -- the viewers (load generator) ----------------------------------------------------------
class CountingDecoder:
    """Stands in for aiortc's H.264 decoder in the viewers: counts complete encoded frames and
    notes when the first came, decodes nothing (runs in the receiver's decoder thread)."""

    made: ClassVar[list[CountingDecoder]] = []
    # Set (from the decoder's thread, through the loop) when a decoder sees its first frame.
    first_frame: ClassVar[tuple[asyncio.AbstractEventLoop, asyncio.Event] | None] = None

    def __init__(self) -> None:
        self.frames = 0
        self.first: float | None = None
        CountingDecoder.made.append(self)

    def decode(self, _: object) -> list[Any]:
        if self.first is None:
            self.first = time.monotonic()
            if CountingDecoder.first_frame is not None:
                loop, event = CountingDecoder.first_frame
                loop.call_soon_threadsafe(event.set)
        self.frames += 1
        return []


def counting_decoder(_: object) -> CountingDecoder:
    return CountingDecoder()


@dataclass
class Viewer:
    pc: RTCPeerConnection
    location: str
    answer_ms: float
    first_frame_ms: float
    decoder: CountingDecoder


async def connect(client: httpx.AsyncClient, url: str, token: str | None) -> Viewer:
    """One receiver: an H.264-only recvonly offer POSTed, the answer applied, its first frame
    awaited (10 s at most). Viewers connect one at a time, so the n-th decoder made is its."""
    index = len(CountingDecoder.made)
    arrived = asyncio.Event()
    CountingDecoder.first_frame = (asyncio.get_running_loop(), arrived)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(h264_only(RTCRtpReceiver.getCapabilities("video")))
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = time.monotonic()
    response = await client.post(url, content=pc.localDescription.sdp, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"offer refused: {response.status_code} {response.text[:200]}")
    answered = time.monotonic()
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    async with asyncio.timeout(10):
        await arrived.wait()
    decoder = CountingDecoder.made[index]
    assert decoder.first is not None
    location = urljoin(url, response.headers["location"])
    return Viewer(pc, location, 1000 * (answered - sent), 1000 * (decoder.first - sent), decoder)


async def packets_lost(pc: RTCPeerConnection) -> int:
    """RTP packets never received, retransmissions counted as received (aiortc's stats)."""
    report = await pc.getStats()
    return sum(int(s.packetsLost) for s in report.values() if s.type == "inbound-rtp")


async def run_viewers(url: str, count: int, token: str | None) -> None:
    """`count` viewers; one JSON line when all play, one more (frame rates) when stdin closes,
    then every session DELETEd."""
    setattr(rtcrtpreceiver, "get_decoder", counting_decoder)  # noqa: B010 (no decoding)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=15) as client:
        viewers = [await connect(client, url, token) for _ in range(count)]
        joined = {"answer_ms": [v.answer_ms for v in viewers],
                  "first_frame_ms": [v.first_frame_ms for v in viewers]}  # fmt: skip
        print(json.dumps(joined), flush=True)
        start, counts = time.monotonic(), [v.decoder.frames for v in viewers]
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        elapsed = time.monotonic() - start
        fps = [(v.decoder.frames - c) / elapsed for v, c in zip(viewers, counts, strict=True)]
        print(json.dumps({"fps": fps, "lost": [await packets_lost(v.pc) for v in viewers]}),
              flush=True)  # fmt: skip
        for viewer in viewers:
            await client.delete(viewer.location, headers=headers)
            await viewer.pc.close()


# -- the run --------------------------------------------------------------------------------
@dataclass
class Point:
    engine: str
    viewers: int
    cpu: list[float]
    rss_mib: float
    answer_ms: list[float] = field(default_factory=list)
    first_frame_ms: list[float] = field(default_factory=list)
    min_fps: float | None = None
    lost: int | None = None  # RTP packets its viewers never received (whole sessions)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_windows(pid: int, windows: int, window_s: float) -> list[float]:
    """% of one core used by `pid` in each of `windows` consecutive windows."""
    found = []
    for _ in range(windows):
        before, start = cpu_seconds(pid), time.monotonic()
        time.sleep(window_s)
        after, elapsed = cpu_seconds(pid), time.monotonic() - start
        if before is None or after is None:
            raise RuntimeError(f"sender {pid} exited while measured")
        found.append(100 * (after - before) / elapsed)
    return found


def read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    line = proc.stdout.readline() if ready else b""
    if not line:
        raise RuntimeError(f"viewers gave no line within {timeout_s:g}s (exit {proc.poll()})")
    body: dict[str, Any] = json.loads(line)
    return body


@dataclass
class Engine:
    name: str
    whep_url: str
    token: str | None
    pid: Callable[[], int]
    viewers: Callable[[], int]


def measure(
    engine: Engine, count: int, args: argparse.Namespace, log: Path, windows: int | None = None
) -> Point:
    """One point: `count` viewers playing, the sender's CPU over `windows` (default
    --windows) windows after --settle-s."""
    pid = engine.pid()
    windows = args.windows if windows is None else windows
    if count == 0:
        time.sleep(args.settle_s)
        return Point(engine.name, 0, cpu_windows(pid, windows, args.window_s), rss_mib(pid))
    argv = [sys.executable, __file__, "viewers", "--url", engine.whep_url, "--count", str(count)]
    argv += ["--token", engine.token] if engine.token else []
    with log.open("ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    try:
        joined = read_line(proc, 15.0 * count + 10)
        time.sleep(args.settle_s if windows else 0)
        cpu, rss = cpu_windows(pid, windows, args.window_s), rss_mib(pid)
        assert proc.stdin is not None
        proc.stdin.close()
        left = read_line(proc, 30)
        proc.wait(30)
    finally:
        stop(proc)
    wait_until(f"{engine.name}'s viewers gone", lambda: engine.viewers() == 0, 30)
    return Point(engine.name, count, cpu, rss, joined["answer_ms"], joined["first_frame_ms"],
                 min(left["fps"]), sum(left["lost"]))  # fmt: skip


def start_stack(
    root: Path, args: argparse.Namespace
) -> tuple[Server, list[subprocess.Popen[bytes]]]:
    server = Server(
        root=root,
        cameras={CAMERA: KEY},
        webrtc_extra={
            "udp_port_min": UDP_PORTS[0],
            "udp_port_max": UDP_PORTS[1],
            "max_viewers_per_camera": max(args.viewers),
            "max_viewers": max(args.viewers),
            "warm": True,
        },
    )
    server.start()
    procs = [simcam(server.publish_url(CAMERA), root / "camera.log")]
    wait_until("camera online", lambda: bool(server.camera(CAMERA)["online"]), 30)
    wait_until("the worker's warm pull", lambda: server.health()["webrtc"]["pulls"] == 1, 30)
    return server, procs


def aiortc_engine(server: Server, root: Path, procs: list[subprocess.Popen[bytes]]) -> Engine:
    port = free_port()
    url = f"rtmp://127.0.0.1:{server.rtmp_port}/live/{CAMERA}"
    proc = spawn([sys.executable, __file__, "sender", "--source", url, "--port", str(port)],
                 root / "aiortc-sender.log")  # fmt: skip
    procs.append(proc)
    base = f"http://127.0.0.1:{port}"

    def state() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{base}/state", timeout=5).json()
        return body

    def warm() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"aiortc sender exited {proc.returncode}")
        try:
            return int(state()["gop"]) > 0
        except httpx.HTTPError:
            return False

    wait_until("the aiortc sender's warm demux", warm, 30)
    return Engine("aiortc", f"{base}/whep", None, lambda: proc.pid, lambda: int(state()["viewers"]))


def webrtcbin_engine(server: Server) -> Engine:
    return Engine(
        "webrtcbin",
        f"{server.base}/api/v1/cameras/{CAMERA}/whep",
        TOKEN,
        lambda: int(server.health()["webrtc"]["pid"]),
        lambda: int(server.health()["webrtc"]["viewers"]),
    )


def run(args: argparse.Namespace) -> list[Point]:
    points: list[Point] = []
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-engines-") as tmp:
        root = Path(tmp)
        server, procs = start_stack(root, args)
        try:
            engines = [webrtcbin_engine(server), aiortc_engine(server, root, procs)]
            for engine in engines:  # each sender's first session of its life, apart
                print(f"bench: {engine.name}, first session...", file=sys.stderr)
                first = measure(engine, 1, args, root / "viewers.log", windows=0)
                points.append(replace(first, viewers=-1))
            for count in [0, *args.viewers]:
                for engine in engines:  # alternated, so that drift in the machine's load is shared
                    print(f"bench: {engine.name}, {count} viewers...", file=sys.stderr)
                    points.append(measure(engine, count, args, root / "viewers.log"))
        except Exception:
            for name in ("server.log", "aiortc-sender.log", "viewers.log"):
                print(f"--- {name}: {tail(root / name, 30)}", file=sys.stderr)
            raise
        finally:
            stop_all(procs)
            server.stop()
    return points


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        stop(proc)


# -- the report -----------------------------------------------------------------------------
def slope(points: list[Point]) -> float:
    """Least-squares % of a core per additional viewer over the engine's points."""
    xs = [p.viewers for p in points]
    ys = [statistics.median(p.cpu) for p in points]
    return statistics.linear_regression(xs, ys).slope


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} (max {max(values):.0f})"


def _row(p: Point) -> list[str]:
    cpu = f"{statistics.median(p.cpu):.1f} ({min(p.cpu):.1f}-{max(p.cpu):.1f})" if p.cpu else "-"
    fps = "-" if p.min_fps is None else f"{p.min_fps:.1f}"
    return [p.engine, str(p.viewers), cpu, f"{p.rss_mib:.0f}", _ms(p.answer_ms),
            _ms(p.first_frame_ms), fps, "-" if p.lost is None else str(p.lost)]  # fmt: skip


def _ratios(by: dict[str, list[Point]], counts: list[int]) -> list[list[str]]:
    rows = []
    for count in counts:
        cpu = {e: statistics.median(next(p for p in by[e] if p.viewers == count).cpu) for e in by}
        ratio = cpu["aiortc"] / cpu["webrtcbin"] if cpu["webrtcbin"] else float("nan")
        rows.append(
            [str(count), f"{cpu['webrtcbin']:.1f}", f"{cpu['aiortc']:.1f}", f"{ratio:.1f}x"]
        )
    return rows


def report(points: list[Point], args: argparse.Namespace, info: dict[str, str]) -> str:
    firsts = [p for p in points if p.viewers < 0]
    steady = [p for p in points if p.viewers >= 0]
    by = {e: [p for p in steady if p.engine == e] for e in ENGINES}
    slopes = {e: slope(by[e]) for e in ENGINES}
    header = ["engine", "viewers", "sender CPU % of a core, median (min-max)", "sender RSS MiB",
              "offer to answer ms, median (max)", "offer to first frame ms, median (max)",
              "slowest viewer fps", "packets lost, all viewers"]  # fmt: skip
    lines = [
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()),
        f"{args.windows} windows of {args.window_s:g} s per point, after {args.settle_s:g} s.",
        "",
        "Each sender's first session of its life (one viewer, then gone):",
        "",
        markdown_table(["engine", "offer to answer ms", "offer to first frame ms"],
                       [[p.engine, _ms(p.answer_ms), _ms(p.first_frame_ms)] for p in firsts]),
        "",
        markdown_table(header, [_row(p) for p in steady]),
        "",
        markdown_table(["viewers", "webrtcbin CPU %", "aiortc CPU %", "aiortc / webrtcbin"],
                       _ratios(by, [0, *args.viewers])),
        "",
        "Per additional viewer (least squares over 0..N): "
        + ", ".join(f"{e} {slopes[e]:.2f} % of a core" for e in ENGINES)
        + f"; aiortc / webrtcbin {slopes['aiortc'] / slopes['webrtcbin']:.1f}x.",
    ]  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("run", help="the benchmark (the default)")
    for p in (parser, bench):
        p.add_argument(
            "--viewers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 10]
        )
        p.add_argument("--windows", type=int, default=5)
        p.add_argument("--window-s", type=float, default=4.0)
        p.add_argument("--settle-s", type=float, default=3.0)
        p.add_argument("--json", type=Path, help="also write the points here")
    sender = sub.add_parser("sender", help="internal: the aiortc sender")
    sender.add_argument("--source", required=True)
    sender.add_argument("--port", type=int, required=True)
    viewers = sub.add_parser("viewers", help="internal: the load generator")
    viewers.add_argument("--url", required=True)
    viewers.add_argument("--count", type=int, required=True)
    viewers.add_argument("--token")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "sender":
        asyncio.run(serve_sender(args.source, args.port))
        return 0
    if args.command == "viewers":
        asyncio.run(run_viewers(args.url, args.count, args.token))
        return 0
    info = machine()
    points = run(args)
    if args.json:
        args.json.write_text(json.dumps([p.__dict__ for p in points], indent=1))
    print(report(points, args, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
