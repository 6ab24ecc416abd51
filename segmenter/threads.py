"""Bridging a blocking producer in a worker thread to an async consumer, with backpressure."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any


class _QueueSink(io.RawIOBase):
    """A write-only file whose writes land in an asyncio queue; blocks while it is full.

    Writes are gathered into chunks of at least `chunk_bytes` before they cross to the event
    loop (PyAV writes 32 KB at a time: one hop each would cost more than the remux), except
    the first write, sent at once so the first byte leaves early.
    """

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        loop: asyncio.AbstractEventLoop,
        stop: threading.Event,
        chunk_bytes: int,
    ) -> None:
        super().__init__()
        self._queue, self._loop, self._stop = queue, loop, stop
        self._chunk_bytes = chunk_bytes
        self._pending = bytearray()
        self._sent_any = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._stop.is_set():
            raise BrokenPipeError("the consumer went away")
        self._pending += data
        size = len(data)
        if not self._sent_any or len(self._pending) >= self._chunk_bytes:
            self.flush()
        return size

    def flush(self) -> None:
        if self._pending and not self._stop.is_set():
            chunk, self._pending = bytes(self._pending), bytearray()
            self._sent_any = True
            asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()


_END = object()


async def stream_from_thread(
    produce: Callable[[io.RawIOBase], object], max_chunks: int, chunk_bytes: int = 256 * 1024
) -> AsyncIterator[bytes]:
    """Run `produce(sink)` in a worker thread and yield what it writes to `sink`.

    The queue holds at most `max_chunks` of about `chunk_bytes`; the producer blocks beyond.
    If the consumer stops early (client gone), the producer's next write raises
    BrokenPipeError and the thread is joined before this generator finishes. A producer
    error is re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(max_chunks)
    stop = threading.Event()

    def work() -> None:
        outcome: object = _END
        try:
            sink = _QueueSink(queue, loop, stop, chunk_bytes)
            produce(sink)
            sink.flush()
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
