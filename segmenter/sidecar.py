"""The sidecar beside a camera's segments: an append-only JSON-lines record of the index,
so a restarted server rebuilds its buffer from /dev/shm instead of losing it.

Blocking file I/O: callers run these functions in a worker thread.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from segmenter.formats.samples import SegmentSamples
from segmenter.listing import seq_of
from segmenter.model import Segment

logger = logging.getLogger(__name__)

SIDECAR_NAME = "index.jsonl"


def encode(segment: Segment) -> str:
    row: dict[str, object] = {
        "seq": segment.seq,
        "session": segment.session,
        "start_ms": segment.start_ms,
        "end_ms": segment.end_ms,
        "size": segment.size,
        "keyframe_start": segment.keyframe_start,
        "file": segment.path.name,
    }
    if segment.samples is not None:
        row["samples"] = segment.samples.encode()
    return json.dumps(row, separators=(",", ":"))


def decode(line: str, camera: str, directory: Path) -> Segment | None:
    """A sidecar line -> segment, or None for a torn or foreign line."""
    try:
        row = json.loads(line)
        name = str(row["file"])
        if seq_of(name) != int(row["seq"]):
            return None
        size = int(row["size"])
        return Segment(
            camera=camera,
            seq=int(row["seq"]),
            session=int(row["session"]),
            start_ms=int(row["start_ms"]),
            end_ms=int(row["end_ms"]),
            size=size,
            path=directory / name,
            keyframe_start=bool(row["keyframe_start"]),
            samples=SegmentSamples.decode(row.get("samples"), size),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Recovered:
    segments: list[Segment]
    removed: list[str]


def recover(camera: str, directory: Path) -> Recovered:
    """Segments recorded in the sidecar whose files are whole; deletes every other .ts file.

    A file missing from the sidecar is one ffmpeg was still writing (or one whose line was
    never written): its end is unknown, so it is not trusted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    recorded: dict[int, Segment] = {}
    sidecar = directory / SIDECAR_NAME
    if sidecar.exists():
        for line in sidecar.read_text(encoding="utf-8", errors="replace").splitlines():
            segment = decode(line, camera, directory)
            if segment is not None:
                recorded[segment.seq] = segment
    kept: dict[int, Segment] = {}
    removed: list[str] = []
    for path in directory.iterdir():
        seq = seq_of(path.name)
        if seq is None:
            if path.suffix in {".ts", ".tmp"}:
                path.unlink(missing_ok=True)
                removed.append(path.name)
            continue
        segment = recorded.get(seq)
        if segment is not None and path.stat().st_size == segment.size:
            kept[seq] = segment
        else:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    ordered = [kept[seq] for seq in sorted(kept)]
    # Keep only a strictly increasing run of starts: a corrupt line must not break ordering.
    segments: list[Segment] = []
    for segment in ordered:
        if segments and segment.start_ms < segments[-1].start_ms:
            segment.path.unlink(missing_ok=True)
            removed.append(segment.path.name)
            continue
        segments.append(segment)
    rewrite(directory, segments)
    return Recovered(segments, removed)


def rewrite(directory: Path, segments: list[Segment]) -> None:
    """Replace the sidecar with exactly these segments (atomic rename)."""
    tmp = directory / (SIDECAR_NAME + ".tmp")
    tmp.write_text("".join(encode(s) + "\n" for s in segments), encoding="utf-8")
    tmp.replace(directory / SIDECAR_NAME)


def append(directory: Path, segment: Segment) -> None:
    with (directory / SIDECAR_NAME).open("a", encoding="utf-8") as f:
        f.write(encode(segment) + "\n")
