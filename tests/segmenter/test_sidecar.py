"""Recovering a camera's buffer from its sidecar after a restart."""

from __future__ import annotations

from pathlib import Path

from segmenter import sidecar
from segmenter.model import Segment

T0 = 1_800_000_000_000


def write_segment(directory: Path, seq: int, start: int, size: int = 64) -> Segment:
    path = directory / f"seq-{seq:09d}.ts"
    path.write_bytes(b"\x47" * size)
    return Segment("front", seq, 1, start, start + 1000, size, path, True)


def test_round_trip_and_partial_files_are_dropped(tmp_path: Path) -> None:
    kept = [write_segment(tmp_path, i, T0 + i * 1000) for i in range(3)]
    for segment in kept:
        sidecar.append(tmp_path, segment)
    partial = tmp_path / "seq-000000003.ts"  # ffmpeg was writing it when we stopped
    partial.write_bytes(b"\x47" * 10)
    (tmp_path / "stray.ts").write_bytes(b"x")
    recovered = sidecar.recover("front", tmp_path)
    assert recovered.segments == kept
    assert sorted(recovered.removed) == ["seq-000000003.ts", "stray.ts"]
    assert not partial.exists()
    assert sorted(p.name for p in tmp_path.glob("*.ts")) == [s.path.name for s in kept]


def test_torn_lines_changed_sizes_and_missing_files_are_not_trusted(tmp_path: Path) -> None:
    good = write_segment(tmp_path, 0, T0)
    resized = write_segment(tmp_path, 1, T0 + 1000)
    gone = write_segment(tmp_path, 2, T0 + 2000)
    for segment in (good, resized, gone):
        sidecar.append(tmp_path, segment)
    resized.path.write_bytes(b"\x47" * 5)
    gone.path.unlink()
    with (tmp_path / sidecar.SIDECAR_NAME).open("a") as f:
        f.write('{"seq": 3, "session": 1, "start_')  # torn by a crash mid-write
    recovered = sidecar.recover("front", tmp_path)
    assert recovered.segments == [good]
    assert not resized.path.exists()
    # The sidecar was compacted to exactly what survived.
    lines = (tmp_path / sidecar.SIDECAR_NAME).read_text().splitlines()
    assert lines == [sidecar.encode(good)]


def test_out_of_order_starts_are_dropped(tmp_path: Path) -> None:
    a = write_segment(tmp_path, 0, T0 + 5000)
    b = write_segment(tmp_path, 1, T0)  # a corrupt start: before its predecessor
    for segment in (a, b):
        sidecar.append(tmp_path, segment)
    assert sidecar.recover("front", tmp_path).segments == [a]


def test_empty_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "front"
    assert sidecar.recover("front", target).segments == []
    assert target.is_dir()
