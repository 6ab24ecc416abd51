"""Server settings: one pydantic-settings class, from a TOML file and `DOORBELL_*` env."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common import settings as common_settings
from common.ids import CAMERA_ID_RULE, camera_id_problem

# Secrets that ship in examples and the compose file: fine for a laptop, refused elsewhere.
DEV_SECRETS = frozenset(
    {"dev-token", "dev-key", "dev-relay-secret", "dev-device-token", "change-me"}
)
MIN_SECRET_LEN = 16


class CameraSettings(BaseModel):
    """One doorbell camera: its id (in URLs, paths and argv), display name and stream key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[
        str,
        Field(description=f"the camera id: {CAMERA_ID_RULE}"),
    ]
    name: str = Field(default="", max_length=100, description="display name; defaults to id")
    stream_key: SecretStr = Field(description="the publisher's ?key=... on the RTMP URL")
    device_token: SecretStr = Field(
        default=SecretStr(""),
        description="the doorbell agent's bearer token for POST /api/v1/agent/events; empty: "
        "this camera's events are refused (401)",
    )

    @field_validator("id")
    @classmethod
    def _id_allowed(cls, value: str) -> str:
        problem = camera_id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id


# Values rendered into the relay's nginx.conf (and its callback URL) must not change its
# meaning: no quotes, backslashes, '$' (a variable), ';', braces, '#' or whitespace.
NGINX_SAFE_PATH = re.compile(r"^[^\s\"'\\$;{}#]{1,200}$")
# The relay secret travels in the callback URL's query: URL-unreserved characters only
# (what `doorbell init-config` generates).
RELAY_SECRET = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")
CALLBACK_URL = re.compile(
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
)
HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _nginx_path(value: Path | None) -> Path | None:
    if value is not None and not NGINX_SAFE_PATH.match(str(value)):
        raise ValueError(
            f"{str(value)!r} cannot be written into nginx.conf: use a path without whitespace, "
            "quotes, backslashes or any of $ ; { } #"
        )
    return value


