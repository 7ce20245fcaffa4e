"""The forms admin pages (admins only): upload an evaluation form, assign it, read it.

    GET  /admin/forms              every stored form with its versions and assignments,
                                   the upload form and the assignment form
    POST /admin/forms              upload a YAML or JSON file (multipart): validated and
                                   stored as a new version unless it equals the latest
    POST /admin/forms/assign       make a form the one of a queue's calls or a team's agents
    GET  /admin/forms/{key}        one version's sections and items, read-only
    GET  /admin/forms/new          the editor, empty
    GET  /admin/forms/{key}/edit   the editor with a version (the latest unless `version`)
    POST /admin/forms/edit         store the edited form (`action=save`: the tables;
                                   `save-yaml`: the YAML box) as a new version

A refused file or edit is shown on the page with the item and the field the error is
about (the messages of `qm.domain.evaluations.forms.save_form`); in the editor, beside
the row it is about.
"""

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any

import yaml
from litestar import Controller, Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import definitions
from qm.domain.bounds import MAX_ROW_ID, control_character
from qm.domain.evaluations.forms import assign_form, save_form
from qm.errors import NotFound, ValidationFailed, http_status
from qm.i18n import gettext as _
from qm.i18n import lazy_gettext
from qm.models import Queue, Role, Team, User
from qm.web.admin.form_fields import editable, form_from_fields, problem_rows
from qm.web.admin.problems import FieldProblem, problem_of
from qm.web.admin.rows import field_text
from qm.web.api_input import MAX_DEFINITION_BYTES, parse_definition

MAX_FILE_BYTES = MAX_DEFINITION_BYTES
# The request may be a little larger than the file (the multipart envelope, the CSRF
# field); beyond this it is refused before it is read.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 64 * 1024
MAX_FILENAME = 200
ITEM_PATH = re.compile(r"sections\[(\d+)\](?:\.items\[(\d+)\])?")

# Messages people read, in one place for the translation catalogs.
NO_FILE = lazy_gettext("Choose a YAML or JSON file to upload.")
TOO_LARGE = lazy_gettext("The file is larger than {limit:,} bytes; no form is that large.")
STORED = lazy_gettext("Stored {key} as version {version}.")
UNCHANGED = lazy_gettext("{key} is unchanged: the file equals version {version}.")
ASSIGNED = lazy_gettext("{target} now uses {key}.")
PICK_TARGET = lazy_gettext("Pick a queue or a team.")
ITEM_TYPE_LABELS = {
    "yes_no": lazy_gettext("yes / no"),
    "partial": lazy_gettext("yes / partly / no"),
    "scale": lazy_gettext("scale 1-5"),
    "count": lazy_gettext("count"),
}
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass
class UploadForm:
    """The upload form's fields."""

    file: UploadFile | None = None


@dataclass
class AssignForm:
    """The assignment form's fields: `target` is `queue:<id>` or `team:<id>`."""

    form_key: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class UploadProblem:
    """Why an uploaded file was refused: the file, the item and field, and the reason."""

    file: str
    item: str | None
    field: str | None
    message: str


def _filename(upload: UploadFile) -> str:
    """The file's own name, without any folder the browser sent, safe to show and log."""
    name = PurePath((upload.filename or "").replace("\\", "/")).name
    if not name or len(name) > MAX_FILENAME or control_character(name) is not None:
        return "upload"
    return name


def _item(data: Any, field: str | None) -> str | None:
    """The section or item a field path such as `sections[0].items[2].type` is in, by id."""
    found = ITEM_PATH.match(field or "")
    if found is None or not isinstance(data, dict):
        return None
    try:
        section = data["sections"][int(found[1])]
        if found[2] is None:
            return f"section {section['id']}"
        return f"item {section['items'][int(found[2])]['id']}"
    except (KeyError, IndexError, TypeError):
        return None


def _plain(text: str) -> bool:
    return control_character(text) is None


def _problem(file: str, data: Any, exc: ValidationFailed) -> UploadProblem:
    return UploadProblem(file, _item(data, exc.field), exc.field, exc.message)


def _targets(db: Session) -> dict[str, list[str]]:
    return {
        "queues": list(db.exec(select(Queue.id).order_by(col(Queue.id))).all()),
        "teams": list(db.exec(select(Team.id).order_by(col(Team.id))).all()),
    }


