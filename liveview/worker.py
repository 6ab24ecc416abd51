"""The media worker: pulls, viewers and their webrtcbins, on one GLib main loop.

Threads: the main loop owns every pipeline and session (offers, answers, state changes, ends);
each camera's appsink calls back on its streaming thread, which only fans buffers out to the
viewers' appsrcs (under the source's lock); one thread reads commands from stdin and hands
them to the main loop. Replies go to stdout, one JSON object per line, under a lock.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from common.sdp import H264Choice, OfferRefused, add_host_candidates, choose_h264
from liveview.errors import BadOffer, CameraUnavailable, LiveViewError, NegotiationTimeout
from liveview.gst import GLib, GObject, Gst, GstSdp, GstWebRTC

logger = logging.getLogger(__name__)

# A camera's first access unit (its caps: profile, size) must come within this after the pull
# starts, or the offer is refused as "camera unavailable".
SOURCE_START_S = 5.0
# How long a camera's pull is kept after its last viewer left: a viewer coming back (a page
# reload, the app returning to the foreground) then starts at once.
SOURCE_LINGER_S = 10.0
# ICE gathering after the answer is set; host candidates take milliseconds, STUN longer.
GATHER_S = 3.0
# Without STUN/TURN the answer goes once no new candidate came for this long.
CANDIDATES_SETTLE_MS = 25
# From the answer to DTLS connected; beyond it the session ends and its slot is free.
CONNECT_S = 15.0
# After ICE reports the path lost, how long it may take to come back before the session ends.
DISCONNECTED_S = 10.0
# A viewer that sent no RTCP for this long is gone (browsers send a report about every second).
VIEWER_SILENT_S = 6.0
# The group of pictures kept for a new viewer: more than the agent's 1-s GOP at 30 fps.
GOP_MAX_BUFFERS = 90
# A viewer whose network cannot keep up loses frames beyond this much queued video.
VIEWER_QUEUE_BYTES = 4 * 1024 * 1024
# RTP timestamps of the kept GOP's frames when they are sent at once: 1 ms apart, so the
# browser shows them at once and plays live from the next frame on.
BURST_STEP_NS = Gst.MSECOND


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    port_min: int = 0  # 0: any port
    port_max: int = 0
    ice_tcp: bool = True
    stun_server: str | None = None  # stun://host:port
    turn_servers: tuple[str, ...] = ()  # turn(s)://user:pass@host:port
    additional_hosts: tuple[str, ...] = ()
    source_linger_s: float = SOURCE_LINGER_S
    connect_s: float = CONNECT_S

    @property
    def gathers_remote(self) -> bool:
        """Candidates beyond this machine's own (STUN, TURN) are gathered: wait for them."""
        return bool(self.stun_server or self.turn_servers)

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        raw = json.loads(text)
        return cls(
            port_min=int(raw.get("port_min", 0)),
            port_max=int(raw.get("port_max", 0)),
            ice_tcp=bool(raw.get("ice_tcp", True)),
            stun_server=raw.get("stun_server") or None,
            turn_servers=tuple(raw.get("turn_servers", ())),
            additional_hosts=tuple(raw.get("additional_hosts", ())),
            source_linger_s=float(raw.get("source_linger_s", SOURCE_LINGER_S)),
            connect_s=float(raw.get("connect_s", CONNECT_S)),
        )


