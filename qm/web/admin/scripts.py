"""The script editor (admins only): DESIGN.md's script format as a form, with a preview.

    GET  /admin/scripts                 every script, its versions and queues
    GET  /admin/scripts/new             an empty script
    GET  /admin/scripts/{key}/edit      a version (the latest unless `version`) to edit
    POST /admin/scripts/edit            `action=save`: store the edited script as a new
                                        version (unless equal to the latest);
                                        `action=preview`: check a chosen call against it,
                                        unsaved; `-yaml` variants read the YAML box instead
    POST /admin/scripts/{key}/assign    make it a queue's script and re-check the queue's
                                        calls in the background (`qm.web.rechecks`)
    GET  /admin/scripts/{key}/suggestions  the phrases reviewers' decisions suggest
                                        (`qm.domain.phrase_suggestions`)
    POST /admin/scripts/{key}/suggestions  `action=accept`: add the ticked ones to a new
                                        version; `action=dismiss`: drop them from the list

Validation is the scoring library's (`scoring.script.parse_script`): its message names
the field (`key_points[2].phrases`), which the page shows beside that row's input.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import yaml
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import definitions, phrase_suggestions, rechecks, scripts
from qm.domain.bounds import MAX_CALL_ID, MAX_QUEUE_ID, MAX_ROW_ID, text_problem
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import library_message, ngettext
from qm.models import Call, Queue, Role, Transcript, User
from qm.web.admin.problems import FieldProblem, problem_of
from qm.web.admin.rows import field_text, lines, read_rows, row_of
from qm.web.api_input import MAX_DEFINITION_BYTES, parse_definition
from qm.web.rechecks import recheck_after_response
from scoring.keypoints import CheckResult
from scoring.script import LANGUAGES, SPEAKERS, ScriptError, parse_script

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MAX_KEY = 100
PREVIEW_CALLS = 30  # calls offered for the preview


@dataclass(frozen=True, slots=True)
class PreviewCall:
    """A call the preview may check: its id, queue and when it started."""

    id: str
    queue: str | None
    agent_id: str
    started_at: Any


@dataclass(frozen=True, slots=True)
class Preview:
    """A preview's outcome: the call checked and what the edited script found on it."""

    call_id: str
    result: CheckResult


def _number(raw: str) -> Any:
    """A number as typed; text that is no number is passed on for the parser to name."""
    if not raw:
        return None
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return raw


def _ids(raw: str) -> list[str]:
    return [part for part in raw.replace(",", " ").split() if part]


def script_from_form(data: dict[str, Any]) -> dict[str, Any]:
    """The structured form's fields as a script in DESIGN.md's format (unvalidated)."""
    script: dict[str, Any] = {
        "id": field_text(data.get("id")),
        "name": field_text(data.get("name")),
        "language": field_text(data.get("language")) or "en",
        "key_points": [],
        "forbidden": [],
    }
    for row in read_rows(data, "kp", significant=("id", "label", "phrases")):
        point: dict[str, Any] = {
            "id": row.get("id", ""),
            "label": row.get("label", ""),
            "phrases": lines(row.get("phrases", "")),
            "speaker": row.get("speaker") or "agent",
            "after": _ids(row.get("after", "")),
            "required": bool(row.get("required")),
            "critical": bool(row.get("critical")),
        }
        for name, raw in (
            ("within_seconds", row.get("within", "")),
            ("weight", row.get("weight", "")),
        ):
            value = _number(raw)
            if value is not None:
                point[name] = value
        script["key_points"].append(point)
    for row in read_rows(data, "fb", significant=("id", "label", "phrases")):
        script["forbidden"].append(
            {
                "id": row.get("id", ""),
                "label": row.get("label", ""),
                "phrases": lines(row.get("phrases", "")),
                "critical": bool(row.get("critical")),
            }
        )
    courtesy = field_text(data.get("courtesy"))
    if courtesy:
        try:
            script["courtesy"] = json.loads(courtesy)
        except json.JSONDecodeError:
            raise ValidationFailed("script", None, "courtesy", _("is not valid JSON")) from None
    return script


