"""The web app and the API docs as the server serves them, in process: cache headers, the
app's paths answered with index.html under a strict CSP, the server's paths never."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from api.config import Settings
from api.http.webapp import APP_CSP, accepts_gzip
from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["/", "/cameras/front", "/events/0b7c3a52", "/settings"])
async def test_app_paths_get_index_html_revalidated_under_the_csp(
    server: InProcess, path: str
) -> None:
    response = await server.anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/assets/app-3f9a1c.js" in response.text
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == APP_CSP
    assert "script-src 'self';" in APP_CSP
    assert "unsafe-inline" not in APP_CSP


async def test_hashed_assets_are_cached_for_good(server: InProcess) -> None:
    response = await server.anonymous.get("/assets/app-3f9a1c.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = await server.anonymous.get("/assets/app-000000.js")
    assert missing.status_code == 404


async def test_text_files_go_gzipped_to_clients_that_take_gzip(server: InProcess) -> None:
    plain = await server.anonymous.get(
        "/assets/app-3f9a1c.js", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    packed = await server.anonymous.get(
        "/assets/app-3f9a1c.js", headers={"Accept-Encoding": "gzip"}
    )
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["content-type"].startswith("text/javascript")
    assert int(packed.headers["content-length"]) < len(plain.content) / 5
    assert packed.content == plain.content  # httpx decodes it
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("header", "gzip"),
    [("gzip", True), ("br, gzip;q=0.5", True), ("*", True), ("gzip;q=0", False),
     ("identity", False), ("", False), ("gzip;q=x", False), ("deflate, br", False)],
)  # fmt: skip
def test_accept_encoding_is_read_with_its_weights(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


async def test_the_service_worker_may_control_the_whole_app(server: InProcess) -> None:
    response = await server.anonymous.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["cache-control"] == "no-cache"
    manifest = await server.anonymous.get("/manifest.webmanifest")
    assert manifest.json() == {"name": "Doorbell"}


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/internal/relay/x", "/favicon-missing.png", "/assets/../index.html"]
)
async def test_the_servers_own_paths_and_missing_files_are_404(
    server: InProcess, path: str
) -> None:
    response = await server.client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("unknown")


async def test_the_api_docs_load_nothing_from_elsewhere(server: InProcess) -> None:
    page = await server.anonymous.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "http://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    init = await server.anonymous.get("/docs/init.js")
    assert "/openapi.json" in init.text
    assert (await server.anonymous.get("/docs/swagger-ui.css")).status_code == 200
    assert (await server.anonymous.get("/docs/other.js")).status_code == 404


async def test_without_a_build_the_app_says_how_to_make_one(tier_settings: Settings) -> None:
    import httpx

    settings = tier_settings.model_copy(update={"web_dir": Path("/nonexistent/dist")})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://doorbell.test") as client:
        for path in ("/", "/docs"):  # the docs too: their Swagger UI comes with the build
            response = await client.get(path)
            assert response.status_code == 404
            assert "scripts/bootstrap.sh" in response.json()["detail"]
        assert (await client.get("/openapi.json")).status_code == 200  # the API is unaffected
