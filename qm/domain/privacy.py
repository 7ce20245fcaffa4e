"""Retention and erasure: removing calls' recordings and transcripts, keeping their scores.

Two reasons remove a call's personal content:

- **retention**: the call started more than `QM_RETENTION_DAYS` days ago;
- **erasure**: the customer asked for their data to be erased (GDPR art. 17, PIPL art. 47);
  their name is replaced as well.

What goes: the recording file (and an original kept beside its redacted copy), every
stored transcript (imported, transcribed, corrected) with its segments, and the evidence
excerpts that key-point results quoted from the transcript. What stays: the call record,
its metrics (compliance, handle time, courtesy counts), the key-point hit/miss rows
without their text, evaluations and the audit log. The call is marked `purged_at` /
`purge_reason`, and its page says so.

The functions take a Session and leave the commit to the caller; recording files are
deleted only after the commit succeeded (`PurgeResult.delete_files`), so a failed commit
never leaves a call pointing at a deleted file. Running them again changes nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from glob import escape
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain import audit
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import (
    Call,
    Customer,
    Evaluation,
    KeyPointExemplar,
    KeyPointOverride,
    KeyPointResult,
    Segment,
    Transcript,
    utcnow,
)
from qm.models.transcript_search import compact_search_index

# What an erased customer is called from then on.
ERASED_NAME = "(erased)"
# File types a kept original recording may have (beside its `.redacted.wav` copy).
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".mp4", ".aac"})
_CHUNK = 500  # ids per IN (...) list


class PurgeReason(StrEnum):
    """Why a call's recording and transcript were removed."""

    RETENTION = "retention"
    ERASURE = "erasure"


@dataclass(frozen=True, slots=True)
class PurgeTarget:
    """A call that still holds content to remove."""

    call_id: str
    started_at: datetime
    audio_path: str | None
    transcripts: int


@dataclass
class PurgeResult:
    """What one retention run or erasure removed (or, for a dry run, would remove)."""

    targets: list[PurgeTarget] = field(default_factory=list)
    transcripts: int = 0
    segments: int = 0
    evidence: int = 0
    files: list[Path] = field(default_factory=list)

    @property
    def calls(self) -> int:
        """How many calls were purged."""
        return len(self.targets)

    def delete_files(self) -> list[str]:
        """Delete the recordings, once the caller committed; returns a line per file that
        could not be deleted (a file already gone counts as deleted)."""
        problems = []
        for path in self.files:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
        return problems


def _holds_content() -> Any:
    """Calls with anything left to remove (so that a second run finds nothing)."""
    transcript = sa.select(col(Transcript.id)).where(col(Transcript.call_id) == col(Call.id))
    evidence = sa.select(col(KeyPointResult.id)).where(
        col(KeyPointResult.call_id) == col(Call.id), col(KeyPointResult.evidence) != ""
    )
    return sa.or_(
        col(Call.purged_at).is_(None),
        col(Call.audio_path).is_not(None),
        transcript.exists(),
        evidence.exists(),
    )


def _targets(session: Session, condition: Any) -> list[PurgeTarget]:
    transcripts = (
        sa.select(sa.func.count())
        .select_from(Transcript)
        .where(col(Transcript.call_id) == col(Call.id))
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(col(Call.id), col(Call.started_at), col(Call.audio_path), transcripts)
        .where(condition, _holds_content())
        .order_by(col(Call.started_at), col(Call.id))
    ).all()
    return [PurgeTarget(r[0], r[1], r[2], r[3]) for r in rows]


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    """Calls that started before this instant are past retention."""
    return (now or utcnow()) - timedelta(days=days)


def retention_targets(
    session: Session, *, days: int, now: datetime | None = None
) -> list[PurgeTarget]:
    """The calls a retention run would purge now (what `--dry-run` lists)."""
    return _targets(session, col(Call.started_at) < retention_cutoff(days, now))


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _kept_originals(copy: Path) -> list[Path]:
    """Originals kept beside a redacted copy (QM_KEEP_ORIGINAL_AUDIO): `name.*` audio."""
    from qm.domain.redaction import REDACTED_SUFFIX

    if not copy.name.endswith(REDACTED_SUFFIX):
        return []
    stem = copy.name.removesuffix(REDACTED_SUFFIX)
    return [
        p
        for p in copy.parent.glob(escape(stem) + ".*")
        if p != copy and p.suffix.lower() in AUDIO_SUFFIXES and p.stem == stem
    ]


def _files_to_delete(session: Session, targets: list[PurgeTarget]) -> list[Path]:
    paths = sorted({t.audio_path for t in targets if t.audio_path})
    purged = {t.call_id for t in targets}
    # A recording another, unpurged call still points at stays.
    shared: set[str] = set()
    for chunk in _chunks(paths):
        rows = session.execute(
            sa.select(col(Call.id), col(Call.audio_path)).where(col(Call.audio_path).in_(chunk))
        ).all()
        shared.update(path for call_id, path in rows if call_id not in purged)
    files: list[Path] = []
    for path in paths:
        if path not in shared:
            files.append(Path(path))
            files.extend(_kept_originals(Path(path)))
    return files


