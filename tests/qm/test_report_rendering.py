"""The PDFs rendered from the database: the team report and the agent's scorecard PDF
name the team and its agents, in both languages, from the dashboard's figures."""

import io
import re
from datetime import UTC, date, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.dashboard import team_dashboard
from qm.domain.report_rendering import (
    PdfRenderer,
    gap_evidence,
    team_report_data,
    trend_metrics,
)
from qm.domain.scorecards import ScorecardRequest, compute_scorecards
from qm.domain.targets import scorecard_config
from qm.domain.training import follow_ups
from qm.errors import NotFound
from qm.i18n import format_number, format_share, use_locale
from qm.models import Agent, TrainingAssignment, TrainingStatus
from qm.settings import Settings
from scoring.period import Period
from tests.factories import make_call, make_metrics, make_results, make_transcript
from tests.qm.reports_world import build_world
from tests.reports.test_agent_pdf import save_pages
from transcripts.redact import redact_text

NOVEMBER = Period(2026, 11)


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture
def calls(engine: Engine) -> Engine:
    """Twelve November calls of 安娜 (team 一组), one with a critical key point missed."""
    with session_scope(engine) as session:
        build_world(session)
        start = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
        for i in range(12):
            call_id = f"n-{i}"
            make_call(
                session,
                call_id,
                agent_id="a-1",
                customer_id=f"k-{i}",
                started_at=start + timedelta(days=i, hours=i % 3),
            )
            make_metrics(
                session,
                call_id,
                handle_seconds=300.0,
                transferred=False,
                compliance=0.0 if i == 0 else 0.9,
                critical_failed=i == 0,
            )
            make_results(
                session,
                call_id,
                [{"item_id": "verify-id", "label": "核实身份", "hit": i != 0, "critical": True}],
            )
    return engine


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_team_report_names_the_team_its_agents_and_critical_failures(
    calls: Engine, settings: Settings, language: str
) -> None:
    with Session(calls) as session:
        pdf = PdfRenderer(settings).team_report(
            session, team_id="T1", period=NOVEMBER, language=language
        )
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "一组" in text and "安娜" in text
    assert "核实身份" in text  # the critical key point missed on one call
    if language == "zh-CN":
        assert "2026年11月" in text


def test_the_agent_pdf_is_the_agents_month(calls: Engine, settings: Settings) -> None:
    with Session(calls) as session:
        renderer = PdfRenderer(settings)
        pdf = renderer.agent_report(session, agent_id="a-1", period=NOVEMBER, language="zh-CN")
        assert "安娜" in text_of(pdf) and "一组" in text_of(pdf)
        with pytest.raises(NotFound, match="no calls"):
            renderer.agent_report(session, agent_id="a-2", period=NOVEMBER, language="en")
        with pytest.raises(NotFound):
            renderer.agent_report(session, agent_id="nobody", period=NOVEMBER, language="en")


def test_the_trend_charts_follow_the_dashboards_trend() -> None:
    assert "fcr" in trend_metrics() and "period" not in trend_metrics()


CARD = "4111 1111 1111 1111"
CARD_PATTERN = re.compile(r"\d(?:[ -]?\d){12,18}")


