"""The API documentation pages, served entirely by this app (no CDN), under the CSP.

Swagger UI's files come from the `swagger-ui-py` package (Swagger UI 5.24.2, which reads
the OpenAPI 3.1 schema Litestar writes; Copyright SmartBear Software, Apache License 2.0;
the notice is in the package's static/LICENSE and on the page's footer) and are served at
`/static/swagger-ui/`. Only the package's files are used, not its framework glue.
Litestar's own page starts Swagger UI with an inline script, which our
Content-Security-Policy forbids, so the page here loads a small static script
(`static/api-docs.js`) that reads its settings from `data-` attributes instead.
"""

import importlib.util
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from qm.web.static_files import static_files_router

SWAGGER_STATIC = "/static/swagger-ui"
SWAGGER_VERSION = "5.24.2"  # the version swagger-ui-py 25.7 ships


class OfflineSwaggerPlugin(SwaggerRenderPlugin):
    """Swagger UI from our own static files, started without inline script."""

    def __init__(self, path: str | list[str] = "/swagger") -> None:
        super().__init__(
            js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_STATIC}/swagger-ui-standalone-preset.js",
            path=path,
            favicon=f'<link rel="icon" type="image/png" href="{SWAGGER_STATIC}/favicon-32x32.png">',
            style='<link rel="stylesheet" href="/static/api-docs.css">',
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The docs page: Swagger UI reads the schema from `/schema/openapi.json`."""
        title = escape(str(openapi_schema["info"]["title"]))
        spec_url = escape(request.app.openapi_config.path.rstrip("/") + "/openapi.json")  # type: ignore[union-attr]
        page = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} API</title>
  {self.favicon}
  <link rel="stylesheet" href="{self.css_url}">
  {self.style}
</head>
<body>
  <div id="swagger-container" data-spec-url="{spec_url}" data-csrf-cookie="csrftoken"
       data-csrf-header="x-csrftoken"></div>
  <footer class="api-docs-notice">API documentation by Swagger UI {SWAGGER_VERSION},
    Copyright SmartBear Software, Apache License 2.0.</footer>
  <script src="{self.js_url}"></script>
  <script src="{self.standalone_preset_js_url}"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""
        return page.encode("utf-8")

    def receive_router(self, router: Router) -> None:
        """Add no OAuth2 redirect page: the API has no OAuth2, and that page is inline script."""


def render_plugins() -> list[JsonRenderPlugin | SwaggerRenderPlugin]:
    """The schema as JSON at /schema/openapi.json; Swagger UI at /schema and /schema/swagger."""
    return [OfflineSwaggerPlugin(path=["/", "/swagger"]), JsonRenderPlugin()]


def swagger_static_router() -> HTTPRouteHandler | Router:
    """Serves Swagger UI's files from the installed `swagger-ui-py` package."""
    return static_files_router(SWAGGER_STATIC, swagger_ui_files(), "swagger-ui")


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's files inside the installed `swagger-ui-py` package.

    Found without importing the package, whose modules pull in glue for other frameworks.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"
