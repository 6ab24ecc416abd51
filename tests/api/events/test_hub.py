"""The notice hub: a broadcast to bounded subscriber queues that never blocks the publisher."""

from __future__ import annotations

import pytest

from api.errors import TooManyStreams
from api.events.hub import Hub, Notice


@pytest.mark.anyio
async def test_a_slow_subscriber_loses_the_oldest_and_is_told() -> None:
    hub = Hub(queue_size=4)
    with hub.subscribe() as queue:
        for i in range(10):
            hub.publish(Notice("events_deleted", data={"n": i}))
        got = [queue.get_nowait() for _ in range(queue.qsize())]
    kinds = [n.kind for n in got]
    assert "overflow" in kinds
    assert got[-1].data == {"n": 9}
    assert hub.subscribers == 0


def test_the_hub_is_full_at_its_subscriber_cap() -> None:
    hub = Hub(max_subscribers=2)
    with hub.subscribe(), hub.subscribe():
        assert hub.full
    assert not hub.full


def test_subscribing_takes_the_place_at_once_and_refuses_beyond_the_cap() -> None:
    hub = Hub(max_subscribers=3)
    taken = [hub.subscribe() for _ in range(3)]
    assert hub.subscribers == 3
    with pytest.raises(TooManyStreams) as refused:
        hub.subscribe()
    assert refused.value.retry_after_s == 5
    taken[0].close()
    taken[0].close()  # idempotent: a place is given back once
    assert hub.subscribers == 2
    hub.subscribe()
    assert hub.full
