"""The training-module catalog as the site edited it, else the one shipped with `scoring`.

The catalog maps criteria (`key_point:<id>`, `mystery:<id>`, `metric:<name>`, or a
kind with `*`) to modules; the training plan assigns the first module that lists a
gap's criterion (`scoring.training.Catalog`). An admin's edits are stored whole, as one
site setting; removing them brings the shipped catalog back.
"""

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from qm.domain.audit import record
from qm.domain.bounds import text_problem
from qm.errors import ValidationFailed
from qm.i18n import gettext as _
from qm.models import SITE_SCOPE, SiteSetting, utcnow
from scoring.training import Catalog, Module, load_catalog, parse_catalog

CATALOG = "training_catalog"
CRITERION_KINDS = ("key_point", "mystery", "metric")
MODULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CRITERION = re.compile(r"(key_point|mystery|metric):(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})")
MAX_TITLE = 200  # the assignment's stored module title
MAX_MODULES = 200
MAX_CRITERIA = 50
MAX_MINUTES = 24 * 60


def site_catalog(session: Session) -> Catalog:
    """The catalog the training plan uses: the site's edited one, else the shipped one."""
    row = session.get(SiteSetting, (CATALOG, SITE_SCOPE))
    return load_catalog() if row is None else parse_catalog(row.value)


def is_edited(session: Session) -> bool:
    """True when the site stores its own catalog (False: the shipped one is in use)."""
    return session.get(SiteSetting, (CATALOG, SITE_SCOPE)) is not None


def _fail(index: int, field: str, message: str) -> ValidationFailed:
    return ValidationFailed("catalog", None, f"modules[{index}].{field}", message)


def _module(index: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    module_id = str(raw.get("id", "")).strip()
    if not MODULE_ID.fullmatch(module_id):
        raise _fail(index, "id", "must be 1-64 letters, digits, dots, underscores or hyphens")
    title = str(raw.get("title", "")).strip()
    problem = "must not be empty" if not title else text_problem(title, MAX_TITLE)
    if problem is not None:
        raise _fail(index, "title", problem)
    minutes = raw.get("minutes", 0)
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not math.isfinite(minutes)
        or minutes != int(minutes)
        or not 0 <= minutes <= MAX_MINUTES
    ):
        raise _fail(index, "minutes", f"must be a whole number of minutes from 0 to {MAX_MINUTES}")
    criteria = raw.get("criteria")
    if not isinstance(criteria, Sequence) or isinstance(criteria, str) or not criteria:
        raise _fail(index, "criteria", "must list at least one criterion")
    if len(criteria) > MAX_CRITERIA:
        raise _fail(index, "criteria", f"must list at most {MAX_CRITERIA} criteria")
    cleaned = []
    for position, criterion in enumerate(criteria):
        text = str(criterion).strip()
        if not CRITERION.fullmatch(text):
            raise _fail(
                index,
                f"criteria[{position}]",
                f"{text[:80]!r} is not key_point:<id>, mystery:<id> or metric:<name> (or kind:*)",
            )
        cleaned.append(text)
    return {"id": module_id, "title": title, "minutes": int(minutes), "criteria": cleaned}


def validate_catalog(modules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The catalog's stored form, checked: every module has an id (unique), a title,
    whole minutes and well-formed criteria.

    Raises:
        ValidationFailed: naming the module and field, e.g. `modules[2].criteria[0]`.
    """
    if not modules:
        raise ValidationFailed("catalog", None, "modules", _("must hold at least one module"))
    if len(modules) > MAX_MODULES:
        raise ValidationFailed(
            "catalog",
            None,
            "modules",
            _("must hold at most %(max_modules)s", max_modules=MAX_MODULES),
        )
    cleaned = [_module(i, raw) for i, raw in enumerate(modules)]
    seen: set[str] = set()
    for i, module in enumerate(cleaned):
        if module["id"] in seen:
            raise _fail(i, "id", f"{module['id']!r} is used by an earlier module")
        seen.add(module["id"])
    return {"modules": cleaned}


def save_catalog(session: Session, modules: Sequence[Mapping[str, Any]], *, actor: str) -> Catalog:
    """Store the site's catalog (replacing the previous edit; audited). The caller commits.

    Raises:
        ValidationFailed: see `validate_catalog`.
    """
    value = validate_catalog(modules)
    row = session.get(SiteSetting, (CATALOG, SITE_SCOPE))
    before = None if row is None else row.value
    if row is None:
        row = SiteSetting(name=CATALOG, scope=SITE_SCOPE, value=value, updated_by=actor[:100])
    else:
        row.value, row.updated_by, row.updated_at = value, actor[:100], utcnow()
    session.add(row)
    record(session, actor=actor, action="training_catalog.save", entity="site_setting",
           entity_id="site", detail={"before": before, "after": value})  # fmt: skip
    return parse_catalog(value)


def reset_catalog(session: Session, *, actor: str) -> None:
    """Drop the site's edits: the shipped catalog is used again (audited)."""
    row = session.get(SiteSetting, (CATALOG, SITE_SCOPE))
    if row is not None:
        session.delete(row)
        record(session, actor=actor, action="training_catalog.reset", entity="site_setting",
               entity_id="site", detail={"before": row.value})  # fmt: skip


def module_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog's modules as plain values (for a form to edit)."""
    return [_as_dict(m) for m in catalog.modules]


def _as_dict(module: Module) -> dict[str, Any]:
    return {
        "id": module.id,
        "title": module.title,
        "minutes": module.minutes,
        "criteria": list(module.criteria),
    }
