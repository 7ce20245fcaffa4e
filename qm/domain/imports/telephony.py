"""Contacts read from telephony exports (Asterisk, FreeSWITCH, any CDR CSV with a mapping).

Every format is parsed into `TelephonyContact` records first; this module then stores the
`agent` contacts through the manifest import's path (`import_records`: agents, customers,
queues, repeat-contact flags, pipeline stages) with their time in the queue
(`call.queue_seconds`), and the abandoned and IVR-only contacts as `UnansweredContact`
rows, which are not scored but count as their customers' contacts for FCR; all of them in
one transaction.
"""

import re
import statistics
import wave
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from hashlib import sha256
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from qm.domain.bounds import (
    EARLIEST_DAY,
    EARLIEST_INSTANT,
    MAX_AGENT_ID,
    MAX_CALL_ID,
    MAX_QUEUE_ID,
    latest_instant,
    normalize,
    text_problem,
)
from qm.domain.imports.csvrows import MAX_PATH_LENGTH
from qm.domain.imports.ingest import CallRecord, ImportReport, Progress, import_records
from qm.domain.upserts import upsert
from qm.errors import ValidationFailed
from qm.i18n import gettext as _
from qm.models import Customer, Queue, UnansweredContact, utcnow

AUDIO_SUFFIXES = frozenset({".wav", ".gsm", ".mp3", ".ogg", ".flac", ".opus", ".m4a", ".wav49"})
# A channel name as Asterisk writes it: TECH/resource, then "-<sequence>" (SIP/1001-0000000a)
# or ";1"/";2" for Local channels, or "@context/n" for Local/1001@from-queue/n.
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/(?P<id>[^@/;]+?)(?:-[0-9a-fA-F]{6,})?(?:[@;/].*)?$")
# A recording name: anything, then the telephony id, then -in/-out for a pair.
_PAIR_SUFFIX = re.compile(r"^(?P<base>.+)-(?P<side>in|out)$", re.IGNORECASE)


# The longest talk, hold, wrap or queue wait a contact may have: a day.
MAX_SECONDS = 86_400.0
# The report's label for answered contacts whose export names no agent.
NO_AGENT_NAMED = "answered, agent unknown"


class ContactKind(StrEnum):
    """What became of a customer contact."""

    AGENT = "agent"  # an agent answered
    ABANDONED = "abandoned"  # waited in a queue and hung up (or timed out) unanswered
    IVR = "ivr"  # never reached a queue or an agent


@dataclass(slots=True)
class TelephonyContact:
    """One customer contact from a telephony export, before it is stored.

    Times are timezone-aware UTC; seconds are None where the export does not say.
    `recordings` is one file (mono or stereo), or the (agent, customer) pair of a
    Monitor/MixMonitor `-out`/`-in` recording, which is stored as one stereo file.
    """

    file: Path
    row: int | None
    call_id: str
    kind: ContactKind
    started_at: datetime
    agent_id: str | None = None
    agent_name: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    queue: str | None = None
    reason: str | None = None
    queue_wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    wrap_seconds: float | None = None
    transfers: int | None = None
    resolved: bool | None = None
    recordings: tuple[Path, ...] = ()
    legs: tuple[str, ...] = ()  # telephony ids of the legs folded into this contact


