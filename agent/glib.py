"""The GLib main loop in a thread of its own, and the one way to run code there (`call`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

from agent.gst import GLib
from agent.threads import name_os_thread

T = TypeVar("T")


class GLibLoop:
    """The GLib main loop in a thread of its own (the default main context: bus watches and
    idle callbacks attach there). `call()` runs a function on it and awaits the result."""

    def __init__(self) -> None:
        self._loop = GLib.MainLoop()
        self._thread = threading.Thread(target=self._run, name="glib", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        name_os_thread("glib")
        self._loop.run()  # type: ignore[no-untyped-call]  # unannotated in pygobject-stubs 2.16

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the GLib thread (where pipeline state changes belong).

        Cancelling the caller ends the await at once; `fn` is already queued and still runs
        (a teardown must not be skipped), its outcome then dropped."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.done():  # the caller was cancelled meanwhile
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def run() -> bool:
            try:
                outcome: tuple[T | None, BaseException | None] = (fn(), None)
            except Exception as exc:
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the event loop closed meanwhile
                loop.call_soon_threadsafe(settle, *outcome)
            return False  # one-shot

        # Above the bus watch and redraw priorities: a stop must not wait behind messages.
        _idle_add(run, GLib.PRIORITY_HIGH)
        return await future

    def stop(self, timeout_s: float = 0.5) -> None:
        """Quit once the calls already queued have run (a teardown in flight reaches NULL;
        they are HIGH priority, the quit DEFAULT), then join the thread (bounded)."""

        def quit_loop() -> bool:
            self._loop.quit()
            return False

        if not self._thread.is_alive():
            return
        _idle_add(quit_loop, GLib.PRIORITY_DEFAULT)
        self._thread.join(timeout_s)


def _idle_add(fn: Callable[[], bool], priority: int) -> None:
    # pygobject-stubs 2.16 lacks the `priority` keyword of PyGObject's idle_add override.
    GLib.idle_add(fn, priority=priority)  # type: ignore[call-arg]
