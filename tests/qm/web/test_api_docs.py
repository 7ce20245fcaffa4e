"""The API docs pages work offline: every file they load is served by the app, and they
start Swagger UI without inline script."""

from urllib.parse import urljoin

import pytest

from qm.web.security_headers import DOCS_CONTENT_SECURITY_POLICY
from tests.qm.web.conftest import Client, soup


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_docs_page_loads_only_files_the_app_serves(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in DOCS_CONTENT_SECURITY_POLICY
    page = soup(response.text)
    scripts = [str(s.get("src") or "") for s in page.find_all("script")]
    assert all(scripts), "an inline <script> would be blocked by the CSP"
    links = [str(link["href"]) for link in page.find_all("link", href=True)]
    assert "/static/swagger-ui/swagger-ui-bundle.js" in scripts
    assert "/static/api-docs.js" in scripts
    assert "/static/swagger-ui/swagger-ui.css" in links
    for url in scripts + links:
        assert not url.startswith(("http:", "https:", "//")), f"{url} is not on this site"
        asset = client.get(urljoin(path, url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 0, url
    container = page.select_one("#swagger-container")
    assert container is not None
    spec = client.get(str(container["data-spec-url"]))
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "QM"
    assert "Apache License 2.0" in page.text  # Swagger UI's licence notice


def test_schema_documents_both_ways_to_authenticate(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from `qm users token NAME`.",
    }
    assert schemes["session"]["in"] == "cookie"
    assert "/api/calls" in schema["paths"]
