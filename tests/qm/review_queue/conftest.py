"""A session on the fresh test database for the review-queue tests."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the fresh database (tests commit what the app should see)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


# The web tests' fixtures (the app on the test database, a seeding helper).
from tests.qm.web.conftest import client, seed  # noqa: E402, F401
