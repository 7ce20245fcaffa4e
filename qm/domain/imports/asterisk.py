"""Importing an Asterisk export: cdr_csv's Master.csv joined with queue_log and recordings.

Master.csv has no header. cdr_csv writes, in this order: accountcode, src, dst, dcontext,
clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
disposition, amaflags, then uniqueid and userfield (loguniqueid/loguserfield = yes, which
we require: the uniqueid is the call's id), then peeraccount, linkedid and sequence when
cdr.conf has `newcdrcolumns = yes`. Times are the server's local wall-clock time unless
`usegmtime = yes`; the caller says which zone.

queue_log lines are `epoch|callid|queue|agent|event|data1|data2|...`; callid is the
caller's channel uniqueid. Events used: ENTERQUEUE, CONNECT(holdtime|bridged uniqueid|
ringtime), COMPLETEAGENT/COMPLETECALLER(holdtime|calltime|position), TRANSFER and
BLINDTRANSFER(extension|context|holdtime|calltime|position), ATTENDEDTRANSFER(method|
data|holdtime|calltime|position, one more data field for method LINK), ABANDON(position|
origposition|waittime), EXITWITHTIMEOUT/EXITEMPTY(position|origposition|waittime),
EXITWITHKEY(key|position|origposition|waittime).

One customer contact is one linkedid (or, without the newer columns, one uniqueid): the
customer's own leg. Agent legs, consult calls an agent makes and transfer legs are folded
into it, never contacts of their own.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from qm.domain.imports.ingest import Progress
from qm.domain.imports.telephony import (
    ContactKind,
    RecordingIndex,
    TelephonyContact,
    TelephonyReport,
    agent_from_channel,
    parse_local,
    seconds_value,
    store_contacts,
    time_zone,
)
from qm.errors import ValidationFailed
from qm.i18n import gettext as _

BASE_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)
NEW_COLUMNS = (*BASE_COLUMNS, "peeraccount", "linkedid", "sequence")
TRANSFERS = frozenset({"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"})
# Events that end a wait in the queue without an agent, with the data field of the wait.
GAVE_UP = {"ABANDON": 3, "EXITWITHTIMEOUT": 3, "EXITEMPTY": 3, "EXITWITHKEY": 4}


@dataclass(slots=True)
class CdrRow:
    """One Master.csv line."""

    row: int
    cells: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.cells.get(name, "").strip()


@dataclass
class QueueEvent:
    """One queue_log line."""

    line: int
    epoch: float
    callid: str
    queue: str
    agent: str
    event: str
    data: list[str]

    def datum(self, n: int) -> str:
        """data<n> (1-based), "" when absent."""
        return self.data[n - 1].strip() if len(self.data) >= n else ""


@dataclass
class QueueCall:
    """Every queue_log event of one callid, in file order."""

    events: list[QueueEvent] = field(default_factory=list)


def find_files(directory: Path) -> tuple[Path, Path | None]:
    """Master.csv and queue_log of an export folder (also under cdr-csv/ as Asterisk keeps it)."""
    if not directory.is_dir():
        raise ValidationFailed(str(directory), None, None, _("folder not found"))
    master = next(
        (
            p
            for p in (directory / "Master.csv", directory / "cdr-csv" / "Master.csv")
            if p.is_file()
        ),
        None,
    )
    if master is None:
        raise ValidationFailed(
            str(directory), None, None, _("no Master.csv here or in cdr-csv/ (cdr_csv's file)")
        )
    queue_log = directory / "queue_log"
    return master, queue_log if queue_log.is_file() else None


def read_master(path: Path) -> Iterator[CdrRow]:
    """The rows of a header-less Master.csv, in the 18- or 21-column order of cdr_csv."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(
            str(path), None, None, _("cannot open: %(strerror)s", strerror=exc.strerror)
        ) from None
    with handle:
        reader = csv.reader(handle)
        row = 0
        try:
            for cells in reader:
                row += 1
                if not cells or cells == [""]:
                    continue
                if len(cells) == len(BASE_COLUMNS):
                    names: tuple[str, ...] = BASE_COLUMNS
                elif len(cells) == len(NEW_COLUMNS):
                    names = NEW_COLUMNS
                else:
                    raise ValidationFailed(
                        str(path),
                        row,
                        None,
                        _(
                            "has %(n)s cells; cdr_csv rows have 18 (loguniqueid and "
                            "loguserfield on) or 21 (also newcdrcolumns)",
                            n=len(cells),
                        ),
                    )
                yield CdrRow(row, dict(zip(names, cells, strict=True)))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                str(path), row + 1, None, _("not valid CSV: %(exc)s", exc=exc)
            ) from None


