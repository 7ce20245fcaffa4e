"""The manager's team dashboard: pages and JSON.

    GET /dashboard                                      the caller's teams (one: straight to it)
    GET /teams/{team_id}/dashboard?period=&sort=&dir=   the team's month, charts inline (SVG)
    GET /api/teams/{team_id}/dashboard?period=YYYY-MM   the same figures as JSON

Managers see the teams they manage, admins every team; a team the caller may not see
answers 404 like one that does not exist. Reviewers and agents are refused (403): the
dashboard is a report (DESIGN.md, "Visibility"). Every figure links to the calls behind
it (the call list filtered by team or agent, the month's days, the key point missed...).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from litestar.response import Redirect, Template
from markupsafe import Markup
from reportlab.graphics.shapes import Drawing
from sqlmodel import Session, col, select

from qm import i18n
from qm.auth import requires_role
from qm.domain.dashboard import (
    AgentRow,
    ItemRate,
    TeamDashboard,
    latest_period,
    team_dashboard,
)
from qm.domain.evaluations.queries import managed_teams
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import lazy_gettext
from qm.models import Role, Team, User, utcnow
from qm.settings import Settings
from reports.charts import (
    Point,
    bar_chart,
    horizontal_bars,
    scatter_chart,
    to_svg,
    trend_chart,
)
from scoring.period import Period
from scoring.stats import Estimate

SOURCE = "query"  # the "file" a ValidationFailed about a query parameter names
MANAGERS = (Role.MANAGER, Role.ADMIN)

# The metrics as a person reads them (translated when shown).
METRIC_LABELS = {
    "composite": lazy_gettext("Composite"),
    "fcr": lazy_gettext("First-contact resolution"),
    "transfer_rate": lazy_gettext("Transfer rate"),
    "aht_in_band": lazy_gettext("Handle time in band"),
    "aht_seconds": lazy_gettext("Average handle time"),
    "courtesy": lazy_gettext("Courtesy"),
    "script_compliance": lazy_gettext("Script compliance"),
    "mystery_shopper": lazy_gettext("Mystery shopper"),
}
# The per-agent table's sortable columns: key -> the value a row sorts by.
SORTS: dict[str, Callable[[AgentRow], Any]] = {
    "name": lambda r: r.name.casefold(),
    "contacts": lambda r: r.card.contacts,
    "composite": lambda r: r.card.composite.value,
    "fcr": lambda r: r.card.metrics.fcr.value,
    "transfer_rate": lambda r: r.card.metrics.transfer_rate.value,
    "aht_seconds": lambda r: r.card.metrics.aht_seconds.value,
    "courtesy": lambda r: r.card.metrics.courtesy.value,
    "script_compliance": lambda r: r.card.metrics.script_compliance.value,
    "mystery_shopper": lambda r: r.card.metrics.mystery_shopper.value,
    "evaluations": lambda r: r.evaluations,
}


def visible_team(db: Session, team_id: str, viewer: User) -> Team:
    """The team, when `viewer` may see its dashboard.

    Raises:
        NotFound: no such team, or a manager who does not manage it (the same error).
    """
    team = db.get(Team, team_id) if 0 < len(team_id) <= 64 else None
    if team is None or (viewer.role == Role.MANAGER and team.id not in managed_teams(db, viewer)):
        raise NotFound(_("no team %(team)s", team=repr(team_id)))
    return team


def _period(db: Session, team_id: str, raw: str | None, settings: Settings) -> str:
    """The month asked for, else the month of the team's newest call, else this month."""
    if raw is not None and raw.strip():
        try:
            return str(Period.parse(raw.strip()))
        except ValueError:
            raise ValidationFailed(
                SOURCE, None, "period", _("%(raw)s is not a month written as YYYY-MM", raw=raw)
            ) from None
    return latest_period(db, team_id, settings.tz) or str(Period.of(utcnow(), settings.tz))


def _once(request: Request[User, Any, State], *names: str) -> None:
    for name in names:
        if len(request.query_params.getall(name, [])) > 1:
            raise ValidationFailed(SOURCE, None, name, _("is given more than once; give it once"))


def calls_url(d: TeamDashboard, **filters: str) -> str:
    """The call list behind a figure: the team's (or `agent`'s) calls of the month."""
    params = {"from": d.first_day.isoformat(), "to": d.last_day.isoformat()}
    if "agent" not in filters:
        params["team"] = d.team_id
    params.update(filters)
    return f"/calls?{urlencode(params)}"


def _seconds(value: float) -> str:
    return i18n.format_number(value)


