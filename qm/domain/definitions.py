"""Reading the versioned definitions: call scripts and evaluation forms.

Both are stored one row per version under their key (`qm.domain.scripts`,
`qm.domain.evaluations.forms` write them). These read models list every key with its
versions and where it is used (a script by queues; a form by queues and teams), and
give one version's full body. Anyone who reviews calls may read them.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import EvaluationForm, FormAssignment, Queue, Script


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One stored version of a script or form."""

    version: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ScriptSummary:
    """A script key, its versions (oldest first) and the queues checked with it."""

    key: str
    name: str  # the latest version's
    language: str  # the latest version's
    versions: tuple[VersionInfo, ...]
    queues: tuple[str, ...]

    @property
    def latest(self) -> int:
        """The newest version, the one checked on new calls."""
        return self.versions[-1].version


@dataclass(frozen=True, slots=True)
class FormSummary:
    """A form key, its versions (oldest first) and the queues and teams it is assigned to."""

    key: str
    name: str  # the latest version's
    versions: tuple[VersionInfo, ...]
    queues: tuple[str, ...]
    teams: tuple[str, ...]

    @property
    def latest(self) -> int:
        """The newest version, the one new evaluations use."""
        return self.versions[-1].version


@dataclass(frozen=True, slots=True)
class DefinitionVersion:
    """One version of a script or form with its full body (DESIGN.md's format)."""

    key: str
    version: int
    latest: int
    name: str
    created_at: datetime
    body: dict[str, Any]


def script_summaries(session: Session) -> list[ScriptSummary]:
    """Every stored script by key, with its versions and the queues that use it."""
    rows = session.exec(select(Script).order_by(col(Script.key), col(Script.version))).all()
    used: defaultdict[str, list[str]] = defaultdict(list)
    for queue in session.exec(
        select(Queue).where(col(Queue.script_key).is_not(None)).order_by(col(Queue.id))
    ).all():
        used[queue.script_key or ""].append(queue.id)
    versions: dict[str, list[Script]] = defaultdict(list)
    for row in rows:
        versions[row.key].append(row)
    return [
        ScriptSummary(
            key=key,
            name=found[-1].name,
            language=found[-1].language,
            versions=tuple(VersionInfo(r.version, r.name, r.created_at) for r in found),
            queues=tuple(used.get(key, ())),
        )
        for key, found in versions.items()
    ]


def form_summaries(session: Session) -> list[FormSummary]:
    """Every stored form by key, with its versions and assignments."""
    rows = session.exec(
        select(EvaluationForm).order_by(col(EvaluationForm.key), col(EvaluationForm.version))
    ).all()
    queues: defaultdict[str, list[str]] = defaultdict(list)
    teams: defaultdict[str, list[str]] = defaultdict(list)
    for assignment in session.exec(select(FormAssignment).order_by(col(FormAssignment.id))).all():
        if assignment.queue is not None:
            queues[assignment.form_key].append(assignment.queue)
        if assignment.team_id is not None:
            teams[assignment.form_key].append(assignment.team_id)
    versions: dict[str, list[EvaluationForm]] = defaultdict(list)
    for row in rows:
        versions[row.key].append(row)
    return [
        FormSummary(
            key=key,
            name=found[-1].name,
            versions=tuple(VersionInfo(r.version, r.name, r.created_at) for r in found),
            queues=tuple(sorted(queues.get(key, ()))),
            teams=tuple(sorted(teams.get(key, ()))),
        )
        for key, found in versions.items()
    ]


Row = TypeVar("Row", Script, EvaluationForm)


def _pick(rows: list[Row], what: str, key: str, version: int | None) -> tuple[Row, int]:
    if not rows:
        raise NotFound(_("no %(what)s %(key)s", what=what, key=repr(key)))
    latest = max(r.version for r in rows)
    wanted = latest if version is None else version
    for row in rows:
        if row.version == wanted:
            return row, latest
    raise NotFound(
        _("%(what)s %(key)s has no version %(version)s", what=what, key=repr(key), version=version)
    )


def script_version(session: Session, key: str, version: int | None = None) -> DefinitionVersion:
    """One version of script `key` (the latest when `version` is None).

    Raises:
        NotFound: no such script or version.
    """
    rows = list(session.exec(select(Script).where(col(Script.key) == key)).all())
    row, latest = _pick(rows, "script", key, version)
    return DefinitionVersion(row.key, row.version, latest, row.name, row.created_at, row.body)


def form_version(session: Session, key: str, version: int | None = None) -> DefinitionVersion:
    """One version of evaluation form `key` (the latest when `version` is None).

    Raises:
        NotFound: no such form or version.
    """
    rows = list(session.exec(select(EvaluationForm).where(col(EvaluationForm.key) == key)).all())
    row, latest = _pick(rows, "evaluation form", key, version)
    return DefinitionVersion(row.key, row.version, latest, row.name, row.created_at, row.body)


def latest_script_version(session: Session, key: str) -> int | None:
    """The newest stored version number of script `key`, None when none is stored."""
    return session.exec(
        select(Script.version).where(col(Script.key) == key).order_by(col(Script.version).desc())
    ).first()


def latest_form_version(session: Session, key: str) -> int | None:
    """The newest stored version number of form `key`, None when none is stored."""
    return session.exec(
        select(EvaluationForm.version)
        .where(col(EvaluationForm.key) == key)
        .order_by(col(EvaluationForm.version).desc())
    ).first()
