"""A small world for the report archive tests: a team with managers, agents, and a
renderer that makes a real (tiny) PDF with reportlab instead of the full report."""

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from qm.domain.users import hash_password
from qm.models import Agent, Role, Team, User, UserTeam
from scoring.period import Period
from tests.factories import PASSWORD


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF holding `text` (invariant mode: the same text, the same bytes)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=True)
    canvas.drawString(72, 720, text)
    canvas.save()
    return buffer.getvalue()


@dataclass
class FakeRenderer:
    """Renders a tiny PDF per report and remembers what it was asked for."""

    calls: list[tuple[str, str, str, str]] = field(default_factory=list)

    def team_report(
        self, session: Session, *, team_id: str, period: Period, language: str
    ) -> bytes:
        self.calls.append(("team", team_id, str(period), language))
        return tiny_pdf(f"team {team_id} {period} {language}")

    def agent_report(
        self, session: Session, *, agent_id: str, period: Period, language: str
    ) -> bytes:
        self.calls.append(("agent", agent_id, str(period), language))
        return tiny_pdf(f"agent {agent_id} {period} {language}")


def build_world(session: Session) -> None:
    """Teams T1 (一组) and T2; managers mia (en, e-mail), 王芳 (zh-CN, e-mail), nomail
    (no address) of T1 and max of T2; agent users ann (agent a-1 in T1) and bob (a-2 in T2);
    a reviewer rita and an admin ada."""
    session.add(Team(id="T1", name="一组"))
    session.add(Team(id="T2", name="Team Two"))
    session.flush()
    session.add(Agent(id="a-1", name="安娜", team_id="T1"))
    session.add(Agent(id="a-2", name="Bob", team_id="T2"))
    session.flush()
    users: list[tuple[str, Role, dict[str, Any]]] = [
        ("mia", Role.MANAGER, {"email": "mia@example.com", "language": "en", "team_ids": ["T1"]}),
        (
            "王芳",
            Role.MANAGER,
            {"email": "wang@example.com", "language": "zh-CN", "team_ids": ["T1"]},
        ),
        ("nomail", Role.MANAGER, {"team_ids": ["T1"]}),
        ("max", Role.MANAGER, {"email": "max@example.com", "team_ids": ["T2"]}),
        ("ann", Role.AGENT, {"agent_id": "a-1", "language": "zh-CN"}),
        ("bob", Role.AGENT, {"agent_id": "a-2"}),
        ("rita", Role.REVIEWER, {}),
        ("ada", Role.ADMIN, {}),
    ]
    for name, role, extra in users:
        teams = extra.pop("team_ids", [])
        user = User(username=name, password_hash=password_hash(), role=role, **extra)
        session.add(user)
        session.flush()
        for team_id in teams:
            assert user.id is not None
            session.add(UserTeam(user_id=user.id, team_id=team_id))
    session.flush()


@cache
def password_hash() -> str:
    """PASSWORD's hash, computed once (hashing is slow on purpose)."""
    return hash_password(PASSWORD)
