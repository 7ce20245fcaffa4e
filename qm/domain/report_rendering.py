"""The PDFs themselves: the database's figures handed to the `reports` renderers.

`PdfRenderer` is the `ReportRenderer` that the monthly job, `qm report` and the scheduler
use. The team report takes the team dashboard's figures (`qm.domain.dashboard`), the
agent's PDF the agent's scorecard (`qm.domain.agent_scorecard`): the same numbers as the
web pages and `qm scorecard --json`. Everything is written inside `use_locale` of the
recipient's language, so the document's words and its number, date and month formats
come from the same catalogs as the web.
"""

from collections import Counter
from dataclasses import fields
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.agent_scorecard import AgentScorecard, agent_scorecard
from qm.domain.dashboard import TeamDashboard, TrendPoint, team_dashboard
from qm.domain.stored_transcripts import current_transcript_info
from qm.domain.targets import scorecard_config
from qm.domain.training import follow_ups
from qm.errors import NotFound
from qm.i18n import (
    N_,
    format_day,
    format_duration,
    format_instant,
    format_month,
    format_number,
    format_share,
    gettext,
    use_locale,
)
from qm.models import (
    Agent,
    Call,
    Dispute,
    DisputeOutcome,
    DisputeState,
    Evaluation,
    KeyPointResult,
    ResultKind,
    Segment,
    Team,
    TrainingAssignment,
    TrainingStatus,
    utcnow,
)
from qm.settings import Settings
from reports.agent_scorecard import (
    EVIDENCE_CHARACTERS,
    MAX_EXCERPTS,
    AgentReportData,
    Excerpt,
    GapLine,
    Strength,
    TrainingItem,
)
from reports.agent_scorecard import render_agent_report as render_agent_pdf
from reports.monthly import (
    AgentLine,
    Coverage,
    Disputes,
    FollowUpLine,
    HandleFcr,
    ItemCount,
    MysteryComparison,
    TeamReportData,
    Training,
    render_team_report,
)
from reports.pdf import METRIC_LABELS, Figure, Formats, Series
from scoring.period import Period

# A trend point's fields that are not a metric.
TREND_KEYS = frozenset({"period", "contacts"})


def trend_metrics() -> list[str]:
    """The metrics the dashboard's six-month trend holds, in its order (one chart each)."""
    return [f.name for f in fields(TrendPoint) if f.name not in TREND_KEYS]


def app_formats(settings: Settings) -> Formats:
    """Numbers, shares, durations and dates written as the web writes them (current locale)."""
    return Formats(
        number=lambda value, digits: format_number(value, digits),
        share=lambda share, digits: format_share(share, digits),
        duration=lambda seconds: format_duration(seconds),
        instant=lambda instant: format_instant(instant, settings.tz),
        day=lambda day: format_day(day),
        month=format_month,
    )


def _critical_failures(
    session: Session, dash: TeamDashboard, settings: Settings
) -> list[ItemCount]:
    """Critical key points missed on the team's calls of the month, most frequent first."""
    start, end = Period.parse(dash.period).bounds(settings.tz)
    team_agents = select(Agent.id).where(col(Agent.team_id) == dash.team_id)
    rows = session.execute(
        sa.select(
            col(KeyPointResult.label),
            col(KeyPointResult.item_id),
            sa.func.sum(sa.case((col(KeyPointResult.hit).is_(False), 1), else_=0)),
            sa.func.count(),
        )
        .join(Call, col(Call.id) == col(KeyPointResult.call_id))
        .where(
            col(KeyPointResult.kind) == ResultKind.KEY_POINT,
            col(KeyPointResult.critical).is_(True),
            col(Call.agent_id).in_(team_agents),
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
        )
        .group_by(col(KeyPointResult.label), col(KeyPointResult.item_id))
    ).all()
    found = [
        ItemCount(label or item_id, int(missed or 0), int(checked))
        for label, item_id, missed, checked in rows
        if missed
    ]
    return sorted(found, key=lambda i: (-i.count, i.label))


def _disputes(session: Session, dash: TeamDashboard, settings: Settings) -> Disputes:
    """Disputes opened in the month on evaluations of the team's calls, and their outcomes."""
    start, end = Period.parse(dash.period).bounds(settings.tz)
    team_agents = select(Agent.id).where(col(Agent.team_id) == dash.team_id)
    rows = session.execute(
        sa.select(col(Dispute.state), col(Dispute.outcome))
        .join(Evaluation, col(Evaluation.id) == col(Dispute.evaluation_id))
        .join(Call, col(Call.id) == col(Evaluation.call_id))
        .where(
            col(Call.agent_id).in_(team_agents),
            col(Dispute.created_at) >= start,
            col(Dispute.created_at) < end,
        )
    ).all()
    outcomes = Counter(str(outcome) for _state, outcome in rows if outcome is not None)
    return Disputes(
        opened=len(rows),
        still_open=sum(1 for state, _ in rows if state == DisputeState.OPEN),
        upheld=outcomes[DisputeOutcome.UPHELD.value],
        changed=outcomes[DisputeOutcome.CHANGED.value],
    )


