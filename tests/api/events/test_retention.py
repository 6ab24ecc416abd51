"""Retention's decision (pure): old events go, then clips beyond the byte budget, oldest
first; what is being downloaded stays."""

from __future__ import annotations

from api.events.model import EventRecord
from api.events.retention import decide
from tests.api.events.test_accept import NOW, record


class TestRetention:
    def clip(self, at_ms: int, size: int) -> EventRecord:
        return record("ring", at_ms, clip_state="ready", clip_path=f"p{at_ms}", clip_bytes=size)

    def test_oldest_clips_go_until_under_budget(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(5)]
        decision = decide([], clips, 250, lambda _p: False)
        assert decision.expire_clips == (clips[0].id, clips[1].id, clips[2].id)
        assert decision.delete_events == ()

    def test_a_clip_being_downloaded_is_kept_and_the_next_goes(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(3)]
        leased = clips[0].clip_path
        decision = decide([], clips, 150, lambda p: p == leased)
        assert decision.expire_clips == (clips[1].id, clips[2].id)

    def test_old_events_go_and_their_bytes_count_as_freed(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(3)]
        decision = decide([clips[0]], clips, 200, lambda _p: False)
        assert decision.delete_events == (clips[0].id,)
        assert decision.expire_clips == ()

    def test_an_old_event_being_downloaded_stays(self) -> None:
        clips = [self.clip(NOW, 100)]
        assert decide(clips, clips, 10**9, lambda _p: True).delete_events == ()
