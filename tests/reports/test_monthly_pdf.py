"""The monthly team report, rendered from hand-built data and read back as text."""

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest

from qm import i18n
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
    ordered_agents,
    render_team_report,
    render_team_report_pages,
)
from reports.pdf import Figure, Formats, Series, plain_gettext
from scoring.scorecard import Metrics, Scorecard
from scoring.stats import EMPTY, Estimate

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
GENERATED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

# The few Chinese translations these tests look for (the catalogs are filled elsewhere).
ZH = {
    "Monthly quality report": "月度质量报告",
    "Headline figures": "核心指标",
    "Agents": "坐席",
    "Agent": "坐席",
    "First-contact resolution": "首次解决率",
    "Composite": "综合得分",
    "Most-missed key points": "最常遗漏的关键点",
    "not ranked": "未排名",
    "Page %(page)s": "第 %(page)s 页",
}


def zh_gettext(message: str, /, **variables: Any) -> str:
    """A gettext in Chinese for the messages above, English for the rest."""
    text = ZH.get(message, message)
    return text % variables if variables else text


def estimate(value: float | None, n: int, half: float = 0.05) -> Estimate:
    if value is None:
        return EMPTY
    return Estimate(value, n, (max(0.0, value - half), min(1.0, value + half)))


def card(
    agent_id: str, composite: float | None, contacts: int, *, enough: bool = True
) -> Scorecard:
    return Scorecard(
        agent_id=agent_id,
        period="2026-11",
        contacts=contacts,
        metrics=Metrics(
            fcr=estimate(0.81, contacts),
            transfer_rate=estimate(0.07, contacts),
            aht_seconds=Estimate(312.0, contacts, (290.0, 334.0)),
            courtesy=estimate(0.9, contacts),
            script_compliance=estimate(0.77, contacts),
            mystery_shopper=EMPTY,
        ),
        handle_in_band=estimate(0.64, contacts),
        composite=estimate(composite, contacts),
        weights={"fcr": 0.5, "script_compliance": 0.5},
        enough_data=enough,
    )


def team(agents: list[AgentLine], name: str = "Billing East") -> TeamReportData:
    return TeamReportData(
        team_name=name,
        period="2026-11",
        generated_at=GENERATED,
        min_contacts=10,
        headline=(
            Figure("fcr", Estimate(0.8234, 1520, (0.803, 0.842)), previous=0.79, target=0.8),
            Figure("transfer_rate", Estimate(0.112, 1520, (0.097, 0.129)), 0.1, target=0.1),
            Figure("aht_seconds", Estimate(305.0, 1500, (298.0, 312.0)), 320.0),
            Figure("composite", Estimate(0.7312, 1520, (0.71, 0.75)), 0.72, target=0.75),
        ),
        trends=(
            Series(
                "fcr",
                (
                    ("2026-06", 0.76),
                    ("2026-07", None),
                    ("2026-08", 0.78),
                    ("2026-09", 0.8),
                    ("2026-10", 0.79),
                    ("2026-11", 0.82),
                ),
                target=0.8,
            ),
        ),
        agents=tuple(agents),
        missed_key_points=(
            ItemCount("Verify the caller's identity", 41, 120),
            ItemCount("确认客户身份", 17, 90),
        ),
        critical_failures=(ItemCount("Card number read back in full", 3, 1520),),
        mystery=(
            MysteryComparison(
                "Offer the callback", Estimate(0.9, 10, (0.6, 0.98)), estimate(0.61, 400)
            ),
        ),
        handle_vs_fcr=tuple(
            HandleFcr(a.name, 200 + 7 * i, 0.6 + (i % 10) / 30) for i, a in enumerate(agents[:30])
        ),
        coverage=Coverage(calls=1520, random=48, targeted=19),
        agreement=Estimate(0.874, 95, (0.79, 0.93)),
        disputes=Disputes(opened=7, still_open=2, upheld=3, changed=2),
        training=Training(
            assigned=12,
            overdue=3,
            completed=9,
            follow_ups=(
                FollowUpLine(
                    "Verify the caller's identity", estimate(0.55, 40), estimate(0.82, 35)
                ),
            ),
        ),
    )


