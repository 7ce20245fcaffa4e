"""The PDFs rendered from the database: the team report and the agent's scorecard PDF
name the team and its agents, in both languages, from the dashboard's figures."""

import io
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.report_rendering import PdfRenderer, trend_metrics
from qm.errors import NotFound
from qm.settings import Settings
from scoring.period import Period
from tests.factories import make_call, make_metrics, make_results
from tests.qm.reports_world import build_world

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