class Output:
    """Replies and events to the API, one JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, op: str, **fields: Any) -> None:
        line = json.dumps({"op": op, **fields}, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class Handlers:
    """Signal handlers connected by one owner, disconnected together when it ends.

    A handler holds its Python callable (a bound method: the owner) from C, where Python's
    cycle collector cannot see it; the owner holds the GObject. Left connected, every ended
    viewer would stay in memory with its pipeline (about 380 KB each, measured)."""

    def __init__(self) -> None:
        self._connected: list[tuple[GObject.Object, int]] = []

    def connect(self, target: GObject.Object, signal: str, callback: Callable[..., Any]) -> None:
        self._connected.append((target, target.connect(signal, callback)))

    def disconnect_all(self) -> None:
        for target, handler in self._connected:
            target.disconnect(handler)
        self._connected.clear()


@dataclass(eq=False)
class Source:
    """One camera's pull from the relay, shared by all its viewers: rtmp2src, flvdemux,
    h264parse (SPS/PPS before every IDR), appsink. Never decoded."""

    worker: Worker
    camera: str
    url: str
    pipeline: Gst.Pipeline = field(init=False)
    caps: Gst.Caps | None = None
    profile: str | None = None
    viewers: set[Viewer] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gop: list[Gst.Buffer] = field(default_factory=list)
    waiting: list[Callable[[LiveViewError | None], None]] = field(default_factory=list)
    users: int = 0  # viewers, offers waiting for the first access unit, and being warm
    warm: bool = False  # kept open without viewers, so that the first one starts at once
    linger: int | None = None
    start_timer: int | None = None
    stopped: bool = False
    handlers: Handlers = field(default_factory=Handlers)

    def __post_init__(self) -> None:
        location = self.url.replace(" ", "%20")
        pipeline = Gst.parse_launch(
            f"rtmp2src name=src location={location} timeout=5 idle-timeout=3 "
            "! flvdemux name=demux demux.video ! queue max-size-time=0 max-size-buffers=0 "
            "max-size-bytes=8388608 ! h264parse config-interval=-1 "
            "! video/x-h264,stream-format=byte-stream,alignment=au "
            "! appsink name=sink emit-signals=true sync=false max-buffers=64 drop=true"
        )
        assert isinstance(pipeline, Gst.Pipeline)
        self.pipeline = pipeline
        self.pipeline.set_name(f"pull-{self.camera}")
        sink = self.pipeline.get_by_name("sink")
        assert sink is not None
        self.handlers.connect(sink, "new-sample", self._on_sample)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        self.handlers.connect(bus, "message::error", self._on_error)
        self.handlers.connect(bus, "message::eos", self._on_eos)
        self.pipeline.set_state(Gst.State.PLAYING)
        self.start_timer = GLib.timeout_add(int(SOURCE_START_S * 1000), self._start_timeout)
        self.worker.output.send("pull", camera=self.camera, open=True)

    # -- streaming thread --------------------------------------------------------------
    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buffer = sample.get_buffer()
        keyframe = not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)
        first = False
        with self.lock:
            if self.caps is None:
                caps = sample.get_caps()
                self.caps = caps
                structure = caps.get_structure(0)
                self.profile = structure.get_string("profile")
                first = True
            if keyframe:
                self.gop = [buffer]
            elif self.gop and len(self.gop) < GOP_MAX_BUFFERS:
                self.gop.append(buffer)
            viewers = [v for v in self.viewers if v.flowing]
        if first:
            GLib.idle_add(self._ready)
        for viewer in viewers:
            viewer.push(buffer)
        return Gst.FlowReturn.OK

    # -- main loop ---------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.start_timer is not None:
            GLib.source_remove(self.start_timer)
            self.start_timer = None
        waiting, self.waiting = self.waiting, []
        for callback in waiting:
            callback(None)
        return False

    def _start_timeout(self) -> bool:
        self.start_timer = None
        self.fail(CameraUnavailable(f"camera {self.camera!r} sends no video"))
        return False

    def when_ready(self, callback: Callable[[LiveViewError | None], None]) -> None:
        if self.caps is not None:
            callback(None)
        else:
            self.waiting.append(callback)

    def _on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, _debug = message.parse_error()
        logger.info("pull of %s ended: %s", self.camera, error.message)
        self.fail(CameraUnavailable(f"camera {self.camera!r} is not streaming"))

    def _on_eos(self, _bus: Gst.Bus, _message: Gst.Message) -> None:
        self.fail(CameraUnavailable(f"camera {self.camera!r} stopped streaming"))

    def fail(self, error: LiveViewError) -> None:
        """The pull ended: every viewer's session ends with it."""
        if self.stopped:
            return
        waiting, self.waiting = self.waiting, []
        for callback in waiting:
            callback(error)
        for viewer in list(self.viewers):
            viewer.end("camera offline")
        self.stop()

    def attach(self, viewer: Viewer) -> None:
        with self.lock:
            self.viewers.add(viewer)
        self.hold()

    def detach(self, viewer: Viewer) -> None:
        with self.lock:
            if viewer not in self.viewers:
                return
            self.viewers.discard(viewer)
        self.release()

    def hold(self) -> None:
        """A viewer or a pending offer uses the pull: it stays."""
        self.users += 1
        if self.linger is not None:
            GLib.source_remove(self.linger)
            self.linger = None

    def release(self) -> None:
        """One use less; the last one leaves the pull running `source_linger_s` longer."""
        self.users -= 1
        if self.users == 0 and not self.stopped and self.linger is None:
            self.linger = GLib.timeout_add(
                int(self.worker.config.source_linger_s * 1000), self._linger_over
            )

    def _linger_over(self) -> bool:
        self.linger = None
        if self.users == 0:
            self.stop()
        return False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        for timer in (self.linger, self.start_timer):
            if timer is not None:
                GLib.source_remove(timer)
        self.linger = self.start_timer = None
        self.pipeline.get_bus().remove_signal_watch()
        self.pipeline.set_state(Gst.State.NULL)
        self.handlers.disconnect_all()
        with self.lock:
            self.gop.clear()
        if self.worker.sources.get(self.camera) is self:
            del self.worker.sources[self.camera]
        self.worker.output.send("pull", camera=self.camera, open=False)


