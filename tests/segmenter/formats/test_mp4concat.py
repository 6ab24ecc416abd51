"""MP4 clips by concatenation, checked frame for frame against the PyAV remux path on the same
segments: same packets, sizes, timestamps, flags and bytes; publisher sessions spliced alike;
segments that cannot be indexed take the remux path."""

from __future__ import annotations

import itertools
import struct
import subprocess
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from segmenter import CameraSegmenter, SegmenterConfig, sidecar
from segmenter.clip import remux_mp4
from segmenter.formats.faststart import Layout, faststart_layout
from segmenter.formats.h264 import parameter_sets
from segmenter.formats.mp4concat import concat_mp4, timeline
from segmenter.formats.mp4write import Track, head, mdat_header
from segmenter.formats.samples import SegmentSamples, index_file
from segmenter.model import Segment
from tests.conftest import require_binary
from tests.segmenter.formats.tsmux import choppy, mux, real_access_units
from tests.segmenter.segmenting import segment_file

T0 = 1_800_000_000_000
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def encode(out: Path, seconds: int, *args: str, audio: bool = False) -> list[Path]:
    """1-s MPEG-TS segments of testsrc2, cut by ffmpeg's segment muxer like the segmenter's."""
    out.mkdir()
    sound = ["-f", "lavfi", "-i", "sine=frequency=440", "-c:a", "aac"] if audio else []
    subprocess.run(
        [require_binary("ffmpeg"), "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=320x180:rate=25", *sound, "-t", str(seconds), "-c:v", "libx264",
         "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", *args,
         "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
         str(out / "seq-%09d.ts")],
        check=True, timeout=120,
    )  # fmt: skip
    return sorted(out.glob("seq-*.ts"))


@pytest.fixture(scope="module")
def bframes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """High profile with B-frames, scaling matrices in the SPS and a cropped height."""
    root = tmp_path_factory.mktemp("bframes")
    return encode(root / "s", 3, "-preset", "veryfast", "-bf", "2", "-x264-params", "cqm=jvt")