def _count(value: float) -> str:
    return i18n.format_number(value)


@lru_cache(maxsize=512)
def _svg(
    locale: str, chart: Callable[..., Drawing], label: str, data: tuple[Any, ...], **options: Any
) -> str:
    """`chart(data, **options)` as inline SVG, remembered: drawing costs tens of
    milliseconds (reportlab's shapes and renderer), and the same team and month give the
    same data. Every argument is part of the key: the locale (numbers are written in its
    style), the data, the translated labels, the module-level formatting functions."""
    del locale  # only part of the key
    return to_svg(chart(list(data), **options), label=label)


def charts(d: TeamDashboard) -> dict[str, Markup]:
    """The dashboard's charts as inline SVG, every label translated here."""
    share = i18n.format_share
    locale = i18n.current_locale()
    targets = {h.metric: h.target for h in d.headline}
    no_data = _("No data")

    def trend(metric: str, values: list[float | None], fmt: Callable[[float], str]) -> str:
        target = targets.get(metric)
        title = _("%(metric)s, six months", metric=str(METRIC_LABELS[metric]))
        return _svg(
            locale,
            trend_chart,
            title,
            tuple(zip([p.period for p in d.trend], values, strict=True)),
            title=title,
            empty_label=no_data,
            target=target.value if target is not None and metric != "aht_seconds" else None,
            target_label=_("Target"),
            fmt=fmt,
            y_range=(0.0, 1.0) if fmt is share else None,
        )

    def handle_label(low: float, high: float | None) -> str:
        if high is None:
            return _("%(low)s+ min", low=i18n.format_number(low / 60))
        return _(
            "%(low)s–%(high)s min",
            low=i18n.format_number(low / 60),
            high=i18n.format_number(high / 60),
        )

    def bars(title: str, rows: tuple[tuple[str, float], ...]) -> str:
        return _svg(locale, bar_chart, title, rows, title=title, empty_label=no_data, fmt=_count)

    def items(title: str, found: list[ItemRate]) -> str:
        rows = tuple((i.label, i.rate.value or 0.0) for i in found)
        return _svg(
            locale,
            horizontal_bars,
            title,
            rows,
            title=title,
            empty_label=_("None this month"),
            fmt=share,
            maximum=1.0,
        )

    scatter_title = _("Average handle time against first-contact resolution, per agent")
    found = {
        "trend_fcr": trend("fcr", [p.fcr for p in d.trend], share),
        "trend_compliance": trend(
            "script_compliance", [p.script_compliance for p in d.trend], share
        ),
        "trend_transfer": trend("transfer_rate", [p.transfer_rate for p in d.trend], share),
        "trend_aht": trend("aht_seconds", [p.aht_seconds for p in d.trend], _seconds),
        "handle_time": bars(
            _("Handle time: calls per range"),
            tuple((handle_label(b.low, b.high), b.count) for b in d.handle_time),
        ),
        "courtesy": bars(
            _("Courtesy score: calls per range"),
            tuple((f"{share(b.low)}–{share(b.high)}", b.count) for b in d.courtesy),
        ),
        "scatter": _svg(
            locale,
            scatter_chart,
            scatter_title,
            tuple(Point(p.name, p.aht_seconds, p.fcr) for p in d.scatter),
            title=scatter_title,
            x_label=_("Average handle time (s)"),
            y_label=_("First-contact resolution"),
            empty_label=no_data,
            x_fmt=_seconds,
            y_fmt=share,
            y_range=(0.0, 1.0),
        ),
        "missed": items(_("Most-missed key points"), d.missed_key_points),
        "forbidden": items(_("Forbidden phrases said"), d.forbidden_phrases),
    }
    # to_svg wrote every text through the XML serializer, which escapes it.
    return {name: Markup(svg) for name, svg in found.items()}


def sorted_rows(rows: list[AgentRow], sort: str, descending: bool) -> list[AgentRow]:
    """The per-agent rows by `sort` ("rank": ranked agents first, best first; agents
    without enough data always after the ranked ones, as they have no rank).

    Raises:
        ValidationFailed: an unknown sort column.
    """
    if sort == "rank":
        return sorted(
            rows, key=lambda r: (r.card.rank is None, r.card.rank or 0, r.name.casefold())
        )
    if sort not in SORTS:
        choices = ", ".join(["rank", *SORTS])
        raise ValidationFailed(
            SOURCE, None, "sort", _("must be one of %(choices)s", choices=choices)
        )
    key = SORTS[sort]
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    known.sort(key=key, reverse=descending)
    return known + unknown


