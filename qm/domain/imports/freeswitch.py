"""Importing a FreeSWITCH export: mod_json_cdr files and mod_cdr_csv's Master.csv.

**mod_json_cdr** writes one JSON file per call leg (`<uuid>.cdr.json`, `a_<uuid>.cdr.json`)
with a `variables` object whose values are URL-encoded by default (`encode-values`).
Read from it: uuid, caller_id_number/name, start_epoch (else start_stamp in the given
zone), billsec, hold_accum_seconds, transfer_history, and mod_callcenter's cc_queue,
cc_agent, cc_side, cc_cause, cc_queue_joined_epoch, cc_queue_answered_epoch,
cc_queue_canceled_epoch, cc_queue_terminated_epoch.

**mod_cdr_csv** with its default template `example` writes, without a header:
caller_id_name, caller_id_number, destination_number, context, start_stamp,
answer_stamp, end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode,
read_codec, write_codec (older configurations leave out the two codecs). It knows
nothing of queues or agents: the agent is the b-leg's destination_number, which needs
`legs = ab`; an answered a-leg without its b-leg in the file is reported, not stored.

A contact is the customer's a-leg; its uuid is the call id. Agent legs (cc_side=agent,
b-legs) and consult calls made by agents are never contacts of their own.
"""

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from qm.domain.imports.ingest import Progress
from qm.domain.imports.telephony import (
    ContactKind,
    RecordingIndex,
    TelephonyContact,
    TelephonyReport,
    from_epoch,
    parse_local,
    seconds_value,
    store_contacts,
    time_zone,
)
from qm.errors import ValidationFailed
from qm.i18n import gettext as _

CSV_COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)
SHORT_CSV = CSV_COLUMNS[:13]
UNANSWERED_CAUSES = frozenset({"ORIGINATOR_CANCEL", "NO_ANSWER", "NO_USER_RESPONSE"})


def _without_domain(name: str | None) -> str | None:
    """mod_callcenter names agents and queues "1000@default"; the part before @ is the id."""
    if not name:
        return None
    return name.split("@", 1)[0].strip() or name


class _Leg:
    """One mod_json_cdr file: its decoded variables and caller profile."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        raw = data.get("variables")
        if not isinstance(raw, Mapping):
            raise ValidationFailed(str(path), None, "variables", _("missing or not an object"))
        self.vars = {str(k): unquote(v) if isinstance(v, str) else v for k, v in raw.items()}
        channel = data.get("channel_data")
        self.direction = str(channel.get("direction", "")) if isinstance(channel, Mapping) else ""
        flow = data.get("callflow")
        first = flow[0] if isinstance(flow, list) and flow else flow
        profile = first.get("caller_profile") if isinstance(first, Mapping) else None
        self.profile: Mapping[str, Any] = profile if isinstance(profile, Mapping) else {}

    def text(self, name: str) -> str:
        """A variable, else the caller profile's field of that name, as stripped text."""
        value = self.vars.get(name)
        if value is None or value == "":
            value = self.profile.get(name)
        return str(value).strip() if value is not None else ""

    def number(self, name: str) -> float | None:
        """A numeric variable; None when absent, empty or zero (FreeSWITCH's "never")."""
        value = self.text(name)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            raise ValidationFailed(
                str(self.path),
                None,
                f"variables.{name}",
                _("%(value)s is not a number", value=repr(value)),
            ) from None
        if number < 0:
            raise ValidationFailed(
                str(self.path),
                None,
                f"variables.{name}",
                _("%(value)s is negative", value=repr(value)),
            )
        return number or None

    @property
    def uuid(self) -> str:
        """The leg's uuid."""
        return self.text("uuid")


def _load_json(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(str(path), None, None, _("cannot read: %(exc)s", exc=exc)) from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            str(path), exc.lineno, None, _("not valid JSON: %(msg)s", msg=exc.msg)
        ) from None
    except RecursionError:
        raise ValidationFailed(
            str(path), None, None, _("not valid JSON: nested too deeply")
        ) from None
    if not isinstance(data, Mapping):
        raise ValidationFailed(str(path), None, None, _("expected a JSON object"))
    return data


def _transfers(history: str) -> int:
    """The entries of transfer_history (one, or "ARRAY::a|:b|:c")."""
    if not history:
        return 0
    if history.startswith("ARRAY::"):
        return len([h for h in history[len("ARRAY::") :].split("|:") if h])
    return 1


