"""Importing any CDR CSV with a YAML mapping file that says which column is which field.

```yaml
header: true                  # the first line names the columns (false: columns are 0, 1, ...)
delimiter: ","
timezone: Asia/Shanghai       # the zone of local times in the file (default UTC)
time_format: "%Y-%m-%d %H:%M:%S"   # strptime format, or "iso", or "epoch" (Unix seconds)
columns:                      # call-manifest field -> column name (or number)
  call_id: uniqueid           # required
  agent_id: dstchannel        # required; an empty cell makes an agent-less contact
  started_at: start           # required
  customer_id: src
  queue: queue
  reason: reason
  talk_seconds: billsec
  hold_seconds: hold
  wrap_seconds: wrap
  transfers: transfers
  resolved: resolved
  queue_wait_seconds: wait    # the call's queue_seconds
agent_pattern: '^(?:SIP|PJSIP)/(?P<agent>[^-]+)'   # optional: the agent id inside the cell
queue_pattern: '^(?P<queue>[^@]+)'                  # optional, the same for the queue
recording: "monitor/{call_id}.wav"   # optional: {field} or {column} placeholders, relative
                                     # to the CSV's folder
```

A row whose agent cell is empty (or does not match `agent_pattern`) is an agent-less
contact: abandoned when its talk time is empty or zero, else IVR-only.
"""

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine

from qm.domain.bounds import MAX_TRANSFERS
from qm.domain.imports.csvrows import RowReader, parse_instant
from qm.domain.imports.ingest import Progress
from qm.domain.imports.telephony import (
    ContactKind,
    TelephonyContact,
    TelephonyReport,
    check_instant,
    from_epoch,
    parse_local,
    store_contacts,
    time_zone,
)
from qm.errors import ValidationFailed
from qm.i18n import gettext as _

FIELDS = (
    "call_id",
    "agent_id",
    "started_at",
    "customer_id",
    "queue",
    "reason",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "transfers",
    "resolved",
    "queue_wait_seconds",
)
REQUIRED = ("call_id", "agent_id", "started_at")
KEYS = frozenset(
    {
        "header",
        "delimiter",
        "timezone",
        "time_format",
        "columns",
        "agent_pattern",
        "queue_pattern",
        "recording",
        "encoding",
    }
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class CdrMapping:
    """A validated mapping file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise self._fail(None, _("cannot read: %(exc)s", exc=exc)) from None
        except yaml.YAMLError as exc:
            raise self._fail(None, _("not valid YAML: %(exc)s", exc=exc)) from None
        if not isinstance(data, Mapping):
            raise self._fail(None, _("expected a mapping of settings"))
        unknown = sorted(str(k) for k in data if k not in KEYS)
        if unknown:
            raise self._fail(
                unknown[0], _("unknown setting (known: %(k)s)", k=", ".join(sorted(KEYS)))
            )
        self.header = bool(data.get("header", True))
        self.delimiter = str(data.get("delimiter", ","))
        if len(self.delimiter) != 1:
            raise self._fail("delimiter", _("must be one character"))
        self.encoding = str(data.get("encoding", "utf-8-sig"))
        self.zone: ZoneInfo = time_zone(str(data.get("timezone", "UTC")), file=path)
        self.time_format = str(data.get("time_format", "%Y-%m-%d %H:%M:%S"))
        columns = data.get("columns")
        if not isinstance(columns, Mapping):
            raise self._fail("columns", _("missing: which column is which field"))
        self.columns: dict[str, str | int] = {}
        for name, column in columns.items():
            if name not in FIELDS:
                raise self._fail(
                    f"columns.{name}", _("unknown field (known: %(f)s)", f=", ".join(FIELDS))
                )
            if column is None or column == "":
                continue
            if self.header and not isinstance(column, str):
                raise self._fail(f"columns.{name}", _("must be a column name (header: true)"))
            if not self.header and (isinstance(column, bool) or not isinstance(column, int)):
                raise self._fail(f"columns.{name}", _("must be a column number (header: false)"))
            self.columns[str(name)] = column
        for name in REQUIRED:
            if name not in self.columns:
                raise self._fail(f"columns.{name}", _("is required"))
        self.agent_pattern = self._pattern(data, "agent_pattern", "agent")
        self.queue_pattern = self._pattern(data, "queue_pattern", "queue")
        recording = data.get("recording")
        self.recording = str(recording) if recording else None

    def _fail(self, key: str | None, message: str) -> ValidationFailed:
        return ValidationFailed(str(self.path), None, key, message)

    def _pattern(self, data: Mapping[str, Any], key: str, group: str) -> re.Pattern[str] | None:
        text = data.get(key)
        if not text:
            return None
        try:
            pattern = re.compile(str(text))
        except re.error as exc:
            raise self._fail(key, _("not a valid regular expression: %(exc)s", exc=exc)) from None
        if group not in pattern.groupindex and pattern.groups < 1:
            raise self._fail(key, _("needs a group (?P<%(g)s>...) for the value", g=group))
        return pattern

    def label(self, field: str) -> str:
        """How an error names a field: the file's column, then the manifest field."""
        column = self.columns.get(field)
        return field if column is None or column == field else f"{column} ({field})"


def _rows(mapping: CdrMapping, path: Path) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
    """(row number, the mapped fields' cells, every named cell) for each data row."""
    try:
        handle = path.open(newline="", encoding=mapping.encoding)
    except (OSError, LookupError) as exc:
        raise ValidationFailed(str(path), None, None, _("cannot read: %(exc)s", exc=exc)) from None
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        row = 0
        names: list[str] = []
        try:
            for cells in reader:
                row += 1
                if row == 1 and mapping.header:
                    names = [c.strip() for c in cells]
                    for field, column in mapping.columns.items():
                        if column not in names:
                            raise ValidationFailed(
                                str(path), 1, str(column), _("missing column (for %(f)s)", f=field)
                            )
                    continue
                if not cells or cells == [""]:
                    continue
                named = dict(zip(names, cells, strict=False)) if mapping.header else {}
                fields: dict[str, str] = {}
                for field, column in mapping.columns.items():
                    if isinstance(column, int):
                        if column >= len(cells):
                            raise ValidationFailed(
                                str(path),
                                row,
                                mapping.label(field),
                                _("the row has only %(n)s cells", n=len(cells)),
                            )
                        fields[field] = cells[column]
                    else:
                        fields[field] = named.get(column, "")
                yield row, fields, named
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                str(path), row + 1, None, _("not valid CSV: %(exc)s", exc=exc)
            ) from None