@dataclass
class TelephonyReport:
    """What a telephony import read and what it stored."""

    stored: ImportReport
    kinds: dict[str, int] = field(default_factory=dict)
    not_stored: dict[str, int] = field(default_factory=dict)  # kind -> contacts read, not stored
    unanswered: dict[str, int] = field(default_factory=dict)  # kind -> agent-less contacts stored
    legs_folded: int = 0  # agent, consult and transfer legs that are not contacts of their own
    missing_recordings: list[str] = field(default_factory=list)
    merged_recordings: int = 0
    unjoined_recordings: list[str] = field(default_factory=list)  # "call id (why)"
    queue_waits: list[float] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """The import summary, one line a fact, for the command line and the audit log."""
        s = self.stored
        lines = [
            _(
                "Stored %(rows)s agent contact(s) from %(file)s: %(created)s new, "
                "%(updated)s updated, %(agents)s new agent(s).",
                rows=s.rows,
                file=s.file,
                created=s.created,
                updated=s.updated,
                agents=len(s.new_agents),
            ),
            _(
                "Read %(total)s contact(s): %(kinds)s; %(legs)s agent/consult/transfer leg(s) "
                "folded into their contacts.",
                total=sum(self.kinds.values()),
                kinds=", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())) or "none",
                legs=self.legs_folded,
            ),
        ]
        if self.unanswered:
            lines.append(
                _(
                    "Stored %(counts)s contact(s) that reached no agent: not scored, they "
                    "count as their customers' contacts for first-contact resolution.",
                    counts=", ".join(f"{k} {n}" for k, n in sorted(self.unanswered.items())),
                )
            )
        if self.not_stored:
            lines.append(
                _(
                    "Read but not stored: %(counts)s (the export does not say which agent "
                    "answered).",
                    counts=", ".join(f"{k} {n}" for k, n in sorted(self.not_stored.items())),
                )
            )
        if self.queue_waits:
            lines.append(
                _(
                    "Queue wait before an agent answered: %(n)s contact(s), median %(median)s s, "
                    "longest %(longest)s s.",
                    n=len(self.queue_waits),
                    median=format(statistics.median(self.queue_waits), "g"),
                    longest=format(max(self.queue_waits), "g"),
                )
            )
        if self.merged_recordings:
            lines.append(
                _(
                    "%(n)s -in/-out recording pair(s) joined into stereo files.",
                    n=self.merged_recordings,
                )
            )
        if self.unjoined_recordings:
            lines.append(
                _(
                    "%(n)s -in/-out pair(s) could not be joined; those calls were stored "
                    "without audio: %(shown)s.",
                    n=len(self.unjoined_recordings),
                    shown="; ".join(self.unjoined_recordings[:5]),
                )
            )
        if self.missing_recordings:
            shown = ", ".join(self.missing_recordings[:5])
            more = len(self.missing_recordings) - 5
            more_text = " (+" + str(more) + ")" if more > 0 else ""
            lines.append(
                _(
                    "%(n)s stored contact(s) without a recording: %(shown)s%(more)s.",
                    n=len(self.missing_recordings),
                    shown=shown,
                    more=more_text,
                )
            )
        return lines


def time_zone(name: str, *, file: Path | str = "", field: str = "timezone") -> ZoneInfo:
    """The IANA zone `name` (e.g. Asia/Shanghai), or a ValidationFailed naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            str(file), None, field, _("%(name)s is not a known time zone", name=repr(name))
        ) from None


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in `zone` as UTC; zoneinfo gives each date its own offset.

    A wall-clock time that occurs twice (the hour after clocks go back) is taken at its
    first occurrence (fold 0); exports that write epoch seconds are read from those instead.
    """
    return local.replace(tzinfo=zone).astimezone(UTC)


def check_instant(instant: datetime, file: Path, row: int | None, field: str) -> datetime:
    """`instant` when it lies between 1970 and tomorrow, else a ValidationFailed."""
    if not EARLIEST_INSTANT <= instant <= latest_instant():
        raise ValidationFailed(
            str(file),
            row,
            field,
            _(
                "%(value)s must lie between %(earliest)s and tomorrow",
                value=instant.isoformat(),
                earliest=EARLIEST_DAY.isoformat(),
            ),
        )
    return instant


def parse_local(
    text: str,
    zone: ZoneInfo,
    file: Path,
    row: int | None,
    field: str,
    fmt: str = "%Y-%m-%d %H:%M:%S",
) -> datetime:
    """A CDR's local wall-clock time (format `fmt`) in `zone`, as UTC."""
    try:
        local = datetime.strptime(text.strip(), fmt)
    except ValueError:
        raise ValidationFailed(
            str(file),
            row,
            field,
            _("%(value)s is not a time of the form %(format)s", value=repr(text), format=fmt),
        ) from None
    if local.tzinfo is not None:  # the format had %z: the export wrote its own offset
        return check_instant(local.astimezone(UTC), file, row, field)
    return check_instant(local_to_utc(local, zone), file, row, field)


def from_epoch(value: float, file: Path, row: int | None, field: str) -> datetime:
    """Unix seconds as UTC, checked against the import bounds."""
    try:
        instant = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValidationFailed(
            str(file), row, field, _("%(value)s is not a time", value=repr(value))
        ) from None
    return check_instant(instant, file, row, field)


