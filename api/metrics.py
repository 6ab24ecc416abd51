"""In-process counters and histograms, rendered in Prometheus text format by /metrics.

Small on purpose: a handful of series owned by one server instance (no global registry), so
tests can build a fresh set per app.
"""

from __future__ import annotations

import bisect
from collections import Counter as _Counts
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

# Seconds: from the 2 ms of a push on loopback to the 20 s of an assembly on a busy host.
LATENCY_BUCKETS_S = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass(slots=True)
class Counter:
    """A monotonically increasing count per label combination."""

    name: str
    help: str
    label_names: tuple[str, ...] = ()
    _values: _Counts[tuple[str, ...]] = field(default_factory=_Counts)

    def inc(self, *labels: str, amount: int = 1) -> None:
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {labels}")
        self._values[labels] += amount

    def value(self, *labels: str) -> int:
        return self._values[labels]

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {value:g}"


@dataclass(slots=True)
class Histogram:
    """Observations in cumulative buckets, with their sum and count (no labels)."""

    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    _counts: list[int] = field(default_factory=list)
    _sum: float = 0.0
    _count: int = 0

    def __post_init__(self) -> None:
        self._counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self._counts):
            self._counts[index] += 1
        self._sum += value
        self._count += 1

    @property
    def count(self) -> int:
        return self._count

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        running = 0
        for bound, count in zip(self.buckets, self._counts, strict=True):
            running += count
            yield f'{self.name}_bucket{{le="{bound:g}"}} {running}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self._count}'
        yield f"{self.name}_sum {self._sum:.6f}"
        yield f"{self.name}_count {self._count}"


Sample = tuple[tuple[str, ...], int | float]
SeriesKind = Literal["gauge", "counter"]


@dataclass(slots=True)
class Sampled:
    """A series read when scraped (`read()` gives label values and a value each), for state
    that another object owns: buffer sizes, loops up, queue lengths."""

    name: str
    help: str
    kind: SeriesKind
    label_names: tuple[str, ...]
    read: Callable[[], Iterable[Sample]]

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.read():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            yield f"{self.name}{_labels(self.label_names, labels)} {text}"


@dataclass(slots=True)
class Metrics:
    """The series of one server: its own counters and histograms, and sampled series that
    the wiring registers (`sample`) for the state other objects own."""

    events: Counter = field(
        default_factory=lambda: Counter(
            "doorbell_events_total", "Events stored, by camera and kind.", ("camera", "kind")
        )
    )
    pushes: Counter = field(
        default_factory=lambda: Counter(
            "doorbell_push_attempts_total",
            "Push attempts per device, by outcome.",
            ("outcome",),
        )
    )
    push_latency: Histogram = field(
        default_factory=lambda: Histogram(
            "doorbell_event_to_push_seconds",
            "From an agent event's arrival to its push request leaving for FCM.",
        )
    )
    clip_latency: Histogram = field(
        default_factory=lambda: Histogram(
            "doorbell_clip_assembly_seconds", "Clip assemblies (requests and event clips)."
        )
    )
    event_clips: Counter = field(
        default_factory=lambda: Counter(
            "doorbell_event_clips_total", "Event clips by result.", ("result",)
        )
    )
    media_write_failures: Counter = field(
        default_factory=lambda: Counter(
            "doorbell_event_media_write_failures_total",
            "Snapshot and clip writes that failed (each attempt), by media and errno name.",
            ("media", "reason"),
        )
    )

    sampled: list[Sampled] = field(default_factory=list)

    def sample(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[Sample]],
        *,
        labels: tuple[str, ...] = (),
        kind: SeriesKind = "gauge",
    ) -> None:
        """Register a series read at each scrape."""
        self.sampled.append(Sampled(name, help_text, kind, labels, read))

    def render(self) -> Iterable[str]:
        """Every series in Prometheus text format (0.0.4), one line each."""
        for sampled in self.sampled:
            yield from sampled.render()
        for series in (
            self.events,
            self.pushes,
            self.push_latency,
            self.clip_latency,
            self.event_clips,
            self.media_write_failures,
        ):
            yield from series.render()