@dataclass(eq=False)
class Viewer:
    """One browser: appsrc, rtph264pay, webrtcbin, in a pipeline of its own."""

    worker: Worker
    session: str
    source: Source
    choice: H264Choice
    pipeline: Gst.Pipeline = field(init=False)
    appsrc: Gst.Element = field(init=False)
    webrtc: Gst.Element = field(init=False)
    flowing: bool = False
    answered: bool = False
    ended: bool = False
    last_pts: int = -1
    last_rtcp: float = 0.0
    timers: dict[str, int] = field(default_factory=dict)
    handlers: Handlers = field(default_factory=Handlers)

    def __post_init__(self) -> None:
        config = self.worker.config
        pt, plid = self.choice.payload_type, self.choice.profile_level_id
        self.pipeline = Gst.Pipeline.new(f"viewer-{self.session}")
        self.appsrc = _make("appsrc")
        self.appsrc.set_property("caps", self.source.caps)
        self.appsrc.set_property("format", Gst.Format.TIME)
        self.appsrc.set_property("is-live", True)
        self.appsrc.set_property("max-bytes", VIEWER_QUEUE_BYTES)
        self.appsrc.set_property("leaky-type", 2)  # downstream: drop the oldest queued
        pay = _make("rtph264pay")
        pay.set_property("config-interval", -1)
        pay.set_property("aggregate-mode", 1)  # zero-latency
        pay.set_property("pt", pt)
        pay.set_property("mtu", 1200)
        rtp_caps = _make("capsfilter")
        rtp_caps.set_property(
            "caps",
            Gst.Caps.from_string(
                "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,"
                f"payload={pt},packetization-mode=(string)1,profile-level-id=(string){plid}"
            ),
        )
        self.webrtc = _make("webrtcbin")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        if config.stun_server:
            self.webrtc.set_property("stun-server", config.stun_server)
        for turn in config.turn_servers:
            self.webrtc.emit("add-turn-server", turn)
        ice = _ice_agent(self.webrtc)
        if config.port_min:
            ice.set_property("max-rtp-port", config.port_max)  # max first: min must be <= max
            ice.set_property("min-rtp-port", config.port_min)
        ice.set_property("ice-tcp", config.ice_tcp)
        # No UPnP: libnice would ask the LAN's router (SSDP on port 1900) to open a port for
        # every viewer, and hold each answer's gathering 200 ms for the router's reply.
        # Forwarding is the owner's decision (docs/deploy.md), not ours.
        ice.get_property("agent").set_property("upnp", False)
        for element in (self.appsrc, pay, rtp_caps, self.webrtc):
            self.pipeline.add(element)
        self.appsrc.link(pay)
        pay.link(rtp_caps)
        sink_pad = self.webrtc.request_pad_simple("sink_%u")
        rtp_src = rtp_caps.get_static_pad("src")
        assert sink_pad is not None
        assert rtp_src is not None
        rtp_src.link(sink_pad)
        self.handlers.connect(self.webrtc, "notify::connection-state", self._on_connection_state)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        self.handlers.connect(bus, "message::error", self._on_error)
        self.pipeline.set_state(Gst.State.PLAYING)
        transceiver = sink_pad.get_property("transceiver")
        transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        # No retransmission (do-nack): with it, webrtcbin 1.22 answered an RTX format and
        # Chromium then showed no frame at all. A packet lost on Wi-Fi spoils the picture
        # until the next keyframe (1 s at most, the agent's GOP).

    # -- negotiation (main loop) ---------------------------------------------------------
    def negotiate(self, offer_text: str) -> None:
        ok, message = GstSdp.SDPMessage.new_from_text(offer_text)
        if ok != GstSdp.SDPResult.OK:
            raise BadOffer("the SDP offer cannot be parsed")
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, message)
        self.timers["answer"] = GLib.timeout_add(int(GATHER_S * 2000), self._answer_timeout)
        promise = Gst.Promise.new_with_change_func(self._remote_set, None)
        self.webrtc.emit("set-remote-description", offer, promise)

    def _remote_set(self, promise: Gst.Promise, _data: object) -> None:
        # Called on a webrtcbin thread: continue on the main loop.
        logger.debug("%s: remote description set", self.session)
        reply = promise.get_reply()
        error = reply.get_value("error") if reply is not None and reply.has_field("error") else None
        GLib.idle_add(self._create_answer, error)

    def _create_answer(self, error: GLib.Error | None) -> bool:
        if self.ended:
            return False
        if error is not None:
            self.refuse(BadOffer(f"the SDP offer was not accepted: {error.message}"))
            return False
        promise = Gst.Promise.new_with_change_func(self._answer_created, None)
        self.webrtc.emit("create-answer", None, promise)
        return False

    def _answer_created(self, promise: Gst.Promise, _data: object) -> None:
        reply = promise.get_reply()
        answer = (
            reply.get_value("answer") if reply is not None and reply.has_field("answer") else None
        )
        # The description belongs to the reply, freed with the promise: keep a copy.
        GLib.idle_add(self._set_local, answer.copy() if answer is not None else None)

    def _set_local(self, answer: GstWebRTC.WebRTCSessionDescription | None) -> bool:
        if self.ended:
            return False
        if answer is None:
            self.refuse(BadOffer("no answer can be made to this offer (no common codec)"))
            return False
        logger.debug("%s: answer made", self.session)
        self.handlers.connect(self.webrtc, "notify::ice-gathering-state", self._on_gathering)
        self.handlers.connect(self.webrtc, "on-ice-candidate", self._on_candidate)
        self.webrtc.emit("set-local-description", answer, None)
        self.timers["gather"] = GLib.timeout_add(int(GATHER_S * 1000), self._reply_answer)
        return False

    def _on_candidate(self, _webrtc: Gst.Element, _mline: int, _candidate: str) -> None:
        GLib.idle_add(self._candidate_seen)

    def _candidate_seen(self) -> bool:
        """Host candidates come within milliseconds. Without STUN/TURN, answer once no new
        candidate came for CANDIDATES_SETTLE_MS, should "gathering complete" be late (it was
        200 ms late with libnice's UPnP on)."""
        if self.answered or self.ended or self.worker.config.gathers_remote:
            return False
        self._cancel("settle")
        self.timers["settle"] = GLib.timeout_add(CANDIDATES_SETTLE_MS, self._settled)
        return False

    def _settled(self) -> bool:
        self.timers.pop("settle", None)
        self._reply_answer()
        return False

    def _on_gathering(self, webrtc: Gst.Element, _pspec: object) -> None:
        state = webrtc.get_property("ice-gathering-state")
        logger.debug("%s: ICE gathering %s", self.session, state.value_nick)
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self._reply_answer)

    def _reply_answer(self) -> bool:
        self.timers.pop("gather", None)
        if self.answered or self.ended:
            return False
        self.answered = True
        for timer in ("answer", "gather", "settle"):
            self._cancel(timer)
        description = self.webrtc.get_property("local-description")
        text = add_host_candidates(
            description.sdp.as_text(), list(self.worker.config.additional_hosts)
        )
        self.worker.output.send("answer", session=self.session, sdp=text)
        logger.debug("%s: answered", self.session)
        self.timers["connect"] = GLib.timeout_add(
            int(self.worker.config.connect_s * 1000), self._connect_timeout
        )
        return False

    def _answer_timeout(self) -> bool:
        self.timers.pop("answer", None)
        if not self.answered:
            self.refuse(NegotiationTimeout("the answer was not ready in time"))
        return False

    def refuse(self, error: LiveViewError) -> None:
        self.worker.output.send(
            "refused", session=self.session, reason=error.reason, message=str(error)
        )
        self.end(None)

    def add_candidate(self, mline: int, candidate: str) -> None:
        self.webrtc.emit("add-ice-candidate", mline, candidate)

    # -- connection (webrtcbin threads, then the main loop) ------------------------------
    def _on_connection_state(self, webrtc: Gst.Element, _pspec: object) -> None:
        GLib.idle_add(self._connection_changed, webrtc.get_property("connection-state"))

    def _connection_changed(self, state: GstWebRTC.WebRTCPeerConnectionState) -> bool:
        if self.ended:
            return False
        states = GstWebRTC.WebRTCPeerConnectionState
        if state == states.CONNECTED:
            self._cancel("connect")
            self._cancel("disconnected")
            if not self.flowing:
                self._start_flow()
                self._watch_rtcp()
                self.worker.output.send("connected", session=self.session)
        elif state == states.DISCONNECTED:
            if "disconnected" not in self.timers:
                self.timers["disconnected"] = GLib.timeout_add(
                    int(DISCONNECTED_S * 1000), self._disconnected_timeout
                )
        elif state in (states.FAILED, states.CLOSED):
            self.end("connection failed" if state == states.FAILED else "connection closed")
        return False

    def _watch_rtcp(self) -> None:
        """Browsers send RTCP receiver reports about every second while they watch; a viewer
        that stops (a closed tab, a phone that lost its network) is gone after VIEWER_SILENT_S
        without one. libnice, the controlled ICE agent, has no consent freshness to tell."""
        assert isinstance(self.webrtc, Gst.Bin)
        rtpbin = self.webrtc.get_by_name("rtpbin")
        session = rtpbin.emit("get-internal-session", 0) if rtpbin is not None else None
        if session is None:
            logger.warning("%s: no RTP session to watch; the viewer is not timed out", self.session)
            return
        self.last_rtcp = time.monotonic()
        self.handlers.connect(session, "on-receiving-rtcp", self._on_rtcp)
        self.timers["silent"] = GLib.timeout_add(1000, self._check_silent)

    def _on_rtcp(self, _session: object, _buffer: Gst.Buffer) -> None:
        self.last_rtcp = time.monotonic()  # a float store: no lock needed

    def _check_silent(self) -> bool:
        if time.monotonic() - self.last_rtcp < VIEWER_SILENT_S:
            return True
        self.timers.pop("silent", None)
        self.end("viewer gone (no RTCP)")
        return False

    def _start_flow(self) -> None:
        """DTLS is up: send the kept GOP at once (from its keyframe, so the browser has a
        picture now rather than at the next keyframe), then every live access unit."""
        with self.source.lock:
            gop = list(self.source.gop)
            self.flowing = True  # from here on the streaming thread pushes live buffers
            clock = self.pipeline.get_clock()
            now = clock.get_time() - self.pipeline.get_base_time() if clock else 0
            start = max(0, now - BURST_STEP_NS * len(gop))
            for n, buffer in enumerate(gop):
                self._push_at(buffer, start + n * BURST_STEP_NS)

    def push(self, buffer: Gst.Buffer) -> None:
        """A live access unit, stamped with its arrival on this viewer's running time."""
        clock = self.pipeline.get_clock()
        if clock is None or self.ended:
            return
        self._push_at(buffer, clock.get_time() - self.pipeline.get_base_time())

    def _push_at(self, buffer: Gst.Buffer, pts: int) -> None:
        pts = max(pts, self.last_pts + BURST_STEP_NS)
        self.last_pts = pts
        # A shallow copy: the memory is shared, the timestamps are this viewer's.
        out: Gst.Buffer = buffer.copy()  # type: ignore[no-untyped-call]  # untyped in the stubs
        out.pts = pts
        out.dts = pts
        out.duration = Gst.CLOCK_TIME_NONE
        self.appsrc.emit("push-buffer", out)

    def _connect_timeout(self) -> bool:
        self.timers.pop("connect", None)
        self.end("not connected in time")
        return False

    def _disconnected_timeout(self) -> bool:
        self.timers.pop("disconnected", None)
        self.end("connection lost")
        return False

    def _on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, _debug = message.parse_error()
        logger.warning("viewer %s failed: %s", self.session, error.message)
        if not self.answered:
            self.refuse(LiveViewError(f"the media path failed: {error.message}"))
        else:
            self.end("media path failed")

    def _cancel(self, name: str) -> None:
        timer = self.timers.pop(name, None)
        if timer is not None:
            GLib.source_remove(timer)

    def end(self, reason: str | None) -> None:
        """Tear down; tell the API why unless `reason` is None (already refused)."""
        if self.ended:
            return
        self.ended = True
        with self.source.lock:
            self.flowing = False
        for name in list(self.timers):
            self._cancel(name)
        self.source.detach(self)
        self.worker.viewers.pop(self.session, None)
        self.pipeline.get_bus().remove_signal_watch()
        self.pipeline.set_state(Gst.State.NULL)
        self.handlers.disconnect_all()
        if reason is not None:
            self.worker.output.send("ended", session=self.session, reason=reason)


