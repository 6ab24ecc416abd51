"""The web app at `/` (Vite's build in `web/dist`) and the API docs at `/docs`, both served by
the server itself with no CDN: hashed assets cached for a year, `index.html` and the service
worker revalidated on every load, the app's own paths answered with `index.html`, and every
page under a strict Content-Security-Policy (no inline script, no other origin)."""

from __future__ import annotations

import asyncio
import mimetypes
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import Headers
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.errors import NotFound, NotInstalled

# What the app may load: only its own origin (media and hls.js workers from blob: URLs).
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
    "manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI sets styles inline and shows images of data: URLs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Paths that belong to the server, never the app: an unknown one there is a 404, not the app.
SERVER_PATHS = ("api/", "internal/", "assets/", "docs/", "openapi.json", "healthz", "metrics")
# A file at the build's top level: the service worker, the manifest, icons (no folders).
_TOP_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.(js|json|webmanifest|png|svg|ico|txt)$")

SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})
NOT_BUILT = (
    "the web app is not built on this server: run scripts/bootstrap.sh, which builds web/ "
    "with npm (or set web_dir to a built copy)"
)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (named, or `*`, without q=0)."""
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() not in {"gzip", "*"}:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        return weight > 0
    return False


async def send_file(path: Path, accept_encoding: str, headers: dict[str, str]) -> FileResponse:
    """`path`, or the gzip copy the build made beside it (`<path>.gz`) when the client takes
    gzip: the app's text files are about a third of their size compressed."""
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gz = path.with_name(path.name + ".gz")
    headers = {**headers, "Vary": "Accept-Encoding"}
    if accepts_gzip(accept_encoding) and await _is_file(gz):
        headers["Content-Encoding"] = "gzip"
        return FileResponse(gz, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


class HashedAssets(StaticFiles):
    """Vite's `assets/` folder: file names carry a content hash, so they never change."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code != 200 or not isinstance(response, FileResponse):
            return response
        accept = Headers(scope=scope).get("accept-encoding", "")
        return await send_file(Path(response.path), accept, {"Cache-Control": IMMUTABLE})


def mount(app: FastAPI, web_dir: Path | None) -> None:
    """Serve the built app from `web_dir` (None or missing: every app path says how to build
    it). Register last: its catch-all route answers what no other route does."""
    assets = None if web_dir is None else web_dir / "assets"
    if assets is not None and assets.is_dir():
        app.mount("/assets", HashedAssets(directory=assets), name="assets")
    app.include_router(_router(web_dir))


class _Files:
    """What the routes below serve from one build."""

    def __init__(self, web_dir: Path | None) -> None:
        self._dir = web_dir

    async def docs(self) -> HTMLResponse:
        if self._dir is None or not await _is_file(self._dir / "swagger" / "swagger-ui.css"):
            raise NotInstalled(NOT_BUILT)  # the page would load no Swagger UI
        return HTMLResponse(
            DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": REVALIDATE}
        )

    async def docs_asset(self, name: str) -> Response:
        if name == "init.js":
            return Response(DOCS_INIT_JS, media_type="text/javascript")
        path = None if self._dir is None else self._dir / "swagger" / name
        if name not in SWAGGER_FILES or path is None or not await _is_file(path):
            raise NotFound("docs file", name)
        return FileResponse(path, headers={"Cache-Control": REVALIDATE})

    async def page(self, path: str, request: Request) -> Response:
        """A top-level file of the build, or the app's page for any other app path."""
        if path.startswith(SERVER_PATHS):
            raise NotFound("path", "/" + path)
        if self._dir is None or not await _is_file(self._dir / "index.html"):
            raise NotInstalled(NOT_BUILT)
        accept = request.headers.get("accept-encoding", "")
        if _TOP_FILE.match(path) and await _is_file(self._dir / path):
            headers = {"Cache-Control": REVALIDATE}
            if path == "sw.js":
                headers["Service-Worker-Allowed"] = "/"
            return await send_file(self._dir / path, accept, headers)
        if "." in path.rsplit("/", 1)[-1]:
            raise NotFound("file", "/" + path)  # a missing file, not an app page
        headers = {"Cache-Control": REVALIDATE, "Content-Security-Policy": APP_CSP}
        return await send_file(self._dir / "index.html", accept, headers)


async def _is_file(path: Path) -> bool:
    return await asyncio.to_thread(path.is_file)


def _router(web_dir: Path | None) -> APIRouter:
    files = _Files(web_dir)
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/docs", files.docs, methods=["GET"])
    router.add_api_route("/docs/{name}", files.docs_asset, methods=["GET"])
    router.add_api_route("/{path:path}", files.page, methods=["GET"])
    return router


DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Doorbell API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT_JS = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
"""