# Completed assignments re-measured in the team report (newest months first).
FOLLOW_UP_ASSIGNMENTS = 20
# A training criterion's kind ("key_point:verify") as the report names it.
CRITERION_KINDS = {
    "key_point": N_("Key point"),
    "metric": N_("Metric"),
    "mystery": N_("Mystery-shopper item"),
}


def _criterion_label(criterion: str, labels: dict[str, str]) -> str:
    """`Key point: Verify the caller's identity`, `Metric: First-contact resolution` in
    the current locale; a key point or mystery item by its script label from `labels`
    (item id -> label), else by its id."""
    kind, _sep, name = criterion.partition(":")
    name = gettext(METRIC_LABELS.get(name, name)) if kind == "metric" else labels.get(name, name)
    return f"{gettext(CRITERION_KINDS[kind])}: {name}" if kind in CRITERION_KINDS else criterion


def _item_labels(session: Session, item_ids: set[str]) -> dict[str, str]:
    """The label the key-point results give each of `item_ids` (the scripts' own words)."""
    if not item_ids:
        return {}
    rows = session.execute(
        sa.select(col(KeyPointResult.item_id), sa.func.max(col(KeyPointResult.label)))
        .where(col(KeyPointResult.item_id).in_(sorted(item_ids)), col(KeyPointResult.label) != "")
        .group_by(col(KeyPointResult.item_id))
    ).all()
    return {item_id: label for item_id, label in rows if label}


def _training(session: Session, dash: TeamDashboard, settings: Settings, today: date) -> Training:
    """The team's assignments by state as of `today` (assigned: not yet completed, overdue
    among them; completed), and the re-measure of each criterion of the assignments
    completed for `dash.period` or before, as the agent's training page computes it
    (`qm.domain.training.follow_ups`)."""
    team_agents = select(Agent.id).where(col(Agent.team_id) == dash.team_id)
    done = col(TrainingAssignment.status) == TrainingStatus.COMPLETED.value
    assigned, overdue, completed = session.execute(
        sa.select(
            sa.func.count().filter(sa.not_(done)),
            sa.func.count().filter(sa.not_(done), col(TrainingAssignment.due_date) < today),
            sa.func.count().filter(done),
        ).where(col(TrainingAssignment.agent_id).in_(team_agents))
    ).one()
    finished = session.exec(
        select(TrainingAssignment, Agent.name)
        .join(Agent, col(Agent.id) == col(TrainingAssignment.agent_id))
        .where(
            col(Agent.team_id) == dash.team_id,
            done,
            col(TrainingAssignment.period) <= dash.period,
        )
        .order_by(
            col(TrainingAssignment.period).desc(),
            col(Agent.name),
            col(TrainingAssignment.id),
        )
        .limit(FOLLOW_UP_ASSIGNMENTS)
    ).all()
    config = scorecard_config(session, settings, dash.team_id)
    labels = _item_labels(
        session,
        {
            str(c.get("criterion", "")).partition(":")[2]
            for assignment, _name in finished
            for c in assignment.criteria
            if not str(c.get("criterion", "")).startswith("metric:")
        },
    )
    lines = [
        FollowUpLine(
            label=f"{assignment.module_title} · {_criterion_label(f.criterion, labels)}",
            before=f.before,
            after=f.after,
            agent=name,
            metric=f.criterion.partition(":")[2]
            if f.criterion.startswith("metric:")
            else "script_compliance",
        )
        for assignment, name in finished
        for f in follow_ups(session, assignment, tz=settings.tz, config=config)
    ]
    return Training(
        assigned=int(assigned or 0),
        overdue=int(overdue or 0),
        completed=int(completed or 0),
        follow_ups=tuple(lines),
    )