def _editable(script: dict[str, Any]) -> dict[str, Any]:
    """A script (parsed or as submitted) as the form's fields show it."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    def number(value: Any) -> str:
        return f"{value:g}" if isinstance(value, int | float) else text(value)

    def phrases(value: Any) -> str:
        return "\n".join(str(p) for p in value) if isinstance(value, list) else text(value)

    points = script.get("key_points") if isinstance(script.get("key_points"), list) else []
    rules = script.get("forbidden") if isinstance(script.get("forbidden"), list) else []
    courtesy = script.get("courtesy")
    return {
        "id": text(script.get("id")),
        "name": text(script.get("name")),
        "language": text(script.get("language")) or "en",
        "key_points": [
            {
                "id": text(p.get("id")),
                "label": text(p.get("label")),
                "phrases": phrases(p.get("phrases")),
                "speaker": text(p.get("speaker")) or "agent",
                "within": number(p.get("within_seconds")),
                "after": ", ".join(p.get("after") or [])
                if isinstance(p.get("after"), list)
                else "",
                "required": p.get("required", True) is not False,
                "critical": p.get("critical") is True,
                "weight": number(p.get("weight", 1)),
            }
            for p in points or []
            if isinstance(p, dict)
        ],
        "forbidden": [
            {
                "id": text(f.get("id")),
                "label": text(f.get("label")),
                "phrases": phrases(f.get("phrases")),
                "critical": f.get("critical") is True,
            }
            for f in rules or []
            if isinstance(f, dict)
        ],
        "courtesy": json.dumps(courtesy, ensure_ascii=False) if courtesy else "",
    }


def _as_yaml(script: dict[str, Any]) -> str:
    return yaml.safe_dump(script, allow_unicode=True, sort_keys=False, width=100)


def _preview_calls(db: Session, key: str | None) -> list[PreviewCall]:
    """Recent calls with a transcript, from the script's queues when it has any."""
    query = (
        select(Call.id, Call.queue, Call.agent_id, Call.started_at)
        .where(col(Call.id).in_(select(Transcript.call_id)))
        .order_by(col(Call.started_at).desc())
        .limit(PREVIEW_CALLS)
    )
    if key is not None:
        queues = db.exec(select(Queue.id).where(col(Queue.script_key) == key)).all()
        if queues:
            query = query.where(col(Call.queue).in_(queues))
    return [PreviewCall(*row) for row in db.exec(query).all()]


def _page(
    db: Session,
    script: dict[str, Any],
    *,
    key: str | None,
    version: int | None = None,
    yaml_text: str | None = None,
    problem: FieldProblem | None = None,
    preview: Preview | None = None,
    call_id: str = "",
    notice: str | None = None,
    status: int = 200,
) -> Template:
    summary = next((s for s in definitions.script_summaries(db) if s.key == key), None)
    field = problem.field if problem else None
    context = {
        "script": _editable(script),
        "yaml_text": yaml_text if yaml_text is not None else _as_yaml(script),
        "key": key if summary is not None else None,
        "summary": summary,
        "version": version,
        "problem": problem,
        "kp_error": row_of(field, "key_points"),
        "fb_error": row_of(field, "forbidden"),
        "preview": preview,
        "calls": _preview_calls(db, key if summary is not None else None),
        "call_id": call_id,
        "queues": db.exec(select(Queue.id).order_by(col(Queue.id))).all(),
        "speakers": SPEAKERS,
        "speaker_labels": {"agent": _("agent"), "customer": _("customer"), "any": _("anyone")},
        "languages": LANGUAGES,
        "notice": notice,
        "suggested": _pending_count(db, key) if summary is not None and key else 0,
    }
    return Template(template_name="admin/script_edit.html", context=context, status_code=status)


def _suggestions(db: Session, key: str) -> list[phrase_suggestions.Suggestion]:
    """The script's pending phrase suggestions as the web process can find them.

    The web process does not load the semantic model (seconds to load, and memory in
    every worker): with no matcher the sentence of each reviewer's line is chosen by the
    characters it shares with the key point's phrases, as `qm script suggest` does when
    the model is off.
    """
    return phrase_suggestions.suggestions(db, key, matcher=None)


def _pending_count(db: Session, key: str) -> int:
    """How many suggestions wait for the script: 0 when its latest version no longer
    passes the checks (stored before a rule it breaks), as no phrase can be added to it
    (its suggestions page says why)."""
    try:
        return len(_suggestions(db, key))
    except ScriptError:
        return 0


def _suggestions_url(key: str) -> str:
    return f"/admin/scripts/{quote(key, safe='')}/suggestions"


