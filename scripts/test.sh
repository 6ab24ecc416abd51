#!/usr/bin/env bash
# Sets up what is missing (system packages, .venv, dev tools), then runs lint, type checks and
# the whole test suite. Extra arguments go to pytest (e.g. scripts/test.sh -k relay).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# pytest exits 5 when it collected no test: that fails this script too, as it should.
.venv/bin/pytest "$@"
