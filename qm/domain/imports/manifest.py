"""Reading and validating call manifests (DESIGN.md's CSV), one row at a time.

Reading is streamed: a 100,000-row manifest is never held in memory. Every problem is
reported as `ValidationFailed(file, row, field, message)`; rows are numbered as a
spreadsheet shows them (the header is row 1).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from qm.domain.bounds import MAX_AGENT_ID, MAX_CALL_ID, MAX_QUEUE_ID, MAX_TRANSFERS, normalize
from qm.domain.imports.csvrows import RowReader, csv_rows
from qm.errors import ValidationFailed
from qm.i18n import gettext as _
from transcripts import Transcript as TranscriptDoc
from transcripts import TranscriptFormatError, load_transcript

COLUMNS = (
    "call_id",
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
    "audio",
    "transcript",
)
MAX_ID_LENGTH = MAX_CALL_ID


@dataclass(slots=True)
class ManifestRow:
    """One validated manifest row; paths are resolved against the manifest's folder."""

    row: int
    call_id: str
    agent_id: str
    customer_id: str | None
    queue: str | None
    reason: str | None
    started_at: datetime
    talk_seconds: float | None
    hold_seconds: float | None
    wrap_seconds: float | None
    transfers: int | None
    resolved: bool | None
    audio: Path | None
    transcript: TranscriptDoc | None
    transcript_path: Path | None


def read_manifest(path: Path, *, root: Path | None = None) -> Iterator[ManifestRow]:
    """Yield validated rows of the manifest at `path`.

    Args:
        path: the manifest CSV.
        root: the folder every audio and transcript file must lie in (the site's
            QM_IMPORT_ROOT); None means the manifest's own folder.

    Raises:
        ValidationFailed: on the first bad header, row or field; nothing after it is read.
    """
    seen: set[str] = set()
    for _header, row_number, cells in csv_rows(path, required=COLUMNS):
        row = _validate_row(path, row_number, cells, root)
        if row.call_id in seen:
            raise ValidationFailed(
                str(path),
                row_number,
                "call_id",
                _("%(call_id)s appears twice in this file", call_id=repr(row.call_id)),
            )
        seen.add(row.call_id)
        yield row


def _validate_row(
    path: Path, row_number: int, cells: dict[str, str], root: Path | None
) -> ManifestRow:
    r = RowReader(path, row_number, cells)
    call_id = r.text("call_id", required=True, max_length=MAX_ID_LENGTH)
    agent_id = r.text("agent_id", required=True, max_length=MAX_AGENT_ID)
    assert call_id is not None and agent_id is not None
    transcript_path = r.path("transcript", root=root)
    transcript: TranscriptDoc | None = None
    if transcript_path is not None:
        try:
            transcript = load_transcript(transcript_path)
        except TranscriptFormatError as exc:
            raise r.fail("transcript", f"{exc.source}: {exc.field}: {exc.message}") from None
        if transcript.call_id and normalize(transcript.call_id) != call_id:
            raise r.fail(
                "transcript",
                f"{transcript_path.name} is for call {transcript.call_id!r}, not {call_id!r}",
            )
    return ManifestRow(
        row=row_number,
        call_id=call_id,
        agent_id=agent_id,
        customer_id=r.text("customer_id", max_length=MAX_ID_LENGTH),
        queue=r.text("queue", max_length=MAX_QUEUE_ID),
        reason=r.text("reason"),
        started_at=r.instant("started_at"),
        talk_seconds=r.seconds("talk_seconds"),
        hold_seconds=r.seconds("hold_seconds"),
        wrap_seconds=r.seconds("wrap_seconds"),
        transfers=r.count("transfers", high=MAX_TRANSFERS),
        resolved=r.flag("resolved"),
        audio=r.path("audio", root=root),
        transcript=transcript,
        transcript_path=transcript_path,
    )
