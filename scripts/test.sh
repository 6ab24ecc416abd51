#!/usr/bin/env bash
# Sets up what is missing (system packages, .venv, dev tools, the web app's npm packages), then
# runs lint, type checks (Python and TypeScript), the web app's unit tests and the whole Python
# suite, browser tests included. Extra arguments replace the two pytest runs with one, with them
# (e.g. scripts/test.sh tests/api -k relay).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
# The web app: TypeScript strict, then its unit tests (Vitest); bootstrap built it already.
(cd web && npm run --silent typecheck && npm test --silent)
# Two processes: the agent's tests load GStreamer, whose libunwind breaks greenlet (under the
# server's SQLAlchemy) in the same process (tests/conftest.py says more). pytest exits 5 when
# it collected no test: that fails this script too, as it should.
if [ $# -gt 0 ]; then
  .venv/bin/pytest "$@"
else
  .venv/bin/pytest tests/agent
  .venv/bin/pytest --ignore=tests/agent
fi
