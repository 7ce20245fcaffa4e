"""Evaluation forms: stored one row per version, and assigned to queues or teams.

A form's `id` field is its key. Loading a file whose content equals the latest stored
version stores nothing new, so reloading the same file is harmless; any change makes a
new version. Evaluations keep the exact version they were scored on.
"""

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import library_message
from qm.models import Agent, Call, EvaluationForm, FormAssignment, Queue, Team
from scoring.forms import Form, FormError, parse_form


def form_body(form: Form) -> dict[str, Any]:
    """The canonical structure of `form`: every default written out, as `parse_form` reads it.

    Stored bodies are compared in this form, so that two files that differ only in
    layout or in spelled-out defaults are the same version.
    """
    return {
        "id": form.id,
        "name": form.name,
        "scoring": form.scoring,
        "sections": [
            {
                "id": section.id,
                "label": section.label,
                "weight": section.weight,
                "items": [
                    {
                        "id": item.id,
                        "label": item.label,
                        "type": item.type,
                        "weight": item.weight,
                        "critical": item.critical,
                        "na_allowed": item.na_allowed,
                        "deduction": item.deduction,
                        "key_point": item.key_point,
                    }
                    for item in section.items
                ],
            }
            for section in form.sections
        ],
    }


def _invalid(source: str, exc: FormError) -> ValidationFailed:
    return ValidationFailed(source, None, exc.field, library_message(exc))


def save_form(
    session: Session, data: Mapping[str, Any], *, actor: str, source: str
) -> EvaluationForm:
    """Validate `data` and store it as a new version of its form, unless it equals the latest.

    Args:
        data: the form's YAML/JSON structure (scoring.forms format).
        actor: the username recorded in the audit log.
        source: what `data` came from (a file name, "api"), named in errors.

    Raises:
        ValidationFailed: naming `source` and the offending field.
    """
    try:
        parsed = parse_form(data)
    except FormError as exc:
        raise _invalid(source, exc) from exc
    if not parsed.id:
        raise ValidationFailed(source, None, "id", _("required: a stored form is named by its id"))
    body = form_body(parsed)
    latest = _latest(session, parsed.id)
    if latest is not None and latest.body == body:
        return latest
    row = EvaluationForm(
        key=parsed.id,
        version=1 if latest is None else latest.version + 1,
        name=parsed.name,
        body=body,
        created_by=actor[:100],
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="form.save",
        entity="evaluation_form",
        entity_id=f"{row.key}@{row.version}",
        detail={"source": source},
    )
    return row


def load_form_file(session: Session, path: Path, *, actor: str) -> EvaluationForm:
    """Read a `.yaml`, `.yml` or `.json` form file and store it (see `save_form`).

    Raises:
        ValidationFailed: the file is unreadable, not YAML/JSON, or not a valid form;
            the error names the file and the field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(str(path), None, None, _("cannot read: %(exc)s", exc=exc)) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        # RecursionError: nesting deeper than any form needs.
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ValidationFailed(
            str(path), None, None, _("not valid %(kind)s: %(exc)s", kind=kind, exc=exc)
        ) from exc
    return save_form(session, data, actor=actor, source=str(path))


def assign_form(
    session: Session,
    form_key: str,
    *,
    queue: str | None = None,
    team_id: str | None = None,
    actor: str,
) -> FormAssignment:
    """Make `form_key` the form of the calls of `queue`, or of the agents of team `team_id`.

    A queue's form wins over a team's (see `form_for_call`). Assigning again replaces
    the earlier assignment of that queue or team.

    Raises:
        ValidationFailed: not exactly one of `queue` and `team_id` given.
        NotFound: no such form, queue or team.
    """
    if (queue is None) == (team_id is None):
        raise ValidationFailed("form assignment", None, "queue", _("give either a queue or a team"))
    if _latest(session, form_key) is None:
        raise NotFound(_("no evaluation form %(key)s", key=repr(form_key)))
    if queue is not None and session.get(Queue, queue) is None:
        raise NotFound(_("no queue %(queue)s", queue=repr(queue)))
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(_("no team %(team_id)s", team_id=repr(team_id)))
    where = (
        col(FormAssignment.queue) == queue
        if queue is not None
        else col(FormAssignment.team_id) == team_id
    )
    row = session.exec(select(FormAssignment).where(where)).first()
    if row is None:
        row = FormAssignment(form_key=form_key, queue=queue, team_id=team_id)
    row.form_key = form_key
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="form.assign",
        entity="queue" if queue is not None else "team",
        entity_id=queue or team_id or "",
        detail={"form": form_key},
    )
    return row


def _latest(session: Session, key: str) -> EvaluationForm | None:
    return session.exec(
        select(EvaluationForm)
        .where(col(EvaluationForm.key) == key)
        .order_by(col(EvaluationForm.version).desc())
    ).first()


def latest_form(session: Session, key: str) -> tuple[EvaluationForm, Form]:
    """The newest stored version of form `key`, with its parsed form.

    Raises:
        NotFound: no version of `key` is stored.
    """
    row = _latest(session, key)
    if row is None:
        raise NotFound(_("no evaluation form %(key)s", key=repr(key)))
    return row, parsed_form(row)


def parsed_form(row: EvaluationForm) -> Form:
    """The scoring library's form for one stored version."""
    return _parse_canonical(json.dumps(row.body, sort_keys=True))


@lru_cache(maxsize=64)
def _parse_canonical(canonical: str) -> Form:
    # Keyed on the content itself, so apps on different databases never share a parse
    # of a different form that happens to have the same row id.
    return parse_form(json.loads(canonical))


def form_for_call(session: Session, call: Call) -> EvaluationForm | None:
    """The latest version of the form assigned to the call's queue, else to its agent's team."""
    key: str | None = None
    if call.queue is not None:
        key = session.exec(
            select(FormAssignment.form_key).where(col(FormAssignment.queue) == call.queue)
        ).first()
    if key is None:
        agent = session.get(Agent, call.agent_id)
        if agent is not None and agent.team_id is not None:
            key = session.exec(
                select(FormAssignment.form_key).where(col(FormAssignment.team_id) == agent.team_id)
            ).first()
    return None if key is None else _latest(session, key)


def list_forms(session: Session) -> list[EvaluationForm]:
    """The latest version of every stored form, by key."""
    rows = session.exec(
        select(EvaluationForm).order_by(col(EvaluationForm.key), col(EvaluationForm.version))
    ).all()
    latest: dict[str, EvaluationForm] = {}
    for row in rows:
        latest[row.key] = row
    return list(latest.values())