def read_queue_log(path: Path) -> dict[str, QueueCall]:
    """queue_log's call events by callid (agent and queue events with callid NONE are skipped)."""
    calls: dict[str, QueueCall] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(str(path), None, None, _("cannot read: %(exc)s", exc=exc)) from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 5:
            raise ValidationFailed(
                str(path),
                line_no,
                None,
                _("expected time|callid|queue|agent|event|data..., got %(n)s fields", n=len(parts)),
            )
        try:
            epoch = float(parts[0])
        except ValueError:
            raise ValidationFailed(
                str(path), line_no, "time", _("%(value)s is not Unix seconds", value=repr(parts[0]))
            ) from None
        callid = parts[1].strip()
        if not callid or callid == "NONE":
            continue
        event = QueueEvent(
            line_no, epoch, callid, parts[2].strip(), parts[3].strip(), parts[4].strip(), parts[5:]
        )
        calls.setdefault(callid, QueueCall()).events.append(event)
    return calls


def _seconds(path: Path, event: QueueEvent, n: int) -> float | None:
    return seconds_value(event.datum(n), path, event.line, f"data{n}")


def _number(path: Path, row: CdrRow, name: str) -> float | None:
    return seconds_value(row[name], path, row.row, name)


def _caller_name(clid: str) -> str | None:
    """The name of a clid `"Mary Smith" <5551234>`, None when there is none."""
    if "<" not in clid:
        return None
    name = clid.split("<", 1)[0].strip().strip('"').strip()
    return name or None


@dataclass
class _Group:
    key: str
    rows: list[CdrRow]

    @property
    def origin(self) -> CdrRow:
        """The customer's own leg: uniqueid == linkedid, else the first row written."""
        for row in self.rows:
            if row["uniqueid"] == self.key and row["linkedid"] in ("", self.key):
                return row
        return min(self.rows, key=lambda r: (_sequence(r), r.row))


def _sequence(row: CdrRow) -> int:
    try:
        return int(row["sequence"] or 0)
    except ValueError:
        return 0


def read_asterisk(directory: Path, zone: ZoneInfo) -> tuple[list[TelephonyContact], int, Path]:
    """Every customer contact of an Asterisk export folder.

    Returns:
        (contacts, legs folded into them, the Master.csv read).

    Raises:
        ValidationFailed: naming the file, row (line) and field of the first bad value.
    """
    master, queue_log_path = find_files(directory)
    queue_calls = read_queue_log(queue_log_path) if queue_log_path else {}
    rows = list(read_master(master))
    for row in rows:
        if not row["uniqueid"]:
            raise ValidationFailed(
                str(master), row.row, "uniqueid", _("is empty; a value is required")
            )
    # Which uniqueid is an agent's leg (CONNECT's data2), which endpoints are agents.
    agent_legs: set[str] = set()
    agents: set[str] = set()
    for call in queue_calls.values():
        for ev in call.events:
            if ev.event == "CONNECT":
                if ev.datum(2):
                    agent_legs.add(ev.datum(2))
                if ev.agent:
                    agents.add(agent_from_channel(ev.agent) or ev.agent)
    groups: dict[str, _Group] = {}
    by_uniqueid: dict[str, str] = {}
    for row in rows:
        key = row["linkedid"] or row["uniqueid"]
        groups.setdefault(key, _Group(key, [])).rows.append(row)
        by_uniqueid[row["uniqueid"]] = key
    # Without linkedid an agent's own CDR (its uniqueid is CONNECT's data2) is a group of
    # its own; fold it into the caller's.
    for call_id, call in queue_calls.items():
        if call_id not in groups:
            continue
        for ev in call.events:
            leg = ev.datum(2) if ev.event == "CONNECT" else ""
            if leg and leg in groups and leg != call_id and groups[leg].key == leg:
                groups[call_id].rows.extend(groups.pop(leg).rows)
        for row in groups[call_id].rows:
            if row["dstchannel"] and row["uniqueid"] == call_id:
                agents.add(agent_from_channel(row["dstchannel"]) or "")
    busy = _busy_agents(master, zone, groups, queue_calls, agents)
    recordings = RecordingIndex([directory])
    contacts: list[TelephonyContact] = []
    folded = 0
    for group in groups.values():
        origin = group.origin
        folded += len(group.rows) - 1
        queued = queue_calls.get(group.key) or queue_calls.get(origin["uniqueid"])
        if queued is None and origin["uniqueid"] in agent_legs:
            folded += 1  # an agent leg of a call whose CDR rows carry no linkedid
            continue
        own_endpoint = agent_from_channel(origin["channel"])
        if queued is None and own_endpoint in agents:
            started = _started(master, zone, origin)
            if any(a <= started <= b for a, b in busy.get(own_endpoint or "", ())):
                # Placed while the agent was on a customer's call: a consult call (or
                # the second leg of an attended transfer), part of that contact.
                folded += 1
                continue
            contacts.append(_outbound(master, zone, group, origin, recordings))
            continue
        contacts.append(_contact(master, queue_log_path, zone, group, origin, queued, recordings))
    return contacts, folded, master


