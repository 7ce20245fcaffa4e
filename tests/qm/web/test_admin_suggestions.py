"""Phrase suggestions in the admin's script pages: a reviewer's decision that the checker
missed a key point (with the line that said it) is listed for the script's admin, in
English and Chinese, with its source call; the admin adds ticked ones to a new version or
dismisses them; a stale id or a phrase the script cannot take is the page's form error."""

from collections.abc import Callable

import pytest
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.overrides import override_key_point
from qm.domain.pipeline import process_pending
from qm.models import AuditEvent, KeyPointExemplar, KeyPointResult, Role, Script, User
from qm.settings import Settings
from scoring.script import parse_script
from tests.factories import make_call, make_transcript, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

SCRIPT = {
    "id": "en-bank",
    "name": "Bank inbound",
    "language": "en",
    "key_points": [
        {"id": "greeting", "label": "Greets the caller", "phrases": ["thank you for calling"]},
        {
            "id": "verify",
            "label": "Verifies the caller",
            "phrases": ["can you confirm your date of birth"],
        },
    ],
}
PARAPHRASE = "before we go on who am i speaking with and what is your birthday"
PAGE = "/admin/scripts/en-bank/suggestions"


def _world(engine: Engine, settings: Settings) -> int:
    """An admin, a reviewer and a manager; call c-1 on the script's queue processed (the
    checker misses `verify`, said in other words) and the reviewer's decision that it was
    said, with the line's span. Returns the suggestion's id."""
    with session_scope(engine) as s:
        make_user(s, "ada", Role.ADMIN)
        make_user(s, "mona", Role.MANAGER)
        rita = make_user(s, "rita", Role.REVIEWER)
        make_call(s, "c-1", queue="retail")
        make_transcript(
            s,
            "c-1",
            [
                ("agent", 1.0, 4.0, "hello thank you for calling"),
                ("customer", 4.5, 5.5, "hi i lost my card"),
                ("agent", 6.0, 9.0, PARAPHRASE),
            ],
        )
        scripts.save_script(s, parse_script(SCRIPT, source="test"), actor="test")
        scripts.assign_to_queue(s, "en-bank", "retail", actor="test")
        reviewer_id = rita.id
    process_pending(engine, settings, call_ids=["c-1"])
    with session_scope(engine) as s:
        verify = s.exec(select(KeyPointResult).where(KeyPointResult.item_id == "verify")).one()
        assert not verify.hit  # what the reviewer corrects
        override_key_point(
            s,
            call_id="c-1",
            item_id="verify",
            hit=True,
            start=6.0,
            end=9.0,
            comment="said in other words",
            actor=s.get(User, reviewer_id),  # type: ignore[arg-type]
        )
    with Session(engine) as s:
        (taught,) = s.exec(select(KeyPointExemplar)).all()
        return taught.id or 0


@pytest.fixture
def suggestion(engine: Engine, settings: Settings) -> int:
    """The world above; the id of its one suggestion."""
    return _world(engine, settings)


@pytest.fixture
def admin(client: Client, suggestion: int) -> Client:
    login(client, "ada")
    return client


def _post(client: Client, action: str, *ids: str) -> Response:
    token = csrf_token(client, PAGE)
    return client.post(
        PAGE,
        data={"_csrf_token": token, "action": action, "id": list(ids)},
        follow_redirects=False,
    )


def _script_versions(engine: Engine) -> list[int]:
    with Session(engine) as s:
        return list(s.exec(select(Script.version).order_by(col(Script.version))).all())


