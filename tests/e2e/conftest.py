"""Browser tests: the real app served by uvicorn on a free port, driven by Playwright in
Debian's chromium (never a browser downloaded by a test tool).

Without chromium the tests skip and say how to install it; CI (`.ci/run`) installs it.
"""

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from qm.app import create_app
from qm.settings import Settings
from tests.qm.web.conftest import seed  # noqa: F401  (the same fixture as the web tests)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL_HINT = (
    "Debian's chromium is not installed: `apt-get install chromium` (as root; .ci/run does "
    "it). The browser tests never download a browser."
)
# The flags a headless chromium needs on a machine with no outside network and no screen.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Server:
    """The running app."""

    base_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(engine: Engine, settings: Settings) -> Iterator[Server]:
    """The app on the test database, served over real HTTP in a background thread."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}")
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def _chromium() -> Iterator[Any]:
    """One headless chromium for the browser tests of a test process (starting one costs
    seconds); each test works in contexts of its own, see `browser`."""
    if CHROMIUM is None:
        pytest.skip(INSTALL_HINT)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e .[dev]")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """Headless Debian chromium under Playwright. The contexts (cookies, storage, pages) a
    test opens are closed after it, so that the next test starts as in a fresh browser."""
    yield _chromium
    for context in list(_chromium.contexts):
        context.close()