def _started(leg: _Leg, zone: ZoneInfo) -> Any:
    micro = leg.number("start_uepoch")
    if micro is not None:
        return from_epoch(micro / 1_000_000, leg.path, None, "variables.start_uepoch")
    epoch = leg.number("start_epoch")
    if epoch is not None:
        return from_epoch(epoch, leg.path, None, "variables.start_epoch")
    stamp = leg.text("start_stamp")
    if not stamp:
        raise ValidationFailed(
            str(leg.path), None, "variables.start_stamp", _("missing (and no start_epoch)")
        )
    return parse_local(stamp, zone, leg.path, None, "variables.start_stamp")


def _json_contacts(
    paths: list[Path], zone: ZoneInfo, recordings: RecordingIndex
) -> tuple[list[TelephonyContact], int]:
    legs = [_Leg(p, _load_json(p)) for p in paths]
    agents = {a for leg in legs if (a := _without_domain(leg.text("cc_agent"))) is not None} | {
        leg.text("dialed_user") for leg in legs if leg.text("dialed_user")
    }
    contacts: list[TelephonyContact] = []
    folded = 0
    for leg in legs:
        if not leg.uuid:
            raise ValidationFailed(str(leg.path), None, "variables.uuid", _("missing"))
        is_b_leg = leg.direction == "outbound" and (
            leg.text("originating_leg_uuid") or leg.text("originator") or leg.text("cc_side")
        )
        caller = leg.text("caller_id_number")
        consult = not leg.text("cc_queue") and caller in agents
        if leg.text("cc_side") == "agent" or is_b_leg or consult:
            folded += 1
            continue
        contacts.append(_json_contact(leg, zone, recordings))
    return contacts, folded


def _json_contact(leg: _Leg, zone: ZoneInfo, recordings: RecordingIndex) -> TelephonyContact:
    contact = TelephonyContact(
        file=leg.path,
        row=None,
        call_id=leg.uuid,
        kind=ContactKind.IVR,
        started_at=_started(leg, zone),
        customer_id=leg.text("caller_id_number") or None,
        customer_name=leg.text("caller_id_name") or None,
        hold_seconds=leg.number("hold_accum_seconds"),
        transfers=_transfers(leg.text("transfer_history")),
        legs=(leg.uuid,),
    )
    if contact.hold_seconds is None and leg.text("hold_accum_seconds"):
        contact.hold_seconds = 0.0
    queue = leg.text("cc_queue")
    joined = leg.number("cc_queue_joined_epoch")
    answered = leg.number("cc_queue_answered_epoch")
    ended = leg.number("end_epoch")
    if queue:
        contact.queue = _without_domain(queue)
        agent = _without_domain(leg.text("cc_agent"))
        if agent and (answered is not None or leg.text("cc_cause") == "answered"):
            contact.kind = ContactKind.AGENT
            contact.agent_id = agent
            if joined is not None and answered is not None and answered >= joined:
                contact.queue_wait_seconds = answered - joined
            if answered is not None and ended is not None and ended >= answered:
                contact.talk_seconds = ended - answered - (contact.hold_seconds or 0.0)
        else:
            contact.kind = ContactKind.ABANDONED
            gave_up = leg.number("cc_queue_canceled_epoch") or leg.number(
                "cc_queue_terminated_epoch"
            )
            if joined is not None and gave_up is not None and gave_up >= joined:
                contact.queue_wait_seconds = gave_up - joined
    elif leg.text("dialed_user") and leg.number("billsec"):
        contact.kind = ContactKind.AGENT  # dialled straight to an agent's phone
        contact.agent_id = leg.text("dialed_user")
        contact.talk_seconds = leg.number("billsec")
    if contact.kind is ContactKind.AGENT:
        contact.recordings = recordings.find([leg.uuid])
    else:
        contact.transfers = None
    if contact.talk_seconds is not None:
        contact.talk_seconds = max(round(contact.talk_seconds, 3), 0.0)
    return contact


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(
            str(path), None, None, _("cannot open: %(strerror)s", strerror=exc.strerror)
        ) from None
    with handle:
        row = 0
        try:
            for cells in csv.reader(handle, skipinitialspace=True):
                row += 1
                if not cells or cells == [""]:
                    continue
                if len(cells) not in (len(CSV_COLUMNS), len(SHORT_CSV)):
                    raise ValidationFailed(
                        str(path),
                        row,
                        None,
                        _(
                            "has %(n)s cells; mod_cdr_csv's example template writes 15 "
                            "(13 without the codecs)",
                            n=len(cells),
                        ),
                    )
                yield row, {k: v.strip() for k, v in zip(CSV_COLUMNS, cells, strict=False)}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                str(path), row + 1, None, _("not valid CSV: %(exc)s", exc=exc)
            ) from None


