"""`python -m liveview '<config as JSON>'`: the media worker, run by the API."""

from __future__ import annotations

import sys

from liveview.worker import main

sys.exit(main(sys.argv[1:]))
