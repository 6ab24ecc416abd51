"""The relay's nginx config, rendered from the server settings (pure).

nginx runs in the foreground (`daemon off`) with a prefix and config in the server's run
directory, never /etc. Publishing needs a stream key, checked by the server's `on_publish`
callback (403 refuses; an unreachable callback refuses too: nginx fails closed). Playing is
allowed only from the configured addresses (the segmenters).
"""

from __future__ import annotations

from pathlib import Path

from api.config import Settings

CONF_NAME = "nginx-rtmp.conf"


def render_conf(settings: Settings, run_dir: Path) -> str:
    """The nginx config for this server's relay (pure)."""
    relay = settings.relay
    secret = settings.relay_secret.get_secret_value()
    hook = f"{settings.callback_base}/internal/relay"
    allow = "\n".join(
        f"            allow play {'all' if a == 'all' else a};" for a in relay.play_allow
    )
    return f"""# Rendered by doorbell from its settings; edits are overwritten at start.
load_module {relay.module};
daemon off;
master_process on;
worker_processes 1;
pid {run_dir / "nginx.pid"};
error_log stderr warn;

events {{
    worker_connections 1024;
}}

rtmp {{
    # Off: the default path (/var/log/nginx) is not writable by an unprivileged relay, and
    # each line would record the publisher's ?key=.
    access_log off;
    server {{
        listen {relay.listen_host}:{relay.port};
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
