"""The admin's new-user form refuses over-long values and control characters by field name,
stores nothing, and never answers 5xx whatever is typed into it."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.models import Role, User
from tests.factories import make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

FIELDS = ("username", "password", "role", "agent_id", "display_name")


@pytest.fixture
def admin(client: Client, seed: Any) -> Client:
    seed(lambda s: make_user(s, "root", Role.ADMIN))
    login(client, "root")
    return client


def post_user(client: Client, **fields: str) -> Any:
    data = {"username": "new", "password": "long-enough-pw", "role": "reviewer"} | fields
    data |= {"_csrf_token": csrf_token(client, "/users")}
    return client.post("/users", data=data, follow_redirects=False)


def usernames(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(u.username for u in session.exec(select(User)).all())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "a\x00b"}, "field username: contains a control character (U+0000)"),
        ({"username": "u" * 101}, "field username: is longer than 100 characters"),
        ({"display_name": "d" * 201}, "field display_name: is longer than 200 characters"),
        ({"agent_id": "a\x00"}, "field agent_id: contains a control character (U+0000)"),
        ({"password": "p" * 1001}, "field password: is longer than 1000 characters"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(
    admin: Client, engine: Engine, fields: dict[str, str], message: str
) -> None:
    response = post_user(admin, **fields)
    assert response.status_code == 422
    alert = soup(response.text).select_one('[role="alert"]')
    assert alert is not None and message in alert.text
    assert usernames(engine) == ["root"]


def test_a_good_form_still_creates_the_user(admin: Client, engine: Engine) -> None:
    assert post_user(admin, display_name="New Reviewer").status_code == 303
    assert usernames(engine) == ["new", "root"]


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)


def test_no_form_input_answers_5xx(admin: Client) -> None:
    @settings(
        max_examples=40,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, TEXT)))
    def never_5xx(fields: dict[str, str]) -> None:
        response = post_user(admin, **fields)
        assert response.status_code < 500, (fields, response.status_code)

    never_5xx()
