"""What both PDF documents share: labels, formats, figures, styles and the page set-up.

The documents are written in the recipient's language: the caller passes its gettext
(already set to that language) and its number and date formatters; the labels written
here are marked with `_("...")` or `N_("...")` so that `make messages` extracts them into
the same catalogs as the web pages (the metric names are the web's own msgids).

The output is deterministic (ReportLab's invariant mode): no clock, no random document
id; the creation date written into the PDF is the data's `generated_at`.
"""

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from reports import charts
from reports.fonts import LATIN, LATIN_BOLD, font_for, is_chinese, markup, register_cjk
from reports.fonts import use_cjk_font as _use_cjk_font
from scoring.stats import Estimate

PAGE = A4
MARGIN = 16 * mm
FRAME_WIDTH = PAGE[0] - 2 * MARGIN
MISSING = "—"
HEADER_BACKGROUND = colors.HexColor("#eef1f4")
RULE = colors.HexColor("#d9dee3")
MET = colors.HexColor("#1e7b45")
MISSED = colors.HexColor("#b03a2e")


class Gettext(Protocol):
    """The caller's gettext in the recipient's language: `_("Saved %(n)s", n=3)`."""

    def __call__(self, message: str, /, **variables: Any) -> str: ...


def N_(message: str) -> str:
    """Marks a constant for the catalogs (Babel extracts `N_`); translated where shown."""
    return message


def plain_gettext(message: str, /, **variables: Any) -> str:
    """The English text as written, placeholders filled: for tools without catalogs."""
    return message % variables if variables else message


def _plain_number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _plain_share(share: float, digits: int = 0) -> str:
    return f"{share * 100:.{digits}f}%"


def _plain_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _plain_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _plain_day(day: date) -> str:
    return day.isoformat()


def _plain_month(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True, slots=True)
class Formats:
    """How numbers and times are written for the recipient (`qm.i18n.format_*` in the
    app, set to the recipient's locale and the site's time zone)."""

    number: Callable[[float, int], str] = _plain_number
    share: Callable[[float, int], str] = _plain_share
    duration: Callable[[float], str] = _plain_duration
    instant: Callable[[datetime], str] = _plain_instant
    day: Callable[[date], str] = _plain_day
    month: Callable[[int, int], str] = _plain_month


PLAIN = Formats()

# The scorecard's components by their JSON names; the web's labels, so one translation.
METRIC_LABELS = {
    "composite": N_("Composite"),
    "fcr": N_("First-contact resolution"),
    "transfer_rate": N_("Transfer rate"),
    "aht_in_band": N_("Handle time in band"),
    "aht_seconds": N_("Average handle time"),
    "courtesy": N_("Courtesy"),
    "script_compliance": N_("Script compliance"),
    "mystery_shopper": N_("Mystery shopper"),
}
LOWER_IS_BETTER = frozenset({"transfer_rate", "aht_seconds"})
# Written as a duration; every other metric is a share in [0, 1].
DURATIONS = frozenset({"aht_seconds"})
STATUS_LABELS = {
    "assigned": N_("assigned"),
    "acknowledged": N_("acknowledged"),
    "completed": N_("completed"),
}


@dataclass(frozen=True, slots=True)
class Figure:
    """One metric for the month: its estimate (value, n, 95% interval), last month's
    value and the target (None: not set)."""

    metric: str
    estimate: Estimate
    previous: float | None = None
    target: float | None = None

    @property
    def change(self) -> float | None:
        """This month minus last month (None when either is missing)."""
        if self.estimate.value is None or self.previous is None:
            return None
        return self.estimate.value - self.previous

    @property
    def met(self) -> bool | None:
        """Whether the value reaches the target (None without either)."""
        if self.estimate.value is None or self.target is None:
            return None
        if self.metric in LOWER_IS_BETTER:
            return self.estimate.value <= self.target
        return self.estimate.value >= self.target


@dataclass(frozen=True, slots=True)
class Series:
    """A metric's value per month (oldest first; None: no data that month)."""

    metric: str
    points: tuple[tuple[str, float | None], ...]
    target: float | None = None


