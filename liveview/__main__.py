"""`python -m liveview '<config as JSON>'`: the media worker, run by the API.

Exit status 3: GStreamer's WebRTC is not installed here (the message says what to install).
"""

from __future__ import annotations

import sys

from liveview.errors import LiveViewError

try:
    from liveview.worker import main
except LiveViewError as exc:
    print(f"liveview: {exc}", file=sys.stderr)
    sys.exit(3)

sys.exit(main(sys.argv[1:]))
