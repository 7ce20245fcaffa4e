"""The agent's scorecard PDF, rendered from hand-built data and read back as text."""

import io
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pypdf

from reports.agent_scorecard import (
    AgentReportData,
    Excerpt,
    GapLine,
    Strength,
    TrainingItem,
    render_agent_report,
)
from reports.pdf import Figure, Formats, Series, plain_gettext
from scoring.stats import EMPTY, Estimate

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
GENERATED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

ZH = {
    "Agent scorecard": "坐席评分卡",
    "Components": "评分项",
    "Strengths": "优势",
    "Gaps": "差距",
    "Training plan": "培训计划",
    "First-contact resolution": "首次解决率",
    "Script compliance": "话术合规",
    "Rank %(rank)s of %(of)s ranked agents": "在 %(of)s 名参与排名的坐席中排第 %(rank)s 名",
    "assigned": "已分配",
}


def zh_gettext(message: str, /, **variables: Any) -> str:
    """A gettext in Chinese for the messages above, English for the rest."""
    text = ZH.get(message, message)
    return text % variables if variables else text


def agent(name: str = "Alice Martin", **changes: Any) -> AgentReportData:
    data = AgentReportData(
        agent_name=name,
        team_name="Billing East",
        period="2026-11",
        generated_at=GENERATED,
        contacts=132,
        min_contacts=10,
        rank=4,
        ranked=17,
        components=(
            Figure("fcr", Estimate(0.8234, 120, (0.746, 0.883)), previous=0.8, target=0.8),
            Figure("script_compliance", Estimate(0.612, 98, (0.55, 0.67)), 0.7, target=0.85),
            Figure("aht_seconds", Estimate(287.0, 130, (270.0, 304.0))),
            Figure("mystery_shopper", EMPTY),
            Figure("composite", Estimate(0.7401, 350, (0.70, 0.78)), 0.75),
        ),
        trend=(
            Series(
                "composite",
                (
                    ("2026-06", 0.7),
                    ("2026-07", 0.72),
                    ("2026-08", None),
                    ("2026-09", 0.74),
                    ("2026-10", 0.75),
                    ("2026-11", 0.74),
                ),
            ),
        ),
        strengths=(Strength("Courtesy", "96% of 120 calls polite, no forbidden phrase"),),
        gaps=(
            GapLine(
                "Verify the caller's identity",
                "missed on 14 of 40 calls",
                evidence=(
                    Excerpt(
                        "Agent: Hello, how can I help? Customer: my card [CARD] was declined",
                        "c-0001 · 3 Nov · 0:42",
                    ),
                    Excerpt(
                        "客服：您好，请问有什么可以帮您？客户：我的卡号是[CARD]。"
                        + "很长的摘录" * 80
                    ),
                ),
            ),
        ),
        training=(
            TrainingItem(
                "Identity checks",
                "assigned",
                due=date(2026, 12, 15),
                minutes=20,
                reasons=("Verify the caller's identity",),
            ),
        ),
    )
    return replace(data, **changes)


def text_of(pdf: bytes) -> str:
    """The document's text, runs of white space (table cells, lines) as one space."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def save_pages(pdf: bytes, stem: str) -> None:
    """The pages as PNG images for a person to look at (needs poppler's pdftoppm)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{stem}.pdf").write_bytes(pdf)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm is not installed (Debian: poppler-utils): no page images")
        return
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-", str(ARTIFACTS / stem)], input=pdf, check=True
    )
    assert list(ARTIFACTS.glob(f"{stem}-*.png"))


def test_the_month_strengths_gaps_and_plan_are_printed_as_given() -> None:
    pdf = render_agent_report(agent(), gettext=plain_gettext, locale="en")
    text = text_of(pdf)
    assert "Alice Martin" in text and "Billing East · 2026-11" in text
    assert "Contacts this month: 132" in text
    assert "Rank 4 of 17 ranked agents" in text
    assert "First-contact resolution 82% 120 75% – 88% ≥ 80% reached +2.3 pts" in text
    assert "Script compliance 61% 98 55% – 67% ≥ 85% not reached -8.8 pts" in text
    assert "Average handle time 4 min 47 s 130 4 min 30 s – 5 min 04 s — — —" in text
    assert "Mystery shopper — 0 — — — —" in text
    assert "Composite 74% 350 70% – 78% — — -1.0 pts" in text
    assert "96% of 120 calls polite, no forbidden phrase" in text
    assert "missed on 14 of 40 calls" in text
    assert "my card [CARD] was declined" in text
    assert "Identity checks Verify the caller's identity 20 2026-12-15 assigned" in text
    save_pages(pdf, "agent-report-en")


def test_a_long_excerpt_is_cut_to_a_short_quote() -> None:
    text = text_of(render_agent_report(agent(), gettext=plain_gettext, locale="en"))
    assert "客户：我的卡号是[CARD]。" in text
    assert "很长的摘录" * 10 in text
    assert "很长的摘录" * 60 not in text
    assert "…”" in text


def test_too_few_contacts_says_so_instead_of_a_rank() -> None:
    text = text_of(
        render_agent_report(agent(contacts=6, rank=None), gettext=plain_gettext, locale="en")
    )
    assert "Not enough data to rank: at least 10 contacts are needed in the month." in text
    assert "Rank" not in text


def test_nothing_to_report_still_renders_each_section() -> None:
    data = agent(strengths=(), gaps=(), training=(), trend=())
    text = text_of(render_agent_report(data, gettext=plain_gettext, locale="en"))
    for words in ("None stands out this month.", "No gap this month.", "No training assigned."):
        assert words in text


def test_the_chinese_scorecard_writes_chinese_with_the_callers_formats() -> None:
    formats = Formats(month=lambda year, month: f"{year}年{month}月")
    pdf = render_agent_report(agent("张伟"), gettext=zh_gettext, locale="zh_CN", formats=formats)
    text = text_of(pdf)
    for words in ("坐席评分卡", "张伟", "2026年11月", "评分项", "首次解决率", "话术合规", "优势"):
        assert words in text, words
    assert "在 17 名参与排名的坐席中排第 4 名" in text
    assert "差距" in text and "培训计划" in text and "已分配" in text
    assert b"/STSong-Light" in pdf
    save_pages(pdf, "agent-report-zh")


def test_the_same_data_gives_the_same_bytes() -> None:
    first = render_agent_report(agent("张伟"), gettext=zh_gettext, locale="zh_CN")
    assert render_agent_report(agent("张伟"), gettext=zh_gettext, locale="zh_CN") == first
    assert render_agent_report(agent("王芳"), gettext=zh_gettext, locale="zh_CN") != first


def test_a_gap_shows_at_most_three_excerpts_with_where_they_are_from() -> None:
    excerpts = tuple(Excerpt(f"excerpt number {i}", f"call c-{i}") for i in range(1, 6))
    data = agent(gaps=(GapLine("Courtesy", "80% (target 90%)", evidence=excerpts),))
    text = text_of(render_agent_report(data, gettext=plain_gettext, locale="en"))
    for i in (1, 2, 3):
        assert f"“excerpt number {i}” — call c-{i}" in text
    assert "excerpt number 4" not in text and "c-5" not in text
    assert "Excerpts come from redacted transcripts." in text


def test_no_excerpt_no_note_about_them() -> None:
    data = agent(gaps=(GapLine("Transfer rate", "20% (target 10%)"),))
    text = text_of(render_agent_report(data, gettext=plain_gettext, locale="en"))
    assert "Transfer rate" in text and "redacted transcripts" not in text
