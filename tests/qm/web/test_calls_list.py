"""The call list page: columns, filters, paging, and what an agent may see."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from qm.app import create_app
from qm.models import Role, Stage, StageStatus
from qm.settings import Settings
from tests.factories import T0, make_call, make_done, make_metrics, make_stage, make_user
from tests.qm.web.conftest import Client, login, soup


def build_calls(s: Session) -> None:
    """Five calls of two agents over three days, in different pipeline states."""
    make_call(s, "c-1", agent_id="a-1", queue="billing", reason="balance", started_at=T0)
    make_done(s, "c-1")
    make_metrics(s, "c-1", compliance=0.9, critical_failed=False, handle_seconds=307)
    make_call(
        s,
        "c-2",
        agent_id="a-1",
        customer_id="k-2",
        queue="cards",
        reason="lost card",
        started_at=T0 + timedelta(days=1),
        transfers=2,
    )
    make_done(s, "c-2")
    make_metrics(s, "c-2", compliance=0.0, critical_failed=True, handle_seconds=100)
    make_call(s, "c-3", agent_id="a-2", started_at=T0 + timedelta(days=2))
    make_stage(s, "c-3", Stage.TRANSCRIBE, StageStatus.FAILED, "EngineError: no model")
    make_call(s, "c-4", agent_id="a-2", started_at=T0 + timedelta(days=2, hours=1))
    make_call(s, "X-5", agent_id="a-2", customer_id="k-5", started_at=T0 - timedelta(days=1))


def call_ids(html: str) -> list[str]:
    """The call ids in the list, in order."""
    return [str(tr["data-call-id"]) for tr in soup(html).select("#calls tbody tr")]


def test_list_shows_every_column_newest_with_results_first(reviewer: Client, seed: Any) -> None:
    seed(build_calls)
    page = soup(reviewer.get("/calls").text)
    # Calls with results first (c-2, c-1), then the rest, each newest first.
    assert call_ids(str(page)) == ["c-2", "c-1", "c-4", "c-3", "X-5"]
    headers = [th.text for th in page.select("#calls thead th")]
    assert headers == [
        "Started", "Call", "Agent", "Customer", "Queue", "Reason", "Handle time",
        "Transfers", "Compliance", "Critical", "Pipeline",
    ]  # fmt: skip
    cells = {
        str(tr["data-call-id"]): [td.text.strip() for td in tr.select("td")]
        for tr in page.select("#calls tbody tr")
    }
    assert cells["c-1"] == [
        "2024-03-01 09:00", "c-1", "a-1", "k-1", "billing", "balance", "05:07", "0", "90%",
        "ok", "done",
    ]  # fmt: skip
    assert cells["c-2"][6:] == ["01:40", "2", "0%", "failed", "done"]
    assert cells["c-3"][-1] == "failed"
    assert cells["c-4"][-3:] == ["—", "—", "pending"]
    assert page.select_one('#calls a[href="/calls/c-1"]') is not None
    assert "5 calls" in page.select_one("#count").text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("agent=a-1", ["c-2", "c-1"]),
        ("queue=cards", ["c-2"]),
        ("reason=lost+card", ["c-2"]),
        ("status=failed", ["c-3"]),
        ("status=pending", ["c-4", "X-5"]),
        ("status=done", ["c-2", "c-1"]),
        ("compliance_below=50", ["c-2"]),
        ("critical=yes", ["c-2"]),
        ("critical=no", ["c-1"]),
        ("q=x-5", ["X-5"]),
        ("q=K-2", ["c-2"]),
        ("from=2024-03-02&to=2024-03-02", ["c-2"]),
        ("from=2024-03-03", ["c-4", "c-3"]),
        ("agent=a-2&status=pending&q=c-", ["c-4"]),
        ("agent=&queue=&q=", ["c-2", "c-1", "c-4", "c-3", "X-5"]),
    ],
)
def test_filters(reviewer: Client, seed: Any, query: str, expected: list[str]) -> None:
    seed(build_calls)
    response = reviewer.get(f"/calls?{query}")
    assert response.status_code == 200
    assert call_ids(response.text) == expected


def test_filter_form_keeps_the_chosen_values(reviewer: Client, seed: Any) -> None:
    seed(build_calls)
    form = soup(reviewer.get("/calls?agent=a-2&status=failed&from=2024-03-01&q=c").text)
    assert form.select_one('select[name="agent"] option[selected]')["value"] == "a-2"  # type: ignore[index]
    assert form.select_one('select[name="status"] option[selected]').text == "failed"  # type: ignore[union-attr]
    assert form.select_one('input[name="from"]')["value"] == "2024-03-01"  # type: ignore[index]
    assert form.select_one('input[name="q"]')["value"] == "c"  # type: ignore[index]
    queues = [o.text for o in form.select('select[name="queue"] option')]
    assert queues == ["Any", "billing", "cards"]


def test_dates_are_days_in_the_site_time_zone(
    engine: Engine, settings: Settings, seed: Any
) -> None:
    """23:30 UTC on 1 March is already 2 March in Shanghai (UTC+8)."""
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    seed(lambda s: (make_user(s, "rita"), make_call(s, "late", started_at=late)))
    shanghai = settings.model_copy(update={"timezone": "Asia/Shanghai"})
    with TestClient(create_app(shanghai)) as client:
        login(client, "rita")
        assert call_ids(client.get("/calls?from=2024-03-02&to=2024-03-02").text) == ["late"]
        assert call_ids(client.get("/calls?to=2024-03-01").text) == []
        page = soup(client.get("/calls").text)
        assert page.select_one("#calls td").text == "2024-03-02 07:30"  # type: ignore[union-attr]
        assert "Asia/Shanghai" in page.select_one("#count").text  # type: ignore[union-attr]


def test_paging_links_keep_the_filters(engine: Engine, settings: Settings, seed: Any) -> None:
    def build(s: Session) -> None:
        make_user(s, "rita")
        for n in range(5):
            make_call(s, f"c-{n}", queue="billing", started_at=T0 + timedelta(hours=n))
        make_call(s, "other", queue="cards", started_at=T0 + timedelta(days=9))

    seed(build)
    with TestClient(create_app(settings.model_copy(update={"page_size": 2}))) as client:
        login(client, "rita")
        first = soup(client.get("/calls?queue=billing").text)
        assert call_ids(str(first)) == ["c-4", "c-3"]
        assert "5 calls · page 1 of 3" in " ".join(first.select_one("#count").text.split())  # type: ignore[union-attr]
        assert first.select_one('a[rel="prev"]') is None
        next_url = str(first.select_one('a[rel="next"]')["href"])  # type: ignore[index]
        assert next_url == "/calls?queue=billing&page=2"
        second = soup(client.get(next_url).text)
        assert call_ids(str(second)) == ["c-2", "c-1"]
        assert second.select_one('a[rel="prev"]')["href"] == "/calls?queue=billing&page=1"  # type: ignore[index]
        last = soup(client.get("/calls?queue=billing&page=3").text)
        assert call_ids(str(last)) == ["c-0"]
        assert last.select_one('a[rel="next"]') is None
        beyond = soup(client.get("/calls?queue=billing&page=9").text)
        assert call_ids(str(beyond)) == []
        assert beyond.select_one(".empty") is not None


def test_bad_filter_value_names_the_field(reviewer: Client) -> None:
    for query, field in (
        ("from=yesterday", "from"),
        ("compliance_below=150", "compliance_below"),
        ("status=lost", "status"),
        ("page=0", "page"),
        ("critical=maybe", "critical"),
        ("from=2024-03-05&to=2024-03-01", "to"),
    ):
        response = reviewer.get(f"/calls?{query}")
        assert response.status_code == 422, query
        assert f"field {field}" in soup(response.text).select_one(".detail").text  # type: ignore[union-attr]


def test_agent_sees_only_their_own_calls(client: Client, seed: Any) -> None:
    seed(build_calls)
    seed(lambda s: make_user(s, "amy", Role.AGENT, agent_id="a-1"))
    login(client, "amy")
    assert call_ids(client.get("/calls").text) == ["c-2", "c-1"]
    # Filtering by another agent does not widen what an agent sees.
    assert call_ids(client.get("/calls?agent=a-2").text) == []
    agents = soup(client.get("/calls").text).select('select[name="agent"] option')
    assert [o.text for o in agents] == ["Any", "a-1"]
    hidden = client.get("/calls/c-3")
    assert hidden.status_code == 404
    detail = soup(hidden.text).select_one(".detail")
    assert detail is not None and detail.text.strip() == "no call with id 'c-3'"
    assert client.get("/calls/c-1").status_code == 200
