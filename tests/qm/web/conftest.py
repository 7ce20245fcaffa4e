"""Fixtures for web tests: the real app on the test database, driven over HTTP."""

from collections.abc import Callable, Iterator

import pytest
from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from qm.app import create_app
from qm.db import session_scope
from qm.models import Role
from qm.settings import Settings
from tests.factories import PASSWORD, make_user

Client = TestClient[Litestar]


def csrf_token(client: Client, path: str = "/login") -> str:
    """The CSRF token from the form on `path` (a GET also sets the CSRF cookie)."""
    page = BeautifulSoup(client.get(path).text, "html.parser")
    field = page.select_one('input[name="_csrf_token"]')
    assert field is not None, f"no CSRF field on {path}"
    return str(field["value"])


def login(client: Client, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a browser would."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def seed(engine: Engine) -> Callable[..., None]:
    """Run a builder function inside a committed session: `seed(lambda s: make_call(s))`."""

    def run(build: Callable[[Session], object]) -> None:
        with session_scope(engine) as session:
            build(session)

    return run


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[Client]:
    """An HTTP client on a fresh app (lifespan running) over the test database."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def reviewer(client: Client, seed: Callable[..., None]) -> Client:
    """The client, signed in as a reviewer."""
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    login(client, "rita")
    return client


def soup(html: str) -> BeautifulSoup:
    """Parse a page."""
    return BeautifulSoup(html, "html.parser")
