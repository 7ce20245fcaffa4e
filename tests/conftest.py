"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL when configured.

`QM_TEST_DATABASE_URL` (set by .ci/run where PostgreSQL answers) makes every test that
uses `db_url` run twice; each PostgreSQL run gets a schema of its own, dropped afterwards.

Two costs are paid once per test process instead of once per test:

- argon2 hashes with the library's cheapest parameters (production's cost hundreds of
  milliseconds of CPU per sign-in and per created user, on purpose);
  `production_password_hashing` gives a test the real ones back;
- a SQLite `engine` is a copy of a database made by `create_all` and stamped once;
- a PostgreSQL `engine` gets a schema made by `create_all` for an earlier test of the same
  process and emptied after it (rows deleted, sequences restarted), unless that test
  changed the schema's shape: then it is dropped, as every schema is at the end.
"""

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import qm.models  # noqa: F401  (registers every table)
from qm import migrate
from qm.db import make_engine
from qm.domain import users
from qm.settings import Settings

REPO = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-0123456789abcdef0123456789"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Every test hashes passwords with argon2's cheapest parameters (same algorithm, same
    code path). Session-scoped so that module-scoped worlds that create users get them too."""
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_hasher", lambda: cheap)
        # The unknown-user dummy hash is cached: make it with the hasher now in force.
        users._dummy_hash.cache_clear()
        yield
    users._dummy_hash.cache_clear()


@pytest.fixture
def production_password_hashing() -> Iterator[None]:
    """The product's own argon2 parameters for one test (see `_cheap_password_hashing`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_hasher", PasswordHasher)
        users._dummy_hash.cache_clear()
        yield
    users._dummy_hash.cache_clear()


def _pg_url_with_schema(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


# One string that changes when a schema's tables, columns, constraints, triggers or
# migration stamp change: a schema a test reshaped is dropped, not handed to the next test.
_PG_SHAPE = sa.text("""
SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
    SELECT 'rel:' || c.relname || ':' || c.relkind::text AS item
    FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
  UNION ALL
    SELECT 'col:' || c.relname || '.' || a.attname || ':' || a.atttypid::text
        || ':' || a.attnotnull::text || ':' || a.atthasdef::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0
        AND NOT a.attisdropped
  UNION ALL
    SELECT 'con:' || conname FROM pg_constraint
    WHERE connamespace = current_schema()::regnamespace
  UNION ALL
    SELECT 'trg:' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = current_schema()::regnamespace
  UNION ALL
    SELECT 'ver:' || version_num FROM alembic_version
) AS shape
""")


# The pages of the schema's tables, bar the migration stamp's (0 once emptied and vacuumed).
_PG_PAGES = sa.text(
    "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c WHERE c.relkind = 'r'"
    " AND c.relnamespace = current_schema()::regnamespace AND c.relname <> 'alembic_version'"
)


@dataclass
class _PgSchemas:
    """This test process's PostgreSQL schemas that have every table (`create_all`, stamped).

    `create_all` costs about a second a test on PostgreSQL; emptying a schema a test used
    and vacuuming one a test used costs tens of milliseconds, so schemas are handed out
    again once emptied.
    """

    base: str
    admin: Engine
    free: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)
    prepared_urls: set[str] = field(default_factory=set)
    shape: str | None = None

    def url(self, schema: str) -> str:
        return _pg_url_with_schema(self.base, schema)

    def create(self) -> str:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        self.made.append(schema)
        return schema

    def drop(self, schema: str) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        self.made.remove(schema)

    def take(self) -> str:
        """A schema with every table and no rows: an emptied one, or a new one."""
        if self.free:
            return self.free.pop()
        schema = self.create()
        eng = make_engine(self.url(schema))
        try:
            SQLModel.metadata.create_all(eng)
            migrate.stamp_head(eng)
            with eng.connect() as conn:
                shape = conn.execute(_PG_SHAPE).scalar_one()
        finally:
            eng.dispose()
        self.shape = self.shape or shape
        self.prepared_urls.add(self.url(schema))
        return schema

    def give_back(self, schema: str) -> None:
        """Empty the schema for the next test, or drop it when its shape changed or it
        cannot be emptied (a lock still held, say)."""
        eng = make_engine(self.url(schema), poolclass=sa.NullPool)
        try:
            with eng.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                if conn.execute(_PG_SHAPE).scalar_one() != self.shape:
                    raise LookupError(schema)
                # Children before parents, so that no foreign key refuses a delete.
                conn.exec_driver_sql(
                    "".join(
                        f'DELETE FROM "{table.name}";\n'
                        for table in reversed(SQLModel.metadata.sorted_tables)
                    )
                    + "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"
                    " AND c.relnamespace = current_schema()::regnamespace"
                )
            # VACUUM cuts the emptied tables back to no pages, so that rows are stored (and
            # read back by an unordered SELECT) in the order they are inserted, as in a new
            # table; a table it could not cut means another connection still holds it.
            with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(
                    "VACUUM "
                    + ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
                )
                if conn.execute(_PG_PAGES).scalar_one():
                    raise LookupError(schema)
        except (sa.exc.SQLAlchemyError, LookupError):
            eng.dispose()
            self.prepared_urls.discard(self.url(schema))
            self.drop(schema)
            return
        eng.dispose()
        self.free.append(schema)


@pytest.fixture(scope="session")
def _pg_schemas() -> Iterator[_PgSchemas | None]:
    """The PostgreSQL schemas of this test process (None without QM_TEST_DATABASE_URL)."""
    base = os.environ.get("QM_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    schemas = _PgSchemas(base, make_engine(base))
    try:
        yield schemas
    finally:
        for schema in list(schemas.made):
            schemas.drop(schema)
        schemas.admin.dispose()


# For a module whose tests do not depend on the database back end (`pytestmark =
# SQLITE_ONLY`): its tests run once, on SQLite. Queries that differ by dialect keep both.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema.

    On PostgreSQL, for a test that uses `engine`, the schema already has every table.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qm.db'}"
        return
    schemas: _PgSchemas | None = request.getfixturevalue("_pg_schemas")
    if schemas is None:
        pytest.skip("QM_TEST_DATABASE_URL is not set")
    if "engine" in request.fixturenames:
        schema = schemas.take()
        try:
            yield schemas.url(schema)
        finally:
            schemas.give_back(schema)
        return
    schema = schemas.create()
    try:
        yield schemas.url(schema)
    finally:
        schemas.drop(schema)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every table created and stamped as migrated, made once per
    test process; `engine` copies it (create_all and the stamp cost ~0.2 s a test)."""
    path = tmp_path_factory.mktemp("template") / "qm.db"
    eng = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(eng)
    migrate.stamp_head(eng)
    eng.dispose()
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    # The backup API copies a consistent database whatever is left in the source's WAL.
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture
def engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a fresh database with every table created (stamped as migrated)."""
    url = make_url(db_url)
    target = Path(url.database or "")
    schemas: _PgSchemas | None = request.getfixturevalue("_pg_schemas")
    if url.get_backend_name() == "sqlite" and url.database and not target.exists():
        _copy_sqlite(request.getfixturevalue("_sqlite_template"), target)
        eng = make_engine(db_url)
    elif schemas is not None and db_url in schemas.prepared_urls:
        eng = make_engine(db_url)
    else:
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
