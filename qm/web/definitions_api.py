"""Versioned definitions over JSON: call scripts and evaluation forms.

    GET  /api/scripts                 reviewer+: every script, its versions, the queues using it
    GET  /api/scripts/{key}           reviewer+: one version's body (the latest by default)
    POST /api/scripts?queue=Q         admin: store a new version (JSON or YAML body); with a
                                      queue, assign it there and re-check the queue's calls
                                      in the background (`qm.web.rechecks`)
    GET  /api/forms                   reviewer+: every form, its versions and assignments
    GET  /api/forms/{key}             reviewer+: one version's body
    POST /api/forms?queue=Q|team=T    admin: store a new version; optionally assign it

A body equal to the latest version stores nothing new and answers 200 with that version;
a new version answers 201. Validation errors are 422 problems naming the field
(`key_points[2].phrases`).
"""

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter, RawBody
from litestar.response import Response
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain import definitions, rechecks, scripts
from qm.domain.bounds import MAX_QUEUE_ID, MAX_ROW_ID, text_problem
from qm.domain.evaluations.forms import assign_form, save_form
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import library_message
from qm.models import Role, User
from qm.web.api_input import BODY, MAX_DEFINITION_BYTES, parse_definition
from qm.web.definition_schemas import FormUploadOperation, ScriptUploadOperation
from qm.web.rechecks import recheck_after_response
from scoring.script import ScriptError, parse_script

READERS = requires_role(Role.REVIEWER, Role.MANAGER, Role.ADMIN)
ADMINS = requires_role(Role.ADMIN)
MAX_KEY = 100  # the widest key column (scripts); a longer key names nothing
UNCHANGED = "The body equals the latest version: nothing new was stored."

Version = Annotated[
    int | None,
    Parameter(ge=1, le=MAX_ROW_ID, description="A stored version; the latest when left out."),
]
QueueParam = Annotated[
    str | None, Parameter(description="Assign the definition to this queue.", max_length=200)
]
TeamParam = Annotated[
    str | None, Parameter(description="Assign the form to this team.", max_length=200)
]


class VersionOut(msgspec.Struct):
    """One stored version."""

    version: int
    name: str
    created_at: datetime


class ScriptOut(msgspec.Struct):
    """A script key with its versions (oldest first) and the queues checked with it."""

    key: str
    name: str
    language: str
    latest_version: int
    versions: list[VersionOut]
    queues: list[str]


class FormOut(msgspec.Struct):
    """A form key with its versions (oldest first) and the queues and teams it applies to."""

    key: str
    name: str
    latest_version: int
    versions: list[VersionOut]
    queues: list[str]
    teams: list[str]


class DefinitionOut(msgspec.Struct):
    """One version of a script or form with its body in DESIGN.md's format."""

    key: str
    version: int
    latest_version: int
    name: str
    created_at: datetime
    body: dict[str, Any]


class ScriptSaved(msgspec.Struct):
    """The stored version; `rechecks` is how many calls of the queue will be re-checked."""

    key: str
    version: int
    new_version: bool
    queue: str | None
    rechecks: int


class FormSaved(msgspec.Struct):
    """The stored version and where it was assigned."""

    key: str
    version: int
    new_version: bool
    queue: str | None
    team: str | None


def _versions(found: tuple[definitions.VersionInfo, ...]) -> list[VersionOut]:
    return [VersionOut(v.version, v.name, v.created_at) for v in found]


def _definition(found: definitions.DefinitionVersion) -> DefinitionOut:
    return DefinitionOut(
        found.key, found.version, found.latest, found.name, found.created_at, found.body
    )


def _key(key: str, what: str) -> str:
    """`key` when it could name a stored definition; NotFound otherwise (never a 500 from
    text the database cannot compare)."""
    if text_problem(key, MAX_KEY) is not None:
        raise NotFound(_("no %(what)s with this key", what=what))
    return key