def seconds_value(value: str | None, file: Path, row: int | None, field: str) -> float | None:
    """A cell of seconds from zero to 24 hours; None when empty."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValidationFailed(
            str(file), row, field, _("%(value)s is not a number of seconds", value=repr(value))
        ) from None
    if not 0 <= number <= MAX_SECONDS:
        raise ValidationFailed(
            str(file), row, field, _("%(value)s must lie between 0 and 24 hours", value=repr(value))
        )
    return number


def clean_text(
    value: str | None, file: Path, row: int | None, field: str, max_length: int
) -> str | None:
    """`value` normalised (NFC, stripped); None when empty; an error for control characters."""
    if value is None:
        return None
    text = normalize(value)
    if not text:
        return None
    problem = text_problem(text, max_length)
    if problem is not None:
        raise ValidationFailed(str(file), row, field, problem)
    return text


def agent_from_channel(value: str | None) -> str | None:
    """The endpoint of a channel name (SIP/1001-0000000a, PJSIP/1001, Local/1001@q/n -> 1001),
    or the value itself when it is not a channel name (an agent's member name, e.g. 张伟)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    found = _CHANNEL.match(text)
    return found.group("id") if found else text


class RecordingIndex:
    """The audio files of an export folder, found by the telephony id in their names.

    A file matches id X when its name (without the extension) is X or ends in "-X" or "_X"
    (FreePBX writes "q-600-20240501-093000-1714555800.12.wav"), with an optional "-in" or
    "-out" after it for a Monitor/MixMonitor pair.
    """

    def __init__(self, folders: Iterable[Path]) -> None:
        # id -> side ("" for a single file, "in", "out") -> files; every tail of a name
        # after a "-" or "_" is a possible id, so a lookup is one dictionary read.
        self._by_id: dict[str, dict[str, list[Path]]] = {}
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
                    continue
                stem, side = path.stem, ""
                split = _PAIR_SUFFIX.match(stem)
                if split is not None:
                    stem, side = split.group("base"), split.group("side").lower()
                    # "...-in" is also a single file named by an id ending in "-in".
                    self._add(path.stem, "", path)
                self._add(stem, side, path)

    def _add(self, stem: str, side: str, path: Path) -> None:
        tails = {stem} | {stem[i + 1 :] for i, ch in enumerate(stem) if ch in "-_"}
        for tail in tails:
            if tail:
                self._by_id.setdefault(tail, {}).setdefault(side, []).append(path)

    def find(self, ids: Sequence[str]) -> tuple[Path, ...]:
        """The recording of the first id that has one: (file,) or (agent_out, customer_in)."""
        for ident in ids:
            found = self._by_id.get(ident) if ident else None
            if not found:
                continue
            if found.get(""):
                return (found[""][0],)
            if found.get("in") and found.get("out"):
                return (found["out"][0], found["in"][0])
            side = found.get("in") or found.get("out") or []
            if side:  # half a pair: one side is better than nothing
                return (side[0],)
        return ()


def merge_pair(agent: Path, customer: Path, out_dir: Path, file: Path, row: int | None) -> Path:
    """Join a mono `-out` (agent) and `-in` (customer) WAV pair into one stereo WAV.

    The agent goes on the left channel. The shorter side is padded with silence. The
    pipeline reads one file per call, with each speaker on a channel of their own, so the
    pair is joined once here rather than in every stage.

    Raises:
        ValidationFailed: when the two are not mono PCM WAV files of the same rate and width.
    """
    try:
        with wave.open(str(agent), "rb") as a, wave.open(str(customer), "rb") as c:
            pa, pc = a.getparams(), c.getparams()
            if pa.nchannels != 1 or pc.nchannels != 1:
                raise ValidationFailed(
                    str(file), row, "recording", _("the -in/-out pair must be two mono files")
                )
            if (pa.framerate, pa.sampwidth) != (pc.framerate, pc.sampwidth):
                raise ValidationFailed(
                    str(file),
                    row,
                    "recording",
                    _(
                        "%(a)s and %(c)s differ in sample rate or width",
                        a=agent.name,
                        c=customer.name,
                    ),
                )
            left, right = a.readframes(pa.nframes), c.readframes(pc.nframes)
    except (wave.Error, EOFError, OSError) as exc:
        raise ValidationFailed(
            str(file),
            row,
            "recording",
            _("cannot join %(a)s and %(c)s: %(exc)s", a=agent.name, c=customer.name, exc=exc),
        ) from None
    width = pa.sampwidth
    frames = max(len(left), len(right)) // width
    silence = b"\x80" if width == 1 else b"\x00"  # 8-bit WAV is unsigned
    left = left.ljust(frames * width, silence)
    right = right.ljust(frames * width, silence)
    interleaved = bytearray(frames * width * 2)
    for i in range(width):
        interleaved[i :: width * 2] = left[i::width]
        interleaved[width + i :: width * 2] = right[i::width]
    out_dir.mkdir(parents=True, exist_ok=True)
    # Named by both sources' paths, so that re-importing the same pair reuses the file.
    digest = sha256(f"{agent.resolve()}\n{customer.resolve()}".encode()).hexdigest()[:16]
    target = out_dir / f"{_stem_of_pair(agent)}-{digest}-stereo.wav"
    with wave.open(str(target), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(width)
        out.setframerate(pa.framerate)
        out.writeframes(bytes(interleaved))
    return target


def _stem_of_pair(path: Path) -> str:
    split = _PAIR_SUFFIX.match(path.stem)
    return re.sub(r"[^\w.-]+", "_", split.group("base") if split else path.stem)[:80]


def check_contact(contact: TelephonyContact) -> TelephonyContact:
    """Check the ids and names a contact will be stored under against the column limits."""
    f, r = contact.file, contact.row
    contact.call_id = clean_text(contact.call_id, f, r, "call_id", MAX_CALL_ID) or ""
    if not contact.call_id:
        raise ValidationFailed(str(f), r, "call_id", _("is empty; a value is required"))
    contact.agent_id = clean_text(contact.agent_id, f, r, "agent", MAX_AGENT_ID)
    contact.customer_id = clean_text(contact.customer_id, f, r, "customer", MAX_CALL_ID)
    contact.queue = clean_text(contact.queue, f, r, "queue", MAX_QUEUE_ID)
    contact.agent_name = clean_text(contact.agent_name, f, r, "agent", 200)
    contact.customer_name = clean_text(contact.customer_name, f, r, "customer", 200)
    contact.reason = clean_text(contact.reason, f, r, "reason", 200)
    for part in ("talk_seconds", "hold_seconds", "wrap_seconds", "queue_wait_seconds"):
        value = getattr(contact, part)
        if value is not None and not 0 <= value <= MAX_SECONDS:
            raise ValidationFailed(
                str(f), r, part, _("%(value)s must lie between 0 and 24 hours", value=value)
            )
    if contact.transfers is not None and not 0 <= contact.transfers <= 50:
        raise ValidationFailed(
            str(f), r, "transfers", _("%(value)s must be 0 to 50", value=contact.transfers)
        )
    return contact


def _inside(path: Path, root: Path, contact: TelephonyContact) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ValidationFailed(
            str(contact.file),
            contact.row,
            "recording",
            _("%(path)s lies outside %(root)s", path=str(path), root=str(root)),
        )
    if len(str(resolved)) > MAX_PATH_LENGTH:
        raise ValidationFailed(
            str(contact.file),
            contact.row,
            "recording",
            _("the full path is longer than %(n)s characters", n=MAX_PATH_LENGTH),
        )
    return resolved


def store_contacts(
    engine: Engine,
    contacts: Iterable[TelephonyContact],
    *,
    file: str,
    source: str,
    action: str,
    root: Path,
    merge_dir: Path | None = None,
    actor: str = "cli",
    agent_channel: str | None = None,
    progress: Progress | None = None,
    legs_folded: int = 0,
) -> TelephonyReport:
    """Store every contact in one transaction: agents' as calls, the rest as unanswered
    contacts (`store_unanswered_contacts`).

    Args:
        engine: the database.
        contacts: every contact read, of every kind.
        file: what was imported, for the report and the audit log.
        source: the calls' `source` label (e.g. "asterisk:Master.csv").
        action: the audit action (e.g. "ingest.asterisk").
        root: the folder recordings must lie in (QM_IMPORT_ROOT, else the export folder).
        merge_dir: where joined -in/-out pairs are written; None means next to the pair.
        actor: who is importing, for the audit log.
        agent_channel: the stereo channel of the agent in single recordings (None: the
            site default); a joined pair always has the agent on the left.
        progress: called with the number of contacts stored after each batch.
        legs_folded: how many legs the reader folded into contacts, for the report.

    Raises:
        ValidationFailed: naming the file, row and field; nothing is stored.
    """
    report = TelephonyReport(stored=ImportReport(file=file), legs_folded=legs_folded)
    seen: set[str] = set()
    unanswered: list[TelephonyContact] = []

    def records() -> Iterator[CallRecord]:
        for contact in contacts:
            check_contact(contact)
            if contact.call_id in seen:
                raise ValidationFailed(
                    str(contact.file),
                    contact.row,
                    "call_id",
                    _("%(call_id)s appears twice in this import", call_id=repr(contact.call_id)),
                )
            seen.add(contact.call_id)
            kind = contact.kind.value
            report.kinds[kind] = report.kinds.get(kind, 0) + 1
            if contact.queue_wait_seconds is not None:
                report.queue_waits.append(contact.queue_wait_seconds)
            if contact.kind is not ContactKind.AGENT:
                unanswered.append(contact)
                report.unanswered[kind] = report.unanswered.get(kind, 0) + 1
                continue
            if contact.agent_id is None:
                # An answered call whose export does not say who answered (a FreeSWITCH
                # CSV without its b-legs) cannot be stored under an agent.
                report.not_stored[NO_AGENT_NAMED] = report.not_stored.get(NO_AGENT_NAMED, 0) + 1
                continue
            yield _record(contact, source, root, merge_dir, agent_channel, report)

    def store_unanswered(conn: Connection, touched: set[str]) -> None:
        store_unanswered_contacts(conn, unanswered, source=source, touched=touched)

    report.stored = import_records(
        engine,
        records(),
        file=file,
        actor=actor,
        action=action,
        progress=progress,
        finish=store_unanswered,
    )
    return report


def store_unanswered_contacts(
    conn: Connection, contacts: Sequence[TelephonyContact], *, source: str, touched: set[str]
) -> None:
    """Upsert abandoned and IVR-only contacts with their customers and queues; their
    customers go into `touched`, whose repeat-contact flags the caller refreshes."""
    if not contacts:
        return
    customers = {c.customer_id: c.customer_name or c.customer_id for c in contacts if c.customer_id}
    queues = sorted({c.queue for c in contacts if c.queue})
    upsert(conn, _table(Customer), [{"id": k, "name": n} for k, n in customers.items()], key=["id"])
    upsert(
        conn,
        _table(Queue),
        [{"id": q, "script_key": None, "fcr_window_days": 7} for q in queues],
        key=["id"],
    )
    now = utcnow()
    rows = [
        {
            "id": c.call_id,
            "kind": c.kind.value,
            "customer_id": c.customer_id,
            "queue": c.queue,
            "started_at": c.started_at,
            "queue_seconds": c.queue_wait_seconds,
            "source": source[:200],
            "imported_at": now,
        }
        for c in contacts
    ]
    # Moved from one customer to another by a re-import: the old one's flags change too.
    table = _table(UnansweredContact)
    ids = [r["id"] for r in rows]
    for i in range(0, len(ids), 900):
        touched.update(
            c
            for c in conn.execute(
                sa.select(table.c.customer_id).where(table.c.id.in_(ids[i : i + 900]))
            ).scalars()
            if c
        )
    update = (
        "kind",
        "customer_id",
        "queue",
        "started_at",
        "queue_seconds",
        "source",
        "imported_at",
    )
    upsert(conn, table, rows, key=["id"], update=update)
    touched.update(customers)


def _record(
    contact: TelephonyContact,
    source: str,
    root: Path,
    merge_dir: Path | None,
    agent_channel: str | None,
    report: TelephonyReport,
) -> CallRecord:
    audio: Path | None = None
    channel = agent_channel
    if len(contact.recordings) == 2:
        agent_side, customer_side = (_inside(p, root, contact) for p in contact.recordings)
        target = merge_dir if merge_dir is not None else agent_side.parent
        try:
            audio = merge_pair(agent_side, customer_side, target, contact.file, contact.row)
        except ValidationFailed as exc:
            # A pair we cannot join (GSM, different rates) costs that call its audio,
            # not the whole import: the summary lists it.
            report.unjoined_recordings.append(f"{contact.call_id} ({exc.message})")
        else:
            channel = "left"
            report.merged_recordings += 1
    elif contact.recordings:
        audio = _inside(contact.recordings[0], root, contact)
    else:
        report.missing_recordings.append(contact.call_id)
    values = {
        "id": contact.call_id,
        "agent_id": contact.agent_id,
        "customer_id": contact.customer_id,
        "queue": contact.queue,
        "reason": contact.reason,
        "started_at": contact.started_at,
        "talk_seconds": contact.talk_seconds,
        "hold_seconds": contact.hold_seconds,
        "wrap_seconds": contact.wrap_seconds,
        "queue_seconds": contact.queue_wait_seconds,
        "transfers": contact.transfers,
        "resolved": contact.resolved,
        "audio_path": str(audio) if audio else None,
        "agent_channel": channel,
        "source": source[:200],
        "imported_at": utcnow(),
    }
    return CallRecord(values, customer_name=contact.customer_name, agent_name=contact.agent_name)


def _table(model: type) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table
