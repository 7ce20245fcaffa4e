"""The training-module catalog (admins only): edit the modules the training plan assigns.

    GET  /admin/training          the catalog in use (the site's, else the shipped one)
    POST /admin/training          store the edited catalog (replaces the site's)
    POST /admin/training/reset    drop the site's catalog: the shipped one is used again

Each module lists the criteria it addresses, one per line: `key_point:<id>`,
`mystery:<id>`, `metric:<name>`, or a kind with `*` for any of that kind.
"""

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain import training_catalog
from qm.errors import ValidationFailed
from qm.i18n import lazy_gettext
from qm.models import Role, User
from qm.web.admin.problems import FieldProblem, problem_of
from qm.web.admin.rows import lines, read_rows, row_of

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
NOTICES = {
    "saved": lazy_gettext("The catalog was saved; new training plans use it."),
    "reset": lazy_gettext("The shipped catalog is in use again."),
}


def _page(
    db: Session,
    rows: list[dict[str, Any]] | None = None,
    *,
    problem: FieldProblem | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    if rows is None:
        rows = [
            m | {"criteria": "\n".join(m["criteria"]), "minutes": str(m["minutes"])}
            for m in training_catalog.module_rows(training_catalog.site_catalog(db))
        ]
    fields = ("id", "title", "minutes", "criteria")
    context = {
        "rows": [{name: row.get(name, "") for name in fields} for row in rows],
        "edited": training_catalog.is_edited(db),
        "problem": problem,
        "problem_row": row_of(problem.field if problem else None, "modules"),
        "notice": notice,
    }
    return Template(template_name="admin/training.html", context=context, status_code=status)


def _minutes(raw: str) -> Any:
    """Minutes as typed: a number when it reads as one, else the text (refused, named)."""
    try:
        return float(raw) if raw else 0
    except ValueError:
        return raw


class TrainingAdminController(Controller):
    """Admins edit the training-module catalog."""

    path = "/admin/training"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(
        self,
        db: NamedDependency[Session],
        done: Annotated[str | None, Parameter(max_length=20)] = None,
    ) -> Template:
        """The catalog in use, as an editable table of modules."""
        return _page(db, notice=str(NOTICES[done]) if done in NOTICES else None)

    @post("/", sync_to_thread=True)
    def save(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Store the modules as edited; a refused one re-shows the table with the field."""
        rows = read_rows(data, "m")
        modules = [
            {
                "id": row.get("id", ""),
                "title": row.get("title", ""),
                "minutes": _minutes(row.get("minutes", "")),
                "criteria": lines(row.get("criteria", "")),
            }
            for row in rows
        ]
        try:
            training_catalog.save_catalog(db, modules, actor=request.user.username)
        except ValidationFailed as exc:
            return _page(db, rows, problem=problem_of(exc), status=422)
        return Redirect("/admin/training", query_params={"done": "saved"}, status_code=303)

    @post("/reset", sync_to_thread=True)
    def reset(self, request: Request[User, Any, State], db: NamedDependency[Session]) -> Redirect:
        """Use the shipped catalog again."""
        training_catalog.reset_catalog(db, actor=request.user.username)
        return Redirect("/admin/training", query_params={"done": "reset"}, status_code=303)