def _seconds(path: Path, row: int, cells: dict[str, str], name: str) -> float | None:
    return seconds_value(cells.get(name, ""), path, row, name)


def _csv_contacts(
    path: Path, zone: ZoneInfo, recordings: RecordingIndex
) -> tuple[list[TelephonyContact], int]:
    rows = list(_read_csv(path))
    for row, cells in rows:
        if not cells["uuid"]:
            raise ValidationFailed(str(path), row, "uuid", _("is empty; a value is required"))
    by_uuid = {cells["uuid"]: (row, cells) for row, cells in rows}
    b_legs = {cells["bleg_uuid"] for _row, cells in rows if cells["bleg_uuid"] in by_uuid}
    agents = {by_uuid[u][1]["destination_number"] for u in b_legs}
    contacts: list[TelephonyContact] = []
    folded = 0
    for row, cells in rows:
        if cells["uuid"] in b_legs or cells["caller_id_number"] in agents:
            folded += 1  # an agent's leg, or a consult call an agent made
            continue
        contact = TelephonyContact(
            file=path,
            row=row,
            call_id=cells["uuid"],
            kind=ContactKind.IVR,
            started_at=parse_local(cells["start_stamp"], zone, path, row, "start_stamp"),
            customer_id=cells["caller_id_number"] or None,
            customer_name=cells["caller_id_name"] or None,
            legs=(cells["uuid"],),
        )
        answered = bool(cells["answer_stamp"])
        if answered:
            parse_local(cells["answer_stamp"], zone, path, row, "answer_stamp")
        _seconds(path, row, cells, "billsec")
        if not answered or (cells["hangup_cause"] in UNANSWERED_CAUSES and not cells["bleg_uuid"]):
            contact.kind = ContactKind.ABANDONED
        elif cells["bleg_uuid"]:
            contact.kind = ContactKind.AGENT
            contact.transfers = 0
            b = by_uuid.get(cells["bleg_uuid"])
            if b is not None:
                contact.agent_id = b[1]["destination_number"] or None
                contact.talk_seconds = _seconds(path, b[0], b[1], "billsec")
            contact.recordings = recordings.find([cells["uuid"], cells["bleg_uuid"]])
        contacts.append(contact)
    return contacts, folded


def find_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """The JSON CDR files (any depth) and the cdr_csv Master.csv files of an export folder."""
    if not directory.is_dir():
        raise ValidationFailed(str(directory), None, None, _("folder not found"))
    json_files = sorted(directory.rglob("*.json"))
    csv_files = [
        p for p in (directory / "Master.csv", directory / "cdr-csv" / "Master.csv") if p.is_file()
    ]
    if not json_files and not csv_files:
        raise ValidationFailed(
            str(directory),
            None,
            None,
            _("no JSON CDR files (mod_json_cdr) and no Master.csv (mod_cdr_csv) here"),
        )
    return json_files, csv_files


def read_freeswitch(directory: Path, zone: ZoneInfo) -> tuple[list[TelephonyContact], int]:
    """Every customer contact of a FreeSWITCH export folder, and how many legs were folded."""
    json_files, csv_files = find_files(directory)
    recordings = RecordingIndex([directory])
    contacts, folded = _json_contacts(json_files, zone, recordings)
    for path in csv_files:
        more, skipped = _csv_contacts(path, zone, recordings)
        known = {c.call_id for c in contacts}
        # A call in both the JSON and the CSV export is taken once, from the richer JSON.
        contacts.extend(c for c in more if c.call_id not in known)
        folded += skipped
    return contacts, folded


def ingest_freeswitch(
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
    """Import a FreeSWITCH export folder (JSON CDRs and/or Master.csv, recordings) at once.

    Args:
        engine: the database.
        directory: the folder; JSON CDRs and recordings may lie at any depth below it.
        timezone: the zone of start_stamp where a CDR has no start_epoch (always for CSV).
        actor: who is importing, for the audit log.
        import_root: the folder recordings must lie in (QM_IMPORT_ROOT); None: `directory`.
        merge_dir: where -in/-out pairs are joined into stereo files.
        agent_channel: the agent's channel in stereo recordings (None: site default).
        progress: called with the number of contacts stored after each batch.

    Raises:
        ValidationFailed: naming the file, row and field; nothing is stored.
    """
    zone = time_zone(timezone, file=directory)
    contacts, folded = read_freeswitch(directory, zone)
    return store_contacts(
        engine,
        contacts,
        file=str(directory),
        source="freeswitch",
        action="ingest.freeswitch",
        root=import_root or directory,
        merge_dir=merge_dir,
        actor=actor,
        agent_channel=agent_channel,
        progress=progress,
        legs_folded=folded,
    )