_GOBJECT = ctypes.CDLL("libgobject-2.0.so.0")
_GOBJECT.g_object_ref.restype = ctypes.c_void_p
_GOBJECT.g_object_ref.argtypes = [ctypes.c_void_p]


def _ice_agent(webrtc: Gst.Element) -> GstWebRTC.WebRTCICE:
    """webrtcbin's ICE agent (GstWebRTCNice), to set its ports.

    webrtcbin 1.22 keeps the agent it made by its floating reference, never sunk. PyGObject's
    wrapper sinks that reference as its own and drops it with the wrapper, freeing the agent
    under webrtcbin (GStreamer-WebRTC-CRITICAL "GST_IS_WEBRTC_ICE (ice)" at the next offer).
    So webrtcbin is given the reference it should hold: one g_object_ref on the C object (the
    pointer that follows PyObject_HEAD in PyGObject's wrapper struct)."""
    ice = webrtc.get_property("ice-agent")
    pointer = ctypes.c_void_p.from_address(id(ice) + object.__basicsize__).value
    _GOBJECT.g_object_ref(pointer)
    assert isinstance(ice, GstWebRTC.WebRTCICE)
    return ice


def _make(factory: str) -> Gst.Element:
    element = Gst.ElementFactory.make(factory)
    if element is None:
        raise LiveViewError(f"GStreamer element {factory!r} is missing")
    return element