def _busy_agents(
    master: Path,
    zone: ZoneInfo,
    groups: dict[str, "_Group"],
    queue_calls: dict[str, QueueCall],
    agents: set[str],
) -> dict[str, list[tuple[datetime, datetime]]]:
    """When each agent was on a queue call: from the call's first start to its last end."""
    busy: dict[str, list[tuple[datetime, datetime]]] = {}
    for key, group in groups.items():
        queued = queue_calls.get(key) or queue_calls.get(group.origin["uniqueid"])
        if queued is None:
            continue
        starts, ends = [], []
        # Whoever answered it, as queue_log names them and as their channels show.
        endpoints = {
            a
            for ev in queued.events
            if ev.event == "CONNECT" and (a := agent_from_channel(ev.agent)) is not None
        }
        for row in group.rows:
            start = parse_local(row["start"], zone, master, row.row, "start")
            starts.append(start)
            if row["end"]:
                ends.append(parse_local(row["end"], zone, master, row.row, "end"))
            else:
                ends.append(start + timedelta(seconds=_number(master, row, "duration") or 0))
            for channel in (row["channel"], row["dstchannel"]):
                endpoint = agent_from_channel(channel)
                if endpoint is not None and endpoint in agents:
                    endpoints.add(endpoint)
        for endpoint in endpoints:
            busy.setdefault(endpoint, []).append((min(starts), max(ends)))
    return busy


def _started(master: Path, zone: ZoneInfo, origin: CdrRow) -> datetime:
    if not origin["start"]:
        raise ValidationFailed(str(master), origin.row, "start", _("is empty; a value is required"))
    return parse_local(origin["start"], zone, master, origin.row, "start")


def _recording_ids(group: _Group, origin: CdrRow, extra: list[str]) -> list[str]:
    ids = [group.key, origin["uniqueid"], *extra]
    ids += [r["uniqueid"] for r in group.rows if r is not origin]
    return list(dict.fromkeys(i for i in ids if i))


def _outbound(
    master: Path, zone: ZoneInfo, group: _Group, origin: CdrRow, recordings: RecordingIndex
) -> TelephonyContact:
    """An agent's call out to a customer: the agent is the caller, the customer the callee."""
    answered = origin["disposition"] == "ANSWERED"
    return TelephonyContact(
        file=master,
        row=origin.row,
        call_id=group.key,
        kind=ContactKind.AGENT if answered else ContactKind.IVR,
        started_at=_started(master, zone, origin),
        agent_id=agent_from_channel(origin["channel"]),
        customer_id=origin["dst"] or None,
        talk_seconds=_number(master, origin, "billsec"),
        transfers=0,
        recordings=recordings.find(_recording_ids(group, origin, [])),
        legs=tuple(r["uniqueid"] for r in group.rows),
    )


