"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL when configured.

`QM_TEST_DATABASE_URL` (set by .ci/run where PostgreSQL answers) makes every test that
uses `db_url` run twice; each PostgreSQL run gets a schema of its own, dropped afterwards.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import qm.models  # noqa: F401  (registers every table)
from qm import migrate
from qm.db import make_engine
from qm.settings import Settings

REPO = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-0123456789abcdef0123456789"


def _pg_url_with_schema(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qm.db'}"
        return
    base = os.environ.get("QM_TEST_DATABASE_URL")
    if not base:
        pytest.skip("QM_TEST_DATABASE_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_url_with_schema(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every table created (stamped as migrated)."""
    eng = make_engine(db_url)
    SQLModel.metadata.create_all(eng)
    migrate.stamp_head(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for an app on the fresh database (schema not yet created)."""
    return Settings(
        database_url=db_url,
        secret_key=TEST_SECRET,
        scheduler_enabled=False,
        demo_dir=tmp_path / "demo",
        # The test's own folders: with a database server the defaults are one folder in
        # the home directory, shared by every test running at the same time.
        upload_dir=tmp_path / "uploads",
        report_dir=tmp_path / "reports",
        # The real semantic model loads in seconds and embeds every call: the tests of the
        # semantic stage turn it on themselves (tests/scoring/test_semantic*.py).
        semantic_model="off",
        _env_file=None,  # type: ignore[call-arg]
    )
