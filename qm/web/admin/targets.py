"""Targets per metric and composite weights (admins only), for the site or one team.

    GET  /admin/targets?team=T     the site's (or team T's) targets and weights
    POST /admin/targets            store targets (percent; an empty box falls back)
    POST /admin/targets/weights    store composite weights (percent; they must add up to 100)
    POST /admin/targets/clear      a team uses the site's targets and weights again

The values are stored by `qm.domain.targets`, which scorecards, the dashboard and the
training plan read (`site_targets`, `scorecard_config`, `training_rules`).
"""

import math
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import targets
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import lazy_gettext
from qm.models import Role, Team, User
from qm.settings import Settings
from qm.web.admin.problems import FieldProblem, problem_of
from scoring.scorecard import Weights

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
TeamParam = Annotated[str | None, Parameter(max_length=64)]

METRIC_LABELS = {
    "fcr": lazy_gettext("First-contact resolution"),
    "transfer_rate": lazy_gettext("Transfer rate"),
    "aht_in_band": lazy_gettext("Handle time in band"),
    "courtesy": lazy_gettext("Courtesy"),
    "script_compliance": lazy_gettext("Script compliance"),
    "mystery_shopper": lazy_gettext("Mystery shopper"),
    "composite": lazy_gettext("Composite"),
}
WEIGHT_LABELS = {
    "fcr": lazy_gettext("First-contact resolution"),
    "transfer_rate": lazy_gettext("Transfers (fewer is better)"),
    "aht_seconds": lazy_gettext("Handle time in band"),
    "courtesy": lazy_gettext("Courtesy"),
    "script_compliance": lazy_gettext("Script compliance"),
    "mystery_shopper": lazy_gettext("Mystery shopper"),
}


def _text(value: Any) -> str:
    """One form field's text (a repeated field: its last value)."""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def _percent(field: str, raw: str) -> float:
    """A percentage typed in a box, as a share; the field is named when it is no number."""
    try:
        number = float(raw.replace(",", ".").rstrip("%"))
    except ValueError:
        raise ValidationFailed("form", None, field, _("must be a number (percent)")) from None
    if not math.isfinite(number):
        raise ValidationFailed("form", None, field, _("must be a number (percent)"))
    return number / 100


def _team(db: Session, team: str | None) -> str | None:
    """The team whose values are meant (None: the site's); an unknown team is 404."""
    if not team:
        return None
    if db.get(Team, team) is None:
        raise NotFound(_("no such team"))
    return team


def _page(
    db: Session,
    settings: Settings,
    team: str | None,
    *,
    problem: FieldProblem | None = None,
    which: str | None = None,
    entered: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    weights = targets.composite_weights(db, team, default=Weights(**settings.scorecard_weights))
    context = {
        "team": team,
        "teams": db.exec(select(Team).order_by(col(Team.id))).all(),
        "targets": targets.site_targets(db, team),
        "metric_labels": METRIC_LABELS,
        "weights": weights.as_dict(),
        "weights_source": targets.weights_source(db, team),
        "weight_labels": WEIGHT_LABELS,
        "problem": problem,
        "which": which,
        "entered": entered or {},
        "notice": notice,
    }
    return Template(template_name="admin/targets.html", context=context, status_code=status)


def _back(team: str | None, done: str) -> Redirect:
    query = {"done": done} | ({"team": team} if team else {})
    return Redirect("/admin/targets", query_params=query, status_code=303)


NOTICES = {
    "targets": lazy_gettext("The targets were saved."),
    "weights": lazy_gettext("The composite weights were saved."),
    "cleared": lazy_gettext("This team uses the site's targets and weights again."),
}


class TargetsAdminController(Controller):
    """Admins set the targets per metric and the composite weights."""

    path = "/admin/targets"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(
        self,
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        team: TeamParam = None,
        done: Annotated[str | None, Parameter(max_length=20)] = None,
    ) -> Template:
        """The targets and weights of the site, or of one team (with where each comes from)."""
        notice = str(NOTICES[done]) if done in NOTICES else None
        return _page(db, settings, _team(db, team), notice=notice)

    @post("/", sync_to_thread=True)
    def save_targets(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: FormData,
    ) -> Redirect | Template:
        """Store the targets typed in (percent); an empty box falls back to the site's
        value (for a team) or the default."""
        team = _team(db, _text(data.get("team")) or None)
        entered = {name: _text(data.get(f"target-{name}")) for name in targets.METRIC_NAMES}
        try:
            values = {name: _percent(name, raw) for name, raw in entered.items() if raw}
            targets.save_targets(db, values, actor=request.user.username, team_id=team)
        except ValidationFailed as exc:
            return _page(db, settings, team, problem=problem_of(exc), which="targets",
                         entered=entered, status=422)  # fmt: skip
        return _back(team, "targets")

    @post("/weights", sync_to_thread=True)
    def save_weights(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: FormData,
    ) -> Redirect | Template:
        """Store the composite weights typed in (percent); they must add up to 100."""
        team = _team(db, _text(data.get("team")) or None)
        entered = {name: _text(data.get(f"weight-{name}")) for name in targets.WEIGHT_NAMES}
        try:
            values = {name: _percent(name, raw) for name, raw in entered.items() if raw}
            targets.save_weights(db, values, actor=request.user.username, team_id=team)
        except ValidationFailed as exc:
            problem = problem_of(exc)
            if exc.field == "weights":
                total = sum(values.values()) * 100
                problem = FieldProblem(
                    "weights",
                    _("The weights add up to %(total)s%%, not 100%%.", total=f"{total:g}"),
                )
            return _page(db, settings, team, problem=problem, which="weights",
                         entered=entered, status=422)  # fmt: skip
        return _back(team, "weights")

    @post("/clear", sync_to_thread=True)
    def clear(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect:
        """A team's own targets and weights removed: the site's apply to it again."""
        team = _team(db, _text(data.get("team")) or None)
        if team is None:
            raise NotFound(_("no such team"))
        targets.clear_team_settings(db, team, actor=request.user.username)
        return _back(team, "cleared")
