"""The audit log's hash chain: each entry covers the one before it; `qm audit verify`
names the first edited or missing entry; concurrent writers never fork the chain."""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.cli import cli
from qm.db import session_scope
from qm.domain.audit import entry_hash, record, verify_chain
from qm.models import AuditEvent
from qm.settings import Settings
from tests.conftest import REPO, TEST_SECRET


def write(engine: Engine, count: int, *, start: int = 0) -> None:
    for n in range(start, start + count):
        with session_scope(engine, immediate=True) as session:
            record(
                session,
                actor="rita",
                action="test.event",
                entity="call",
                entity_id=f"c{n}",
                detail={"n": n, "note": "宽带 ok", "items": (1, 2.5)},
            )


def events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


def verify(settings: Settings) -> Result:
    env = {"QM_DATABASE_URL": settings.database_url, "QM_SECRET_KEY": TEST_SECRET}
    return CliRunner().invoke(cli, ["audit", "verify"], env=env)


def test_entries_link_to_their_predecessor(engine: Engine, settings: Settings) -> None:
    write(engine, 3)
    first, second, third = events(engine)
    assert first.prev_hash == "" and len(first.hash) == 64
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert third.hash == entry_hash(
        prev_hash=second.hash,
        at=third.at,
        actor="rita",
        action="test.event",
        entity="call",
        entity_id="c2",
        detail={"n": 2, "note": "宽带 ok", "items": [1, 2.5]},
    )
    result = verify(settings)
    assert result.exit_code == 0
    assert result.output == "OK: 3 entries of the chain verified.\n"


def test_an_edited_entry_is_named(engine: Engine, settings: Settings) -> None:
    write(engine, 5)
    victim = events(engine)[2]
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_event SET detail = :d WHERE id = :id"),
            {"d": '{"n": 99, "note": "宽带 ok", "items": [1, 2.5]}', "id": victim.id},
        )
    result = verify(settings)
    assert result.exit_code == 1
    assert f"BROKEN at entry {victim.id}: its content does not match its hash" in result.output
    assert "(2 entries before it verified.)" in result.output


def test_an_entry_changed_with_its_hash_recomputed_breaks_the_next_link(
    engine: Engine, settings: Settings
) -> None:
    write(engine, 4)
    victim, after = events(engine)[1:3]
    forged = entry_hash(
        prev_hash=victim.prev_hash,
        at=victim.at,
        actor="mallory",
        action=victim.action,
        entity=victim.entity,
        entity_id=victim.entity_id,
        detail=victim.detail,
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_event SET actor = 'mallory', hash = :h WHERE id = :id"),
            {"h": forged, "id": victim.id},
        )
    result = verify(settings)
    assert result.exit_code == 1
    assert f"BROKEN at entry {after.id}: it does not link to entry {victim.id}" in result.output


@pytest.mark.parametrize("position", [0, 2])
def test_a_deleted_entry_shows_as_a_gap(engine: Engine, settings: Settings, position: int) -> None:
    write(engine, 4)
    rows = events(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": rows[position].id})
    result = verify(settings)
    assert result.exit_code == 1
    follower = rows[position + 1].id
    if position == 0:
        assert f"BROKEN at entry {follower}: it links to an entry that is no longer there" in (
            result.output
        )
    else:
        before = rows[position - 1].id
        assert f"BROKEN at entry {follower}: it does not link to entry {before}" in result.output
        assert "an entry between them was deleted" in result.output


def test_entries_from_before_the_chain_are_reported_unchained(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:  # as migration 0005 left older entries: no hashes
        for n in range(2):
            conn.execute(
                sa.insert(AuditEvent.__table__).values(  # type: ignore[attr-defined]
                    at=sa.func.now(), actor="cli", action="old.event", entity="", entity_id=str(n)
                )
            )
    assert verify(settings).output.startswith(
        "Unchained: 2 entries from an earlier version (no chained entries yet)"
    )
    write(engine, 2)
    first_chained = events(engine)[2]
    assert first_chained.prev_hash == ""
    result = verify(settings)
    assert result.exit_code == 0
    assert result.output == (
        f"Unchained: 2 entries from an earlier version (before entry {first_chained.id}).\n"
        "OK: 2 entries of the chain verified.\n"
    )
    with engine.begin() as conn:  # an entry stripped of its hash after the chain began
        conn.execute(
            sa.text("UPDATE audit_event SET hash = '' WHERE id = :id"), {"id": events(engine)[3].id}
        )
    stripped = verify(settings)
    assert stripped.exit_code == 1 and "it has no hash" in stripped.output


WRITER = """
import sys
from qm.db import make_engine, session_scope
from qm.domain.audit import record

engine = make_engine(sys.argv[1])
for n in range(int(sys.argv[3])):
    with session_scope(engine, immediate=True) as session:
        record(session, actor=sys.argv[2], action="race", entity_id=str(n))
engine.dispose()
"""


def test_concurrent_writers_never_fork_the_chain(engine: Engine, db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, f"writer-{n}", "60"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    rows = events(engine)
    assert len(rows) == 180
    assert len({r.prev_hash for r in rows}) == 180  # no two entries share a predecessor
    with Session(engine) as session:
        report = verify_chain(session, batch=7)  # small batches: the walk crosses pages
    assert report.ok and report.checked == 180