def _page(
    db: Session,
    *,
    problem: UploadProblem | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    context = {
        "forms": definitions.form_summaries(db),
        "targets": _targets(db),
        "problem": problem,
        "error": error,
        "notice": notice,
        "max_bytes": MAX_FILE_BYTES,
    }
    return Template(template_name="forms/list.html", context=context, status_code=status)


def _editor(
    db: Session,
    form: dict[str, Any],
    *,
    key: str | None,
    version: int | None = None,
    yaml_text: str | None = None,
    problem: FieldProblem | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    """The form editor: the form's sections and items as tables, and the YAML box."""
    summary = next((f for f in definitions.form_summaries(db) if f.key == key), None)
    section_row, item_row = problem_rows(problem.field if problem else None, form)
    context = {
        "form": editable(form),
        "yaml_text": yaml_text
        if yaml_text is not None
        else yaml.safe_dump(form, allow_unicode=True, sort_keys=False, width=100),
        "key": key if summary is not None else None,
        "summary": summary,
        "version": version,
        "problem": problem,
        "problem_section": section_row,
        "problem_item": item_row,
        "item_types": ITEM_TYPE_LABELS,
        "targets": _targets(db),
        "notice": notice,
    }
    return Template(template_name="forms/edit.html", context=context, status_code=status)


class FormsAdminController(Controller):
    """Admins upload evaluation forms, assign them to queues or teams and read them."""

    path = "/admin/forms"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def list_forms(
        self,
        db: NamedDependency[Session],
        stored: Annotated[str | None, Parameter(max_length=100)] = None,
        version: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        same: Annotated[bool, QueryParameter()] = False,
        assigned: Annotated[str | None, Parameter(max_length=100)] = None,
        to: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Template:
        """Every stored form, the upload form and the assignment form; after an upload or
        an assignment, what was done (the parameters the redirect carries)."""
        notice = None
        if stored and version and _plain(stored):
            notice = str(UNCHANGED if same else STORED).format(key=stored, version=version)
        elif assigned and to and _plain(assigned) and _plain(to):
            kind, _sep, target = to.partition(":")
            where = _("Queue %(q)s", q=target) if kind == "queue" else _("Team %(t)s", t=target)
            notice = str(ASSIGNED).format(target=where, key=assigned)
        return _page(db, notice=notice)

    @post("/", sync_to_thread=True, request_max_body_size=MAX_UPLOAD_BYTES)
    def upload(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Redirect | Template:
        """Validate an uploaded form file and store it; a refused file re-shows the page
        with what is wrong (422), or the page says the form is unchanged."""
        upload = data.file
        if not isinstance(upload, UploadFile):
            return _page(db, error=str(NO_FILE), status=422)
        name = _filename(upload)
        content = upload.file.read(MAX_FILE_BYTES + 1)
        if len(content) > MAX_FILE_BYTES:
            problem = UploadProblem(name, None, None, str(TOO_LARGE).format(limit=MAX_FILE_BYTES))
            return _page(db, problem=problem, status=413)
        kind = "application/json" if name.lower().endswith(".json") else "application/yaml"
        parsed: Any = None
        try:
            parsed = parse_definition(content, kind, source=name)
            before = definitions.latest_form_version(db, str(parsed.get("id", "")))
            row = save_form(db, parsed, actor=request.user.username, source=name)
        except ValidationFailed as exc:
            # Nothing was written before these are raised.
            return _page(db, problem=_problem(name, parsed, exc), status=422)
        done = {"stored": row.key, "version": str(row.version)}
        if row.version == before:
            done["same"] = "true"
        return Redirect("/admin/forms", query_params=done, status_code=303)

    @post("/assign", sync_to_thread=True)
    def assign(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[AssignForm],
    ) -> Redirect | Template:
        """Make a form the one of a queue's calls or of a team's agents."""
        kind, _sep, target = data.target.partition(":")
        plain = _plain(data.form_key) and _plain(target)
        if kind not in ("queue", "team") or not target or not plain:
            return _page(db, error=str(PICK_TARGET), status=422)
        try:
            assign_form(
                db,
                data.form_key,
                queue=target if kind == "queue" else None,
                team_id=target if kind == "team" else None,
                actor=request.user.username,
            )
        except (NotFound, ValidationFailed) as exc:
            return _page(db, error=str(exc), status=http_status(exc)[0])
        done = {"assigned": data.form_key, "to": data.target}
        return Redirect("/admin/forms", query_params=done, status_code=303)

    @get("/new", sync_to_thread=True)
    def new(self, db: NamedDependency[Session]) -> Template:
        """The editor with an empty form: one section, one item."""
        section = {"id": "main", "label": "", "items": [{"id": "", "label": ""}]}
        blank = {"id": "", "name": "", "scoring": "additive", "sections": [section]}
        return _editor(db, blank, key=None, yaml_text="")

    @get("/{key:str}/edit", sync_to_thread=True)
    def edit(
        self,
        key: FromPath[str],
        db: NamedDependency[Session],
        version: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        saved: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        same: Annotated[bool, QueryParameter()] = False,
    ) -> Template:
        """A version of the form in the editor (the latest by default)."""
        if control_character(key) is not None or len(key) > 100:
            raise NotFound(_("no evaluation form with this key"))
        found = definitions.form_version(db, key, version)
        notice = None
        if saved is not None:
            notice = str(UNCHANGED if same else STORED).format(key=found.key, version=saved)
        return _editor(db, found.body, key=found.key, version=found.version, notice=notice)

    @post("/edit", sync_to_thread=True, request_max_body_size=MAX_UPLOAD_BYTES)
    def save_edit(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Store the edited form as a new version (unless it equals the latest); a refused
        one is shown again as typed, with the field named beside its row."""
        from_yaml = field_text(data.get("action")) == "save-yaml"
        base = field_text(data.get("base")) or None
        yaml_text = str(data.get("yaml") or "") if from_yaml else None
        form: dict[str, Any] = {}
        try:
            if from_yaml:
                form = parse_definition((yaml_text or "").encode(), "application/yaml",
                                        source="YAML")  # fmt: skip
            else:
                form = form_from_fields(data)
            before = definitions.latest_form_version(db, str(form.get("id", "")))
            row = save_form(db, form, actor=request.user.username, source="form")
        except ValidationFailed as exc:
            return _editor(db, form, key=base, yaml_text=yaml_text, problem=problem_of(exc),
                           status=422)  # fmt: skip
        query = {"saved": str(row.version)} | ({"same": "true"} if row.version == before else {})
        return Redirect(f"/admin/forms/{row.key}/edit", query_params=query, status_code=303)

    @get("/{key:str}", sync_to_thread=True)
    def show(
        self,
        key: FromPath[str],
        db: NamedDependency[Session],
        version: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
    ) -> Template:
        """One version of a form, its sections and items, read-only."""
        if control_character(key) is not None or len(key) > 100:
            raise NotFound("no evaluation form with this key")
        found = definitions.form_version(db, key, version)
        summary = next(f for f in definitions.form_summaries(db) if f.key == key)
        return Template(
            template_name="forms/detail.html", context={"form": found, "summary": summary}
        )