def team_report_data(
    session: Session,
    dash: TeamDashboard,
    settings: Settings,
    generated_at: datetime,
    *,
    today: date | None = None,
) -> TeamReportData:
    """The team dashboard's figures arranged as the monthly report shows them; the
    training counts are as of `today` (default: `generated_at`'s day in the site's zone)."""
    targets = {h.metric: h.target.value if h.target else None for h in dash.headline}
    today = today or generated_at.astimezone(settings.tz).date()
    return TeamReportData(
        team_name=dash.team_name,
        period=dash.period,
        generated_at=generated_at,
        min_contacts=dash.min_contacts,
        headline=tuple(
            Figure(h.metric, h.estimate, h.previous, targets.get(h.metric)) for h in dash.headline
        ),
        trends=tuple(
            Series(
                metric,
                tuple((p.period, getattr(p, metric)) for p in dash.trend),
                targets.get(metric),
            )
            for metric in trend_metrics()
        ),
        agents=tuple(AgentLine(row.name, row.card) for row in dash.agents),
        missed_key_points=tuple(
            ItemCount(i.label or i.item_id, i.count, i.checked) for i in dash.missed_key_points
        ),
        critical_failures=tuple(_critical_failures(session, dash, settings)),
        mystery=tuple(
            MysteryComparison(m.label or m.item_id, m.mystery, m.real) for m in dash.mystery
        ),
        handle_vs_fcr=tuple(HandleFcr(p.name, p.aht_seconds, p.fcr) for p in dash.scatter),
        coverage=Coverage(dash.coverage.calls, dash.coverage.random, dash.coverage.targeted),
        agreement=dash.agreement,
        disputes=_disputes(session, dash, settings),
        training=_training(session, dash, settings, today),
    )


def _describe(key: str, value: float, target: float | None) -> str:
    as_text = format_duration(value) if key == "aht_seconds" else format_share(value)
    if target is None:
        return as_text
    goal = format_duration(target) if key == "aht_seconds" else format_share(target)
    return gettext("%(value)s (target %(target)s)", value=as_text, target=goal)


# Which key-point results are evidence of a gap in which component: a forbidden phrase
# said (courtesy), a required key point missed where something like it was found but did
# not count (script compliance: said by the wrong speaker, too late, out of order). A
# miss with nothing found has no text to quote.
_EVIDENCE_OF = {
    "courtesy": sa.and_(
        col(KeyPointResult.kind) == ResultKind.FORBIDDEN, col(KeyPointResult.hit).is_(True)
    ),
    "script_compliance": sa.and_(
        col(KeyPointResult.kind) == ResultKind.KEY_POINT,
        col(KeyPointResult.hit).is_(False),
        col(KeyPointResult.required).is_(True),
        col(KeyPointResult.start).is_not(None),
    ),
}
# Results read per component to find MAX_EXCERPTS from different calls.
_EVIDENCE_ROWS = 30