class Worker:
    """Every source and viewer, and the commands that make and end them."""

    def __init__(self, config: WorkerConfig, output: Output) -> None:
        self.config = config
        self.output = output
        self.sources: dict[str, Source] = {}
        self.viewers: dict[str, Viewer] = {}
        self.loop = GLib.MainLoop()

    def handle(self, command: dict[str, Any]) -> bool:
        op = command.get("op")
        try:
            if op == "offer":
                self._offer(command)
            elif op == "close":
                viewer = self.viewers.get(str(command.get("session")))
                if viewer is not None:
                    viewer.end("closed")
            elif op == "candidate":
                viewer = self.viewers.get(str(command.get("session")))
                if viewer is not None:
                    viewer.add_candidate(int(command["mline"]), str(command["candidate"]))
            elif op == "warm":
                self._warm({str(k): str(v) for k, v in dict(command["cameras"]).items()})
            elif op == "quit":
                self.shutdown()
            else:
                logger.warning("unknown command %r", op)
        except Exception:
            logger.exception("command %r failed", op)
            if op == "offer":
                self.output.send(
                    "refused",
                    session=command.get("session"),
                    reason="failed",
                    message="the media worker failed on this offer",
                )
        return False

    def _offer(self, command: dict[str, Any]) -> None:
        session, camera, url = str(command["session"]), str(command["camera"]), str(command["url"])
        sdp = str(command["sdp"])
        logger.debug("%s: offer for %s", session, camera)  # checked by the API (check_offer)
        source = self.sources.get(camera)
        if source is None:
            source = self.sources[camera] = Source(self, camera, url)
        source.hold()  # kept while this offer waits for the camera's first access unit
        source.when_ready(lambda error: self._answer(session, source, sdp, error))

    def _answer(self, session: str, source: Source, sdp: str, error: LiveViewError | None) -> None:
        try:
            if error is not None:
                raise error
            try:
                choice = choose_h264(sdp, source.profile)
            except OfferRefused as exc:
                raise BadOffer(str(exc)) from exc
            viewer = Viewer(self, session, source, choice)
            self.viewers[session] = viewer
            source.attach(viewer)
        except LiveViewError as exc:
            self.output.send("refused", session=session, reason=exc.reason, message=str(exc))
            return
        finally:
            source.release()
        try:
            viewer.negotiate(sdp)
        except LiveViewError as exc:
            viewer.refuse(exc)

    def _warm(self, cameras: dict[str, str]) -> None:
        """Keep the pulls of exactly `cameras` (id: relay URL) open, viewers or not."""
        for camera, source in list(self.sources.items()):
            if source.warm and camera not in cameras:
                source.warm = False
                source.release()
        for camera, url in cameras.items():
            pull = self.sources.get(camera)
            if pull is None:
                pull = self.sources[camera] = Source(self, camera, url)
            if not pull.warm:
                pull.warm = True
                pull.hold()

    def shutdown(self) -> bool:
        for viewer in list(self.viewers.values()):
            viewer.end("server stopping")
        for source in list(self.sources.values()):
            source.stop()
        self.loop.quit()
        return False  # as a GLib idle callback: once


def _read_commands(worker: Worker, stream: TextIO) -> None:
    for raw in stream:
        line = raw.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("ignoring a line that is not JSON")
            continue
        GLib.idle_add(worker.handle, command)
    # The API closed our stdin (it stopped or died): stop everything.
    GLib.idle_add(worker.shutdown)


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=os.environ.get("DOORBELL_LIVEVIEW_LOG", "INFO"),
        format="liveview %(relativeCreated)d %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = WorkerConfig.from_json(argv[0] if argv else "{}")
    # GStreamer's DTLS makes its one certificate (RSA 2048) when the first DTLS element is
    # made: 0.4 s here, 1-2 s on a busy machine, which the first viewer would wait for.
    _make("dtlsdec")
    output = Output(sys.stdout)
    worker = Worker(config, output)
    threading.Thread(
        target=_read_commands, args=(worker, sys.stdin), name="commands", daemon=True
    ).start()
    output.send("ready", pid=os.getpid(), started=time.time())
    worker.loop.run()  # type: ignore[no-untyped-call]  # untyped in the stubs
    return 0
