"""The server's own Prometheus series."""

from __future__ import annotations

import pytest

from api.metrics import Counter, Histogram


class TestMetrics:
    def test_counter_by_labels(self) -> None:
        counter = Counter("x_total", "help", ("kind",))
        counter.inc("ring")
        counter.inc("ring")
        counter.inc("motion_start")
        text = "\n".join(counter.render())
        assert 'x_total{kind="ring"} 2' in text
        assert 'x_total{kind="motion_start"} 1' in text
        with pytest.raises(ValueError, match="labels"):
            counter.inc()

    def test_histogram_buckets_are_cumulative(self) -> None:
        histogram = Histogram("lat_seconds", "help", buckets=(0.01, 0.1, 1.0))
        for value in (0.005, 0.05, 0.05, 0.5, 5.0):
            histogram.observe(value)
        lines = list(histogram.render())
        assert 'lat_seconds_bucket{le="0.01"} 1' in lines
        assert 'lat_seconds_bucket{le="0.1"} 3' in lines
        assert 'lat_seconds_bucket{le="1"} 4' in lines
        assert 'lat_seconds_bucket{le="+Inf"} 5' in lines
        assert "lat_seconds_count 5" in lines
