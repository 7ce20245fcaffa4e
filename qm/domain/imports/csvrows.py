"""CSV rows in and out: streaming reading with errors that name the file, row and field,
and writing cells that no spreadsheet will run as formulas.

Rows are numbered as a spreadsheet shows them: the header is row 1. Used by every
CSV import (call manifests, mystery-shopper results) and every CSV the product writes.
"""

import csv
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from qm.domain.bounds import (
    CONTROL_CHARACTER,
    EARLIEST_DAY,
    EARLIEST_INSTANT,
    MAX_PART_SECONDS,
    latest_instant,
    normalize,
)
from qm.errors import ValidationFailed
from qm.i18n import gettext as _

MAX_PATH_LENGTH = 1000  # the call's audio_path column

TRUE_WORDS = {"1", "true", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "f"}


def parse_instant(text: str) -> datetime:
    """Parse ISO-8601; a value without an offset is taken as UTC (DESIGN.md)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def csv_rows(
    path: Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    extra: Callable[[str], str | None] | None = None,
) -> Iterator[tuple[list[str], int, dict[str, str]]]:
    """Yield `(header, row_number, cells)` for each data row of the CSV at `path`.

    Args:
        path: the file.
        required: columns that must be present.
        optional: columns that may be present.
        extra: for any other column, returns None to accept it or a reason to reject it;
            without it, other columns are rejected as unknown.

    Raises:
        ValidationFailed: for an unreadable file, a bad header, a row with too many
            cells, or text that is not valid CSV/UTF-8.
    """
    file = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(
            file, None, None, _("cannot open: %(strerror)s", strerror=exc.strerror)
        ) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(file, 1, None, _("unreadable header: %(exc)s", exc=exc)) from exc
        if not header:
            raise ValidationFailed(file, 1, None, _("the file is empty; expected a header row"))
        names = [name.strip() for name in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise ValidationFailed(
                file, 1, missing[0], _("missing column(s): %(value)s", value=", ".join(missing))
            )
        for name in names:
            if name in required or name in optional:
                continue
            reason = "unknown column" if extra is None else extra(name)
            if reason is not None:
                raise ValidationFailed(file, 1, name, reason)
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise ValidationFailed(file, 1, duplicate, _("column appears twice"))
        reader.fieldnames = names
        row_number = 1
        try:
            for cells in reader:
                row_number += 1
                if None in cells:
                    raise ValidationFailed(
                        file,
                        row_number,
                        None,
                        _("has more cells than the %(names)s columns", names=len(names)),
                    )
                yield names, row_number, cells
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                file, row_number + 1, None, _("not valid CSV: %(exc)s", exc=exc)
            ) from exc


class RowReader:
    """Typed access to one row's cells; every failure names the file, row and field.

    Text is normalised (Unicode NFC, stripped) and checked for control characters and
    length before anything else looks at it; numbers, counts and instants are checked
    against the limits in `qm.domain.bounds`.
    """

    def __init__(self, file: Path, row: int, cells: dict[str, str]) -> None:
        self.file = file
        self.row = row
        self.cells = cells

    def fail(self, field: str, message: str) -> ValidationFailed:
        """An error about `field` of this row."""
        return ValidationFailed(str(self.file), self.row, field, message)

    def text(
        self, field: str, *, required: bool = False, max_length: int = 200, multiline: bool = False
    ) -> str | None:
        """The normalised cell, None when empty (an error when `required`).

        Args:
            field: the column.
            required: refuse an empty cell.
            max_length: the most characters accepted.
            multiline: accept line breaks and tabs (free-text comments); other control
                characters are refused either way.
        """
        # Written for speed (imports read millions of cells): the common case, short
        # printable ASCII, takes only C-level string methods.
        value = (self.cells.get(field) or "").strip()
        if not value.isascii():
            value = normalize(value)
        if value.startswith("'"):
            value = unescape_cell(value)
        if not value:
            if required:
                raise self.fail(field, "is empty; a value is required")
            return None
        if len(value) > max_length:
            raise self.fail(field, f"is longer than {max_length} characters")
        if not value.isprintable():  # false for every control character, and a few others
            checked = value
            if multiline:
                checked = value.replace("\n", " ").replace("\r", " ").replace("\t", " ")
            bad = CONTROL_CHARACTER.search(checked)
            if bad is not None:
                raise self.fail(field, f"contains a control character (U+{ord(bad.group()):04X})")
        return value

    def number(
        self, field: str, *, unit: str = "number", low: float = 0.0, high: float = math.inf
    ) -> float | None:
        """A finite number within [low, high], None when empty."""
        value = self.text(field)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not a {unit}") from None
        if not math.isfinite(number):
            raise self.fail(field, f"{value!r} is not a finite {unit}")
        if number < low:
            floor = "zero" if low == 0 else f"{low:g}"
            raise self.fail(field, f"{value!r} must be {floor} or more")
        if number > high:
            raise self.fail(field, f"{value!r} must be {high:g} or less")
        return number

    def seconds(self, field: str) -> float | None:
        """A duration in seconds, from zero to 24 hours (`bounds.MAX_PART_SECONDS`)."""
        return self.number(field, unit="number of seconds", high=MAX_PART_SECONDS)

    def count(self, field: str, *, high: int) -> int | None:
        """A whole number from zero to `high`."""
        value = self.text(field)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not a whole number") from None
        if number < 0:
            raise self.fail(field, f"{value!r} must be zero or more")
        if number > high:
            raise self.fail(field, f"{value!r} must be {high} or less")
        return number

    def flag(self, field: str) -> bool | None:
        """yes/no, true/false, 1/0; None when empty."""
        value = self.text(field)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
        raise self.fail(field, f"{value!r} is not yes/no (accepted: yes, no, true, false, 1, 0)")

    def choice(self, field: str, allowed: Sequence[str]) -> str:
        """One of `allowed` (case-insensitive); empty is an error."""
        value = (self.text(field) or "").lower()
        if value not in allowed:
            shown = repr(self.cells.get(field, "")) if value else "empty"
            raise self.fail(field, f"{shown} must be one of {', '.join(allowed)}")
        return value

    def instant(self, field: str) -> datetime:
        """A required ISO-8601 date-time (UTC when it has no offset), from 1970 to tomorrow."""
        value = self.text(field, required=True)
        assert value is not None
        try:
            instant = parse_instant(value)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is past the year 9999 in UTC
            instant = None
        except ValueError:
            raise self.fail(
                field, f"{value!r} is not an ISO-8601 date-time (e.g. 2024-05-01T09:30:00+08:00)"
            ) from None
        if instant is None or not EARLIEST_INSTANT <= instant <= latest_instant():
            raise self.fail(
                field, f"{value!r} must lie between {EARLIEST_DAY.isoformat()} and tomorrow"
            )
        return instant

    def day(self, field: str) -> date:
        """A required ISO-8601 date (YYYY-MM-DD), from 1970 to tomorrow."""
        value = self.text(field, required=True)
        assert value is not None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if not EARLIEST_DAY <= day <= latest_instant().date():
            raise self.fail(
                field, f"{value!r} must lie between {EARLIEST_DAY.isoformat()} and tomorrow"
            )
        return day

    def path(self, field: str, *, root: Path | None = None) -> Path | None:
        """A file that must exist inside the allowed folder; None when the cell is empty.

        Relative paths are taken from the CSV's folder. The file, with every symbolic link
        followed, must lie inside `root` when given (the site's QM_IMPORT_ROOT), else inside
        the CSV's folder: a manifest cannot make the server read `../../etc/passwd`.
        """
        value = self.text(field, max_length=MAX_PATH_LENGTH)
        if value is None:
            return None
        allowed = (root if root is not None else self.file.parent).resolve()
        try:
            path = (self.file.parent / value).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise self.fail(field, f"cannot resolve the path {value!r}: {exc}") from None
        if not path.is_relative_to(allowed):
            where = "the import root" if root is not None else "the manifest's folder"
            raise self.fail(field, f"{value!r} lies outside {where} ({allowed})")
        if len(str(path)) > MAX_PATH_LENGTH:
            raise self.fail(field, f"the full path is longer than {MAX_PATH_LENGTH} characters")
        if not path.is_file():
            raise self.fail(field, f"file not found: {value} (looked for {path})")
        return path


# A cell starting with one of these is read as a formula by spreadsheet programs
# (OWASP "CSV injection"): = + - @, and tab or carriage return, which some programs skip.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """`value` as a CSV cell no spreadsheet will run: a leading apostrophe before a formula
    start, as OWASP recommends. `RowReader` removes it again when the file is imported."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape_cell(value: str) -> str:
    """Undo `spreadsheet_safe`: drop the apostrophe it put before a formula start."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def write_safe_row(writer: "csv.DictWriter[str]", row: Mapping[str, object]) -> None:
    """Write `row` with every text cell made `spreadsheet_safe`."""
    writer.writerow({k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()})