def _target(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    problem = text_problem(value, MAX_QUEUE_ID) if value else "is empty"
    if problem is not None:
        raise ValidationFailed("query", None, name, problem)
    return value


def _saved(body: Any, new_version: bool, background: BackgroundTask | None = None) -> Response[Any]:
    return Response(body, status_code=201 if new_version else 200, background=background)


class ScriptApiController(Controller):
    """Call scripts: read by reviewers, managers and admins; stored by admins."""

    path = "/api/scripts"
    tags = ["definitions"]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True, guards=[READERS])
    def list_scripts(self, db: NamedDependency[Session]) -> list[ScriptOut]:
        """Every stored script by key, with its versions and the queues that use it."""
        return [
            ScriptOut(s.key, s.name, s.language, s.latest, _versions(s.versions), list(s.queues))
            for s in definitions.script_summaries(db)
        ]

    @get("/{key:str}", sync_to_thread=True, guards=[READERS])
    def get_script(
        self, key: FromPath[str], db: NamedDependency[Session], version: Version = None
    ) -> DefinitionOut:
        """One version of a script (the latest unless `version` is given)."""
        return _definition(definitions.script_version(db, _key(key, "script"), version))

    @post(
        "/",
        sync_to_thread=True,
        guards=[ADMINS],
        operation_class=ScriptUploadOperation,
        request_max_body_size=MAX_DEFINITION_BYTES,
        responses={200: ResponseSpec(ScriptSaved, description=UNCHANGED)},
    )
    def store_script(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        body: RawBody,
        queue: QueueParam = None,
    ) -> Response[ScriptSaved]:
        """Validate and store a script as a new version (unless it equals the latest).

        With `queue`, the queue's calls are checked with it from now on and its stored
        calls are marked for re-checking.
        """
        target = _target("queue", queue)
        data = parse_definition(body, request.content_type[0])
        try:
            parsed = parse_script(data, source=BODY)
        except ScriptError as exc:
            raise ValidationFailed(BODY, None, exc.field, library_message(exc)) from None
        actor = request.user.username
        before = definitions.latest_script_version(db, parsed.id)
        row = scripts.save_script(db, parsed, actor=actor)
        marked = 0
        if target is not None:
            scripts.assign_to_queue(db, row.key, target, actor=actor)
            db.flush()
            marked = rechecks.recheck_queue(db, queue=target, actor=actor)
        saved = ScriptSaved(row.key, row.version, row.version != before, target, marked)
        # Run after the response, once this transaction (and so the marks) committed.
        later = recheck_after_response(request.app.state, queue=target) if marked else None
        return _saved(saved, saved.new_version, later)


class FormApiController(Controller):
    """Evaluation forms: read by reviewers, managers and admins; stored by admins."""

    path = "/api/forms"
    tags = ["definitions"]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True, guards=[READERS])
    def list_forms(self, db: NamedDependency[Session]) -> list[FormOut]:
        """Every stored form by key, with its versions and assignments."""
        return [
            FormOut(f.key, f.name, f.latest, _versions(f.versions), list(f.queues), list(f.teams))
            for f in definitions.form_summaries(db)
        ]

    @get("/{key:str}", sync_to_thread=True, guards=[READERS])
    def get_form(
        self, key: FromPath[str], db: NamedDependency[Session], version: Version = None
    ) -> DefinitionOut:
        """One version of a form (the latest unless `version` is given)."""
        return _definition(definitions.form_version(db, _key(key, "evaluation form"), version))

    @post(
        "/",
        sync_to_thread=True,
        guards=[ADMINS],
        operation_class=FormUploadOperation,
        request_max_body_size=MAX_DEFINITION_BYTES,
        responses={200: ResponseSpec(FormSaved, description=UNCHANGED)},
    )
    def store_form(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        body: RawBody,
        queue: QueueParam = None,
        team: TeamParam = None,
    ) -> Response[FormSaved]:
        """Validate and store a form as a new version (unless it equals the latest);
        optionally make it the form of a queue's calls or of a team's agents."""
        target_queue, target_team = _target("queue", queue), _target("team", team)
        if target_queue is not None and target_team is not None:
            raise ValidationFailed("query", None, "team", _("give either a queue or a team"))
        data = parse_definition(body, request.content_type[0])
        actor = request.user.username
        key = data.get("id")
        before = definitions.latest_form_version(db, key) if isinstance(key, str) else None
        row = save_form(db, data, actor=actor, source=BODY)
        if target_queue is not None or target_team is not None:
            assign_form(db, row.key, queue=target_queue, team_id=target_team, actor=actor)
        saved = FormSaved(row.key, row.version, row.version != before, target_queue, target_team)
        return _saved(saved, saved.new_version)
