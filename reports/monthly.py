"""The monthly team report: one PDF per team and month for its manager.

`qm` gathers the month (the same figures as the team dashboard and `qm scorecard`) into a
`TeamReportData` and `render_team_report` writes it in the recipient's language:

1. a cover with the team, the month and when the report was made;
2. the headline figures against their targets, with n, the 95% interval and the change
   from last month, then each metric's six-month trend (the web's trend charts);
3. the agents, ordered by composite; agents without enough contacts are listed after
   the others and never ranked; the table's header repeats on every page;
4. the most-missed key points and the critical failures, with counts;
5. mystery shops beside real calls per item, and handle time against FCR per agent;
6. QA coverage (random and targeted evaluations), reviewer agreement, disputes and
   their outcomes, and training: assigned, overdue, completed, before and after.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.platypus import Flowable, PageBreak, Spacer

from reports import charts
from reports.pdf import (
    FRAME_WIDTH,
    MISSED,
    PLAIN,
    Figure,
    Formats,
    Gettext,
    Series,
    Writer,
    build,
)
from scoring.scorecard import Scorecard
from scoring.stats import EMPTY, Estimate

# The key-point chart shows the first ones; the table lists them all.
CHART_ITEMS = 10


@dataclass(frozen=True, slots=True)
class AgentLine:
    """One agent of the team and their scorecard for the month."""

    name: str
    card: Scorecard


@dataclass(frozen=True, slots=True)
class ItemCount:
    """A key point missed (or a critical failure) on `count` of `checked` calls."""

    label: str
    count: int
    checked: int

    @property
    def rate(self) -> float | None:
        """count / checked (None when nothing was checked)."""
        return self.count / self.checked if self.checked else None


@dataclass(frozen=True, slots=True)
class MysteryComparison:
    """One item's pass rate on mystery shops beside its hit rate on real calls."""

    label: str
    mystery: Estimate
    real: Estimate

    @property
    def gap(self) -> float | None:
        """Mystery minus real: positive when the team does better when it knows it is tested."""
        if self.mystery.value is None or self.real.value is None:
            return None
        return self.mystery.value - self.real.value


@dataclass(frozen=True, slots=True)
class HandleFcr:
    """An agent at (mean handle time in seconds, FCR share) for the scatter chart."""

    name: str
    aht_seconds: float
    fcr: float


@dataclass(frozen=True, slots=True)
class Coverage:
    """The team's calls of the month, and the evaluations of them by how they were picked."""

    calls: int = 0
    random: int = 0
    targeted: int = 0

    @property
    def evaluations(self) -> int:
        """Random plus targeted."""
        return self.random + self.targeted

    @property
    def share(self) -> float | None:
        """Evaluations per call."""
        return self.evaluations / self.calls if self.calls else None


@dataclass(frozen=True, slots=True)
class Disputes:
    """Disputes on the team's evaluations of the month and how they were decided."""

    opened: int = 0
    still_open: int = 0
    upheld: int = 0
    changed: int = 0


@dataclass(frozen=True, slots=True)
class FollowUpLine:
    """A criterion of a completed assignment, measured in the assignment's month (before)
    and on the agent's calls after it: a hit or pass rate, or the metric named by
    `metric` (which says how its values are written)."""

    label: str
    before: Estimate
    after: Estimate
    agent: str = ""
    metric: str = "script_compliance"

    @property
    def change(self) -> float | None:
        """After minus before."""
        if self.before.value is None or self.after.value is None:
            return None
        return self.after.value - self.before.value


@dataclass(frozen=True, slots=True)
class Training:
    """The team's training plan: assignments by state and the re-measures."""

    assigned: int = 0
    overdue: int = 0
    completed: int = 0
    follow_ups: tuple[FollowUpLine, ...] = ()


@dataclass(frozen=True, slots=True)
class TeamReportData:
    """Everything the monthly team report shows; names and item labels are data (not
    translated), the document's own words come from the caller's gettext."""

    team_name: str
    period: str
    generated_at: datetime
    min_contacts: int
    headline: tuple[Figure, ...]
    trends: tuple[Series, ...] = ()
    agents: tuple[AgentLine, ...] = ()
    missed_key_points: tuple[ItemCount, ...] = ()
    critical_failures: tuple[ItemCount, ...] = ()
    mystery: tuple[MysteryComparison, ...] = ()
    handle_vs_fcr: tuple[HandleFcr, ...] = ()
    coverage: Coverage = Coverage()
    agreement: Estimate = EMPTY
    disputes: Disputes = Disputes()
    training: Training = Training()


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """A rendered PDF and its number of pages."""

    pdf: bytes
    pages: int


def ordered_agents(agents: Sequence[AgentLine]) -> list[tuple[int | None, AgentLine]]:
    """The agents with their place in the team: those with enough data and a composite
    by composite (highest first, then name), numbered 1, 2, ...; then the others by name,
    unnumbered."""
    ranked = [a for a in agents if a.card.enough_data and a.card.composite.value is not None]
    others = [a for a in agents if a not in ranked]
    ranked.sort(key=lambda a: (-(a.card.composite.value or 0.0), a.name))
    others.sort(key=lambda a: a.name)
    return [(i, a) for i, a in enumerate(ranked, start=1)] + [(None, a) for a in others]


