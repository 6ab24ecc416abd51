"""A streamed response that gives back what it holds (an admission, a subscriber place)
once it is done, whether its body was sent, cut short, or never started."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Mapping

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ReleasingStreamingResponse(StreamingResponse):
    """`release` is called once when the response is done. A generator's own `finally`
    is not enough: a client that leaves before the first chunk cancels the response before
    the generator starts, and a generator never started never runs its `finally`."""

    def __init__(
        self,
        content: AsyncIterable[str | bytes],
        *,
        release: Callable[[], None],
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
