"""Agent settings: one pydantic-settings class (with its motion tuning), from a TOML file and
`DOORBELL_AGENT_*` env. A leaf: it imports nothing of the agent."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.ids import camera_id_problem

# What may appear in the RTMP URL and reach a gst-launch description: no quotes, backslashes,
# spaces, '?', '&' or '#' that would change its meaning. `doorbell init-config` keys fit.
STREAM_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")
RELAY_URL = re.compile(r"^rtmps?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)+/?$")
API_URL = re.compile(r"^https?://[^\s\"'\\]+$")
DEVICE = re.compile(r"^/dev/[A-Za-z0-9._/-]+$")
Source = Literal["libcamera", "v4l2", "test"]
TestPattern = Literal["ball", "smpte", "smpte75", "snow", "black"]
Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coordinate, Coordinate]
Polygon = Annotated[tuple[Point, ...], Field(min_length=3)]


def _polygon_area(polygon: Sequence[tuple[float, float]]) -> float:
    """Shoelace area, unsigned."""
    n = len(polygon)
    twice = sum(
        polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
        for i in range(n)
    )
    return abs(twice) / 2


class MotionSettings(BaseModel):
    """Motion tuning. Defaults suit a 160x120 doorbell view at 5 fps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(
        default=0.05, gt=0, le=1, description="background learning rate per frame (~4 s at 5 fps)"
    )
    pixel_threshold: int = Field(
        default=25, ge=1, le=254, description="gray levels from the background that mark a change"
    )
    min_area: float = Field(
        default=0.01, gt=0, le=1, description="changed fraction of the zone's pixels that is motion"
    )
    max_area: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="changed frame fraction above which the frame is a global change (lights, "
        "exposure): ignored, and the background re-seeded",
    )
    start_frames: int = Field(
        default=2, ge=1, le=100, description="consecutive motion frames before motion_start"
    )
    end_frames: int = Field(
        default=15, ge=1, le=3000, description="consecutive quiet frames before motion_end"
    )
    cooldown_ms: int = Field(
        default=10_000,
        ge=0,
        le=3_600_000,
        description="after motion_end, no motion_start this long",
    )
    zones: tuple[Polygon, ...] = Field(
        default=(),
        description="polygons of (x, y) points in 0..1 of the frame where motion counts; "
        "empty: the whole frame",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min_area >= self.max_area:
            raise ValueError(f"min_area ({self.min_area}) must be below max_area ({self.max_area})")
        for i, polygon in enumerate(self.zones):
            if _polygon_area(polygon) == 0.0:
                raise ValueError(f"zone {i} has no area (its points are on one line)")
        return self


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "doorbell"


class AgentSettings(BaseSettings):
    """Everything the doorbell agent reads at start. Built once in the CLI and passed down
    (`common.settings.load_settings(AgentSettings, toml_file)`)."""

    model_config = SettingsConfigDict(
        env_prefix="DOORBELL_AGENT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    camera: str = Field(description="camera id, as configured on the server")
    relay_url: str = Field(
        description="RTMP(S) application URL, e.g. rtmps://server:1936/live (TLS, the "
        "certificate verified) or rtmp://server:1935/live"
    )
    stream_key: SecretStr = Field(description="the camera's stream key (?key=... on publish)")
    relay_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) the relay's RTMPS certificate must chain to (a "
        "self-signed relay); it replaces the system's CA store for the stream. None: the "
        "system store. The certificate is always verified, its name included",
    )
    api_url: str = Field(description="the server's base URL, e.g. https://server:8000")
    device_token: SecretStr = Field(description="bearer token for POST /api/v1/agent/events")
    source: Source = Field(
        default="libcamera",
        description="libcamera: camera module + hardware H.264; v4l2: USB camera + x264; "
        "test: synthetic scene + x264",
    )
    device: str = Field(default="/dev/video0", description="v4l2 device path")
    test_pattern: TestPattern = Field(
        default="ball",
        description="the test source's scene: 'ball' moves (about 0.4 % of the frame: "
        "motion.min_area must be below ~0.008 for it to count); 'smpte75' is still ('smpte' "
        "has a patch of animated noise)",
    )
    width: int = Field(default=1280, ge=160, le=1920)
    height: int = Field(default=720, ge=120, le=1080)
    fps: int = Field(default=25, ge=1, le=60, description="also the GOP: one keyframe a second")
    bitrate_kbps: int = Field(default=2000, ge=100, le=20_000)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    motion_width: int = Field(default=160, ge=32, le=640)
    motion_height: int = Field(default=120, ge=24, le=480)
    motion_fps: int = Field(default=5, ge=1, le=30)
    button_pin: int | None = Field(
        default=None, ge=0, le=27, description="BCM pin of the button (to GND); None: no button"
    )
    button_bounce_ms: int = Field(default=50, ge=0, le=1000)
    outbox_path: Path = Field(default_factory=lambda: _state_dir() / "outbox.sqlite3")
    outbox_max_events: int = Field(default=1000, ge=1, le=1_000_000)
    stall_seconds: float = Field(
        default=5.0,
        ge=1,
        le=300,
        description="restart the pipeline after this long without an encoded buffer",
    )
    restart_min_s: float = Field(default=0.5, gt=0, le=60, description="first restart backoff")
    restart_max_s: float = Field(default=10.0, gt=0, le=600, description="restart backoff cap")
    status_path: Path = Field(default_factory=lambda: _state_dir() / "agent-status.json")
    status_interval_s: float = Field(default=2.0, ge=0.2, le=60)

    @field_validator("camera")
    @classmethod
    def _camera(cls, value: str) -> str:
        problem = camera_id_problem(value)  # the server's rule too (common/ids.py)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("relay_url")
    @classmethod
    def _relay_url(cls, value: str) -> str:
        if not RELAY_URL.match(value):
            raise ValueError(f"relay_url {value!r} must look like rtmp://host:1935/live")
        return value.rstrip("/")

    @field_validator("relay_ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"relay_ca_file {str(value)!r} is not a file")
        return value

    @field_validator("stream_key")
    @classmethod
    def _stream_key(cls, value: SecretStr) -> SecretStr:
        if not STREAM_KEY.match(value.get_secret_value()):
            raise ValueError("stream_key must be 1-200 of A-Z a-z 0-9 . _ ~ -")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not API_URL.match(value):
            raise ValueError(f"api_url {value!r} must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not DEVICE.match(value) or ".." in value:
            raise ValueError(f"device {value!r} must be a path under /dev, e.g. /dev/video0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AgentSettings:
        if self.motion_fps > self.fps:
            raise ValueError(f"motion_fps ({self.motion_fps}) must not exceed fps ({self.fps})")
        if self.restart_min_s > self.restart_max_s:
            raise ValueError("restart_min_s must not exceed restart_max_s")
        if self.relay_ca_file is not None and not self.relay_url.startswith("rtmps://"):
            raise ValueError("relay_ca_file is for an rtmps:// relay_url")
        return self

    @property
    def publish_url(self) -> str:
        """rtmp://<relay>/live/<camera>?key=<stream key> (the relay's contract)."""
        return f"{self.relay_url}/{self.camera}?key={self.stream_key.get_secret_value()}"