def _clock(seconds: float) -> str:
    """A time in the call as m:ss (the same in every language)."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _quote(session: Session, result: KeyPointResult) -> str:
    """What was said: the utterance(s) holding the result's span in the call's shown
    transcript when that is short enough to quote whole, else the matched text itself.

    Both are stored redacted (transcripts and evidence are redacted at ingest), so
    nothing here reads a recording or an unredacted source.
    """
    info = current_transcript_info(session, result.call_id)
    if info is not None and result.start is not None:
        end = result.end if result.end is not None else result.start
        said = session.exec(
            select(Segment.text)
            .where(
                col(Segment.transcript_id) == info.id,
                col(Segment.end) > result.start,
                col(Segment.start) < max(end, result.start + 0.01),
            )
            .order_by(col(Segment.position))
        ).all()
        whole = " ".join(" ".join(said).split())
        if whole and len(whole) <= EVIDENCE_CHARACTERS:
            return whole
    return " ".join(result.evidence.split())


def gap_evidence(
    session: Session, agent_id: str, period: Period, tz: ZoneInfo
) -> dict[str, tuple[Excerpt, ...]]:
    """Short excerpts of the agent's calls in `period` that show a gap, per component
    (courtesy: forbidden phrases said; script compliance: key points attempted but not
    counted), critical ones first, then the month's earliest, one per call and at most
    `MAX_EXCERPTS` each. Each names its call, day, time in the call and the item."""
    start, end = period.bounds(tz)
    found: dict[str, tuple[Excerpt, ...]] = {}
    for key, condition in _EVIDENCE_OF.items():
        rows = session.exec(
            select(KeyPointResult, Call.started_at)
            .join(Call, col(Call.id) == col(KeyPointResult.call_id))
            .where(
                col(Call.agent_id) == agent_id,
                col(Call.started_at) >= start,
                col(Call.started_at) < end,
                condition,
            )
            .order_by(
                col(KeyPointResult.critical).desc(),
                col(Call.started_at),
                col(Call.id),
                col(KeyPointResult.item_id),
            )
            .limit(_EVIDENCE_ROWS)
        ).all()
        excerpts: list[Excerpt] = []
        calls: set[str] = set()
        for result, started in rows:
            if result.call_id in calls:
                continue
            text = _quote(session, result)
            if not text:
                continue
            calls.add(result.call_id)
            where = [result.call_id, format_day(started.astimezone(tz))]
            if result.start is not None:
                where.append(_clock(result.start))
            where.append(result.label or result.item_id)
            excerpts.append(Excerpt(text, " · ".join(where)))
            if len(excerpts) == MAX_EXCERPTS:
                break
        if excerpts:
            found[key] = tuple(excerpts)
    return found


def agent_report_data(
    session: Session,
    agent: Agent,
    card: AgentScorecard,
    generated_at: datetime,
    *,
    evidence: dict[str, tuple[Excerpt, ...]] | None = None,
) -> AgentReportData:
    """The agent's scorecard arranged as their PDF shows it: components against targets,
    six months of trend, strengths and gaps (targets missed, with `evidence`'s excerpts
    for that component), the training plan."""
    evidence = evidence or {}
    team = session.get(Team, agent.team_id) if agent.team_id else None
    components = tuple(
        Figure(
            row.key,
            row.estimate,
            row.trend[-2] if len(row.trend) > 1 else None,
            row.target.value if row.target else None,
        )
        for row in card.rows
    )
    strengths: list[tuple[str, str]] = []
    gaps: list[GapLine] = []
    for row in card.rows:
        value = row.estimate.value
        if value is None or row.met is None:
            continue
        label = gettext(METRIC_LABELS.get(row.key, row.key))
        detail = _describe(row.key, value, row.target.value if row.target else None)
        if row.met:
            strengths.append((label, detail))
        else:
            gaps.append(GapLine(label, detail, evidence.get(row.key, ())))
    assignments = session.exec(
        select(TrainingAssignment)
        .where(col(TrainingAssignment.agent_id) == agent.id)
        .order_by(col(TrainingAssignment.due_date), col(TrainingAssignment.id))
    ).all()
    return AgentReportData(
        agent_name=agent.name,
        team_name=team.name if team else "",
        period=card.period,
        generated_at=generated_at,
        contacts=card.contacts,
        min_contacts=card.min_contacts,
        components=components,
        rank=card.rank,
        ranked=card.ranked,
        trend=tuple(
            Series(
                row.key,
                tuple(zip(card.months, row.trend, strict=True)),
                row.target.value if row.target else None,
            )
            for row in card.rows
        ),
        strengths=tuple(Strength(label, detail) for label, detail in strengths),
        gaps=tuple(gaps),
        training=tuple(
            TrainingItem(
                module=a.module_title,
                status=str(a.status),
                due=a.due_date,
                reasons=tuple(
                    str(c.get("criterion", "")) for c in a.criteria if c.get("criterion")
                ),
            )
            for a in assignments
            if str(a.status) != "completed" or a.period == card.period
        ),
    )


class PdfRenderer:
    """Renders the team report and the agent's scorecard PDF from the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def team_report(
        self, session: Session, *, team_id: str, period: Period, language: str
    ) -> bytes:
        """The monthly team report of `team_id` for `period`, written in `language`.

        Raises:
            NotFound: no such team.
        """
        now = utcnow()
        dash = team_dashboard(
            session,
            team_id,
            str(period),
            self.settings,
            today=now.astimezone(self.settings.tz).date(),
        )
        with use_locale(language) as locale:
            data = team_report_data(session, dash, self.settings, now)
            return render_team_report(
                data, gettext=gettext, locale=locale, formats=app_formats(self.settings)
            )

    def agent_report(
        self, session: Session, *, agent_id: str, period: Period, language: str
    ) -> bytes:
        """The scorecard PDF of `agent_id` for `period`, written in `language`.

        Raises:
            NotFound: no such agent, or no calls of theirs in `period`.
        """
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}")
        config = scorecard_config(session, self.settings, agent.team_id)
        card = agent_scorecard(session, agent, str(period), tz=self.settings.tz, config=config)
        if card.contacts == 0:
            raise NotFound(f"agent {agent_id!r} has no calls in {period}")
        now = utcnow()
        with use_locale(language) as locale:
            # Inside the locale: the excerpts' days are written in the reader's language.
            evidence = gap_evidence(session, agent.id, period, self.settings.tz)
            data = agent_report_data(session, agent, card, now, evidence=evidence)
            return render_agent_pdf(
                data, gettext=gettext, locale=locale, formats=app_formats(self.settings)
            )