class RelaySettings(BaseModel):
    """The nginx-rtmp relay: run by the server (default) or external (compose, --no-relay).

    One nginx process: its `stream` module is the front (per-address connection cap,
    handshake timeouts, TLS for RTMPS) and hands every connection to nginx-rtmp on a
    unix socket, with the client's address in a PROXY protocol header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="start nginx-rtmp as a supervised child")
    # The relay must be reachable by the doorbell on the LAN; publishing needs a stream key.
    listen_host: str = Field(default="0.0.0.0", description="address the relay listens on")  # noqa: S104
    port: int = Field(
        default=1935,
        ge=1,
        le=65535,
        description="plain RTMP port: publishers (when plain_rtmp) and the segmenters' pulls",
    )
    plain_rtmp: bool | None = Field(
        default=None,
        description="accept plain RTMP on listen_host:port; false: that port listens on "
        "127.0.0.1 only (the segmenters on this machine) and doorbells publish over RTMPS; "
        "default: true, except with profile 'prod' and a TLS certificate",
    )
    rtmps_port: int = Field(
        default=1936,
        ge=1,
        le=65535,
        description="RTMPS port (TLS terminated by nginx in front of nginx-rtmp), opened when "
        "tls_cert_file is set",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate chain for RTMPS (the relay's own: it may run on another "
        "host); none: no RTMPS listener",
    )
    tls_key_file: Path | None = Field(default=None, description="its PEM private key")
    max_conns_per_addr: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="connections one address may hold open to the relay (the play_allow "
        "addresses, the segmenters, are not counted)",
    )
    handshake_timeout_s: int = Field(
        default=10,
        ge=1,
        le=120,
        description="a connection that has not completed its TLS or RTMP handshake by then "
        "is closed",
    )
    worker_connections: int = Field(
        default=4096,
        ge=256,
        le=65536,
        description="nginx's connection cap (each client takes two: front and nginx-rtmp)",
    )
    pull_host: str = Field(
        default="127.0.0.1", description="where the segmenters reach the relay to pull"
    )
    play_allow: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="addresses/CIDRs allowed to play RTMP (the segmenters)",
    )
    callback_url: str = Field(
        default="",
        description="base URL nginx uses to reach this server; default http://127.0.0.1:<port>",
    )
    nginx: str = Field(default="nginx", description="nginx binary")
    module: Path = Field(
        default=Path("/usr/lib/nginx/modules/ngx_rtmp_module.so"),
        description="path of Debian's libnginx-mod-rtmp module",
    )
    stream_module: Path = Field(
        default=Path("/usr/lib/nginx/modules/ngx_stream_module.so"),
        description="path of Debian's libnginx-mod-stream module",
    )
    run_dir: Path | None = Field(default=None, description="default <data_dir>/relay")
    ready_timeout_s: float = Field(default=10.0, gt=0, le=120)

    @field_validator("play_allow")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for item in value:
            if item != "all":
                ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("module", "stream_module", "tls_cert_file", "tls_key_file", "run_dir")
    @classmethod
    def _paths(cls, value: Path | None) -> Path | None:
        return _nginx_path(value)

    @field_validator("listen_host", "pull_host")
    @classmethod
    def _host(cls, value: str) -> str:
        if _is_ip(value) or HOST_NAME.match(value):
            return value
        raise ValueError(f"{value!r} is neither an IP address nor a host name")

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str) -> str:
        if value and not CALLBACK_URL.match(value):
            raise ValueError(
                f"{value!r} must be an http(s)://host[:port][/path] URL of letters, digits "
                "and . _ ~ / -"
            )
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> RelaySettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file: set both (RTMPS) or neither")
        if self.tls_cert_file is not None and self.rtmps_port == self.port:
            raise ValueError(f"rtmps_port and port must differ (both {self.port})")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None


class EventSettings(BaseModel):
    """Events from the doorbells: what is accepted, and the saved snapshots and clips."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pre_roll_s: float = Field(default=5.0, ge=0, le=60, description="event clip before the event")
    post_roll_s: float = Field(default=10.0, ge=1, le=120, description="event clip after it")
    max_clip_s: float = Field(
        default=120.0, ge=5, le=900, description="cap of a motion clip extended while motion lasts"
    )
    retention_days: float = Field(
        default=30.0, gt=0, le=3650, description="events (and their files) older than this go"
    )
    retention_max_bytes: int = Field(
        default=5 * 1024**3, ge=1024 * 1024, description="saved clips beyond this go, oldest first"
    )
    max_age_s: int = Field(
        default=7 * 86_400,
        ge=60,
        description="events older than this (server clock) are refused: a stale outbox",
    )
    max_future_s: int = Field(
        default=300, ge=1, le=86_400, description="events further ahead than this are refused"
    )
    max_body_bytes: int = Field(default=4096, ge=512, le=1024 * 1024)
    media_wait_s: float = Field(
        default=15.0,
        ge=1,
        le=120,
        description="how long the video of an event may take to reach the buffer (camera lag)",
    )
    max_recordings: int = Field(
        default=64, ge=1, le=4096, description="event clips being recorded at once; beyond: none"
    )
    media_retry_min_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="a snapshot or clip whose write failed (disk full, I/O error) is retried "
        "after this, doubling each time, while the buffer still holds its video",
    )
    media_retry_max_s: float = Field(
        default=30.0, gt=0, le=600, description="the longest wait between two such retries"
    )


