"""Importing calls: a manifest file becomes calls, agents, customers and transcripts.

One file is one transaction: when any row is bad nothing of that file is stored, and
whatever the database held before is untouched. Re-importing a call id updates the call
and sends it through the pipeline again; it never creates a duplicate.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from qm.domain.audit import record
from qm.domain.imports.manifest import ManifestRow, read_manifest
from qm.domain.repeat_contacts import refresh_customers
from qm.domain.stored_transcripts import replace_transcript
from qm.domain.upserts import existing_ids, upsert
from qm.models import Agent, Call, CallStage, Customer, Queue, utcnow

BATCH_ROWS = 2000
CALL_FIELDS = (
    "agent_id",
    "customer_id",
    "queue",
    "reason",
    "started_at",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "transfers",
    "resolved",
    "audio_path",
    "agent_channel",
    "source",
    "imported_at",
)

# Call fields only some importers know (a telephony export's queue wait): updated when
# the records of the import carry them, left as they are otherwise.
OPTIONAL_CALL_FIELDS = ("queue_seconds",)

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What an import did."""

    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    transcripts: int = 0
    new_agents: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CallRecord:
    """A call as the importers hand it to `store_calls`, with its transcript if any."""

    values: dict[str, Any]
    customer_name: str | None = None
    agent_name: str | None = None
    transcript: Any = None
    transcript_source: str = ""


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _customers_of(conn: Connection, call_ids: set[str]) -> set[str]:
    calls = _table(Call)
    found: set[str] = set()
    ordered = sorted(call_ids)
    for i in range(0, len(ordered), 900):
        chunk = ordered[i : i + 900]
        found.update(
            c
            for c in conn.execute(
                sa.select(calls.c.customer_id).where(calls.c.id.in_(chunk))
            ).scalars()
            if c
        )
    return found


def store_calls(
    conn: Connection,
    records: Sequence[CallRecord],
    report: ImportReport,
    *,
    touched: set[str] | None = None,
) -> None:
    """Upsert a batch of calls with their agents, customers, queues and transcripts.

    The repeat-contact flags of the batch's customers are refreshed here, or, when the
    caller gathers them in `touched` (an import of many batches), once by the caller at
    the end: a customer's calls spread over batches are then read once.
    """
    if not records:
        return
    agents: dict[str, str] = {}
    customers: dict[str, str] = {}
    queues: set[str] = set()
    for rec in records:
        v = rec.values
        agents.setdefault(v["agent_id"], rec.agent_name or v["agent_id"])
        if v.get("customer_id"):
            customers.setdefault(v["customer_id"], rec.customer_name or v["customer_id"])
        if v.get("queue"):
            queues.add(v["queue"])
    now = utcnow()
    known_agents = existing_ids(conn, _table(Agent).c.id, agents)
    report.new_agents.extend(sorted(set(agents) - known_agents))
    upsert(
        conn,
        _table(Agent),
        [{"id": a, "name": n, "team_id": None, "created_at": now} for a, n in agents.items()],
        key=["id"],
    )
    upsert(conn, _table(Customer), [{"id": c, "name": n} for c, n in customers.items()], key=["id"])
    upsert(
        conn,
        _table(Queue),
        [{"id": q, "script_key": None, "fcr_window_days": 7} for q in sorted(queues)],
        key=["id"],
    )
    ids = [rec.values["id"] for rec in records]
    before = existing_ids(conn, _table(Call).c.id, ids)
    # An updated call may have moved to another customer, whose flags change too.
    moved_from = _customers_of(conn, before)
    update = CALL_FIELDS + tuple(f for f in OPTIONAL_CALL_FIELDS if f in records[0].values)
    upsert(conn, _table(Call), [rec.values for rec in records], key=["id"], update=update)
    if touched is None:
        refresh_customers(conn, moved_from | set(customers), calls=ids)
    else:
        touched.update(moved_from, customers)
        refresh_customers(conn, (), calls=ids)  # a call without a customer has no flag
    if before:
        # Updated calls go through the pipeline again.
        stages = _table(CallStage)
        for i in range(0, len(ids), 900):
            chunk = [c for c in ids[i : i + 900] if c in before]
            conn.execute(sa.delete(stages).where(stages.c.call_id.in_(chunk)))
    for rec in records:
        if rec.transcript is not None:
            replace_transcript(conn, rec.values["id"], rec.transcript, source=rec.transcript_source)
            report.transcripts += 1
    report.rows += len(records)
    report.updated += len(before)
    report.created += len(records) - len(before)


