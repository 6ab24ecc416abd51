"""Bridging a blocking producer in a worker thread to an async consumer, with backpressure."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any


class _QueueSink(io.RawIOBase):
    """A write-only file whose writes land in an asyncio queue; blocks while it is full."""

    def __init__(
        self, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop, stop: threading.Event
    ) -> None:
        super().__init__()
        self._queue, self._loop, self._stop = queue, loop, stop

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._stop.is_set():
            raise BrokenPipeError("the consumer went away")
        chunk = bytes(data)
        asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()
        return len(chunk)


_END = object()


async def stream_from_thread(
    produce: Callable[[io.RawIOBase], object], max_chunks: int
) -> AsyncIterator[bytes]:
    """Run `produce(sink)` in a worker thread and yield what it writes to `sink`.

    The queue holds at most `max_chunks`; the producer blocks beyond that. If the consumer
    stops early (client gone), the producer's next write raises BrokenPipeError and the
    thread is joined before this generator finishes. A producer error is re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(max_chunks)
    stop = threading.Event()

    def work() -> None:
        outcome: object = _END
        try:
            produce(_QueueSink(queue, loop, stop))
        except BaseException as exc:  # handed to the consumer, never lost in the thread
            outcome = exc
        if not stop.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(outcome), loop).result()

    worker = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue, then join it.
        while not worker.done():
            while not queue.empty():
                queue.get_nowait()
            await asyncio.wait({worker}, timeout=0.05)
        worker.result()