def test_the_suggestion_is_listed_with_its_source_call(admin: Client, suggestion: int) -> None:
    listing = soup(admin.get("/admin/scripts").text)
    badge = listing.select_one('tr[data-key="en-bank"] .suggested a')
    assert badge is not None and badge.text == "1" and badge["href"] == PAGE
    edit = soup(admin.get("/admin/scripts/en-bank/edit").text)
    assert edit.select_one("#suggestions-link")["href"] == PAGE  # type: ignore[index]
    assert edit.select_one("#versions .suggested-count").text == "1"  # type: ignore[union-attr]

    page = soup(admin.get(PAGE).text)
    (row,) = page.select("#suggestions tbody tr")
    assert row["data-suggestion"] == str(suggestion) and row["data-item"] == "verify"
    assert "Verifies the caller" in row.select_one(".label").text  # type: ignore[union-attr]
    assert row.select_one(".phrase").text.strip() == PARAPHRASE  # type: ignore[union-attr]
    assert row.select_one(".decisions").text == "1"  # type: ignore[union-attr]
    source = row.select_one(".sources a")
    assert source is not None and source["href"] == "/calls/c-1"
    assert row.select_one('input[type="checkbox"][name="id"]')["value"] == str(suggestion)  # type: ignore[index]
    assert page.select_one("#accept-button").text.strip() == "Add to a new version"  # type: ignore[union-attr]
    assert page.select_one("#dismiss-button").text.strip() == "Dismiss"  # type: ignore[union-attr]
    assert page.select_one('#suggestions-form input[name="_csrf_token"]') is not None


def test_the_page_reads_in_chinese(admin: Client) -> None:
    page = soup(admin.get(PAGE + "?lang=zh-CN").text)
    assert page.select_one("h1").text.startswith("建议话术")  # type: ignore[union-attr]
    assert page.select_one("#accept-button").text.strip() == "加入新版本"  # type: ignore[union-attr]
    assert page.select_one("#dismiss-button").text.strip() == "忽略"  # type: ignore[union-attr]
    headers = [th.text for th in page.select("#suggestions thead th")]
    assert headers[1:] == ["关键点", "建议话术", "质检员判定数", "出处"]
    assert PARAPHRASE in page.select_one("#suggestions .phrase").text  # type: ignore[union-attr]
    listing = soup(admin.get("/admin/scripts?lang=zh-CN").text)
    assert "建议话术" in [th.text for th in listing.select("#scripts thead th")]


def test_accepting_stores_a_new_version_with_the_phrase(
    admin: Client, engine: Engine, suggestion: int
) -> None:
    response = _post(admin, "accept", str(suggestion))
    assert response.status_code == 303
    assert response.headers["location"] == PAGE + "?accepted=2"
    assert _script_versions(engine) == [1, 2]
    with Session(engine) as s:
        _, parsed = scripts.latest_parsed(s, "en-bank")
        verify = next(kp for kp in parsed.key_points if kp.id == "verify")
        assert verify.phrases == ("can you confirm your date of birth", PARAPHRASE)
        actions = s.exec(select(AuditEvent.action)).all()
        assert "script.suggestions.accept" in actions
    page = soup(admin.get(PAGE + "?accepted=2").text)
    notice = page.select_one("#notice")
    assert notice is not None and "version 2" in notice.text
    assert notice.select_one("a")["href"] == "/admin/scripts/en-bank/edit?version=2"  # type: ignore[index]
    assert page.select("#suggestions tbody tr") == []
    assert page.select_one("#no-suggestions") is not None
    zh = soup(admin.get(PAGE + "?accepted=2&lang=zh-CN").text)
    assert "版本 2" in zh.select_one("#notice").text  # type: ignore[union-attr]
    listing = soup(admin.get("/admin/scripts").text)
    assert listing.select_one('tr[data-key="en-bank"] .suggested a') is None


def test_dismissing_removes_it_from_the_list(
    admin: Client, engine: Engine, suggestion: int
) -> None:
    response = _post(admin, "dismiss", str(suggestion))
    assert response.headers["location"] == PAGE + "?dismissed=1"
    page = soup(admin.get(response.headers["location"]).text)
    assert "1 suggestion dismissed" in page.select_one("#notice").text  # type: ignore[union-attr]
    assert page.select_one("#no-suggestions") is not None
    assert _script_versions(engine) == [1]  # nothing new stored
    # Dismissed again (a second tab): the id is stale now, said beside the list.
    stale = _post(admin, "dismiss", str(suggestion))
    assert stale.status_code == 422
    message = soup(stale.text).select_one("#problem .message").text  # type: ignore[union-attr]
    assert f"no pending suggestion {suggestion}" in message