class HttpSettings(BaseModel):
    """The HTTP front's bounds per client: timeouts, connection caps and the body cap (what a
    stranger who can open TCP connections can cost; see docs/deploy.md, "Limits")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="an idle keep-alive connection is closed after this"
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a connection that has not sent a whole request head this long after it "
        "opened (or after its first byte of a next request) is closed: slow or silent clients",
    )
    max_head_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="request line and headers larger than this are refused (400, closed)",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="request bodies larger than this are refused with 413 before they are read",
    )
    max_connections: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="open HTTP connections at most; 0: the descriptor limit less the reserve "
        "(never more than that: a larger value is lowered with a warning)",
    )
    max_connections_per_address: int = Field(
        default=256, ge=1, le=1_000_000, description="open HTTP connections from one address"
    )
    reserve_fds: int = Field(
        default=64,
        ge=16,
        le=65_536,
        description="descriptors kept from HTTP clients for the process itself (database, "
        "logs, relay); the segmenters, clip assemblies and 4 x the accept backlog get theirs "
        "on top",
    )
    backlog: int = Field(
        default=64,
        ge=16,
        le=4096,
        description="pending connections the kernel queues, and the event loop accepts a turn "
        "(4 x this is reserved: accepted connections the cap has not seen yet)",
    )


# A VAPID `sub` (RFC 8292): a contact push services can reach, as py-vapid and the push
# services accept it: an e-mail address, or an https origin without port or path.
WEB_PUSH_SUBJECT = re.compile(
    r"mailto:[^@\s]+@(localhost|[\w-]+(\.[\w-]+)+)|https://(localhost|[\w-]+(\.[\w-]+)+)",
    re.ASCII,
)


class PushSettings(BaseModel):
    """Push notifications: through Firebase Cloud Messaging (phones, and browsers through the
    Firebase SDK) and through standard Web Push with VAPID (browsers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials_file: Path | None = Field(
        default=None,
        description="a Firebase service-account JSON; none: notifications are only logged",
    )
    project_id: str | None = Field(
        default=None, description="Firebase project id; default: the service account's"
    )
    ring_ttl_s: int = Field(
        default=60, ge=0, le=3600, description="a stale 'someone is at the door' is worse than none"
    )
    motion_ttl_s: int = Field(default=300, ge=0, le=86_400)
    clip_ready_ttl_s: int = Field(default=3600, ge=0, le=86_400)
    motion_cooldown_s: int = Field(
        default=60, ge=0, le=86_400, description="one motion push per camera per this long"
    )
    ring_collapse_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="rings of one camera within this long of its last ring push make no push "
        "of their own (each ring is still stored and shown to open apps); 0: every ring pushes",
    )
    queue: int = Field(default=1000, ge=1, le=100_000, description="pushes waiting to be sent")
    concurrency: int = Field(default=4, ge=1, le=64, description="pushes being sent at once")
    deep_link: str = Field(
        default="doorbell://events/{id}", description="link in each push; {id} is the event id"
    )
    web_push: bool = Field(
        default=True,
        description="send to browsers through standard Web Push (VAPID key in "
        "<data_dir>/vapid.pem, made on first start); off: browser subscriptions are refused",
    )
    web_push_local: bool = Field(
        default=False,
        description="accept Web Push endpoints on this machine (a local push service, for "
        "tests); browsers' push services are always https elsewhere",
    )
    web_push_subject: str = Field(
        default="",
        max_length=200,
        description="the VAPID contact push services see: mailto:you@example.net or "
        "https://example.net; default: public_url's https origin, else mailto:doorbell@<its host>",
    )

    @field_validator("web_push_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if value and not WEB_PUSH_SUBJECT.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a VAPID subject: use mailto:you@example.net or "
                "https://example.net (an https origin without port or path)"
            )
        return value


class OpsSettings(BaseModel):
    """Operations endpoints: who reads /metrics and the details of /healthz."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="a bearer token that reads /metrics and /healthz's details and nothing "
        "else (Prometheus: authorization.credentials); the service tokens (api_tokens) read "
        "them too; empty: only those",
    )


class AccountsSettings(BaseModel):
    """People who sign in to the web app: how long a sign-in lasts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_idle_days: int = Field(
        default=14, ge=1, le=365, description="a session unused this long ends"
    )
    session_max_days: int = Field(
        default=90, ge=1, le=3650, description="a session ends this long after sign-in, used or not"
    )

    @model_validator(mode="after")
    def _idle_within_max(self) -> AccountsSettings:
        if self.session_idle_days > self.session_max_days:
            raise ValueError(
                f"session_idle_days ({self.session_idle_days}) must not exceed "
                f"session_max_days ({self.session_max_days})"
            )
        return self