@pytest.fixture
def gaps(engine: Engine) -> Engine:
    """A month of 安娜's calls the way ingest stores them (text redacted on the way in),
    in English and Chinese: callers read out a card number, she says a forbidden phrase on
    four calls and greets after the time limit on three."""
    with session_scope(engine) as session:
        build_world(session)
        start = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
        for i in range(12):
            call_id = f"g-{i}"
            chinese = i % 2 == 1
            language = "zh" if chinese else "en"
            make_call(
                session,
                call_id,
                agent_id="a-1",
                customer_id=f"k-{i}",
                started_at=start + timedelta(days=i),
            )
            if chinese:
                said = [
                    ("customer", 1.0, 4.0, f"我的卡号是{CARD}"),
                    ("agent", 4.5, 7.0, "你别烦我，这不是我的问题"),
                    ("agent", 40.0, 43.0, "您好，欢迎致电银行"),
                ]
                forbidden, greeting = "你别烦我", "您好，欢迎致电银行"
            else:
                said = [
                    ("customer", 1.0, 4.0, f"my card number is {CARD}"),
                    ("agent", 4.5, 7.0, "calm down, that's not my problem"),
                    ("agent", 40.0, 43.0, "thank you for calling acme"),
                ]
                forbidden, greeting = "calm down", "thank you for calling acme"
            make_transcript(
                session,
                call_id,
                [(who, a, b, redact_text(text, language)) for who, a, b, text in said],
                language=language,
            )
            make_metrics(
                session,
                call_id,
                handle_seconds=300.0,
                transferred=False,
                compliance=0.5,
                courtesy={"polite_count": 0, "forbidden_count": 1 if i < 4 else 0},
            )
            items: list[dict[str, object]] = []
            if i < 4:
                items.append(
                    {
                        "item_id": "dismissive",
                        "label": "推卸责任" if chinese else "Dismissive",
                        "kind": "forbidden",
                        "hit": True,
                        "start": 4.5,
                        "end": 6.0,
                        "evidence": forbidden,
                    }
                )
            if i < 3:
                items.append(
                    {
                        "item_id": "greeting",
                        "label": "Greets with company name",
                        "hit": False,
                        "start": 40.0,
                        "end": 43.0,
                        "evidence": greeting,
                        "note": "at 40.0 s, after the 30 s limit",
                    }
                )
            make_results(session, call_id, items)
    return engine


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_agents_gaps_quote_their_calls_redacted(
    gaps: Engine, settings: Settings, language: str
) -> None:
    with Session(gaps) as session:
        pdf = PdfRenderer(settings).agent_report(
            session, agent_id="a-1", period=NOVEMBER, language=language
        )
    text = text_of(pdf)
    compact = "".join(text.split())
    # Courtesy: the forbidden phrases said, each with its call; at most three.
    assert "calm down, that's not my problem" in text
    assert "你别烦我，这不是我的问题" in compact
    assert "g-0" in text and "g-1" in text and "g-2" in text
    assert "g-3" not in text
    # Script compliance: the greeting said too late, quoted from the transcript.
    assert "thank you for calling acme" in text and "您好，欢迎致电银行" in compact
    assert "0:40" in text
    # The card numbers the callers read out are in no excerpt: only redacted text is quoted.
    assert not CARD_PATTERN.search(text)
    if language == "zh-CN":
        assert "2026年11月3日" in compact
    save_pages(pdf, f"agent-gaps-{language}")


def test_gap_evidence_is_the_months_and_one_excerpt_per_call(
    gaps: Engine, settings: Settings
) -> None:
    with Session(gaps) as session:
        found = gap_evidence(session, "a-1", NOVEMBER, settings.tz)
        assert gap_evidence(session, "a-1", Period(2026, 10), settings.tz) == {}
        assert gap_evidence(session, "a-2", NOVEMBER, settings.tz) == {}
    assert set(found) == {"courtesy", "script_compliance"}
    assert [e.source.split(" · ")[0] for e in found["courtesy"]] == ["g-0", "g-1", "g-2"]
    assert [e.text for e in found["script_compliance"]] == [
        "thank you for calling acme",
        "您好，欢迎致电银行",
        "thank you for calling acme",
    ]