@pytest.mark.parametrize(
    ("action", "ids", "field", "says"),
    [
        ("accept", ["999"], None, "no pending suggestion 999"),
        ("accept", [], "id", "tick at least one suggestion"),
        ("accept", ["x1"], "id", "x1 is not a suggestion's number"),
        ("accept", ["9" * 40], "id", "is not a suggestion's number"),
        ("publish", ["SUGGESTION"], "action", "choose a button"),
    ],
)
def test_a_bad_choice_is_the_forms_error(
    admin: Client,
    engine: Engine,
    suggestion: int,
    action: str,
    ids: list[str],
    field: str | None,
    says: str,
) -> None:
    ids = [str(suggestion) if i == "SUGGESTION" else i for i in ids]
    response = _post(admin, action, *ids)
    assert response.status_code == 422
    page = soup(response.text)
    assert says in page.select_one("#problem .message").text  # type: ignore[union-attr]
    shown = page.select_one("#problem .field")
    assert (shown.text if shown else None) == field
    assert len(page.select("#suggestions tbody tr")) == 1  # the list is still there
    assert _script_versions(engine) == [1]


def test_a_phrase_too_long_for_the_script_is_named_on_its_row(
    admin: Client, engine: Engine, suggestion: int
) -> None:
    with session_scope(engine) as s:
        row = s.get(KeyPointExemplar, suggestion)
        assert row is not None
        row.text = "before we go on " + "x" * 300
    response = _post(admin, "accept", str(suggestion))
    assert response.status_code == 422
    page = soup(response.text)
    assert page.select_one("#problem .field").text == f"suggestion {suggestion}"  # type: ignore[union-attr]
    assert "200" in page.select_one("#problem .message").text  # type: ignore[union-attr]
    tr = page.select_one(f'#suggestions tr[data-suggestion="{suggestion}"]')
    assert tr is not None and "has-error" in tr["class"]
    assert tr.select_one("input[checked]") is not None  # the tick is kept
    assert _script_versions(engine) == [1]


@pytest.mark.parametrize("user", ["rita", "mona"])
def test_other_roles_are_refused(client: Client, suggestion: int, user: str) -> None:
    login(client, user)
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client, "/calls")
    response = client.post(PAGE, data={"_csrf_token": token, "action": "accept", "id": "1"})
    assert response.status_code == 403


def test_an_unknown_script_is_404(client: Client, seed: Callable[..., None]) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    login(client, "ada")
    assert client.get("/admin/scripts/nope/suggestions").status_code == 404
    token = csrf_token(client, "/calls")
    response = client.post(
        "/admin/scripts/nope/suggestions", data={"_csrf_token": token, "action": "accept"}
    )
    assert response.status_code == 404


def test_a_latest_version_that_no_longer_parses_takes_no_phrase(
    admin: Client, engine: Engine, suggestion: int
) -> None:
    # A version stored before a rule it breaks (here: a language no longer accepted).
    with session_scope(engine) as s:
        body = dict(SCRIPT, language="fr")
        s.add(Script(key="en-bank", version=2, name="Bank inbound", language="fr", body=body))
    listing = admin.get("/admin/scripts")
    assert listing.status_code == 200
    assert soup(listing.text).select_one('tr[data-key="en-bank"] .suggested a') is None
    assert admin.get("/admin/scripts/en-bank/edit").status_code == 200
    page = soup(admin.get(PAGE).text)
    assert page.select_one("#broken .field").text == "language"  # type: ignore[union-attr]
    assert page.select("#suggestions tbody tr") == []
    response = _post(admin, "accept", str(suggestion))
    assert response.status_code == 422
    assert soup(response.text).select_one("#broken") is not None
    assert _script_versions(engine) == [1, 2]