def render_team_report(
    data: TeamReportData, *, gettext: Gettext, locale: str, formats: Formats = PLAIN
) -> bytes:
    """The monthly team report as PDF bytes, in `locale` (`zh_CN` or `en`) through the
    caller's `gettext` and `formats`; the same data gives the same bytes."""
    return render_team_report_pages(data, gettext=gettext, locale=locale, formats=formats).pdf


def render_team_report_pages(
    data: TeamReportData, *, gettext: Gettext, locale: str, formats: Formats = PLAIN
) -> RenderedReport:
    """`render_team_report` with the number of pages (for the archive and the benchmark)."""
    w = Writer(gettext, locale, formats)
    _ = w.gettext
    title = _(
        "%(team)s: quality report for %(month)s", team=data.team_name, month=w.period(data.period)
    )
    story: list[Flowable] = [
        *_cover(w, data),
        *_headline(w, data),
        *_agents(w, data),
        *_key_points(w, data),
        *_mystery(w, data),
        *_handle_vs_fcr(w, data),
        *_coverage(w, data),
        *_disputes(w, data),
        *_training(w, data),
    ]
    pdf, pages = build(
        story, w, title=title, subject=_("Monthly team report"), generated_at=data.generated_at
    )
    return RenderedReport(pdf, pages)