@pytest.fixture
def trained(calls: Engine) -> Engine:
    """安娜 checked the caller's identity on 4 of 10 October calls and was trained for it
    (completed); a second assignment of hers is open and past its due date, a third
    open one is not yet due."""
    with session_scope(calls) as session:
        start = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
        for i in range(10):
            call_id = f"o-{i}"
            make_call(
                session,
                call_id,
                agent_id="a-1",
                customer_id=f"ko-{i}",
                started_at=start + timedelta(days=i),
            )
            make_metrics(session, call_id, handle_seconds=300.0, transferred=False, compliance=0.5)
            make_results(
                session,
                call_id,
                [{"item_id": "verify-id", "label": "核实身份", "hit": i < 4, "critical": True}],
            )
        criteria = [{"criterion": "key_point:verify-id", "rate": 0.6, "n": 10, "impact": 3.0}]
        for module, period, status, due in (
            ("身份核实培训", "2026-10", TrainingStatus.COMPLETED, date(2026, 11, 10)),
            ("Call handling", "2026-10", TrainingStatus.ACKNOWLEDGED, date(2026, 11, 20)),
            ("Courtesy refresher", "2026-11", TrainingStatus.ASSIGNED, date(2027, 1, 5)),
        ):
            session.add(
                TrainingAssignment(
                    agent_id="a-1",
                    module_id=module,
                    module_title=module,
                    period=period,
                    criteria=criteria,
                    status=status,
                    due_date=due,
                )
            )
    return calls


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_team_report_remeasures_completed_training(
    trained: Engine, settings: Settings, language: str
) -> None:
    with Session(trained) as session:
        assignment = session.exec(
            select(TrainingAssignment).where(TrainingAssignment.module_id == "身份核实培训")
        ).one()
        config = scorecard_config(session, settings, "T1")
        (measured,) = follow_ups(session, assignment, tz=settings.tz, config=config)
        dash = team_dashboard(session, "T1", "2026-11", settings, today=date(2026, 12, 1))
        data = team_report_data(
            session, dash, settings, datetime(2026, 12, 1, 6, tzinfo=UTC), today=date(2026, 12, 1)
        )
        pdf = PdfRenderer(settings).team_report(
            session, team_id="T1", period=NOVEMBER, language=language
        )
    # The training page's re-measure: 4 of 10 in October, 11 of 12 since.
    assert (measured.before.n, measured.after.n) == (10, 12)
    assert measured.before.value == pytest.approx(0.4)
    assert measured.after.value == pytest.approx(11 / 12)
    training = data.training
    assert (training.assigned, training.overdue, training.completed) == (2, 1, 1)
    (line,) = training.follow_ups
    assert (line.agent, line.before, line.after) == ("安娜", measured.before, measured.after)
    text = " ".join(text_of(pdf).split())
    if language == "zh-CN":
        assert "身份核实培训 · 关键点: 核实身份" in text
        assert "安娜" in text and "40% 10 92% 12 +51.7" in text
        assert "已完成的培训" in text
        save_pages(pdf, "team-training-zh-CN")
    else:
        assert "身份核实培训 · Key point: 核实身份" in text
        assert "40% 10 92% 12 +51.7 pts" in text
        assert "Assigned Overdue Completed 2 1 1" in text


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_team_reports_agent_figures_are_the_scorecards(
    calls: Engine, settings: Settings, language: str
) -> None:
    """Each agent's row in the team report shows `qm scorecard`'s figures for the month
    (`compute_scorecards`, what `qm scorecard --json` prints), formatted for the reader."""
    with session_scope(calls) as session:
        session.add(Agent(id="a-3", name="李雷", team_id="T1"))
        start = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
        for i in range(11):
            make_call(
                session,
                f"m-{i}",
                agent_id="a-3",
                customer_id="k-repeat" if i % 4 == 0 else f"j-{i}",
                started_at=start + timedelta(days=i),
                transfers=i % 3 == 0,
            )
            make_metrics(session, f"m-{i}", compliance=0.5 + i / 40)
    with Session(calls) as session:
        pdf = PdfRenderer(settings).team_report(
            session, team_id="T1", period=NOVEMBER, language=language
        )
        config = scorecard_config(session, settings, "T1")
        cards = compute_scorecards(
            session, ScorecardRequest(str(NOVEMBER)), tz=settings.tz, config=config
        )
    lines = [line.strip() for line in text_of(pdf).splitlines()]
    names = {"a-1": "安娜", "a-3": "李雷"}
    checked = 0
    with use_locale(language):
        for card in cards:
            if card.agent_id not in names:
                continue
            m = card.metrics
            expected = [
                names[card.agent_id],
                format_number(card.contacts),
                format_share(card.composite.value),
            ]
            at = lines.index(names[card.agent_id])
            assert lines[at : at + 3] == expected
            shares = [m.fcr, m.transfer_rate, card.handle_in_band, m.courtesy]
            shares.append(m.script_compliance)
            assert lines[at + 4 : at + 9] == [format_share(e.value) for e in shares]
            checked += 1
    assert checked == 2
