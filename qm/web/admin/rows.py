"""Repeatable rows of an admin form: fields named `<prefix>-<n>-<field>`.

The editors' rows (key points, forbidden rules, catalog modules, form items) are
numbered by the page; `static/script_editor.js` gives an added row the next number and
drops a removed one. Rows are read in number order with empty ones left out, which is
the order the admin saw, so the n-th row read here is the n-th filled row on the page
and a field path such as `key_points[2].phrases` points at it.
"""

import re
from collections.abc import Mapping
from typing import Any


def field_text(value: Any) -> str:
    """One form field's text, stripped (a repeated field: its last value)."""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def read_rows(
    data: Mapping[str, Any], prefix: str, significant: tuple[str, ...] | None = None
) -> list[dict[str, str]]:
    """The rows named `<prefix>-<n>-<field>` in `data`, by n, each as field -> text.

    Empty rows are left out: those whose `significant` fields (all fields when None) are
    all empty, so a blank row whose checkboxes start ticked is still blank.
    """
    pattern = re.compile(rf"{re.escape(prefix)}-(\d{{1,4}})-([a-z_]+)")
    rows: dict[int, dict[str, str]] = {}
    for key, value in data.items():
        found = pattern.fullmatch(key)
        if found is not None:
            rows.setdefault(int(found[1]), {})[found[2]] = field_text(value)
    return [
        row
        for _, row in sorted(rows.items())
        if any(v for k, v in row.items() if significant is None or k in significant)
    ]


def lines(text: str) -> list[str]:
    """The non-empty lines of a text box (one phrase or criterion per line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def row_of(field: str | None, list_name: str) -> int | None:
    """The row a field path like `key_points[2].phrases[0]` is about, in `list_name`."""
    found = re.match(rf"{re.escape(list_name)}\[(\d+)\]", field or "")
    return None if found is None else int(found[1])
