"""Teams, agents, customers and the users who sign in."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class Role(StrEnum):
    """What a signed-in user may do."""

    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    AGENT = "agent"


class Team(SQLModel, table=True):
    """A group of agents with a manager."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)


class Agent(SQLModel, table=True):
    """A call-center agent; created when first named by an import (id doubles as name)."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    team_id: str | None = Field(default=None, foreign_key="team.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Customer(SQLModel, table=True):
    """A customer as identified by the telephony export (account or caller id)."""

    id: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=200)


class User(SQLModel, table=True):
    """Someone who signs in to the web app."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    role: Role = Field(sa_column=Column(String(20), nullable=False))
    # An agent user sees only this agent's data.
    agent_id: str | None = Field(default=None, foreign_key="agent.id", index=True)
    team_id: str | None = Field(default=None, foreign_key="team.id")
    email: str | None = Field(default=None, max_length=254)
    # The user's language for pages, e-mail and PDFs ("zh-CN" or "en"); None follows the browser.
    language: str | None = Field(default=None, max_length=10)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserTeam(SQLModel, table=True):
    """A team a manager manages (a manager may have several)."""

    __tablename__ = "user_team"

    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", primary_key=True)
    team_id: str = Field(foreign_key="team.id", ondelete="CASCADE", primary_key=True)