def purge_calls(
    session: Session, targets: list[PurgeTarget], *, reason: PurgeReason
) -> PurgeResult:
    """Remove the targets' transcripts and evidence text and mark them purged.

    The recordings are listed in the result's `files` for deletion after the commit.
    """
    result = PurgeResult(targets=list(targets))
    if not targets:
        return result
    result.files = _files_to_delete(session, targets)
    ids = [t.call_id for t in targets]
    now = utcnow()
    segments = Segment.__table__  # type: ignore[attr-defined]
    transcripts = Transcript.__table__  # type: ignore[attr-defined]
    results = KeyPointResult.__table__  # type: ignore[attr-defined]
    calls = Call.__table__  # type: ignore[attr-defined]
    overrides = KeyPointOverride.__table__  # type: ignore[attr-defined]
    exemplars = KeyPointExemplar.__table__  # type: ignore[attr-defined]
    for chunk in _chunks(ids):
        transcript_ids = sa.select(transcripts.c.id).where(transcripts.c.call_id.in_(chunk))
        deleted = session.execute(
            sa.delete(segments).where(segments.c.transcript_id.in_(transcript_ids))
        )
        result.segments += int(deleted.rowcount or 0)  # type: ignore[attr-defined]
        deleted = session.execute(sa.delete(transcripts).where(transcripts.c.call_id.in_(chunk)))
        result.transcripts += int(deleted.rowcount or 0)  # type: ignore[attr-defined]
        cleared = session.execute(
            sa.update(results)
            .where(results.c.call_id.in_(chunk), results.c.evidence != "")
            .values(evidence="")
        )
        result.evidence += int(cleared.rowcount or 0)  # type: ignore[attr-defined]
        # Reviewers' decisions and evaluations copied transcript text as their evidence.
        cleared = session.execute(
            sa.update(overrides)
            .where(overrides.c.call_id.in_(chunk), overrides.c.evidence != "")
            .values(evidence="")
        )
        result.evidence += int(cleared.rowcount or 0)  # type: ignore[attr-defined]
        # What those decisions taught the checker is transcript text too (a phrase an
        # admin already accepted into a script is the script's now, and stays there).
        deleted = session.execute(sa.delete(exemplars).where(exemplars.c.call_id.in_(chunk)))
        result.evidence += int(deleted.rowcount or 0)  # type: ignore[attr-defined]
        for evaluation in session.exec(
            select(Evaluation).where(col(Evaluation.call_id).in_(chunk))
        ):
            answers, removed = _without_evidence_text(evaluation.answers)
            if removed:
                evaluation.answers = answers
                session.add(evaluation)
                result.evidence += removed
        session.execute(sa.update(calls).where(calls.c.id.in_(chunk)).values(audio_path=None))
        # The first removal's date and reason stay; a later one finds only leftovers.
        session.execute(
            sa.update(calls)
            .where(calls.c.id.in_(chunk), calls.c.purged_at.is_(None))
            .values(purged_at=now, purge_reason=reason.value)
        )
    session.flush()
    # The search index forgets deleted lines only by a marker until it is rewritten.
    compact_search_index(session.connection())
    return result


def _without_evidence_text(answers: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """An evaluation's answers with the transcript text of their evidence removed (the
    span's times stay), and how many texts were removed."""
    cleaned: dict[str, Any] = {}
    removed = 0
    for item_id, entry in answers.items():
        evidence = entry.get("evidence") if isinstance(entry, dict) else None
        if isinstance(evidence, dict) and evidence.get("text"):
            entry = {**entry, "evidence": {**evidence, "text": ""}}
            removed += 1
        cleaned[item_id] = entry
    return cleaned, removed


def apply_retention(
    session: Session, *, days: int, actor: str, now: datetime | None = None
) -> PurgeResult:
    """Purge every call that started more than `days` days ago; audited. The caller
    commits, then calls `delete_files` on the result."""
    cutoff = retention_cutoff(days, now)
    result = purge_calls(
        session, retention_targets(session, days=days, now=now), reason=PurgeReason.RETENTION
    )
    audit.record(
        session,
        actor=actor,
        action="retention.run",
        entity="call",
        detail={
            "days": days,
            "started_before": cutoff.isoformat(),
            "calls": result.calls,
            "transcripts": result.transcripts,
            "recordings": len(result.files),
        },
    )
    return result


def erasure_targets(session: Session, customer_id: str) -> list[PurgeTarget]:
    """The customer's calls that still hold content.

    Raises:
        NotFound: no customer with this id.
    """
    if session.get(Customer, customer_id) is None:
        raise NotFound(_("no customer with id %(customer_id)s", customer_id=repr(customer_id)))
    return _targets(session, col(Call.customer_id) == customer_id)


def erase_customer(session: Session, customer_id: str, *, actor: str) -> PurgeResult:
    """Remove a customer's recordings, transcripts and evidence text, and replace their
    name; audited with the number of calls, never the erased content. The caller commits,
    then calls `delete_files` on the result.

    Raises:
        NotFound: no customer with this id.
    """
    result = purge_calls(session, erasure_targets(session, customer_id), reason=PurgeReason.ERASURE)
    customer = session.exec(select(Customer).where(col(Customer.id) == customer_id)).one()
    name_replaced = customer.name != ERASED_NAME
    customer.name = ERASED_NAME
    session.add(customer)
    audit.record(
        session,
        actor=actor,
        action="customer.erase",
        entity="customer",
        entity_id=customer_id,
        detail={
            "calls": result.calls,
            "transcripts": result.transcripts,
            "recordings": len(result.files),
            "name_replaced": name_replaced,
        },
    )
    return result