def _manifest_record(row: ManifestRow, source: str, agent_channel: str | None) -> CallRecord:
    values = {
        "id": row.call_id,
        "agent_id": row.agent_id,
        "customer_id": row.customer_id,
        "queue": row.queue,
        "reason": row.reason,
        "started_at": row.started_at,
        "talk_seconds": row.talk_seconds,
        "hold_seconds": row.hold_seconds,
        "wrap_seconds": row.wrap_seconds,
        "transfers": row.transfers,
        "resolved": row.resolved,
        "audio_path": str(row.audio) if row.audio else None,
        "agent_channel": agent_channel,
        "source": source,
        "imported_at": utcnow(),
    }
    transcript_source = f"import:{row.transcript_path.name}" if row.transcript_path else ""
    return CallRecord(values, transcript=row.transcript, transcript_source=transcript_source)


def _batched(items: Iterable[CallRecord], size: int) -> Iterable[list[CallRecord]]:
    batch: list[CallRecord] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_records(
    engine: Engine,
    records: Iterable[CallRecord],
    *,
    file: str,
    actor: str,
    action: str,
    progress: Progress | None = None,
    finish: Callable[[Connection, set[str]], None] | None = None,
) -> ImportReport:
    """Store every record in ONE transaction, then audit it; any error stores nothing.

    `finish` stores what else the file holds, in the same transaction after the calls,
    adding the customers whose repeat-contact flags it changes to the set it is given.
    """
    report = ImportReport(file=file)
    with engine.begin() as conn:
        touched: set[str] = set()
        for batch in _batched(records, BATCH_ROWS):
            store_calls(conn, batch, report, touched=touched)
            if progress is not None:
                progress(len(batch))
        if finish is not None:
            finish(conn, touched)
        refresh_customers(conn, touched)
        record(
            conn,
            actor=actor,
            action=action,
            entity="import",
            entity_id=file,
            detail={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "transcripts": report.transcripts,
                "new_agents": len(report.new_agents),
            },
        )
    return report


def ingest_manifest(
    engine: Engine,
    path: Path,
    *,
    actor: str = "cli",
    agent_channel: str | None = None,
    progress: Progress | None = None,
    import_root: Path | None = None,
) -> ImportReport:
    """Import a call manifest with the audio and transcript files it names.

    Args:
        engine: the database.
        path: the manifest CSV; `audio` and `transcript` paths are relative to it.
        actor: who is importing, for the audit log.
        agent_channel: "left" or "right" when this export's stereo files put the agent
            on a channel other than the site default.
        progress: called with the number of rows stored after each batch.
        import_root: the folder audio and transcript files must lie in (QM_IMPORT_ROOT);
            None means the manifest's own folder.

    Raises:
        ValidationFailed: naming the file, row and field; nothing of the file is stored.
    """
    # A label of where the call came from, cut to the column's width (file names reach 255).
    source = f"manifest:{path.name}"[:200]
    rows = read_manifest(path, root=import_root)
    records = (_manifest_record(row, source, agent_channel) for row in rows)
    return import_records(
        engine, records, file=str(path), actor=actor, action="ingest.manifest", progress=progress
    )


def count_data_rows(path: Path) -> int:
    """A quick line count for progress bars (quoted multi-line cells make it an estimate)."""
    lines = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)
