#!/usr/bin/env bash
# Sets up what is missing, then runs relay + server + a simulated doorbell on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/doorbell demo "$@"