@dataclass(frozen=True, slots=True)
class Writer:
    """The recipient's language, formats and fonts, and the building blocks of a page."""

    gettext: Gettext
    locale: str
    formats: Formats = PLAIN
    cjk: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gettext", _always_formatted(self.gettext))
        object.__setattr__(self, "cjk", is_chinese(self.locale))

    # -- words and numbers -------------------------------------------------------

    def metric(self, metric: str) -> str:
        """A metric's label in the recipient's language (an unknown name as it is)."""
        label = METRIC_LABELS.get(metric)
        return self.gettext(label) if label else metric

    def status(self, status: str) -> str:
        """A training assignment's status in the recipient's language."""
        label = STATUS_LABELS.get(status)
        return self.gettext(label) if label else status

    def value(self, metric: str, value: float | None) -> str:
        """A metric's value: a duration for handle time, a percentage otherwise."""
        if value is None:
            return MISSING
        if metric in DURATIONS:
            return self.formats.duration(value)
        return self.formats.share(value, 0)

    def period(self, period: str) -> str:
        """A month written "YYYY-MM" as the recipient reads it (`November 2026`)."""
        year, _sep, month = period.partition("-")
        if not (year.isdigit() and month.isdigit()):
            return period
        return self.formats.month(int(year), int(month))

    def share(self, value: float | None, digits: int = 0) -> str:
        """A share in [0, 1] as a percentage."""
        return MISSING if value is None else self.formats.share(value, digits)

    def count(self, value: int | None) -> str:
        """A count with the locale's separators."""
        return MISSING if value is None else self.formats.number(value, 0)

    def interval(self, metric: str, estimate: Estimate) -> str:
        """The 95% interval as `low – high`."""
        if estimate.ci95 is None:
            return MISSING
        low, high = estimate.ci95
        return f"{self.value(metric, low)} – {self.value(metric, high)}"

    def change(self, metric: str, change: float | None) -> str:
        """A change from last month, signed: percentage points for shares."""
        if change is None:
            return MISSING
        # ASCII signs: STSong-Light has no U+2212 minus and Helvetica's encoding neither.
        sign = "+" if change > 0 else "-" if change < 0 else "±"
        if metric in DURATIONS:
            return sign + self.formats.duration(abs(change))
        points = self.formats.number(abs(change) * 100, 1)
        return self.gettext("%(change)s pts", change=sign + points)

    def target(self, metric: str, target: float | None) -> str:
        """The target with the side to be on: `≥ 80%`, `≤ 10%`."""
        if target is None:
            return MISSING
        return ("≤ " if metric in LOWER_IS_BETTER else "≥ ") + self.value(metric, target)

    def verdict(self, met: bool | None) -> str:
        """Whether a target is reached, in words (colour alone would not print)."""
        if met is None:
            return MISSING
        return self.gettext("reached") if met else self.gettext("not reached")

    # -- flowables -----------------------------------------------------------------

    def style(self, size: float = 9.5, *, bold: bool = False, **extra: Any) -> ParagraphStyle:
        """A paragraph style in the document's font."""
        font = LATIN_BOLD if bold else LATIN
        settings: dict[str, Any] = {
            "fontName": font,
            "fontSize": size,
            "leading": size * 1.3,
            "wordWrap": "CJK" if self.cjk else None,
        }
        return ParagraphStyle(f"{font}-{size}-{bold}", **(settings | extra))

    def paragraph(
        self, text: str, size: float = 9.5, *, bold: bool = False, **extra: Any
    ) -> Paragraph:
        """`text` (plain, escaped here) as a paragraph."""
        return Paragraph(markup(text), self.style(size, bold=bold, **extra))

    def cell(self, text: str) -> Paragraph:
        """A table cell whose text wraps within its column."""
        return self.paragraph(text, 8, leading=10)

    def heading(self, text: str, level: int = 1) -> list[Flowable]:
        """A section (level 1) or sub-section heading with the space around it."""
        size = 15.0 if level == 1 else 11.5
        return [
            Spacer(1, 10 if level == 1 else 6),
            self.paragraph(text, size, bold=True, spaceAfter=5, keepWithNext=1),
        ]

    def note(self, text: str) -> Paragraph:
        """A small grey remark under a table or chart."""
        return self.paragraph(text, 8, textColor=colors.HexColor("#52606d"), spaceBefore=3)

    def chart(self, drawing: Drawing) -> Drawing:
        """A drawing from `reports.charts`, its labels in a font that writes them."""
        return _use_cjk_font(drawing)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str | Flowable]],
        widths: Sequence[float],
        *,
        numeric_from: int = 1,
        emphasis: Sequence[tuple[int, int, colors.Color]] = (),
    ) -> Table:
        """A table whose header repeats on every page it runs onto.

        Cells are plain strings (fast for hundreds of rows; a cell holding Chinese is
        set in the CJK font, cell by cell) or paragraphs (`cell`) for text that wraps.
        Columns from `numeric_from` on are right-aligned; `emphasis` colours single
        cells (column, row, colour; rows counted without the header).
        """
        # A word wider than its column overflows a little rather than break in two.
        head_style = self.style(7.5, bold=True, alignment=TA_RIGHT, splitLongWords=0)
        first_style = self.style(7.5, bold=True, splitLongWords=0)
        head = [
            Paragraph(markup(text), first_style if i < numeric_from else head_style)
            for i, text in enumerate(header)
        ]
        commands: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 1), (-1, -1), LATIN),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LEADING", (0, 0), (-1, -1), 10),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#52606d")),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
        body = [list(row) for row in rows]
        for r, row in enumerate(body, start=1):
            for c, cell in enumerate(row):
                if isinstance(cell, str) and font_for(cell) != LATIN:
                    commands.append(("FONTNAME", (c, r), (c, r), register_cjk()))
        for c, r, colour in emphasis:
            commands.append(("TEXTCOLOR", (c, r + 1), (c, r + 1), colour))
        table = Table([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle(commands))
        return table

    def figures(self, figures: Sequence[Figure]) -> Table:
        """Metric, value, n, 95% interval, target, met or missed, change from last month."""
        _ = self.gettext
        header = [
            _("Metric"),
            _("Value"),
            _("n"),
            _("95%% interval"),
            _("Target"),
            _("Against target"),
            _("Change from last month"),
        ]
        rows = []
        emphasis = []
        for i, f in enumerate(figures):
            rows.append(
                [
                    self.metric(f.metric),
                    self.value(f.metric, f.estimate.value),
                    self.count(f.estimate.n),
                    self.interval(f.metric, f.estimate),
                    self.target(f.metric, f.target),
                    self.verdict(f.met),
                    self.change(f.metric, f.change),
                ]
            )
            if f.met is not None:
                emphasis.append((5, i, MET if f.met else MISSED))
        widths = [150, 55, 45, 95, 55, 55, 70]
        return self.table(header, rows, _fit(widths), emphasis=emphasis)

    def trend(self, series: Series, *, height: float = 150.0) -> Drawing:
        """One metric's months as the web's trend chart, with its target line; months
        written "YYYY-MM" are named in the recipient's language."""
        _ = self.gettext

        def fmt(value: float) -> str:
            return self.value(series.metric, value)

        return self.chart(
            charts.trend_chart(
                [(self.period(label), value) for label, value in series.points],
                title=self.metric(series.metric),
                empty_label=_("No data in these months"),
                target=series.target,
                target_label=_("Target"),
                fmt=fmt,
                width=FRAME_WIDTH,
                height=height,
            )
        )


def _always_formatted(gettext: Gettext) -> Gettext:
    """`gettext` that %-formats every message, also those without variables, so that a
    literal percent sign is written `%%` in every message here, as in the templates
    (`95%% interval` is the web's msgid too)."""

    def translate(message: str, /, **variables: Any) -> str:
        return gettext(message, **variables) if variables else gettext(message) % {}

    return translate


def _fit(widths: Sequence[float]) -> list[float]:
    """Column widths scaled to fill the frame."""
    total = sum(widths)
    return [w * FRAME_WIDTH / total for w in widths]


def _pdf_date(instant: datetime) -> Callable[..., str]:
    """A date formatter for the PDF's creation date that writes `instant` (in UTC)."""
    utc = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)
    stamp = utc.strftime("D:%Y%m%d%H%M%S+00'00'")
    return lambda *_parts: stamp