def _suggestions_page(
    db: Session,
    key: str,
    *,
    chosen: frozenset[int] = frozenset(),
    problem: FieldProblem | None = None,
    notice: str | None = None,
    accepted: int | None = None,
    status: int = 200,
) -> Template:
    summary = next(s for s in definitions.script_summaries(db) if s.key == key)
    broken = None
    try:
        found = _suggestions(db, key)
    except ScriptError as exc:
        found, broken = [], FieldProblem(exc.field, library_message(exc))
    context = {
        "key": key,
        "summary": summary,
        "suggestions": found,
        "broken": broken,
        "chosen": chosen,
        "problem": problem,
        "notice": notice,
        "accepted": accepted,
    }
    return Template(
        template_name="admin/script_suggestions.html", context=context, status_code=status
    )


def _chosen_ids(data: dict[str, Any]) -> list[int]:
    """The ticked suggestions' ids, in the order sent.

    Raises:
        ValidationFailed: none is ticked, or a value is not an id (`field` is `id`).
    """
    value = data.get("id", [])
    values = value if isinstance(value, list) else [value]
    ids: list[int] = []
    for raw in values:
        text = str(raw).strip()
        if not text.isdigit() or len(text) > len(str(MAX_ROW_ID)):
            raise ValidationFailed(
                "suggestions", None, "id", _("%(v)s is not a suggestion's number", v=text[:20])
            )
        ids.append(int(text))
    if not ids:
        raise ValidationFailed("suggestions", None, "id", _("tick at least one suggestion"))
    return ids


def _key(key: str) -> str:
    if text_problem(key, MAX_KEY) is not None:
        raise NotFound(_("no script with this key"))
    return key


def _notice(
    saved: int | None, same: bool, assigned: str | None, rechecked: int | None
) -> str | None:
    if saved is not None:
        if same:
            return _("Nothing new to store: the script equals version %(v)s.", v=saved)
        return _("Stored as version %(v)s.", v=saved)
    if assigned:
        notice = _("The script is now checked on the calls of queue %(q)s.", q=assigned)
        if rechecked:
            notice += " " + _("%(n)s calls are being re-checked in the background.", n=rechecked)
        return notice
    return None


