"""`GET /agreement`: the machine-vs-human table over HTTP, on the month of
`tests/qm/test_agreement.py` (figures by hand in its docstring)."""

from typing import Any

from bs4 import Tag

from qm.models import Role
from tests.factories import make_user
from tests.qm.test_agreement import ZH_ITEM, build_month
from tests.qm.web.conftest import Client, login, soup


def _rows(html: str) -> list[Tag]:
    return soup(html).select("#agreement tbody tr")


def test_table_worst_first_with_figures(reviewer: Client, seed: Any) -> None:
    seed(build_month)
    response = reviewer.get("/agreement", params={"period": "2024-03"})
    assert response.status_code == 200
    rows = _rows(response.text)
    assert [(r.get("data-source"), r.get("data-item")) for r in rows] == [
        ("form_item", "verify"),
        ("key_point", "greeting"),
        ("form_item", "greeting"),
        ("key_point", ZH_ITEM),
    ]
    greeting = rows[1]

    def cell(row: Tag, name: str) -> str:
        found = row.select_one(f".{name}")
        assert found is not None
        return " ".join(found.text.split())

    assert [cell(greeting, c) for c in ("reviewed", "confirmed", "overridden")] == ["4", "2", "2"]
    assert cell(greeting, "agreement") == "50% (9%–91%)"
    assert cell(greeting, "precision").startswith("67%")
    assert "too few reviews" in cell(greeting, "verdict")
    chinese = rows[3]
    assert "核实客户身份" in chinese.text and cell(chinese, "precision") == "—"
    page = soup(response.text)
    thresholds = page.select_one("#thresholds")
    assert thresholds is not None and "30 reviews" in thresholds.text and "90%" in thresholds.text


def test_sorting_by_reviews_and_the_default_month(reviewer: Client, seed: Any) -> None:
    seed(build_month)
    by_n = _rows(reviewer.get("/agreement?period=2024-03&sort=reviewed").text)
    reviewed = [r.select_one(".reviewed") for r in by_n]
    assert [c.text for c in reviewed if c is not None] == ["4", "2", "2", "1"]
    # Without a period: the month of the latest call.
    page = soup(reviewer.get("/agreement").text)
    month = page.select_one('#period-form input[name="period"]')
    assert month is not None and month["value"] == "2024-03"
    assert len(page.select("#agreement tbody tr")) == 4
    empty = reviewer.get("/agreement?period=2023-01")
    assert empty.status_code == 200 and "No reviewed automatic answers" in empty.text


def test_bad_parameters_are_refused_naming_them(reviewer: Client) -> None:
    for query, field in [
        ("period=2024-13", "period"),
        ("period=2024-3", "period"),
        ("period=", "period"),
        ("period=2024-03&sort=worst", "sort"),
    ]:
        response = reviewer.get(f"/agreement?{query}")
        assert response.status_code == 422, query
        assert f"field {field}" in response.text
    assert reviewer.get("/agreement?period=2024-03&period=2024-04").status_code == 422


def test_agents_may_not_open_it(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "agnes", Role.AGENT, agent_id="a-1"))
    login(client, "agnes")
    assert client.get("/agreement?period=2024-03").status_code == 403
    assert 'href="/agreement"' not in client.get("/calls").text


def test_nav_links_for_reviewers(reviewer: Client) -> None:
    nav = soup(reviewer.get("/calls").text).select_one("header nav")
    assert nav is not None
    assert {str(a["href"]) for a in nav.select("a")} >= {"/calibrations", "/agreement"}


def test_json_api_has_the_same_figures(reviewer: Client, seed: Any) -> None:
    seed(build_month)
    body = reviewer.get("/api/agreement", params={"period": "2024-03"}).json()
    assert body["period"] == "2024-03"
    assert [(r["form"], r["item_id"]) for r in body["rows"]] == [
        ("bank-standard", "verify"),
        (None, "greeting"),
        ("bank-standard", "greeting"),
        (None, ZH_ITEM),
    ]
    greeting = body["rows"][1]
    assert (greeting["reviewed"], greeting["confirmed"], greeting["overridden"]) == (4, 2, 2)
    assert greeting["agreement"]["value"] == 0.5 and len(greeting["agreement"]["ci95"]) == 2
    assert greeting["verdict"] == "few"
    assert body["rows"][3]["label"] == "核实客户身份"
    bad = reviewer.get("/api/agreement", params={"period": "2024-00"})
    assert bad.status_code == 422 and bad.json()["field"] == "period"
    schema = reviewer.get("/schema/openapi.json").json()
    assert "AgreementBody" in str(schema["paths"]["/api/agreement"]["get"]["responses"])


def test_json_api_refuses_agents(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "agnes", Role.AGENT, agent_id="a-1"))
    login(client, "agnes")
    assert client.get("/api/agreement?period=2024-03").status_code == 403
