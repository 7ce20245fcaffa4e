"""Streaming CSV reading with errors that name the file, row and field.

Rows are numbered as a spreadsheet shows them: the header is row 1. Used by every
CSV import (call manifests, mystery-shopper results).
"""

import csv
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from qm.errors import ValidationFailed

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
        raise ValidationFailed(file, None, None, f"cannot open: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(file, 1, None, f"unreadable header: {exc}") from exc
        if not header:
            raise ValidationFailed(file, 1, None, "the file is empty; expected a header row")
        names = [name.strip() for name in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise ValidationFailed(file, 1, missing[0], f"missing column(s): {', '.join(missing)}")
        for name in names:
            if name in required or name in optional:
                continue
            reason = "unknown column" if extra is None else extra(name)
            if reason is not None:
                raise ValidationFailed(file, 1, name, reason)
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise ValidationFailed(file, 1, duplicate, "column appears twice")
        reader.fieldnames = names
        row_number = 1
        try:
            for cells in reader:
                row_number += 1
                if None in cells:
                    raise ValidationFailed(
                        file, row_number, None, f"has more cells than the {len(names)} columns"
                    )
                yield names, row_number, cells
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed(file, row_number + 1, None, f"not valid CSV: {exc}") from exc


class RowReader:
    """Typed access to one row's cells; every failure names the file, row and field."""

    def __init__(self, file: Path, row: int, cells: dict[str, str]) -> None:
        self.file = file
        self.row = row
        self.cells = cells

    def fail(self, field: str, message: str) -> ValidationFailed:
        """An error about `field` of this row."""
        return ValidationFailed(str(self.file), self.row, field, message)

    def text(self, field: str, *, required: bool = False, max_length: int = 200) -> str | None:
        """The stripped cell, None when empty (an error when `required`)."""
        value = (self.cells.get(field) or "").strip()
        if not value:
            if required:
                raise self.fail(field, "is empty; a value is required")
            return None
        if len(value) > max_length:
            raise self.fail(field, f"is longer than {max_length} characters")
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
        if not math.isfinite(number) or number < low:
            floor = "zero" if low == 0 else f"{low:g}"
            raise self.fail(field, f"{value!r} must be {floor} or more")
        if number > high:
            raise self.fail(field, f"{value!r} must be {high:g} or less")
        return number

    def seconds(self, field: str) -> float | None:
        """A duration in seconds, zero or more."""
        return self.number(field, unit="number of seconds")

    def count(self, field: str) -> int | None:
        """A whole number, zero or more."""
        value = self.text(field)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not a whole number") from None
        if number < 0:
            raise self.fail(field, f"{value!r} must be zero or more")
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
        """A required ISO-8601 date-time (UTC when it has no offset)."""
        value = self.text(field, required=True)
        assert value is not None
        try:
            return parse_instant(value)
        except ValueError:
            raise self.fail(
                field, f"{value!r} is not an ISO-8601 date-time (e.g. 2024-05-01T09:30:00+08:00)"
            ) from None

    def day(self, field: str) -> date:
        """A required ISO-8601 date (YYYY-MM-DD)."""
        value = self.text(field, required=True)
        assert value is not None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not a date (YYYY-MM-DD)") from None

    def path(self, field: str) -> Path | None:
        """A file path relative to the CSV's folder that must exist; None when empty."""
        value = self.text(field, max_length=1000)
        if value is None:
            return None
        path = (self.file.parent / value).resolve()
        if not path.is_file():
            raise self.fail(field, f"file not found: {value} (looked for {path})")
        return path
