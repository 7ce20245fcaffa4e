"""The evaluation-form editor's fields and the form format (`scoring.forms`), both ways.

The page edits a form as two tables: its sections (id, label, weight), and its items,
each naming the section it belongs to. Items keep their order within a section; the
sections keep theirs. A field path the parser names (`sections[1].items[0].weight`) is
traced to its row of the tables as shown again, so the error shows beside it.
"""

import re
from typing import Any

from qm.web.admin.rows import field_text, read_rows

ITEM_FIELDS = ("section", "id", "label", "type", "weight", "deduction", "critical",
               "na_allowed", "key_point")  # fmt: skip
SECTION_FIELDS = ("id", "label", "weight")
_PATH = re.compile(r"sections\[(\d+)\](?:\.items\[(\d+)\])?")


def _number(raw: str) -> Any:
    if not raw:
        return None
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return raw  # the parser names the field


def form_from_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The structure `scoring.forms.parse_form` reads, from the editor's fields.

    An item naming no section goes to the first one; one naming a section that is not
    in the sections table gets a section of its own at the end (so nothing typed is
    dropped and the parser still checks every item).
    """
    sections = [
        {"id": row.get("id", ""), "label": row.get("label", ""), "items": []}
        | ({"weight": _number(row["weight"])} if row.get("weight") else {})
        for row in read_rows(data, "sec", significant=("id", "label"))
    ]
    by_id = {s["id"]: s for s in sections}
    form = {
        "id": field_text(data.get("id")),
        "name": field_text(data.get("name")),
        "scoring": field_text(data.get("scoring")) or "additive",
        "sections": sections,
    }
    for row in read_rows(data, "it", significant=("id", "label", "key_point")):
        wanted = row.get("section", "") or (sections[0]["id"] if sections else "main")
        section = by_id.get(wanted)
        if section is None:
            section = {"id": wanted, "label": "", "items": []}
            sections.append(section)
            by_id[wanted] = section
        item: dict[str, Any] = {
            "id": row.get("id", ""),
            "label": row.get("label", ""),
            "type": row.get("type") or "yes_no",
            "critical": bool(row.get("critical")),
            "na_allowed": bool(row.get("na_allowed")),
        }
        for name in ("weight", "deduction"):
            value = _number(row.get(name, ""))
            if value is not None:
                item[name] = value
        if row.get("key_point"):
            item["key_point"] = row["key_point"]
        section["items"].append(item)
    return form


def editable(form: dict[str, Any]) -> dict[str, Any]:
    """A form (stored or as submitted) as the editor's tables show it."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    def number(value: Any) -> str:
        return f"{value:g}" if isinstance(value, int | float) else text(value)

    raw_sections = form.get("sections") if isinstance(form.get("sections"), list) else []
    sections, items = [], []
    for section in raw_sections or []:
        if not isinstance(section, dict):
            continue
        sections.append(
            {
                "id": text(section.get("id")),
                "label": text(section.get("label")),
                "weight": number(section.get("weight", 1)),
            }
        )
        for item in section.get("items") or []:
            if isinstance(item, dict):
                items.append(
                    {
                        "section": text(section.get("id")),
                        "id": text(item.get("id")),
                        "label": text(item.get("label")),
                        "type": text(item.get("type")) or "yes_no",
                        "weight": number(item.get("weight", 1)),
                        "deduction": number(item.get("deduction", "")),
                        "critical": item.get("critical") is True,
                        "na_allowed": item.get("na_allowed", True) is not False,
                        "key_point": text(item.get("key_point")),
                    }
                )
    return {
        "id": text(form.get("id")),
        "name": text(form.get("name")),
        "scoring": text(form.get("scoring")) or "additive",
        "sections": sections,
        "items": items,
    }


def problem_rows(path: str | None, form: dict[str, Any]) -> tuple[int | None, int | None]:
    """The section row and the item row (as `editable(form)` lays them out) that a
    parser's field path such as `sections[1].items[0].weight` is about (None: neither)."""
    found = _PATH.match(path or "")
    if found is None:
        return None, None
    section = int(found[1])
    if found[2] is None:
        return section, None
    sections = [s for s in form.get("sections") or [] if isinstance(s, dict)]
    before = sum(len(s.get("items") or []) for s in sections[:section])
    return None, before + int(found[2])
