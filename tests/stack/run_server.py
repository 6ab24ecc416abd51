"""`python -m api` for the stack tests, with firebase-admin's FCM endpoint pointed at a fake
FCM server (DOORBELL_TEST_FCM_URL): the only way to redirect the SDK, and never done by the
server itself. Runs as a script, so it puts the repository on sys.path first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firebase_admin import messaging

from api.cli import main

url = os.environ.get("DOORBELL_TEST_FCM_URL")
if url:
    messaging._MessagingService.FCM_URL = url

sys.exit(main(sys.argv[1:]))