class IceServer(BaseModel):
    """A STUN or TURN server, as a browser's RTCPeerConnection takes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(
        min_length=1,
        max_length=8,
        description="stun:host:port, turn:host:port?transport=udp|tcp or turns:host:port",
    )
    username: str = Field(default="", max_length=256, description="TURN only")
    credential: SecretStr = Field(default=SecretStr(""), description="TURN only")

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not ICE_URL.fullmatch(url):
                raise ValueError(
                    f"{url!r} is not a STUN/TURN URL: stun:HOST[:PORT], turn:HOST[:PORT]"
                    "[?transport=udp|tcp] or turns:HOST[:PORT][?transport=tcp]"
                )
        return urls

    @model_validator(mode="after")
    def _turn_has_credentials(self) -> IceServer:
        turn = any(url.startswith("turn") for url in self.urls)
        if turn and not (self.username and self.credential.get_secret_value()):
            raise ValueError("a TURN server needs a username and a credential")
        return self


ICE_URL = re.compile(
    r"(stun|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?"
    r"(\?transport=(udp|tcp))?"
)


class WebRtcSettings(BaseModel):
    """Live view over WebRTC (docs/deploy.md#webrtc): the media worker's ports and addresses,
    the STUN/TURN servers, and how many may watch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="false: the app plays live view over HLS only")
    udp_port_min: int = Field(
        default=8189, ge=1024, le=65535, description="first UDP (and ICE-TCP) port for viewers"
    )
    udp_port_max: int = Field(
        default=8288,
        ge=1024,
        le=65535,
        description="last port: each viewer takes one port of the range; forward the whole "
        "range to reach the live view from outside",
    )
    ice_tcp: bool = Field(
        default=True,
        description="also offer ICE over TCP (same ports) for networks that block UDP",
    )
    additional_hosts: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="addresses to advertise besides the machine's own (found automatically): "
        "the public IP a router forwards the port range from, a LAN address behind Docker",
    )
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        max_length=8,
        description="STUN/TURN servers for the browsers (and STUN for the server): only "
        "needed beyond the LAN when the ports are not forwarded",
    )
    max_viewers_per_camera: int = Field(
        default=10, ge=1, le=200, description="WebRTC viewers of one camera; beyond: HLS"
    )
    max_viewers: int = Field(
        default=20, ge=1, le=1000, description="WebRTC viewers in all; beyond: HLS"
    )
    warm: bool = Field(
        default=True,
        description="keep a pull of every online camera open in the media worker, so the "
        "first viewer's picture comes at once (about 1% of a core per camera: "
        "docs/benchmarks.md); false: pull a camera only while someone watches",
    )
    source_linger_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="a camera's pull is kept this long after its last viewer left, so the "
        "next one starts at once",
    )

    @field_validator("additional_hosts")
    @classmethod
    def _addresses(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(
                    f"{host!r} is not an IP address (no names: a candidate is an address)"
                ) from None
        return hosts

    @model_validator(mode="after")
    def _range(self) -> WebRtcSettings:
        if self.udp_port_min > self.udp_port_max:
            raise ValueError(
                f"udp_port_min ({self.udp_port_min}) must not exceed udp_port_max "
                f"({self.udp_port_max})"
            )
        return self


# One year: what browsers' preload lists ask for; a shorter HSTS only shortens the protection.
HSTS_ONE_YEAR_S = 365 * 86_400


class TlsSettings(BaseModel):
    """HTTPS: the server's own certificate (served by uvicorn, reloaded when the files change
    or on SIGHUP), HSTS, the reverse proxies believed about the scheme, and the opt-in for
    plain HTTP beyond loopback in `prod`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path | None = Field(
        default=None,
        description="PEM certificate chain (leaf first, e.g. certbot's fullchain.pem); with "
        "key_file the server speaks only HTTPS on its port",
    )
    key_file: Path | None = Field(
        default=None, description="PEM private key of cert_file (unencrypted)"
    )
    reload_check_s: float = Field(
        default=5.0,
        ge=0.5,
        le=3600,
        description="how often the certificate files are checked for a renewal (SIGHUP: now)",
    )
    hsts_max_age_s: int = Field(
        default=HSTS_ONE_YEAR_S,
        ge=0,
        le=2 * HSTS_ONE_YEAR_S,
        description="Strict-Transport-Security max-age on answers over HTTPS (never over "
        "plain HTTP); 0: no header",
    )
    hsts_include_subdomains: bool = Field(
        default=False,
        description="add includeSubDomains: only if every name under this one serves HTTPS",
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="addresses/CIDRs of reverse proxies whose X-Forwarded-Proto and "
        "X-Forwarded-For are believed (the scheme decides Secure cookies and HSTS)",
    )
    allow_plain_http: bool = Field(
        default=False,
        description="profile 'prod': listen beyond loopback without cert_file, because a "
        "TLS-terminating reverse proxy on another machine is the only way in",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        """Addresses, and networks written as uvicorn reads them (host bits cleared)."""
        out = []
        for item in value:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR (e.g. 127.0.0.1, 172.28.0.0/16)"
                ) from None
            out.append(str(network) if "/" in item else str(network.network_address))
        return out

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        given = {"cert_file": self.cert_file, "key_file": self.key_file}
        missing = [name for name, path in given.items() if path is None]
        if len(missing) == 1:
            other = "key_file" if missing[0] == "cert_file" else "cert_file"
            raise ValueError(
                f"{missing[0]} is missing: HTTPS needs both cert_file and key_file "
                f"({other} is set); remove both for plain HTTP"
            )
        for name, path in given.items():
            problem = _unreadable(path) if path is not None else None
            if problem:
                raise ValueError(f"{name} {str(path)!r}: {problem}")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None and self.key_file is not None


def _unreadable(path: Path) -> str | None:
    """Why a PEM file cannot be used, or None."""
    try:
        with path.open("rb") as file:
            head = file.read(64 * 1024)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if b"-----BEGIN " not in head:
        return "is not PEM (no -----BEGIN line)"
    return None


def is_loopback(host: str) -> bool:
    """Whether a listen address reaches only this machine ('localhost', 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AuthThrottleSettings(BaseModel):
    """Failed authentication (a wrong bearer token, session cookie, URL signature, device
    token or relay secret) slowed per client address: `failures` are free, then the address
    waits before any request of it that needs credentials is even checked (429)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(
        default=10, ge=1, le=10_000, description="failures from one address before it waits"
    )
    first_wait_s: float = Field(
        default=1.0, gt=0, le=3600, description="the first wait; it doubles with each failure"
    )
    max_wait_s: float = Field(default=300.0, gt=0, le=86_400, description="the longest wait")
    forget_after_s: float = Field(
        default=900.0,
        gt=0,
        le=7 * 86_400,
        description="an address's failures are forgotten after this long without one",
    )
    max_addresses: int = Field(
        default=10_000, ge=100, le=1_000_000, description="addresses tracked; the oldest go first"
    )

    @model_validator(mode="after")
    def _first_within_max(self) -> AuthThrottleSettings:
        if self.first_wait_s > self.max_wait_s:
            raise ValueError(
                f"first_wait_s ({self.first_wait_s}) must not exceed max_wait_s ({self.max_wait_s})"
            )
        return self


class Settings(BaseSettings):
    """Everything the server reads at start. Built once in the CLI and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="DOORBELL_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    profile: Literal["dev", "prod"] = Field(
        default="prod", description="'dev' allows the example secrets; 'prod' refuses them"
    )
    host: str = Field(default="127.0.0.1", description="HTTP listen address")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP listen port")
    data_dir: Path = Field(default=Path("var"), description="durable state (relay run dir, DB)")
    buffer_dir: Path = Field(
        default=Path("/dev/shm/doorbell"),  # noqa: S108 (tmpfs by design: the buffer lives in RAM)
        description="rolling buffer, one folder per camera",
    )
    buffer_seconds: int = Field(default=900, ge=5, le=86_400, description="rolling buffer length")
    buffer_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024 * 1024,
        description="per-camera byte cap of the buffer; the oldest segments go first",
    )
    stall_seconds: float = Field(
        default=10.0, ge=2, le=600, description="restart a pull with no new segment for this long"
    )
    ffmpeg: str = Field(default="ffmpeg", description="ffmpeg binary")
    clip_concurrency: int = Field(
        default=2, ge=1, le=16, description="clip assemblies running at once (about the cores)"
    )
    clip_queue: int = Field(
        default=8, ge=0, le=256, description="clip requests waiting for a slot; beyond: 503"
    )
    clip_cache_dir: Path | None = Field(
        default=None,
        description="assembled clips, kept briefly for repeats and ranges; default "
        "<buffer_dir>/.clips; it must hold nothing but the cache's own files, which are the "
        "only ones it deletes (at start, at stop, and when pruning)",
    )
    clip_cache_seconds: int = Field(default=120, ge=0, le=86_400)
    clip_cache_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="the clip cache never holds more: each MP4/ZIP clip's bytes are reserved "
        "before it is assembled (503 + Retry-After while they do not fit; 422 for a clip "
        "larger than this, which format=fmp4 streams without the cache)",
    )
    signed_url_seconds: int = Field(
        default=600, ge=10, le=7 * 86_400, description="lifetime of signed media URLs"
    )
    url_signing_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key of signed URLs; empty: derived from the first api token",
    )
    web_dir: Path | None = Field(
        default=None,
        description="the built web app (index.html, assets/); default: web/dist of this "
        "checkout, which scripts/bootstrap.sh builds",
    )
    exit_on_fatal: bool = Field(
        default=True, description="end the process when a supervised loop dies of a fatal error"
    )
    api_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="service tokens: bearer tokens accepted on /api/v1 for no user in particular",
    )
    relay_secret: SecretStr = Field(
        default=SecretStr(""), description="shared secret on the relay's callback URLs"
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the event database; default SQLite <data_dir>/doorbell.db "
        "(postgresql+asyncpg://... works too)",
    )
    media_dir: Path | None = Field(
        default=None, description="saved event snapshots and clips; default <data_dir>/media"
    )
    public_url: str = Field(
        default="",
        description="base URL phones reach this server at, for links in pushes "
        "(e.g. https://doorbell.example.net); default http://<host>:<port>",
    )
    cameras: list[CameraSettings] = Field(default_factory=list)
    relay: RelaySettings = Field(default_factory=RelaySettings)
    events: EventSettings = Field(default_factory=EventSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    accounts: AccountsSettings = Field(default_factory=AccountsSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    auth_throttle: AuthThrottleSettings = Field(default_factory=AuthThrottleSettings)
    webrtc: WebRtcSettings = Field(default_factory=WebRtcSettings)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"cameras: duplicate id(s) {', '.join(dupes)}")
        if not self.api_tokens:
            raise ValueError("api_tokens: at least one bearer token is required")
        if not self.relay_secret.get_secret_value():
            raise ValueError("relay_secret: required (any random string of 16+ chars)")
        self._check_relay()
        if self.profile != "dev":
            weak = [
                name
                for name, value in self._secrets()
                if value in DEV_SECRETS or len(value) < MIN_SECRET_LEN
            ]
            if weak:
                raise ValueError(
                    f"{', '.join(weak)}: example or short secrets (< {MIN_SECRET_LEN} chars) are "
                    "refused outside profile='dev'; run `doorbell init-config` for random ones"
                )
        self._plain_http_allowed()
        return self

    def _check_relay(self) -> None:
        """What reaches the relay's nginx.conf is safe there, and the segmenters can pull."""
        if not RELAY_SECRET.match(self.relay_secret.get_secret_value()):
            raise ValueError(
                "relay_secret: 1-200 of A-Z a-z 0-9 . _ ~ - (it is part of the relay's "
                "callback URL); run `doorbell init-config` for a random one"
            )
        try:
            _nginx_path(self.relay_run_dir)
        except ValueError as exc:
            raise ValueError(f"relay.run_dir (default <data_dir>/relay): {exc}") from exc
        if not self.relay_plain_rtmp and self.relay.pull_host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"relay.pull_host {self.relay.pull_host!r}: with plain_rtmp off the plain RTMP "
                "port listens on 127.0.0.1 only, where the segmenters pull; set pull_host = "
                '"127.0.0.1" or plain_rtmp = true (and firewall the port)'
            )

    @property
    def relay_plain_rtmp(self) -> bool:
        """Whether doorbells may publish plain RTMP (see RelaySettings.plain_rtmp)."""
        if self.relay.plain_rtmp is not None:
            return self.relay.plain_rtmp
        return self.profile == "dev" or not self.relay.tls

    def _plain_http_allowed(self) -> None:
        """In prod, plain HTTP only on loopback (a proxy on this machine) or by opt-in."""
        if self.profile == "dev" or self.tls.enabled or self.tls.allow_plain_http:
            return
        if not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} reaches beyond this machine without HTTPS, which is "
                "refused with profile='prod': set [tls] cert_file and key_file, or keep "
                'host = "127.0.0.1" behind a reverse proxy on this machine (docs/deploy.md), '
                "or, behind a TLS-terminating proxy on another machine, set [tls] "
                "allow_plain_http = true (and trusted_proxies to its address)"
            )

    def _secrets(self) -> list[tuple[str, str]]:
        out = [(f"api_tokens[{i}]", t.get_secret_value()) for i, t in enumerate(self.api_tokens)]
        out.append(("relay_secret", self.relay_secret.get_secret_value()))
        if self.ops.metrics_token.get_secret_value():
            out.append(("ops.metrics_token", self.ops.metrics_token.get_secret_value()))
        out += [
            (f"cameras[{c.id}].stream_key", c.stream_key.get_secret_value()) for c in self.cameras
        ]
        out += [
            (f"cameras[{c.id}].device_token", c.device_token.get_secret_value())
            for c in self.cameras
            if c.device_token.get_secret_value()
        ]
        return out

    @property
    def signing_key(self) -> bytes:
        explicit = self.url_signing_key.get_secret_value()
        if explicit:
            return explicit.encode()
        token = self.api_tokens[0].get_secret_value().encode()
        return hmac.new(token, b"doorbell signed urls", hashlib.sha256).digest()

    def camera(self, camera_id: str) -> CameraSettings | None:
        return next((c for c in self.cameras if c.id == camera_id), None)

    def camera_name(self, camera_id: str) -> str:
        """The camera's display name (its id when it has none, or is not configured)."""
        camera = self.camera(camera_id)
        return camera.display_name if camera is not None else camera_id

    @property
    def ops_tokens(self) -> list[str]:
        """The bearer tokens that read /metrics and /healthz's details."""
        tokens = [t.get_secret_value() for t in self.api_tokens]
        metrics = self.ops.metrics_token.get_secret_value()
        return [*tokens, metrics] if metrics else tokens

    @property
    def clip_dir(self) -> Path:
        return self.clip_cache_dir or self.buffer_dir / ".clips"

    @property
    def database(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'doorbell.db').resolve()}"
        )

    @property
    def app_dir(self) -> Path:
        return self.web_dir or Path(__file__).resolve().parent.parent / "web" / "dist"

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def public_base(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        if not self.tls.enabled:
            return self.callback_base
        # With TLS the relay calls back on a loopback plain-HTTP port: not for phones.
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"https://{host}:{self.port}"

    @property
    def vapid_key_file(self) -> Path:
        """The server's Web Push (VAPID) private key, made on first start."""
        return self.data_dir / "vapid.pem"

    @property
    def web_push_subject(self) -> str:
        """The VAPID `sub`: the setting, or one derived from the public URL."""
        return self.push.web_push_subject or default_web_push_subject(self.public_base)

    @property
    def relay_run_dir(self) -> Path:
        return self.relay.run_dir or self.data_dir / "relay"

    @property
    def callback_base(self) -> str:
        if self.relay.callback_url:
            return self.relay.callback_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def pull_base(self) -> str:
        return f"rtmp://{self.relay.pull_host}:{self.relay.port}/live"


def default_web_push_subject(public_base: str) -> str:
    """The VAPID subject for a server reached at `public_base`: its https origin when it has
    no port, else an address at its host name, else at localhost (which some push services
    may refuse: set push.web_push_subject)."""
    parts = urllib.parse.urlsplit(public_base)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if not host or _is_ip(host):
        return "mailto:doorbell@localhost"
    origin, address = f"https://{host}", f"mailto:doorbell@{host}"
    if parts.scheme == "https" and port is None and WEB_PUSH_SUBJECT.fullmatch(origin):
        return origin
    return address if WEB_PUSH_SUBJECT.fullmatch(address) else "mailto:doorbell@localhost"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def load_settings(config_file: Path | None, **overrides: object) -> Settings:
    """Settings from `config_file` (TOML, optional), then env, then `overrides` (highest)."""
    return common_settings.load_settings(Settings, config_file, **overrides)


def generate_config(cameras: list[tuple[str, str]], profile: str = "dev") -> str:
    """A TOML config with fresh random secrets, for `doorbell init-config` and the demo."""
    lines = [
        "# Doorbell server settings. Generated with random secrets; keep this file private.",
        f'profile = "{profile}"',
        f'api_tokens = ["{secrets.token_urlsafe(24)}"]',
        f'relay_secret = "{secrets.token_urlsafe(24)}"',
        "",
        "# RTMPS for the doorbells (docs/deploy.md): give the relay a certificate.",
        "# [relay]",
        '# tls_cert_file = "/etc/doorbell/relay.pem"',
        '# tls_key_file = "/etc/doorbell/relay.key"',
        "",
        "[ops]",
        "# Prometheus reads /metrics with this bearer token (and nothing else with it).",
        f'metrics_token = "{secrets.token_urlsafe(24)}"',
        "",
    ]
    for camera_id, name in cameras:
        lines += [
            "[[cameras]]",
            f"id = {json.dumps(camera_id)}",
            f"name = {json.dumps(name)}",
            f'stream_key = "{secrets.token_urlsafe(18)}"',
            f'device_token = "{secrets.token_urlsafe(24)}"',
            "",
        ]
    lines += [
        "# Live view over WebRTC (docs/deploy.md#webrtc): one UDP port per viewer from this",
        "# range; forward it (and list your public IP) to watch from outside.",
        "# [webrtc]",
        "# udp_port_min = 8189",
        "# udp_port_max = 8288",
        '# additional_hosts = ["203.0.113.7"]',
        "",
        "# HTTPS (docs/deploy.md#https): Caddy in front with host = 127.0.0.1 (the default),",
        "# or the server's own certificate:",
        "# [tls]",
        '# cert_file = "/etc/doorbell/tls/fullchain.pem"',
        '# key_file = "/etc/doorbell/tls/privkey.pem"',
        "",
    ]
    return "\n".join(lines)