@pytest.fixture(scope="module")
def sliced(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Several slices a frame: start codes deep inside each PES packet."""
    root = tmp_path_factory.mktemp("sliced")
    return encode(root / "s", 2, "-preset", "ultrafast", "-x264-params", "slices=4")


@pytest.fixture(scope="module")
def later_session(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Another publisher session: its clock starts 500 s later."""
    root = tmp_path_factory.mktemp("session")
    return encode(root / "s", 2, "-preset", "ultrafast", "-output_ts_offset", "500")


def segments_of(paths: Sequence[Path], indexed: bool = True) -> list[Segment]:
    return [
        Segment("front", i, 1, T0 + i * 1000, T0 + (i + 1) * 1000, p.stat().st_size, p, True,
                samples=index_file(p) if indexed else None)
        for i, p in enumerate(paths)
    ]  # fmt: skip


def packets(path: Path) -> list[tuple[Any, ...]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (p.size, p.pts, p.dts, p.is_keyframe, p.duration, bytes(p))
            for p in container.demux(stream)
            if p.size
        ]


def decode_errors(path: Path) -> str:
    done = subprocess.run(
        [require_binary("ffmpeg"), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.stderr + ("" if done.returncode == 0 else f"exit {done.returncode}")


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, bytes]:
    """The body of the first box of each type, searched through the container boxes."""
    found: dict[bytes, bytes] = {}
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 16 if size == 1 else 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
        found.setdefault(kind, data[pos + header : pos + size])
        # Children start after the header, an stsd's entry count, an avc1's 78 fixed bytes.
        skip = 0 if kind in CONTAINERS else {b"stsd": 8, b"avc1": 78}.get(kind)
        if skip is not None:
            for inner, body in boxes(data, pos + header + skip, pos + size).items():
                found.setdefault(inner, body)
        pos += size
    return found


def remuxed(segments: list[Segment], tmp_path: Path) -> Path:
    """The clip by the remux path, as served (moov first)."""
    moov_last = tmp_path / "remux.mp4"
    remux_mp4(segments, moov_last, fragmented=False)
    out = tmp_path / "reference.mp4"
    out.write_bytes(served(moov_last, faststart_layout(moov_last)))
    return out


def served(path: Path, layout: Layout) -> bytes:
    data = path.read_bytes()
    return b"".join(
        p.data if p.data is not None else data[p.offset : p.offset + p.length]
        for p in layout.pieces
    )


def both(segments: list[Segment], tmp_path: Path) -> tuple[Path, Path]:
    """The clip by concatenation and by the remux path, as served."""
    concat = tmp_path / "concat.mp4"
    layout = concat_mp4(segments, concat)
    assert layout is not None
    assert layout.size == concat.stat().st_size
    return concat, remuxed(segments, tmp_path)


@pytest.mark.parametrize("source", ["ts_segments", "bframes", "sliced"])
def test_same_frames_as_the_remux_path(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    paths: list[Path] = request.getfixturevalue(source)
    concat, reference = both(segments_of(paths), tmp_path)
    ours, theirs = packets(concat), packets(reference)
    assert len(ours) == len(theirs) >= 25 * len(paths) - 1
    assert ours == theirs
    assert ours[0][3], "the first frame is a keyframe"
    data = concat.read_bytes()
    assert data[4:8] == b"ftyp"
    assert data.find(b"moov") < data.find(b"mdat"), "moov first"
    assert decode_errors(concat) == ""
    mine, ref = boxes(data), boxes(reference.read_bytes())
    assert mine[b"avcC"] == ref[b"avcC"]
    assert mine[b"tkhd"][-8:] == ref[b"tkhd"][-8:], "picture size (cropped for 320x180)"
    assert mine[b"avc1"][24:28] == ref[b"avc1"][24:28]
    for kind in (b"stts", b"stss", b"ctts", b"stsz", b"elst", b"mdhd"):
        assert mine.get(kind) == ref.get(kind), kind


def test_publisher_sessions_are_spliced_as_the_remux_path_does(
    ts_segments: list[Path], later_session: list[Path], tmp_path: Path
) -> None:
    # Forward 500 s, then back to the first session's clock.
    order = [ts_segments[0], later_session[0], later_session[1], ts_segments[1]]
    concat, reference = both(segments_of(order), tmp_path)
    ours = packets(concat)
    assert ours == packets(reference)
    steps = {b[2] - a[2] for a, b in itertools.pairwise(ours)}
    assert steps == {3600}, "continuous 40-ms steps across both splices"
    assert decode_errors(concat) == ""


def test_start_codes_cut_across_packets_give_the_same_frames(
    h264_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "seq-000000000.ts"
    path.write_bytes(mux(real_access_units(h264_file, 50), choppy))
    concat, reference = both(segments_of([path]), tmp_path)
    assert packets(concat) == packets(reference)
    assert decode_errors(concat) == ""


def test_without_an_index_there_is_no_concatenation(
    ts_segments: list[Path], tmp_path: Path
) -> None:
    segments = segments_of(ts_segments[:2])
    good = segments[0].samples
    assert good is not None
    assert concat_mp4(segments, tmp_path / "indexed.mp4") is not None
    damaged = SegmentSamples(good.blob[: len(good.blob) // 2])
    with pytest.raises(zlib.error):
        damaged.unpack()
    for samples in (damaged, None):
        segments[0] = Segment(**{**_fields(segments[0]), "samples": samples})
        assert concat_mp4(segments, tmp_path / "clip.mp4") is None


def test_timeline_splices_restarts_one_frame_on() -> None:
    def durations(dts: list[int]) -> list[int]:
        found: list[int] = timeline(np.array(dts, np.int64)).tolist()
        return found

    assert durations([5]) == [3600]
    assert durations([0, 3000, 6000]) == [3000, 3000, 3000]
    assert durations([900, 4500, 100, 3700]) == [3600, 3600, 3600, 3600], "clock went back"
    assert durations([0, 3000, 10**7, 10**7 + 3600]) == [3000, 3000, 3600, 3600], "jump"
    assert durations([2**33 - 3600, 0, 3600]) == [3600, 3600, 3600], "33-bit wrap"
    assert durations([0, 0, 3600]) == [3600, 3600, 3600], "a repeated time"


def test_moov_tables_from_a_sample_table() -> None:
    sps = bytes.fromhex("6742c01eda0280f6c044000003000400000300c83c58ba80")
    track = Track(
        durations=np.array([3600, 3600, 3000, 3000, 3000], np.int64),
        cts=np.array([7200, 0, 0, 3600, 0], np.int64),
        sizes=np.array([10, 20, 30, 40, 50], np.int64),
        keys=np.array([True, False, False, True, False]),
        chunk_samples=np.array([2, 2, 1], np.int64),
        params=parameter_sets(sps, bytes.fromhex("68ce3c80")),
    )
    data = head(track)
    found = boxes(data)
    assert struct.unpack(">6I", found[b"stts"]) == (0, 2, 2, 3600, 3, 3000)
    assert struct.unpack(">4I", found[b"stss"]) == (0, 2, 1, 4)
    assert struct.unpack(">10I", found[b"ctts"]) == (0, 4, 1, 7200, 2, 0, 1, 3600, 1, 0)
    assert struct.unpack(">8I", found[b"stsc"]) == (0, 2, 1, 2, 1, 3, 1, 1)
    assert struct.unpack(">8I", found[b"stsz"]) == (0, 0, 5, 10, 20, 30, 40, 50)
    offsets = struct.unpack(">5I", found[b"stco"])
    assert offsets[:2] == (0, 3)
    assert offsets[2:] == (len(data), len(data) + 30, len(data) + 100), "chunks follow the head"
    assert data.endswith(struct.pack(">I4s", 158, b"mdat"))
    # The first frame is shown 80 ms after it is decoded: an empty edit first, as ffmpeg does.
    elst = struct.unpack(">IIIiIIiI", found[b"elst"])
    assert elst == (0, 2, 80, -1, 0x10000, 180, 7200, 0x10000)
    assert mdat_header(2**32) == struct.pack(">I4sQ", 1, b"mdat", 2**32 + 16)


def _fields(segment: Segment) -> dict[str, Any]:
    return {name: getattr(segment, name) for name in Segment.__dataclass_fields__}


def seed(directory: Path, paths: Sequence[Path], indexed: bool) -> None:
    """Copies of `paths` in a camera directory with the sidecar ingest writes (each segment's
    sample index in it), or one without indexes, as an older server wrote it."""
    directory.mkdir()
    for segment in segments_of(paths, indexed):
        target = directory / segment.path.name
        target.write_bytes(segment.path.read_bytes())
        sidecar.append(directory, Segment(**{**_fields(segment), "path": target}))


async def camera_with(directory: Path, paths: Sequence[Path], indexed: bool) -> CameraSegmenter:
    """A camera whose buffer is `seed`ed with `paths`, recovered from its sidecar."""
    seed(directory, paths, indexed)
    camera = CameraSegmenter(
        SegmenterConfig("front", "rtmp://unused", directory), clock=lambda: T0 + 60_000
    )
    assert await camera.recover() == len(paths)
    return camera


def remuxed_on_disk(path: Path) -> bool:
    """Whether an assembled clip took the remux path: PyAV writes the moov last (it is served
    moov-first by a layout), concatenation writes it first."""
    data = path.read_bytes()
    return data.find(b"moov") > data.find(b"mdat")


@pytest.mark.anyio
@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "older-sidecar"])
async def test_camera_clips_are_concatenated_when_indexed_else_remuxed(
    indexed: bool, ts_segments: list[Path], tmp_path: Path
) -> None:
    camera = await camera_with(tmp_path / "front", ts_segments, indexed)
    assert all((s.samples is not None) == indexed for s in camera.index.segments)
    plan = camera.plan(T0, T0 + 4000)
    assert plan is not None
    out = tmp_path / "clip.mp4"
    layout = await camera.assemble(plan, "mp4", out)
    assert remuxed_on_disk(out) == (not indexed)
    assert len(layout.pieces) == (1 if indexed else 3)
    assert layout.size == out.stat().st_size
    clip = tmp_path / "served.mp4"
    clip.write_bytes(served(out, layout))
    assert clip.read_bytes().find(b"moov") < clip.read_bytes().find(b"mdat")
    assert packets(clip) == packets(remuxed(list(plan.segments), tmp_path))
    assert decode_errors(clip) == ""


@pytest.mark.anyio
async def test_segments_with_audio_are_remuxed_instead(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    paths = encode(source, 2, "-preset", "ultrafast", audio=True)
    camera = await camera_with(tmp_path / "front", paths, indexed=True)
    assert all(s.samples is None for s in camera.index.segments), "not indexable"
    plan = camera.plan(T0, T0 + 2000)
    assert plan is not None
    out = tmp_path / "clip.mp4"
    layout = await camera.assemble(plan, "mp4", out)
    assert remuxed_on_disk(out)
    body = served(out, layout)
    assert body.find(b"moov") < body.find(b"mdat")
    faststart = tmp_path / "served.mp4"
    faststart.write_bytes(body)
    assert len(packets(faststart)) == 50
    assert decode_errors(faststart) == ""


@pytest.mark.anyio
async def test_the_segmenter_indexes_at_ingest_and_the_sidecar_keeps_it(
    tmp_path: Path, h264_file: Path
) -> None:
    """The real ffmpeg segmenter (FLV in, as from the relay) through to a clip."""
    config, camera = await segment_file(h264_file, tmp_path)
    segments = [s for s in camera.index.segments if s.session == 1][:5]
    assert len(segments) == 5
    assert all(s.samples is not None for s in segments)
    again = CameraSegmenter(config)
    await again.recover()
    recovered = {s.seq: s.samples for s in again.index.segments}
    assert all(recovered[s.seq] == s.samples for s in segments)
    plan = again.plan(segments[0].start_ms, segments[-1].end_ms)
    assert plan is not None
    assert len(plan.segments) == 5
    out = tmp_path / "clip.mp4"
    await again.assemble(plan, "mp4", out)
    assert not remuxed_on_disk(out)
    _, reference = both(list(plan.segments), tmp_path)
    assert packets(out) == packets(reference)
    assert decode_errors(out) == ""