def build(
    story: list[Flowable],
    writer: Writer,
    *,
    title: str,
    subject: str,
    generated_at: datetime,
) -> tuple[bytes, int]:
    """The PDF of `story` and its number of pages: A4, a footer with the title and
    the page number on every page, creation date `generated_at`, the same bytes for
    the same story."""
    buffer = io.BytesIO()
    pages = [0]
    footer_style = writer.style(7.5, textColor=colors.HexColor("#7b8794"))

    def footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        if doc.page == 1:
            canvas.setDateFormatter(_pdf_date(generated_at))
        pages[0] = doc.page
        canvas.saveState()
        canvas.setFillColor(colors.HexColor("#7b8794"))
        canvas.setStrokeColor(RULE)
        canvas.line(MARGIN, MARGIN - 4, PAGE[0] - MARGIN, MARGIN - 4)
        # A paragraph, not drawString: a title mixing Latin and Chinese needs both fonts.
        title_line = Paragraph(markup(title), footer_style)
        title_line.wrapOn(canvas, FRAME_WIDTH * 0.8, 20)
        title_line.drawOn(canvas, MARGIN, MARGIN - 16)
        page = writer.gettext("Page %(page)s", page=doc.page)
        canvas.setFont(font_for(page), 7.5)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN - 14, page)
        canvas.restoreState()

    doc = BaseDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        subject=subject,
        author="qm",
        creator="qm",
        lang="zh-CN" if writer.cjk else "en",
        invariant=1,
    )
    frame = Frame(
        MARGIN,
        MARGIN,
        FRAME_WIDTH,
        PAGE[1] - 2 * MARGIN,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=footer)])
    doc.build(story)
    return buffer.getvalue(), pages[0]