def _cover(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    ranked = sum(1 for place, _line in ordered_agents(data.agents) if place is not None)
    return [
        Spacer(1, 160),
        w.paragraph(_("Monthly quality report"), 14, textColor=MISSED),
        Spacer(1, 10),
        w.paragraph(data.team_name, 28, bold=True, leading=34),
        Spacer(1, 6),
        w.paragraph(w.period(data.period), 18, leading=24),
        Spacer(1, 24),
        w.paragraph(_("Generated %(when)s", when=w.formats.instant(data.generated_at))),
        w.paragraph(
            _(
                "%(agents)s agents, %(ranked)s ranked (at least %(min)s contacts in the month)",
                agents=w.count(len(data.agents)),
                ranked=w.count(ranked),
                min=w.count(data.min_contacts),
            )
        ),
        PageBreak(),
    ]


def _headline(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Headline figures")), w.figures(data.headline)]
    story.append(
        w.note(
            _(
                "n: the contacts, calls or shops behind each figure; the 95%% interval is the "
                "range the true value lies in with 95%% confidence. Changes are in percentage "
                "points."
            )
        )
    )
    if data.trends:
        story += w.heading(_("Six-month trend"), 2)
        for series in data.trends:
            story += [w.trend(series), Spacer(1, 6)]
    return story


def _agents(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    header = [
        _("Place"),
        _("Agent"),
        _("Contacts"),
        _("Composite"),
        _("95%% interval"),
        _("FCR"),
        _("Transfers"),
        _("In band"),
        _("Courtesy"),
        _("Compliance"),
        _("Mystery"),
    ]
    rows = []
    emphasis = []
    for i, (place, line) in enumerate(ordered_agents(data.agents)):
        card = line.card
        m = card.metrics
        rows.append(
            [
                w.count(place) if place is not None else _("not ranked"),
                _clip(line.name, 26),
                w.count(card.contacts),
                w.value("composite", card.composite.value),
                w.interval("composite", card.composite),
                w.value("fcr", m.fcr.value),
                w.value("transfer_rate", m.transfer_rate.value),
                w.value("aht_in_band", card.handle_in_band.value),
                w.value("courtesy", m.courtesy.value),
                w.value("script_compliance", m.script_compliance.value),
                w.value("mystery_shopper", m.mystery_shopper.value),
            ]
        )
        if place is None:
            emphasis.append((0, i, MISSED))
    widths = [44, 86, 42, 50, 62, 30, 42, 34, 40, 52, 42]
    scale = FRAME_WIDTH / sum(widths)
    return [
        PageBreak(),
        *w.heading(_("Agents")),
        w.table(header, rows, [x * scale for x in widths], numeric_from=2, emphasis=emphasis),
        w.note(
            _(
                "Ordered by composite. Agents with fewer than %(min)s contacts, or no "
                "composite, are listed last and not ranked.",
                min=w.count(data.min_contacts),
            )
        ),
    ]


def _clip(text: str, length: int) -> str:
    """A name cut to fit its column (a Chinese character counts as two)."""
    width = 0
    for i, ch in enumerate(text):
        width += 2 if ord(ch) >= 0x2E80 else 1
        if width > length:
            return text[:i] + "…"
    return text


def _counts(w: Writer, items: Sequence[ItemCount], label: str, count: str) -> list[Flowable]:
    _ = w.gettext
    if not items:
        return [w.paragraph(_("None this month."))]
    rows = [
        [w.cell(item.label), w.count(item.count), w.count(item.checked), w.share(item.rate)]
        for item in items
    ]
    return [
        w.table(
            [label, count, _("Calls checked"), _("Rate")], rows, [260, 80, 90, FRAME_WIDTH - 430]
        )
    ]


def _key_points(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Most-missed key points"))]
    if data.missed_key_points:
        bars = [(item.label, item.rate or 0.0) for item in data.missed_key_points[:CHART_ITEMS]]
        story.append(
            w.chart(
                charts.horizontal_bars(
                    bars,
                    title=_("Share of calls missing the key point"),
                    empty_label=_("None this month."),
                    fmt=lambda v: w.share(v),
                    maximum=1.0,
                    width=FRAME_WIDTH,
                )
            )
        )
    story += _counts(w, data.missed_key_points, _("Key point"), _("Missed"))
    story += w.heading(_("Critical failures"), 2)
    story += _counts(w, data.critical_failures, _("Critical item"), _("Failures"))
    return story


def _mystery(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Mystery shopper and real calls"))]
    if not data.mystery:
        return [*story, w.paragraph(_("No mystery shops this month."))]
    header = [_("Item"), _("Mystery shops"), _("n"), _("Real calls"), _("n"), _("Gap")]
    rows = [
        [
            w.cell(item.label),
            w.share(item.mystery.value),
            w.count(item.mystery.n),
            w.share(item.real.value),
            w.count(item.real.n),
            w.change("mystery_shopper", item.gap),
        ]
        for item in data.mystery
    ]
    story.append(w.table(header, rows, [200, 70, 45, 70, 45, FRAME_WIDTH - 430]))
    story.append(
        w.note(
            _(
                "Gap: mystery minus real calls; a large one means the team does better "
                "when it knows it is tested."
            )
        )
    )
    return story


def _handle_vs_fcr(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    points = [charts.Point(p.name, p.aht_seconds, p.fcr) for p in data.handle_vs_fcr]
    return [
        *w.heading(_("Handle time and first-contact resolution")),
        w.chart(
            charts.scatter_chart(
                points,
                title=_("Handle time against FCR, per agent"),
                x_label=_("Average handle time"),
                y_label=_("FCR"),
                empty_label=_("No agent has both figures this month."),
                x_fmt=w.formats.duration,
                y_fmt=lambda v: w.share(v),
                width=FRAME_WIDTH,
            )
        ),
    ]


def _coverage(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    c = data.coverage
    header = [_("Calls"), _("Evaluations"), _("Random"), _("Targeted"), _("Evaluations per call")]
    row = [
        w.count(c.calls),
        w.count(c.evaluations),
        w.count(c.random),
        w.count(c.targeted),
        w.share(c.share, 1),
    ]
    a = data.agreement
    agreement_row = [w.share(a.value), w.count(a.n), w.interval("fcr", a)]
    return [
        *w.heading(_("QA coverage and reviewer agreement")),
        w.table(header, [row], [FRAME_WIDTH / 5] * 5, numeric_from=0),
        Spacer(1, 8),
        w.table(
            [_("Reviewers agreeing with the machine"), _("Decisions"), _("95%% interval")],
            [agreement_row],
            [FRAME_WIDTH / 3] * 3,
            numeric_from=0,
        ),
        w.note(
            _(
                "Agreement: the share of reviewers' key-point decisions on the team's "
                "calls that confirm the automatic answer."
            )
        ),
    ]


def _disputes(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    d = data.disputes
    header = [
        _("Disputes opened"),
        _("Still open"),
        _("Upheld: the answers stand"),
        _("Changed: answers corrected"),
    ]
    row = [w.count(d.opened), w.count(d.still_open), w.count(d.upheld), w.count(d.changed)]
    return [
        *w.heading(_("Disputes")),
        w.table(header, [row], [FRAME_WIDTH / 4] * 4, numeric_from=0),
    ]


def _training(w: Writer, data: TeamReportData) -> list[Flowable]:
    _ = w.gettext
    t = data.training
    story: list[Flowable] = [
        *w.heading(_("Training")),
        w.table(
            [_("Assigned"), _("Overdue"), _("Completed")],
            [[w.count(t.assigned), w.count(t.overdue), w.count(t.completed)]],
            [FRAME_WIDTH / 3] * 3,
            numeric_from=0,
            emphasis=[(1, 0, MISSED)] if t.overdue else [],
        ),
    ]
    story += w.heading(_("Before and after training"), 2)
    if not t.follow_ups:
        return [*story, w.paragraph(_("No re-measure yet."))]
    header = [
        _("Agent"),
        _("Criterion"),
        _("Before training"),
        _("n"),
        _("After training"),
        _("n"),
        _("Change"),
    ]
    rows = [
        [
            w.cell(f.agent),
            w.cell(f.label),
            w.value(f.metric, f.before.value),
            w.count(f.before.n),
            w.value(f.metric, f.after.value),
            w.count(f.after.n),
            w.change(f.metric, f.change),
        ]
        for f in t.follow_ups
    ]
    widths = [95, 160, 55, 40, 55, 40, FRAME_WIDTH - 445]
    story.append(w.table(header, rows, widths, numeric_from=2))
    story.append(
        w.note(
            _(
                "Completed assignments: each criterion in the assignment's month and on the "
                "agent's calls since."
            )
        )
    )
    return story
