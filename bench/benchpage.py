"""A benchmark's own page, served on the server's origin through Playwright's routing (so it
reaches the API without CORS and with the server's cookies), with hls.js from the app's
node_modules: `/__bench/<name>` answers each of `files`."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, Route

ROOT = Path(__file__).resolve().parents[1]
HLS_JS = ROOT / "web" / "node_modules" / "hls.js" / "dist" / "hls.min.js"


def serve(page: Page, html: str, scripts: dict[str, str], index: str) -> None:
    """Route /__bench/: `hls.min.js`, each of `scripts` (name: source), and `html` for every
    other name; then load /__bench/`index`."""

    def answer(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        if name == "hls.min.js":
            route.fulfill(body=HLS_JS.read_bytes(), content_type="text/javascript")
        elif name in scripts:
            route.fulfill(body=scripts[name], content_type="text/javascript")
        else:
            route.fulfill(body=html, content_type="text/html")

    page.route("**/__bench/*", answer)
    page.goto(f"/__bench/{index}")