def _extract(pattern: re.Pattern[str] | None, group: str, value: str | None) -> str | None:
    if value is None or pattern is None:
        return value
    found = pattern.search(value)
    if found is None:
        return None
    return found.group(group) if group in pattern.groupindex else found.group(1)


def read_cdr(path: Path, mapping: CdrMapping) -> Iterator[TelephonyContact]:
    """The contacts of a CDR CSV read through `mapping`, one per row."""
    for row, fields, named in _rows(mapping, path):
        labelled = {mapping.label(f): v for f, v in fields.items()}
        r = RowReader(path, row, labelled)
        call_id = r.text(mapping.label("call_id"), required=True, max_length=128)
        assert call_id is not None
        agent = _extract(
            mapping.agent_pattern, "agent", r.text(mapping.label("agent_id"), max_length=200)
        )
        queue = _extract(mapping.queue_pattern, "queue", r.text(mapping.label("queue")))
        talk = r.seconds(mapping.label("talk_seconds"))
        contact = TelephonyContact(
            file=path,
            row=row,
            call_id=call_id,
            kind=ContactKind.AGENT,
            started_at=_instant(mapping, path, row, r),
            agent_id=agent,
            customer_id=r.text(mapping.label("customer_id"), max_length=128),
            queue=queue,
            reason=r.text(mapping.label("reason")),
            queue_wait_seconds=r.seconds(mapping.label("queue_wait_seconds")),
            talk_seconds=talk,
            hold_seconds=r.seconds(mapping.label("hold_seconds")),
            wrap_seconds=r.seconds(mapping.label("wrap_seconds")),
            transfers=r.count(mapping.label("transfers"), high=MAX_TRANSFERS),
            resolved=r.flag(mapping.label("resolved")),
            legs=(call_id,),
        )
        if not agent:
            contact.kind = ContactKind.ABANDONED if not talk else ContactKind.IVR
        elif mapping.recording:
            contact.recordings = _recording(mapping.recording, path, {**named, **fields})
        yield contact


def _instant(mapping: CdrMapping, path: Path, row: int, r: RowReader) -> Any:
    field = mapping.label("started_at")
    text = r.text(field, required=True)
    assert text is not None
    if mapping.time_format == "epoch":
        try:
            seconds = float(text)
        except ValueError:
            raise r.fail(field, _("%(value)s is not Unix seconds", value=repr(text))) from None
        return from_epoch(seconds, path, row, field)
    if mapping.time_format == "iso":
        try:
            return check_instant(parse_instant(text), path, row, field)
        except ValueError:
            raise r.fail(
                field, _("%(value)s is not an ISO-8601 date-time", value=repr(text))
            ) from None
    return parse_local(text, mapping.zone, path, row, field, mapping.time_format)


def _recording(template: str, path: Path, values: Mapping[str, str]) -> tuple[Path, ...]:
    """The recording the template names for a row, () when no such file exists."""
    # Only plain {name} placeholders: str.format would also read attributes ({x.__class__}).
    name = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), "").strip(), template)
    candidate = path.parent / name
    return (candidate,) if candidate.is_file() else ()


def ingest_cdr(
    engine: Engine,
    path: Path,
    mapping_path: Path,
    *,
    actor: str = "cli",
    import_root: Path | None = None,
    agent_channel: str | None = None,
    progress: Progress | None = None,
) -> TelephonyReport:
    """Import a CDR CSV through a YAML mapping file, all or nothing.

    Raises:
        ValidationFailed: naming the file (the CSV or the mapping), row and field.
    """
    mapping = CdrMapping(mapping_path)
    return store_contacts(
        engine,
        read_cdr(path, mapping),
        file=str(path),
        source=f"cdr:{path.name}",
        action="ingest.cdr",
        root=import_root or path.parent,
        actor=actor,
        agent_channel=agent_channel,
        progress=progress,
    )
