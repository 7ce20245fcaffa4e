"""The call list page and `GET /api/calls` with a transcript search and a missed key point."""

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from qm.domain.calls import search
from qm.models import Role
from tests.factories import T0, make_call, make_results, make_script, make_user
from tests.qm.test_search import build, store
from tests.qm.web.conftest import Client, login, soup


def test_list_page_shows_the_matched_line_escaped_and_linked(reviewer: Client, seed: Any) -> None:
    def build_page(s: Session) -> None:
        build(s)
        make_call(s, "xss-1", started_at=T0 + timedelta(hours=3))
        store(s, "xss-1", [("customer", 7.25, 9.0, "<b>refund</b> & <script>x()</script>")])

    seed(build_page)
    page = soup(reviewer.get("/calls?q=refund").text)
    rows = {str(tr["data-call-id"]): tr for tr in page.select("#calls tbody tr")}
    assert sorted(rows) == ["en-1", "xss-1"]
    link = rows["en-1"].select_one("a.match")
    assert link is not None and link["href"] == "/calls/en-1#t=3.5"
    assert link.select_one("mark").text == "REFUND"  # type: ignore[union-attr]
    assert link.text == (
        "…I was charged twice and I would like a REFUND for the second one, as soon as you can…"
    )
    unsafe = rows["xss-1"].select_one("a.match")
    assert unsafe is not None and unsafe["href"] == "/calls/xss-1#t=7.25"
    assert unsafe.select("script") == [] and unsafe.select("b") == []
    assert unsafe.text == "<b>refund</b> & <script>x()</script>"
    # Chinese, two characters, combined with a filter; the form keeps the query.
    page = soup(reviewer.get("/calls?q=退款&queue=cards").text)
    assert [tr["data-call-id"] for tr in page.select("#calls tbody tr")] == ["zh-1"]
    assert page.select_one("#calls a.match mark").text == "退款"  # type: ignore[union-attr]
    assert page.select_one('input[name="q"]')["value"] == "退款"  # type: ignore[index]
    # Without a query there is no matched line.
    assert soup(reviewer.get("/calls").text).select("a.match") == []


def test_list_page_offers_the_key_points_and_filters_by_a_missed_one(
    reviewer: Client, seed: Any
) -> None:
    def build_missed(s: Session) -> None:
        build(s)
        script = make_script(s)
        script.body = {**script.body, "key_points": [{"id": "greeting", "label": "问候客户"}]}
        s.add(script)
        make_results(s, "zh-1", [{"item_id": "greeting", "hit": False}])
        make_results(s, "en-1", [{"item_id": "greeting", "hit": True}])

    seed(build_missed)
    page = soup(reviewer.get("/calls?missed=greeting").text)
    assert [tr["data-call-id"] for tr in page.select("#calls tbody tr")] == ["zh-1"]
    options = page.select('select[name="missed"] option')
    assert [(o["value"], o.text) for o in options] == [
        ("", "Any"),
        ("greeting", "问候客户 (greeting)"),
    ]
    assert page.select_one('select[name="missed"] option[selected]')["value"] == "greeting"  # type: ignore[index]
    # Combined with a search that the missed call does not match: nothing.
    assert soup(reviewer.get("/calls?missed=greeting&q=refund").text).select("#calls") == []


def test_api_lists_matches_and_missed(reviewer: Client, seed: Any) -> None:
    def build_api(s: Session) -> None:
        build(s)
        make_results(s, "zh-1", [{"item_id": "greeting", "hit": False}])

    seed(build_api)
    body = reviewer.get("/api/calls", params={"q": "申请退款"}).json()
    assert [i["call_id"] for i in body["items"]] == ["zh-1"]
    assert body["items"][0]["match"] == {
        "segment": "seg-1",
        "start": 2.5,
        "before": "我上个月多扣了一笔钱，想",
        "text": "申请退款",
        "after": "。",
    }
    body = reviewer.get("/api/calls", params={"missed": "greeting", "q": "您好"}).json()
    assert [i["call_id"] for i in body["items"]] == ["zh-1"]
    body = reviewer.get("/api/calls", params={"q": "odd-1"}).json()
    assert [(i["call_id"], i["match"]) for i in body["items"]] == [("odd-1", None)]
    for q in ('"', "*", 'a "b', "NEAR(", "%_\\"):
        response = reviewer.get("/api/calls", params={"q": q})
        assert response.status_code == 200, q
    response = reviewer.get("/api/calls", params={"missed": "x" * 101})
    assert response.status_code == 422
    assert response.json()["field"] == "missed"
    response = reviewer.get("/api/calls?missed=a&missed=b")
    assert response.status_code == 422
    assert response.json()["field"] == "missed"


def test_agent_searching_the_api_sees_only_their_calls(client: Client, seed: Any) -> None:
    seed(build)
    seed(lambda s: make_user(s, "amy", Role.AGENT, agent_id="a-1"))
    login(client, "amy")
    assert client.get("/api/calls", params={"q": "您好"}).json()["items"] == []
    items = client.get("/api/calls", params={"q": "calling"}).json()["items"]
    assert [i["call_id"] for i in items] == ["en-1"]


def test_many_matches_show_an_open_count_and_a_next_page(
    reviewer: Client, seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "PROBE_LIMIT", 2)

    def build_many(s: Session) -> None:
        for n in range(3):
            make_call(s, f"m-{n}", started_at=T0 + timedelta(minutes=n))
            store(s, f"m-{n}", [("customer", 0.0, 1.0, f"退款 {n}")], "zh")

    seed(build_many)
    page = soup(reviewer.get("/calls?q=退款").text)
    count = page.select_one("#count")
    assert count is not None and " ".join(count.text.split()).startswith("3 calls · page 1")
    body = reviewer.get("/api/calls", params={"q": "退款", "page": "1"}).json()
    assert (body["total"], body["total_is_lower_bound"], body["has_next"]) == (3, False, False)
    # Past the first page nothing says how many there are in all.
    body = reviewer.get("/api/calls", params={"q": "退款", "page": "2"}).json()
    assert (body["items"], body["total_is_lower_bound"], body["has_next"]) == ([], True, False)
