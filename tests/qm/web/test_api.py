"""The JSON API and the error responses (HTML page vs problem+json)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from qm.models import Role
from tests.factories import make_user
from tests.qm.web.conftest import Client, login, soup
from tests.qm.web.test_call_page import build_reviewed_call
from tests.qm.web.test_calls_list import build_calls

PROBLEM = "application/problem+json"


def test_list_shape_and_filters(reviewer: Client, seed: Any) -> None:
    seed(build_calls)
    body = reviewer.get("/api/calls?agent=a-1").json()
    assert {k: body[k] for k in ("total", "page", "page_size", "pages")} == {
        "total": 2,
        "page": 1,
        "page_size": 50,
        "pages": 1,
    }
    assert body["items"][1] == {
        "call_id": "c-1",
        "started_at": "2024-03-01T09:00:00+00:00",
        "agent": {"id": "a-1", "name": "a-1"},
        "customer": {"id": "k-1", "name": "k-1"},
        "queue": "billing",
        "reason": "balance",
        "handle_seconds": 307.0,
        "transfers": 0,
        "compliance": 0.9,
        "critical_failed": False,
        "status": "done",
        "match": None,
    }
    failed = reviewer.get("/api/calls?status=failed").json()
    assert [i["call_id"] for i in failed["items"]] == ["c-3"]


def test_detail_shape(reviewer: Client, seed: Any) -> None:
    seed(build_reviewed_call)
    body = reviewer.get("/api/calls/c-1").json()
    assert body["call_id"] == "c-1"
    assert body["status"] == "done"
    assert body["metrics"]["compliance"] == 0.5
    assert body["metrics"]["handle_seconds"] == 307.0
    assert body["metrics"]["courtesy"]["phrases"] == ["thank you"]
    assert body["transcript"]["language"] == "en"
    assert [s["speaker"] for s in body["transcript"]["segments"]] == [
        "agent",
        "customer",
        "agent",
        "customer",
    ]
    greeting = body["key_points"][0]
    assert greeting["item_id"] == "greeting"
    assert greeting["outcome"] == "hit"
    assert greeting["segment"] == "seg-0"
    assert greeting["evidence"] == "thank you for calling acme"
    assert [k["outcome"] for k in body["key_points"]] == ["hit", "miss", "uncertain"]
    assert [(f["item_id"], f["outcome"]) for f in body["forbidden"]] == [
        ("dismissive", "found"),
        ("blame", "absent"),
    ]
    assert [(s["stage"], s["status"]) for s in body["stages"]] == [
        ("transcribe", "skipped"),
        ("keypoints", "done"),
        ("metrics", "done"),
    ]


def test_agent_api_access_is_limited_to_own_calls(client: Client, seed: Any) -> None:
    seed(build_calls)
    seed(lambda s: make_user(s, "bea", Role.AGENT, agent_id="a-2"))
    login(client, "bea")
    body = client.get("/api/calls").json()
    assert [i["call_id"] for i in body["items"]] == ["c-4", "c-3", "X-5"]
    hidden = client.get("/api/calls/c-1")
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith(PROBLEM)
    assert hidden.json()["title"] == "Not Found"


def test_not_found_is_problem_json_on_the_api(reviewer: Client) -> None:
    for path in ("/api/calls/none-such", "/api/no-such-endpoint"):
        response = reviewer.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        assert body["status"] == 404 and body["instance"] == path


def test_validation_problem_names_the_field(reviewer: Client) -> None:
    response = reviewer.get("/api/calls?from=31/12/2024")
    assert response.status_code == 422
    body = response.json()
    assert (body["file"], body["row"], body["field"]) == ("query", None, "from")
    assert "not a date" in body["detail"]


def test_unknown_page_is_an_html_404(reviewer: Client) -> None:
    response = reviewer.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert soup(response.text).select_one("h1 .status").text == "404"  # type: ignore[union-attr]


def test_unexpected_errors_are_logged_and_not_leaked(
    reviewer: Client, engine: Engine, caplog: Any
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE call_metrics"))
    page = reviewer.get("/calls")
    assert page.status_code == 500
    assert "call_metrics" not in page.text
    assert "has been logged" in soup(page.text).select_one(".detail").text  # type: ignore[union-attr]
    api = reviewer.get("/api/calls")
    assert api.status_code == 500
    assert api.headers["content-type"].startswith(PROBLEM)
    assert "call_metrics" not in api.text
    assert any("GET /calls failed" in r.getMessage() for r in caplog.records)