AGENTS = [
    AgentLine("Alice Martin", card("a1", 0.71, 120)),
    AgentLine("张伟", card("a2", 0.88, 140)),
    AgentLine("Bob O'Neil & Sons <temp>", card("a3", 0.64, 95)),
    AgentLine("王芳", card("a4", 0.93, 4, enough=False)),
]


def text_of(pdf: bytes) -> list[str]:
    """Each page's text, runs of white space (table cells, lines) as one space."""
    return [
        " ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
    ]


def created(pdf: bytes) -> datetime | None:
    """The creation date written in the PDF's information dictionary."""
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    return None if info is None else info.creation_date


def save_pages(pdf: bytes, stem: str) -> None:
    """The first pages as PNG images for a person to look at (needs poppler's pdftoppm)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{stem}.pdf").write_bytes(pdf)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm is not installed (Debian: poppler-utils): no page images")
        return
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-l", "6", "-", str(ARTIFACTS / stem)],
        input=pdf,
        check=True,
    )
    assert list(ARTIFACTS.glob(f"{stem}-*.png"))


def test_every_agent_is_named_and_the_figures_are_printed_as_given() -> None:
    pdf = render_team_report(team(AGENTS), gettext=plain_gettext, locale="en")
    assert pdf.startswith(b"%PDF-")
    pages = text_of(pdf)
    text = "\n".join(pages)
    assert "Billing East" in pages[0] and "Monthly quality report" in pages[0]
    assert "2026-12-01 06:00 UTC" in pages[0]
    for line in AGENTS:
        assert line.name in text
    # Headline: value, n, interval, target, verdict, change in points.
    assert re.search(r"First-contact resolution 82% 1,520 80% – 84% ≥ 80% reached \+3\.3 pts", text)
    assert re.search(r"Transfer rate 11% 1,520 10% – 13% ≤ 10% not reached \+1\.2 pts", text)
    assert re.search(r"Average handle time 5 min 05 s 1,500 .* -15 s", text)
    assert re.search(r"Composite 73% 1,520 71% – 75% ≥ 75% not reached \+1\.1 pts", text)
    assert "Verify the caller's identity 41 120 34%" in text
    assert "确认客户身份 17 90 19%" in text
    assert "Card number read back in full 3 1,520 0%" in text
    assert "1,520 67 48 19 4.4%" in text
    assert "87% 95 79% – 93%" in text
    assert "7 2 3 2" in text
    assert "12 3 9" in text


def test_agents_are_ordered_by_composite_and_too_few_contacts_is_never_ranked() -> None:
    places = [(place, line.name) for place, line in ordered_agents(AGENTS)]
    assert places == [
        (1, "张伟"),
        (2, "Alice Martin"),
        (3, "Bob O'Neil & Sons <temp>"),
        (None, "王芳"),
    ]
    text = "\n".join(text_of(render_team_report(team(AGENTS), gettext=plain_gettext, locale="en")))
    # 王芳 has the best composite but 4 contacts: listed last, not ranked.
    assert re.search(r"1 张伟 140 88%", text)
    assert re.search(r"2 Alice Martin 120 71%", text)
    assert re.search(r"not ranked 王芳 4 93%", text)
    assert text.index("张伟 140") < text.index("Alice Martin 120") < text.index("王芳 4")


def test_a_long_agent_table_repeats_its_header_on_every_page() -> None:
    agents = [
        AgentLine(f"Agent {i:03d}" if i % 3 else f"坐席{i:03d}", card(f"x{i}", i / 400, 50))
        for i in range(300)
    ]
    rendered = render_team_report_pages(team(agents), gettext=plain_gettext, locale="en")
    pages = text_of(rendered.pdf)
    assert rendered.pages == len(pages)
    table_pages = [p for p in pages if re.search(r" \d+ (Agent |坐席)\d{3} 50 ", p)]
    assert len(table_pages) >= 5
    for page in table_pages:
        assert re.search(r"Place\s+Agent\s+Contacts\s+Composite", page), page[:300]
    text = "\n".join(pages)
    for line in agents:
        assert line.name in text
    # The best composite comes first.
    assert re.search(r" 1 Agent 299 50 75%", text)
    save_pages(rendered.pdf, "team-report-300-agents")


def test_the_chinese_report_writes_chinese() -> None:
    pdf = render_team_report(team(AGENTS, "账务一组"), gettext=zh_gettext, locale="zh_CN")
    pages = text_of(pdf)
    text = "\n".join(pages)
    assert "月度质量报告" in pages[0] and "账务一组" in pages[0]
    for label in ("核心指标", "首次解决率", "综合得分", "最常遗漏的关键点", "未排名", "第 2 页"):
        assert label in text, label
    for line in AGENTS:
        assert line.name in text
    # The PDF names the CID font; it is never embedded.
    assert b"/STSong-Light" in pdf
    save_pages(pdf, "team-report-zh")
    save_pages(
        render_team_report(team(AGENTS), gettext=plain_gettext, locale="en"), "team-report-en"
    )


def test_the_same_data_gives_the_same_bytes_dated_when_it_was_generated() -> None:
    first = render_team_report(team(AGENTS), gettext=zh_gettext, locale="zh_CN")
    assert render_team_report(team(AGENTS), gettext=zh_gettext, locale="zh_CN") == first
    assert created(first) == GENERATED
    later = replace(team(AGENTS), generated_at=datetime(2027, 1, 1, 6, 0, tzinfo=UTC))
    other = render_team_report(later, gettext=zh_gettext, locale="zh_CN")
    assert other != first
    assert created(other) == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)


def test_an_empty_month_still_renders_every_section() -> None:
    data = TeamReportData(
        team_name="Night shift",
        period="2026-11",
        generated_at=GENERATED,
        min_contacts=10,
        headline=(Figure("fcr", EMPTY), Figure("composite", EMPTY)),
        trends=(Series("fcr", (("2026-10", None), ("2026-11", None))),),
    )
    text = "\n".join(text_of(render_team_report(data, gettext=plain_gettext, locale="en")))
    for words in (
        "Headline figures",
        "No data in these months",
        "Agents",
        "None this month.",
        "No mystery shops this month.",
        "No agent has both figures this month.",
        "QA coverage and reviewer agreement",
        "Disputes",
        "No re-measure yet.",
    ):
        assert words in text, words
    assert "First-contact resolution — 0 — — —" in text


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_footer_numbers_every_page(locale: str) -> None:
    gettext = plain_gettext if locale == "en" else zh_gettext
    rendered = render_team_report_pages(team(AGENTS), gettext=gettext, locale=locale)
    pages = text_of(rendered.pdf)
    last = f"Page {len(pages)}" if locale == "en" else f"第 {len(pages)} 页"
    assert last in pages[-1]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_apps_catalogs_and_formats_plug_in(locale: str) -> None:
    """What `qm` passes: its gettext and formatters in the recipient's locale."""
    shanghai = ZoneInfo("Asia/Shanghai")
    with i18n.use_locale(locale):
        formats = Formats(
            number=i18n.format_number,
            share=i18n.format_share,
            duration=i18n.format_duration,
            instant=lambda instant: i18n.format_instant(instant, shanghai),
            day=i18n.format_day,
            month=i18n.format_month,
        )
        pdf = render_team_report(team(AGENTS), gettext=i18n.gettext, locale=locale, formats=formats)
        expected = [
            i18n.gettext(label)
            for label in ("Headline figures", "First-contact resolution", "Composite", "Agents")
        ] + [i18n.format_month(2026, 11), i18n.format_duration(305.0)]
    text = " ".join(text_of(pdf))
    for words in expected:
        assert words in text, words
    if locale == "zh_CN":
        assert "2026年11月" in text and "首次解决率" in text
