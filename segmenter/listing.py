"""Parsing ffmpeg's CSV segment list (`-segment_list_type csv`), one finished segment a line."""

from __future__ import annotations

import csv
import math
import re

from segmenter.model import ListEntry

# The segmenter names files itself (see ffmpeg.py); anything else in the list is not ours.
SEGMENT_NAME = re.compile(r"^seq-(\d{9,})\.ts$")


def parse_list_line(line: str) -> ListEntry | None:
    """One CSV line -> entry, or None for a line that is not a well-formed segment entry."""
    line = line.strip()
    if not line:
        return None
    try:
        row = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None
    if len(row) != 3 or not SEGMENT_NAME.match(row[0]):
        return None
    try:
        start_s, end_s = float(row[1]), float(row[2])
    except ValueError:
        return None
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or end_s < start_s:
        return None
    return ListEntry(row[0], start_s, end_s)


def segment_filename(seq: int) -> str:
    return f"seq-{seq:09d}.ts"


def seq_of(filename: str) -> int | None:
    """The sequence number in a segment file name, or None for a foreign file."""
    match = SEGMENT_NAME.match(filename)
    return int(match.group(1)) if match else None
