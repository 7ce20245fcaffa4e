"""An agent's own monthly scorecard as a PDF: their month, trend, strengths, gaps with
short evidence, and their training plan.

The evidence excerpts arrive already redacted (the caller takes them from the redacted
transcripts only); this module writes what it is given and reads nothing else.
"""

from dataclasses import dataclass
from datetime import date, datetime

from reportlab.platypus import Flowable, KeepTogether, Spacer

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

# A quote, not the call: at most this many characters of each excerpt, and this many
# excerpts under a gap.
EVIDENCE_CHARACTERS = 160
MAX_EXCERPTS = 3
EVIDENCE_COLOUR = "#52606d"


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A short quote of a call where a gap showed, already redacted, and where it is from
    (call, day, time in the call, what was checked), written by the caller."""

    text: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Strength:
    """Something the agent does well, and the figure that shows it."""

    label: str
    detail: str


@dataclass(frozen=True, slots=True)
class GapLine:
    """Something the agent falls short on, the figure behind it and short excerpts of
    calls where it happened (already redacted; the first `MAX_EXCERPTS` are shown)."""

    label: str
    detail: str
    evidence: tuple[Excerpt, ...] = ()


@dataclass(frozen=True, slots=True)
class TrainingItem:
    """A module of the agent's training plan."""

    module: str
    status: str
    due: date | None = None
    minutes: int | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentReportData:
    """Everything the agent's scorecard PDF shows."""

    agent_name: str
    team_name: str
    period: str
    generated_at: datetime
    contacts: int
    min_contacts: int
    components: tuple[Figure, ...]
    rank: int | None = None
    ranked: int | None = None
    trend: tuple[Series, ...] = ()
    strengths: tuple[Strength, ...] = ()
    gaps: tuple[GapLine, ...] = ()
    training: tuple[TrainingItem, ...] = ()

    @property
    def enough_data(self) -> bool:
        """Whether the agent had enough contacts to be ranked."""
        return self.contacts >= self.min_contacts


def render_agent_report(
    data: AgentReportData, *, gettext: Gettext, locale: str, formats: Formats = PLAIN
) -> bytes:
    """The agent's scorecard as PDF bytes, in `locale` (`zh_CN` or `en`) through the
    caller's `gettext` and `formats`; the same data gives the same bytes."""
    w = Writer(gettext, locale, formats)
    _ = w.gettext
    title = _(
        "%(agent)s: scorecard for %(month)s", agent=data.agent_name, month=w.period(data.period)
    )
    story: list[Flowable] = [
        *_summary(w, data),
        *w.heading(_("Components")),
        w.figures(data.components),
        *_trend(w, data),
        *_strengths(w, data),
        *_gaps(w, data),
        *_training(w, data),
    ]
    pdf, _pages = build(
        story, w, title=title, subject=_("Agent scorecard"), generated_at=data.generated_at
    )
    return pdf


def _summary(w: Writer, data: AgentReportData) -> list[Flowable]:
    _ = w.gettext
    if not data.enough_data:
        standing = _(
            "Not enough data to rank: at least %(n)s contacts are needed in the month.",
            n=w.count(data.min_contacts),
        )
    elif data.rank is not None and data.ranked is not None:
        standing = _(
            "Rank %(rank)s of %(of)s ranked agents",
            rank=w.count(data.rank),
            of=w.count(data.ranked),
        )
    else:
        standing = ""
    story: list[Flowable] = [
        w.paragraph(_("Agent scorecard"), 12, textColor=MISSED),
        Spacer(1, 4),
        w.paragraph(data.agent_name, 22, bold=True, leading=28),
        w.paragraph(f"{data.team_name} · {w.period(data.period)}", 13, leading=18),
        Spacer(1, 6),
        w.paragraph(_("Generated %(when)s", when=w.formats.instant(data.generated_at)), 8.5),
        w.paragraph(_("Contacts this month: %(n)s", n=w.count(data.contacts))),
    ]
    if standing:
        story.append(w.paragraph(standing))
    return story


def _trend(w: Writer, data: AgentReportData) -> list[Flowable]:
    _ = w.gettext
    if not data.trend:
        return []
    story: list[Flowable] = [*w.heading(_("Six-month trend"))]
    for series in data.trend:
        story += [w.trend(series), Spacer(1, 6)]
    return story


def _strengths(w: Writer, data: AgentReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Strengths"))]
    if not data.strengths:
        return [*story, w.paragraph(_("None stands out this month."))]
    rows = [[w.cell(s.label), w.cell(s.detail)] for s in data.strengths]
    story.append(
        w.table(
            [_("Strength"), _("Shown by")],
            rows,
            [FRAME_WIDTH * 0.4, FRAME_WIDTH * 0.6],
            numeric_from=2,
        )
    )
    return story


def _gaps(w: Writer, data: AgentReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Gaps"))]
    if not data.gaps:
        return [*story, w.paragraph(_("No gap this month."))]
    for gap in data.gaps:
        block: list[Flowable] = [
            w.paragraph(gap.label, 10.5, bold=True, spaceBefore=4),
            w.paragraph(gap.detail),
        ]
        for excerpt in gap.evidence[:MAX_EXCERPTS]:
            quote = "“" + _shorten(excerpt.text) + "”"
            block.append(
                w.paragraph(
                    f"{quote} — {excerpt.source}" if excerpt.source else quote,
                    8.5,
                    leftIndent=14,
                    textColor=EVIDENCE_COLOUR,
                    spaceBefore=2,
                )
            )
        story.append(KeepTogether(block))
    if any(gap.evidence for gap in data.gaps):
        story.append(w.note(_("Excerpts come from redacted transcripts.")))
    return story


def _shorten(text: str) -> str:
    """An excerpt cut to a short quote: evidence, not the call."""
    text = " ".join(text.split())
    return text if len(text) <= EVIDENCE_CHARACTERS else text[: EVIDENCE_CHARACTERS - 1] + "…"


def _training(w: Writer, data: AgentReportData) -> list[Flowable]:
    _ = w.gettext
    story: list[Flowable] = [*w.heading(_("Training plan"))]
    if not data.training:
        return [*story, w.paragraph(_("No training assigned."))]
    header = [_("Module"), _("For"), _("Minutes"), _("Due"), _("Status")]
    rows = [
        [
            w.cell(item.module),
            w.cell("; ".join(item.reasons) or "—"),
            w.count(item.minutes),
            w.formats.day(item.due) if item.due else "—",
            w.status(item.status),
        ]
        for item in data.training
    ]
    widths = [150, FRAME_WIDTH - 150 - 45 - 75 - 70, 45, 75, 70]
    story.append(w.table(header, rows, widths, numeric_from=2))
    return story