class ScriptsAdminController(Controller):
    """Admins edit call scripts, preview them on a call and assign them to queues."""

    path = "/admin/scripts"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def list_scripts(self, db: NamedDependency[Session]) -> Template:
        """Every stored script with its versions, the queues that use it and how many
        phrase suggestions wait for an admin."""
        summaries = definitions.script_summaries(db)
        pending = {s.key: _pending_count(db, s.key) for s in summaries}
        return Template(
            template_name="admin/scripts.html",
            context={"scripts": summaries, "pending": pending},
        )

    @get("/new", sync_to_thread=True)
    def new(self, db: NamedDependency[Session]) -> Template:
        """An empty script with one key point to fill in."""
        blank = {"id": "", "name": "", "language": "en", "key_points": [{}], "forbidden": []}
        return _page(db, blank, key=None, yaml_text="")

    @get("/{key:str}/edit", sync_to_thread=True)
    def edit(
        self,
        key: FromPath[str],
        db: NamedDependency[Session],
        version: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        saved: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        same: Annotated[bool, QueryParameter()] = False,
        assigned: Annotated[str | None, Parameter(max_length=MAX_QUEUE_ID)] = None,
        rechecked: Annotated[int | None, Parameter(ge=0)] = None,
    ) -> Template:
        """A stored version of the script in the editor (the latest by default)."""
        found = definitions.script_version(db, _key(key), version)
        notice = _notice(saved, same, assigned, rechecked)
        return _page(db, found.body, key=found.key, version=found.version, notice=notice)

    @post("/edit", sync_to_thread=True, request_max_body_size=MAX_DEFINITION_BYTES + 64 * 1024)
    def save_or_preview(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Save the edited script as a new version, or preview it on a call (unsaved)."""
        action = field_text(data.get("action"))
        from_yaml = action.endswith("-yaml")
        base = field_text(data.get("base")) or None
        yaml_text = str(data.get("yaml") or "") if from_yaml else None
        call_id = field_text(data.get("call_id"))
        script: dict[str, Any] = {}
        try:
            if from_yaml:
                script = parse_definition((yaml_text or "").encode(), "application/yaml",
                                          source="YAML")  # fmt: skip
            else:
                script = script_from_form(data)
            try:
                parsed = parse_script(script, source="script")
            except ScriptError as exc:
                raise ValidationFailed("script", None, exc.field, library_message(exc)) from None
            if action.startswith("preview"):
                if text_problem(call_id, MAX_CALL_ID) is not None or not call_id:
                    raise ValidationFailed("preview", None, "call_id", _("choose a call"))
                result = scripts.preview_check(db, parsed, call_id)
                return _page(db, parsed.to_dict(), key=base, yaml_text=yaml_text, call_id=call_id,
                             preview=Preview(call_id, result))  # fmt: skip
            before = definitions.latest_script_version(db, parsed.id)
            row = scripts.save_script(db, parsed, actor=request.user.username)
        except NotFound as exc:
            problem = FieldProblem("call_id", str(exc))
            return _page(db, script, key=base, yaml_text=yaml_text, call_id=call_id,
                         problem=problem, status=422)  # fmt: skip
        except ValidationFailed as exc:
            return _page(db, script, key=base, yaml_text=yaml_text, call_id=call_id,
                         problem=problem_of(exc), status=422)  # fmt: skip
        query = {"saved": str(row.version)} | ({"same": "true"} if row.version == before else {})
        return Redirect(f"/admin/scripts/{row.key}/edit", query_params=query, status_code=303)

    @post("/{key:str}/assign", sync_to_thread=True)
    def assign(
        self,
        key: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: FormData,
    ) -> Redirect | Template:
        """Make the script the one checked on a queue's calls, and re-check them."""
        key = _key(key)
        found = definitions.script_version(db, key)
        queue = field_text(data.get("queue"))
        problem = _("choose a queue") if not queue else text_problem(queue, MAX_QUEUE_ID)
        if problem is not None:
            return _page(db, found.body, key=key, version=found.version, status=422,
                         problem=FieldProblem("queue", problem))  # fmt: skip
        actor = request.user.username
        scripts.assign_to_queue(db, key, queue, actor=actor)
        db.flush()
        marked = rechecks.recheck_queue(db, queue=queue, actor=actor)
        later = recheck_after_response(request.app.state, queue=queue) if marked else None
        query = {"assigned": queue, "rechecked": str(marked)}
        return Redirect(f"/admin/scripts/{key}/edit", query_params=query, status_code=303,
                        background=later)  # fmt: skip

    @get("/{key:str}/suggestions", sync_to_thread=True)
    def show_suggestions(
        self,
        key: FromPath[str],
        db: NamedDependency[Session],
        accepted: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
        dismissed: Annotated[int | None, Parameter(ge=1, le=MAX_ROW_ID)] = None,
    ) -> Template:
        """The phrase variants reviewers' decisions suggest for the script, to add to a
        new version or dismiss."""
        found = definitions.script_version(db, _key(key))
        notice = None
        if accepted is not None:
            notice = _("The phrases were added to a new version: version %(v)s.", v=accepted)
        elif dismissed is not None:
            notice = ngettext(
                "%(num)s suggestion dismissed; the reviewers' decisions still teach the checker.",
                "%(num)s suggestions dismissed; the reviewers' decisions still teach the checker.",
                dismissed,
            )
        return _suggestions_page(db, found.key, notice=notice, accepted=accepted)

    @post("/{key:str}/suggestions", sync_to_thread=True)
    def decide_suggestions(
        self,
        key: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: FormData,
    ) -> Redirect | Template:
        """Add the ticked suggestions to a new version of the script, or dismiss them."""
        key = definitions.script_version(db, _key(key)).key  # an unknown script is a 404
        action = field_text(data.get("action"))
        ids: list[int] = []
        try:
            ids = _chosen_ids(data)
            actor = request.user.username
            if action == "accept":
                saved = phrase_suggestions.accept_suggestions(
                    db, key, ids, actor=actor, matcher=None
                )
                query = {"accepted": str(saved.version)}
            elif action == "dismiss":
                phrase_suggestions.dismiss_suggestions(db, key, ids, actor=actor, matcher=None)
                query = {"dismissed": str(len(set(ids)))}
            else:
                raise ValidationFailed("suggestions", None, "action", _("choose a button"))
        except (NotFound, ValidationFailed) as exc:
            # A stale id (decided meanwhile) or a phrase the script cannot take: the domain
            # raises before writing, and the page shows why beside the list.
            db.rollback()
            return _suggestions_page(db, key, chosen=frozenset(ids), problem=problem_of(exc),
                                     status=422)  # fmt: skip
        except ScriptError:
            # The latest version no longer passes the checks: the page says so.
            db.rollback()
            return _suggestions_page(db, key, chosen=frozenset(ids), status=422)
        return Redirect(_suggestions_url(key), query_params=query, status_code=303)