class DashboardPagesController(Controller):
    """The dashboard pages for managers and admins."""

    include_in_schema = False
    guards = [requires_role(*MANAGERS)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/dashboard", sync_to_thread=True)
    def teams(
        self, request: Request[User, Any, State], db: NamedDependency[Session]
    ) -> Template | Redirect:
        """The teams the caller may see; a manager of one team goes straight to it."""
        viewer = request.user
        query = select(Team).order_by(col(Team.name), col(Team.id))
        if viewer.role == Role.MANAGER:
            query = query.where(col(Team.id).in_(managed_teams(db, viewer)))
        teams = list(db.exec(query).all())
        if len(teams) == 1:
            return Redirect(f"/teams/{quote(teams[0].id, safe='')}/dashboard")
        return Template(template_name="dashboard/teams.html", context={"teams": teams})

    @get("/teams/{team_id:str}/dashboard", sync_to_thread=True)
    def team(
        self,
        team_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The team's month: headline figures, agents, charts, coverage and training."""
        _once(request, "period", "sort", "dir")
        team = visible_team(db, team_id, request.user)
        period = _period(db, team.id, request.query_params.get("period"), settings)
        d = team_dashboard(db, team.id, period, settings, today=_today(settings))
        sort = request.query_params.get("sort") or "rank"
        direction = request.query_params.get("dir") or "desc"
        if direction not in ("asc", "desc"):
            raise ValidationFailed(SOURCE, None, "dir", _("must be asc or desc"))
        month = Period.parse(d.period)
        base = f"/teams/{quote(team.id, safe='')}/dashboard"
        context = {
            "d": d,
            "rows": sorted_rows(d.agents, sort, direction == "desc"),
            "sort": sort,
            "direction": direction,
            "base": base,
            "previous": month.previous(),
            "next": month.next(),
            "labels": {k: str(v) for k, v in METRIC_LABELS.items()},
            "charts": charts(d),
            "calls_url": lambda **f: calls_url(d, **f),
        }
        return Template(template_name="dashboard/team.html", context=context)


def _today(settings: Settings) -> date:
    return utcnow().astimezone(settings.tz).date()


@dataclass
class EstimateBody:
    """A value with its n and 95% interval; `value` is null when n is 0."""

    value: float | None
    n: int
    ci95: list[float] | None


def _estimate(e: Estimate) -> EstimateBody:
    return EstimateBody(e.value, e.n, None if e.ci95 is None else list(e.ci95))


@dataclass
class HeadlineBody:
    """A team figure of the month with the month before and its target."""

    metric: str
    estimate: EstimateBody
    previous: float | None
    target: float | None
    target_direction: str | None
    target_met: bool | None


@dataclass
class AgentBody:
    """One agent's month: the scorecard components, rank (null at small n), QA coverage."""

    agent_id: str
    name: str
    contacts: int
    enough_data: bool
    rank: int | None
    composite: EstimateBody
    fcr: EstimateBody
    transfer_rate: EstimateBody
    aht_seconds: EstimateBody
    aht_in_band: EstimateBody
    courtesy: EstimateBody
    script_compliance: EstimateBody
    mystery_shopper: EstimateBody
    evaluations: int
    random: int
    targeted: int


@dataclass
class TrendBody:
    """The team's figures in one month (null: no data)."""

    period: str
    contacts: int
    fcr: float | None
    transfer_rate: float | None
    aht_seconds: float | None
    script_compliance: float | None


@dataclass
class BucketBody:
    """Calls whose value lies in [low, high); `high` null: no upper end."""

    low: float
    high: float | None
    count: int


@dataclass
class AgentPointBody:
    """An agent's mean handle time (s) and FCR."""

    agent_id: str
    name: str
    aht_seconds: float
    fcr: float
    contacts: int


@dataclass
class ItemBody:
    """A key point missed (or forbidden phrase said) on `count` of `checked` calls."""

    item_id: str
    label: str
    count: int
    checked: int
    rate: EstimateBody


@dataclass
class MysteryBody:
    """An item's pass rate on mystery shops beside its hit rate on real calls."""

    item_id: str
    label: str
    mystery: EstimateBody
    real: EstimateBody
    gap: float | None


@dataclass
class CoverageBody:
    """Evaluations of the team's calls of the month, random and targeted."""

    calls: int
    evaluations: int
    random: int
    targeted: int


@dataclass
class TrainingBody:
    """An open training assignment; overdue ones first."""

    id: int
    agent_id: str
    name: str
    module_title: str
    period: str
    status: str
    due_date: date
    overdue: bool


@dataclass
class DashboardBody:
    """A team's month (see `qm.domain.dashboard`)."""

    team_id: str
    team_name: str
    period: str
    min_contacts: int
    headline: list[HeadlineBody]
    agents: list[AgentBody]
    trend: list[TrendBody]
    handle_time: list[BucketBody]
    courtesy: list[BucketBody]
    aht_vs_fcr: list[AgentPointBody]
    missed_key_points: list[ItemBody]
    forbidden_phrases: list[ItemBody]
    mystery_vs_real: list[MysteryBody]
    coverage: CoverageBody
    agreement: EstimateBody
    training: list[TrainingBody]
    training_counts: dict[str, int]


def _item(i: ItemRate) -> ItemBody:
    return ItemBody(i.item_id, i.label, i.count, i.checked, _estimate(i.rate))


def dashboard_body(d: TeamDashboard) -> DashboardBody:
    """The dashboard as the API's typed body."""
    return DashboardBody(
        team_id=d.team_id,
        team_name=d.team_name,
        period=d.period,
        min_contacts=d.min_contacts,
        headline=[
            HeadlineBody(
                metric=h.metric,
                estimate=_estimate(h.estimate),
                previous=h.previous,
                target=None if h.target is None else h.target.value,
                target_direction=None if h.target is None else h.target.direction,
                target_met=h.met,
            )
            for h in d.headline
        ],
        agents=[
            AgentBody(
                agent_id=r.agent_id,
                name=r.name,
                contacts=r.card.contacts,
                enough_data=r.card.enough_data,
                rank=r.card.rank,
                composite=_estimate(r.card.composite),
                fcr=_estimate(r.card.metrics.fcr),
                transfer_rate=_estimate(r.card.metrics.transfer_rate),
                aht_seconds=_estimate(r.card.metrics.aht_seconds),
                aht_in_band=_estimate(r.card.handle_in_band),
                courtesy=_estimate(r.card.metrics.courtesy),
                script_compliance=_estimate(r.card.metrics.script_compliance),
                mystery_shopper=_estimate(r.card.metrics.mystery_shopper),
                evaluations=r.evaluations,
                random=r.random,
                targeted=r.targeted,
            )
            for r in d.agents
        ],
        trend=[
            TrendBody(
                p.period,
                p.contacts,
                p.fcr,
                p.transfer_rate,
                p.aht_seconds,
                p.script_compliance,
            )
            for p in d.trend
        ],
        handle_time=[BucketBody(b.low, b.high, b.count) for b in d.handle_time],
        courtesy=[BucketBody(b.low, b.high, b.count) for b in d.courtesy],
        aht_vs_fcr=[
            AgentPointBody(p.agent_id, p.name, p.aht_seconds, p.fcr, p.contacts) for p in d.scatter
        ],
        missed_key_points=[_item(i) for i in d.missed_key_points],
        forbidden_phrases=[_item(i) for i in d.forbidden_phrases],
        mystery_vs_real=[
            MysteryBody(m.item_id, m.label, _estimate(m.mystery), _estimate(m.real), m.gap)
            for m in d.mystery
        ],
        coverage=CoverageBody(
            d.coverage.calls, d.coverage.evaluations, d.coverage.random, d.coverage.targeted
        ),
        agreement=_estimate(d.agreement),
        training=[
            TrainingBody(
                t.id,
                t.agent_id,
                t.name,
                t.module_title,
                t.period,
                t.status.value,
                t.due_date,
                t.overdue,
            )
            for t in d.training
        ],
        training_counts=dict(d.training_counts),
    )


PeriodParam = Annotated[
    str | None,
    Parameter(
        description="Calendar month YYYY-MM in the site's time zone "
        "(default: the month of the team's newest call)."
    ),
]


class DashboardApiController(Controller):
    """A team's dashboard as JSON, for its managers and admins."""

    path = "/api/teams/{team_id:str}/dashboard"
    tags = ["teams"]  # noqa: RUF012  (Litestar reads a plain list)
    guards = [requires_role(*MANAGERS)]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def read(
        self,
        team_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        period: PeriodParam = None,
    ) -> DashboardBody:
        """The team's month: headline figures with n, 95% intervals and targets; agents
        (ranked only with enough contacts); six-month trend; distributions; AHT vs FCR;
        most-missed key points and forbidden phrases; mystery vs real; QA coverage;
        agreement; training plan, overdue first."""
        _once(request, "period")
        team = visible_team(db, team_id, request.user)
        month = _period(db, team.id, period, settings)
        return dashboard_body(team_dashboard(db, team.id, month, settings, today=_today(settings)))