def _contact(
    master: Path,
    queue_log: Path | None,
    zone: ZoneInfo,
    group: _Group,
    origin: CdrRow,
    call: QueueCall | None,
    recordings: RecordingIndex,
) -> TelephonyContact:
    contact = TelephonyContact(
        file=master,
        row=origin.row,
        call_id=group.key,
        kind=ContactKind.IVR,
        started_at=_started(master, zone, origin),
        customer_id=origin["src"] or None,
        customer_name=_caller_name(origin["clid"]),
        legs=tuple(r["uniqueid"] for r in group.rows),
    )
    extra: list[str] = []
    if call is not None and queue_log is not None:
        _apply_queue(queue_log, contact, call, extra)
    elif origin["dstchannel"] and origin["disposition"] == "ANSWERED":
        # Dialled straight to a phone, no queue: whoever answered is the agent.
        contact.kind = ContactKind.AGENT
        contact.agent_id = agent_from_channel(origin["dstchannel"])
        contact.talk_seconds = _number(master, origin, "billsec")
        contact.transfers = 0
    if contact.kind is ContactKind.AGENT:
        contact.recordings = recordings.find(_recording_ids(group, origin, extra))
    return contact


def _apply_queue(path: Path, contact: TelephonyContact, call: QueueCall, extra: list[str]) -> None:
    """Kind, agent, queue, queue wait, talk time and transfers from a call's queue_log events."""
    waits: list[float] = []
    talk: list[float] = []
    transfers = 0
    connected = False
    for ev in call.events:
        if ev.event == "ENTERQUEUE" and contact.queue is None:
            contact.queue = ev.queue or None
        elif ev.event == "CONNECT":
            wait = _seconds(path, ev, 1)
            if wait is not None:
                waits.append(wait)
            if not connected:
                connected = True
                contact.agent_id = agent_from_channel(ev.agent)
                contact.queue = ev.queue or contact.queue
                if ev.datum(2):
                    extra.append(ev.datum(2))
        elif ev.event in ("COMPLETEAGENT", "COMPLETECALLER"):
            seconds = _seconds(path, ev, 2)
            if seconds is not None:
                talk.append(seconds)
        elif ev.event in TRANSFERS:
            transfers += 1
            # ATTENDEDTRANSFER with method LINK names two channels, one field more.
            shift = 1 if ev.event == "ATTENDEDTRANSFER" and ev.datum(1) == "LINK" else 0
            seconds = _seconds(path, ev, 4 + shift)
            if seconds is not None:
                talk.append(seconds)
        elif ev.event in GAVE_UP and not connected:
            wait = _seconds(path, ev, GAVE_UP[ev.event])
            if wait is not None:
                waits.append(wait)
            contact.queue = contact.queue or ev.queue or None
    if connected:
        contact.kind = ContactKind.AGENT
        contact.transfers = transfers
        contact.talk_seconds = sum(talk) if talk else None
    elif waits or any(ev.event == "ENTERQUEUE" for ev in call.events):
        contact.kind = ContactKind.ABANDONED
    contact.queue_wait_seconds = sum(waits) if waits else None


def ingest_asterisk(
    engine: Engine,
    directory: Path,
    *,
    timezone: str = "UTC",
    actor: str = "cli",
    import_root: Path | None = None,
    merge_dir: Path | None = None,
    agent_channel: str | None = None,
    progress: Progress | None = None,
) -> TelephonyReport:
    """Import an Asterisk export folder (Master.csv, queue_log, recordings) in one transaction.

    Args:
        engine: the database.
        directory: the folder with Master.csv (or cdr-csv/Master.csv), queue_log and the
            recordings (any depth below it).
        timezone: the zone Master.csv's times are written in (the PBX's; "UTC" when
            cdr.conf has usegmtime = yes).
        actor: who is importing, for the audit log.
        import_root: the folder recordings must lie in (QM_IMPORT_ROOT); None: `directory`.
        merge_dir: where -in/-out pairs are joined into stereo files.
        agent_channel: the agent's channel in single stereo recordings (None: site default).
        progress: called with the number of contacts stored after each batch.

    Raises:
        ValidationFailed: naming the file, row (line) and field; nothing is stored.
    """
    zone = time_zone(timezone, file=directory)
    contacts, folded, master = read_asterisk(directory, zone)
    return store_contacts(
        engine,
        contacts,
        file=str(directory),
        source=f"asterisk:{master.name}",
        action="ingest.asterisk",
        root=import_root or directory,
        merge_dir=merge_dir,
        actor=actor,
        agent_channel=agent_channel,
        progress=progress,
        legs_folded=folded,
    )
