"""Which CAs the stream's TLS trusts: GIO's default database, for rtmp2sink's RTMPS.

rtmp2sink has no property for a CA or a `GTlsDatabase`: it opens its connection with a
`GSocketClient` and verifies with `tls-validation-flags` (default: everything, the name
included) against the TLS backend's default database, the system store. So a custom CA is
set as that default for the whole process (`g_tls_backend_set_default_database`); the
agent's other TLS (its HTTPS uplink) goes through Python's ssl, not GIO, and is unaffected.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from agent.errors import TlsSetupError
from agent.gst import Gio, GLib

logger = logging.getLogger(__name__)


def trust_only(ca_file: Path) -> None:
    """Verify every GIO TLS peer of this process against the CA(s) in `ca_file` alone."""
    try:
        database = Gio.TlsFileDatabase.new(str(ca_file))
    except GLib.Error as exc:
        raise TlsSetupError(f"relay_ca_file {str(ca_file)!r}: {exc.message}") from exc
    backend = Gio.TlsBackend.get_default()
    if not backend.supports_tls():
        raise TlsSetupError("GIO has no TLS backend: install glib-networking")
    # The stubs type the constructor by its interface; the object is a GTlsDatabase.
    backend.set_default_database(cast(Gio.TlsDatabase, database))
    logger.info("rtmps: the relay's certificate must chain to %s", ca_file)
