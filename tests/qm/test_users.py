"""Users: argon2 hashing, unique names, authentication, password changes, audit."""

import pytest
from argon2 import PasswordHasher, extract_parameters, profiles
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.domain.tokens import issue_token, user_for_token
from qm.domain.users import (
    StoredCredentials,
    authenticate,
    create_user,
    disable_user,
    hash_password,
    password_matches,
    set_password,
    upgraded_hash,
    user_summaries,
)
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.models import AuditEvent, Role, Team, UserTeam
from tests.factories import make_agent


def test_create_user_hashes_the_password_and_audits(engine: Engine) -> None:
    with session_scope(engine) as s:
        user = create_user(s, username="rita", password="s3cret-pass", role=Role.REVIEWER)
        assert user.id is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "s3cret-pass" not in user.password_hash
        assert user.display_name == "rita"
    with session_scope(engine) as s:
        events = s.exec(select(AuditEvent)).all()
        assert [(e.action, e.entity, e.entity_id, e.detail) for e in events] == [
            (
                "user.create",
                "user",
                "rita",
                {
                    "role": "reviewer",
                    "agent_id": None,
                    "teams": [],
                    "email": None,
                    "language": None,
                },
            )
        ]


def test_usernames_are_unique(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_user(s, username="rita", password="s3cret-pass", role=Role.REVIEWER)
    with session_scope(engine) as s, pytest.raises(Conflict, match="rita"):
        create_user(s, username=" rita ", password="other-pass-1", role=Role.ADMIN)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "  "}, "username"),
        ({"password": "short"}, "password"),
        ({"role": Role.AGENT}, "agent_id"),
        ({"role": Role.AGENT, "agent_id": "nobody"}, "agent_id"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": "no-domain@localhost"}, "email"),
        ({"language": "fr"}, "language"),
        ({"team_ids": ["north"]}, "team"),
        ({"role": Role.MANAGER, "team_ids": [" "]}, "team"),
        ({"role": Role.MANAGER, "team_ids": ["x" * 65]}, "team"),
    ],
)
def test_bad_user_fields_are_rejected(
    engine: Engine, kwargs: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "username": "amy",
        "password": "long-enough",
        "role": Role.REVIEWER,
    }
    with session_scope(engine) as s, pytest.raises(ValidationFailed) as caught:
        create_user(s, **{**values, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_agent_user_is_linked_to_its_agent(engine: Engine) -> None:
    with session_scope(engine) as s:
        make_agent(s, "a-1")
        user = create_user(
            s, username="amy", password="long-enough", role=Role.AGENT, agent_id="a-1"
        )
        assert user.agent_id == "a-1"


def test_authenticate(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_user(s, username="rita", password="s3cret-pass", role=Role.REVIEWER)
    with session_scope(engine) as s:
        user = authenticate(s, "rita", "s3cret-pass")
        assert user is not None and user.username == "rita"
        assert authenticate(s, "rita", "wrong-pass") is None
        assert authenticate(s, "nobody", "s3cret-pass") is None
        user.active = False
        s.add(user)
    with session_scope(engine) as s:
        assert authenticate(s, "rita", "s3cret-pass") is None


def test_production_hashes_cost_what_the_sign_in_guard_expects(
    production_password_hashing: None,
) -> None:
    """The other tests hash with argon2's cheapest parameters (tests/conftest.py); the
    product's own: argon2id, 3 passes over 64 MiB, and weaker stored hashes are upgraded."""
    hashed = hash_password("s3cret-pass")
    params = extract_parameters(hashed)
    assert (params.type.name, params.time_cost, params.memory_cost) == ("ID", 3, 64 * 1024)
    stored = StoredCredentials(user_id=1, password_hash=hashed)
    assert password_matches(stored, "s3cret-pass")
    assert not password_matches(stored, "wrong-pass")
    assert upgraded_hash(stored, "s3cret-pass") is None

    weak = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("s3cret-pass")
    upgraded = upgraded_hash(StoredCredentials(user_id=1, password_hash=weak), "s3cret-pass")
    assert upgraded is not None and extract_parameters(upgraded) == params


def test_set_password(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_user(s, username="rita", password="s3cret-pass", role=Role.REVIEWER)
    with session_scope(engine) as s:
        set_password(s, "rita", "new-secret-9", actor="admin")
    with session_scope(engine) as s:
        assert authenticate(s, "rita", "s3cret-pass") is None
        assert authenticate(s, "rita", "new-secret-9") is not None
        actions = [e.action for e in s.exec(select(AuditEvent)).all()]
        assert actions == ["user.create", "user.set_password"]
        with pytest.raises(NotFound):
            set_password(s, "nobody", "new-secret-9")
        with pytest.raises(ValidationFailed):
            set_password(s, "rita", "short")


def test_a_manager_manages_teams_created_on_first_mention(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(Team(id="north", name="North floor"))
        create_user(
            s,
            username="mona",
            password="long-enough",
            role=Role.MANAGER,
            team_ids=["north", "south", "north"],
            email=" mona@example.com ",
            language="en",
        )
    with session_scope(engine) as s:
        north, south = s.get(Team, "north"), s.get(Team, "south")
        assert north is not None and north.name == "North floor"  # an existing name is kept
        assert south is not None and south.name == "south"
        assert sorted(link.team_id for link in s.exec(select(UserTeam)).all()) == ["north", "south"]
        [summary] = user_summaries(s)
        assert summary.teams == ("north", "south")
        assert summary.email == "mona@example.com"


def test_an_agent_has_one_team(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(ValidationFailed, match="one team"):
        make_agent(s, "a-1")
        create_user(
            s,
            username="amy",
            password="long-enough",
            role=Role.AGENT,
            agent_id="a-1",
            team_ids=["north", "south"],
        )


def test_disable_user_revokes_tokens_and_is_audited(engine: Engine) -> None:
    with session_scope(engine) as s:
        create_user(s, username="bot", password="long-enough", role=Role.REVIEWER)
        token = issue_token(s, "bot", actor="admin")
    with session_scope(engine) as s:
        assert disable_user(s, "bot", actor="admin") == 1
    with session_scope(engine) as s:
        assert user_for_token(s, token) is None
        assert authenticate(s, "bot", "long-enough") is None
        [summary] = user_summaries(s)
        assert summary.active is False and summary.live_tokens == 0
        last = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.action == "user.disable"
        assert last.detail == {"was_active": True, "tokens_revoked": 1}
        with pytest.raises(NotFound):
            disable_user(s, "nobody", actor="admin")
