"""OS thread names: what /proc (and so `top -H` and the agent benchmark) sees."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.glib import GLibLoop
from agent.threads import name_os_thread


def comm_of(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_a_named_thread_shows_its_name_in_proc_cut_to_15_bytes() -> None:
    seen: dict[str, str] = {}

    def named(name: str) -> None:
        name_os_thread(name)
        seen[name] = comm_of(threading.get_native_id())

    for name in ("motion", "a-name-longer-than-fifteen"):
        thread = threading.Thread(target=named, args=(name,))
        thread.start()
        thread.join(5)
    assert seen == {"motion": "motion", "a-name-longer-than-fifteen": "a-name-longer-t"}
    assert comm_of(threading.get_native_id()) != "motion"  # only the calling thread


@pytest.mark.anyio
async def test_the_glib_thread_is_named_glib() -> None:
    loop = GLibLoop()
    loop.start()
    try:
        assert comm_of(await loop.call(threading.get_native_id)) == "glib"
    finally:
        loop.stop(5)
