#!/usr/bin/env bash
# Sets up everything Doorbell needs on Debian 12 / Ubuntu: system packages (only the missing
# ones), a .venv with the project installed, Debian's gst-python overrides made visible in
# that venv, and the web app built (npm ci and Vite, only when its sources changed).
# Idempotent: a second run with nothing to do takes about a second.
#
#   scripts/bootstrap.sh            server + agent (what `make demo` needs)
#   scripts/bootstrap.sh --dev      also test and lint tools (what `make test` needs)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(
  nginx libnginx-mod-rtmp libnginx-mod-stream ffmpeg glib-networking
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gir1.2-gstreamer-1.0
  gir1.2-gst-plugins-base-1.0 libgirepository1.0-dev libcairo2-dev pkg-config python3-gst-1.0
  gir1.2-gst-plugins-bad-1.0 gstreamer1.0-nice
  python3 python3-venv python3-dev gcc
)
# docker-compose (v1, Debian's) only validates docker-compose.yml in the tests; no engine is needed.
[ "$dev" = 1 ] && apt_packages+=(docker-compose)
# Caddy: the tests read infra/caddy/Caddyfile with it and run it as the HTTPS proxy in front
# of a real server (tests/stack/test_tls.py).
[ "$dev" = 1 ] && apt_packages+=(caddy)
# The store's tests run a throwaway PostgreSQL cluster (tests/pg.py) from the server binaries;
# postgresql-common also creates the `postgres` user they run as when the tests run as root.
[ "$dev" = 1 ] && apt_packages+=(postgresql)
# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
[ "$dev" = 1 ] && apt_packages+=(chromium fonts-dejavu-core)
# The web app is built with Node 18+ and npm: Debian's, unless the machine has its own.
node_ok=0
if command -v node >/dev/null && command -v npm >/dev/null; then
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' && node_ok=1
fi
[ "$node_ok" = 1 ] || apt_packages+=(nodejs npm)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { echo "bootstrap: Python >= 3.11 is required (set PYTHON=...)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv

extras="server,agent"
constraints=()
if [ "$dev" = 1 ]; then
  extras="server,agent,dev"
  # The dev tools at exact versions: a new ruff or mypy release cannot break CI unasked.
  constraints=(-c constraints-dev.txt)
fi
stamp=".venv/.doorbell-installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints-dev.txt -nt "$stamp" ]; then
  echo "bootstrap: installing the project into .venv ($extras)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "${constraints[@]}" -e ".[$extras]"
  touch "$stamp"
fi

# gst-python's overrides (Gst.Fraction, caps field access, Gst.Caps(str)) ship only in Debian's
# python3-gst-1.0. gi.overrides extends its __path__ over every gi/overrides folder on sys.path,
# so a folder of links plus a .pth entry makes them visible to the venv's PyGObject.
overrides=.venv/gst-overrides/gi/overrides
mkdir -p "$overrides"
for f in /usr/lib/python3/dist-packages/gi/overrides/Gst*.py /usr/lib/python3/dist-packages/gi/overrides/_gi_gst*.so; do
  [ -e "$f" ] && ln -sf "$f" "$overrides/"
done
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$(pwd)/.venv/gst-overrides" > "$site/doorbell-gst-overrides.pth"

.venv/bin/python - <<'PY'
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
assert Gst.Fraction(25, 1).num == 25, "gst-python overrides are not visible"
for element in ("x264enc", "flvmux", "rtmp2sink", "videotestsrc", "h264parse"):
    assert Gst.ElementFactory.find(element), f"GStreamer element {element} is missing"
PY

# The web app: `npm ci` when the lock changed, a build when any source is newer than the
# last one. Built files are never committed; the server serves web/dist.
if [ -f web/package.json ]; then
  deps_stamp=web/node_modules/.doorbell-npm-ci
  if [ ! -f "$deps_stamp" ] || [ web/package-lock.json -nt "$deps_stamp" ]; then
    echo "bootstrap: installing the web app's npm packages (npm ci)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch "$deps_stamp"
  fi
  build_stamp=web/dist/.doorbell-built
  if [ ! -f "$build_stamp" ] || [ -n "$(find web -path web/node_modules -prune -o \
      -path web/dist -prune -o -type f -newer "$build_stamp" -print -quit)" ]; then
    echo "bootstrap: building the web app (web/dist)"
    (cd web && npm run build --silent)
    touch "$build_stamp"
  fi
fi
echo "bootstrap: ready (.venv)"
