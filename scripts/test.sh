#!/usr/bin/env bash
# Sets up what is missing (system packages, .venv, dev tools), then runs lint, type checks and
# the whole test suite. Extra arguments replace the two pytest runs with one, with them
# (e.g. scripts/test.sh tests/api -k relay).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
# Two processes: the agent's tests load GStreamer, whose libunwind breaks greenlet (under the
# server's SQLAlchemy) in the same process (tests/conftest.py says more). pytest exits 5 when
# it collected no test: that fails this script too, as it should.
if [ $# -gt 0 ]; then
  .venv/bin/pytest "$@"
else
  .venv/bin/pytest tests/agent
  .venv/bin/pytest --ignore=tests/agent
fi
