"""Importing mystery-shopper results (DESIGN.md's CSV), all or nothing per file.

Columns: `shop_id, agent_id, date, scenario`, optional `score` (0-100) and `comment`, and
one column per item with `yes`, `no` or `na`. Item columns must be ids of key points of
a stored script, so that test calls and real calls can be compared item by item; an
unknown column is most likely a typo and is rejected.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from qm.domain.audit import record
from qm.domain.bounds import MAX_AGENT_ID, MAX_CALL_ID
from qm.domain.imports.csvrows import RowReader, csv_rows
from qm.domain.upserts import existing_ids, upsert
from qm.errors import ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, MysteryShop, Script, utcnow

REQUIRED = ("shop_id", "agent_id", "date", "scenario")
OPTIONAL = ("score", "comment")
ANSWERS = ("yes", "no", "na")
MAX_COMMENT = 5000  # characters of a shopper's comment (a few paragraphs)


@dataclass
class MysteryReport:
    """What a mystery-shopper import did."""

    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    items: list[str] = field(default_factory=list)
    new_agents: list[str] = field(default_factory=list)


def known_item_ids(conn: Connection) -> set[str]:
    """Key-point ids of every stored script version (the ids a shop may score)."""
    with Session(bind=conn) as session:
        bodies = session.exec(select(Script.body)).all()
    return {kp["id"] for body in bodies for kp in body.get("key_points", []) if "id" in kp}


def _row_values(path: Path, row: int, cells: dict[str, str], items: list[str]) -> dict[str, Any]:
    r = RowReader(path, row, cells)
    return {
        "id": r.text("shop_id", required=True, max_length=MAX_CALL_ID),
        "agent_id": r.text("agent_id", required=True, max_length=MAX_AGENT_ID),
        "date": r.day("date"),
        "scenario": r.text("scenario", max_length=300) or "",
        "items": {item: r.choice(item, ANSWERS) for item in items},
        "score": r.number("score", low=0, high=100) if "score" in cells else None,
        "comment": r.text("comment", max_length=MAX_COMMENT, multiline=True) or "",
        "source": f"mystery:{path.name}",
        "imported_at": utcnow(),
    }


def ingest_mystery(engine: Engine, path: Path, *, actor: str = "cli") -> MysteryReport:
    """Import a mystery-shopper CSV in one transaction; re-imported shop ids are updated.

    Raises:
        ValidationFailed: naming the file, row and field; nothing of the file is stored.
    """
    report = MysteryReport(file=str(path))
    shops: list[dict[str, Any]] = []
    with engine.begin() as conn:
        known = known_item_ids(conn)

        def check_item(column: str) -> str | None:
            if column in known:
                return None
            if not known:
                return (
                    "unknown item: no script is stored yet (load the script with `qm script load`)"
                )
            return f"unknown item id (key points of stored scripts: {', '.join(sorted(known))})"

        seen: set[str] = set()
        for header, row, cells in csv_rows(
            path, required=REQUIRED, optional=OPTIONAL, extra=check_item
        ):
            items = [c for c in header if c not in REQUIRED and c not in OPTIONAL]
            if not items:
                raise ValidationFailed(
                    str(path), 1, None, _("no item columns (key-point ids) to score")
                )
            values = _row_values(path, row, cells, items)
            if values["id"] in seen:
                raise ValidationFailed(
                    str(path),
                    row,
                    "shop_id",
                    _("%(values)s appears twice", values=repr(values["id"])),
                )
            seen.add(values["id"])
            shops.append(values)
            report.items = items
        agents = {s["agent_id"] for s in shops}
        known_agents = existing_ids(conn, Agent.__table__.c.id, agents)  # type: ignore[attr-defined]
        report.new_agents = sorted(agents - known_agents)
        now = utcnow()
        upsert(
            conn,
            Agent.__table__,  # type: ignore[attr-defined]
            [{"id": a, "name": a, "team_id": None, "created_at": now} for a in report.new_agents],
            key=["id"],
        )
        table: sa.Table = MysteryShop.__table__  # type: ignore[attr-defined]
        before = existing_ids(conn, table.c.id, (s["id"] for s in shops))
        columns = [c for c in shops[0] if c != "id"] if shops else []
        upsert(conn, table, shops, key=["id"], update=columns)
        report.rows = len(shops)
        report.updated = len(before)
        report.created = len(shops) - len(before)
        record(
            conn,
            actor=actor,
            action="ingest.mystery",
            entity="import",
            entity_id=str(path),
            detail={"rows": report.rows, "created": report.created, "updated": report.updated},
        )
    return report
