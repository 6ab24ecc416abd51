"""The relay's nginx config, rendered from the server settings (pure).

One nginx process, two modules. nginx's `stream` module is the front: it accepts every TCP
connection (plain RTMP on `port`, RTMPS on `rtmps_port` with TLS terminated here), caps the
connections of each address (`limit_conn`; the segmenters' addresses in `play_allow` are not
counted), bounds the TLS handshake, and hands the connection to nginx-rtmp, which listens
on a loopback port of its own (`backend_port`, picked free at each start), with a PROXY
protocol header. nginx-rtmp reads the client's address
from that header, so `allow play`, the `addr` of its callbacks and its logs see the real
client, not the front; and it closes a connection that has not completed the RTMP handshake
within `handshake_timeout_s` (its `timeout`).

nginx runs in the foreground (`daemon off`) with a prefix and config in the server's run
directory, never /etc. Publishing needs a stream key, checked by the server's `on_publish`
callback (403 refuses; an unreachable callback refuses too: nginx fails closed). Playing is
allowed only from the configured addresses (the segmenters).

Every value written here is validated by the settings (api/config.py): paths without
quotes, '$', ';', braces or whitespace, a relay secret of URL-unreserved characters, a
callback URL of a fixed shape; addresses parsed as networks.
"""

from __future__ import annotations

from pathlib import Path

from api.config import Settings

CONF_NAME = "nginx-rtmp.conf"
# nginx-rtmp's own listener: loopback only, behind the front. Not a unix socket in the run
# directory: a relay started as root runs its workers as `nobody`, which cannot reach into
# the server's private (0700) state directory.
BACKEND_HOST = "127.0.0.1"
# Descriptors beyond worker_connections: listeners, the error log, the callbacks' sockets.
SPARE_FILES = 256


def plain_host(settings: Settings) -> str:
    """Where the plain RTMP port listens: listen_host, or loopback only without plain RTMP."""
    return settings.relay.listen_host if settings.relay_plain_rtmp else "127.0.0.1"


def listen_addresses(settings: Settings) -> list[tuple[str, int]]:
    """Every (host, port) the relay binds: the plain port, and the RTMPS port with TLS."""
    relay = settings.relay
    out = [(plain_host(settings), relay.port)]
    if relay.tls:
        out.append((relay.listen_host, relay.rtmps_port))
    return out


def _listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _stream(settings: Settings, backend_port: int) -> str:
    relay = settings.relay
    exempt = "\n".join(f"        {a} 1;" for a in relay.play_allow if a != "all")
    upstream = f"{BACKEND_HOST}:{backend_port}"
    servers = f"""
    # Plain RTMP{"" if settings.relay_plain_rtmp else " for this machine only (segmenters)"}.
    server {{
        listen {_listen(plain_host(settings), relay.port)};
        proxy_pass {upstream};
    }}
"""
    if relay.tls_cert_file is not None and relay.tls_key_file is not None:
        servers += f"""
    # RTMPS: TLS ends here; nginx-rtmp sees plain RTMP.
    server {{
        listen {_listen(relay.listen_host, relay.rtmps_port)} ssl;
        ssl_certificate {relay.tls_cert_file.resolve()};
        ssl_certificate_key {relay.tls_key_file.resolve()};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_handshake_timeout {relay.handshake_timeout_s}s;
        ssl_session_cache shared:relay_tls:1m;
        proxy_pass {upstream};
    }}
"""
    return f"""stream {{
    # Connections counted per client address; the segmenters (play_allow) are not.
    geo $relay_exempt {{
        default 0;
{exempt}
    }}
    map $relay_exempt $relay_limit_key {{
        1 "";
        default $binary_remote_addr;
    }}
    limit_conn_zone $relay_limit_key zone=relay_per_addr:1m;
    limit_conn relay_per_addr {relay.max_conns_per_addr};
    # A flood would otherwise write one line per refused connection.
    limit_conn_log_level info;
    proxy_protocol on;
    proxy_connect_timeout 5s;
    # No byte either way for this long ends a session (a live stream is never that quiet:
    # nginx-rtmp pings every 30 s).
    proxy_timeout 90s;
{servers}}}
"""


def _rtmp(settings: Settings, backend_port: int) -> str:
    relay = settings.relay
    secret = settings.relay_secret.get_secret_value()
    hook = f"{settings.callback_base}/internal/relay"
    allow = "\n".join(
        f"            allow play {'all' if a == 'all' else a};" for a in relay.play_allow
    )
    return f"""rtmp {{
    # Off: the default path (/var/log/nginx) is not writable by an unprivileged relay, and
    # each line would record the publisher's ?key=.
    access_log off;
    server {{
        # The stream front above connects here; its PROXY header carries the client (a
        # connection without one is closed).
        listen {BACKEND_HOST}:{backend_port} proxy_protocol;
        # Closes a connection that has not completed the RTMP handshake by then.
        timeout {relay.handshake_timeout_s}s;
        ping 30s;
        chunk_size 4096;
        application live {{
            live on;
            record off;
            # Players of a stream nobody publishes are refused at once, and dropped when the
            # publisher goes: the segmenter learns of both immediately.
            idle_streams off;
            drop_idle_publisher 10s;
            allow publish all;
{allow}
            deny play all;
            on_publish {hook}/on_publish?secret={secret};
            on_publish_done {hook}/on_publish_done?secret={secret};
            notify_method post;
        }}
    }}
}}
"""


def render_conf(settings: Settings, run_dir: Path, backend_port: int) -> str:
    """The nginx config for this server's relay (pure); nginx-rtmp itself listens on
    127.0.0.1:`backend_port`."""
    relay = settings.relay
    return f"""# Rendered by doorbell from its settings; edits are overwritten at start.
load_module {relay.module};
load_module {relay.stream_module};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {relay.worker_connections + SPARE_FILES};
pid {run_dir / "nginx.pid"};
error_log stderr warn;

events {{
    worker_connections {relay.worker_connections};
}}

{_stream(settings, backend_port)}
{_rtmp(settings, backend_port)}"""
