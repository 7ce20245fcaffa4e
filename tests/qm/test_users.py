"""Users: argon2 hashing, unique names, authentication, password changes, audit."""

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.domain.users import authenticate, create_user, set_password
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.models import AuditEvent, Role
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
            ("user.create", "user", "rita", {"role": "reviewer", "agent_id": None})
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
