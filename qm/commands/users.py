"""`qm users`: sign-in accounts and API tokens, from the command line.

Every change is recorded in the audit log with the actor "cli".
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings

ACTOR = "cli"
# Spelled out rather than read from qm.models.Role and qm.domain.users.LANGUAGES: importing
# those loads the ORM, 0.4 s of every `qm` start; the tests of this command check that
# the lists match.
ROLES = ("admin", "manager", "reviewer", "agent")
LANGUAGES = ("zh-CN", "en")
PASSWORD_ENV = "QM_NEW_PASSWORD"
# The domain's field names, as the parameters of these commands spell them.
PARAMETERS = {
    "username": "NAME",
    "password": f"the password ({PASSWORD_ENV} or the prompt)",
    "role": "--role",
    "agent_id": "--agent",
    "team": "--team",
    "email": "--email",
    "language": "--language",
}


@contextmanager
def _as_click_errors() -> Iterator[None]:
    """The project's errors as click errors that name the parameter at fault."""
    from qm.errors import Conflict, NotFound, ValidationFailed

    try:
        yield
    except ValidationFailed as exc:
        hint = PARAMETERS.get(exc.field or "", exc.field)
        raise click.BadParameter(exc.message, param_hint=hint) from exc
    except (NotFound, Conflict) as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc


def _new_password() -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    value: str = click.prompt(
        "Password for the new user", hide_input=True, confirmation_prompt=True, err=True
    )
    return value


@click.group("users")
def users_group() -> None:
    """Sign-in accounts: add, list, disable; API tokens."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--agent", "agent_id", default=None, help="The agent an agent user is (agent id).")
@click.option(
    "--team",
    "teams",
    multiple=True,
    help="A team the manager manages (repeatable), or an agent's team; created if missing.",
)
@click.option("--email", default=None, help="Where reports are e-mailed.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of pages, e-mail and PDFs (default: the browser's).",
)
@pass_settings
def add(
    settings: "Settings",
    name: str,
    role: str,
    agent_id: str | None,
    teams: tuple[str, ...],
    email: str | None,
    language: str | None,
) -> None:
    """Add the user NAME. The password comes from QM_NEW_PASSWORD, or is asked for twice
    (hidden) on the terminal."""
    from qm.db import session_scope
    from qm.domain.users import create_user
    from qm.models import Role

    password = _new_password()
    with (
        open_engine(settings) as engine,
        _as_click_errors(),
        session_scope(engine, immediate=True) as session,
    ):
        user = create_user(
            session,
            username=name,
            password=password,
            role=Role(role),
            agent_id=agent_id,
            team_ids=teams,
            email=email,
            language=language,
            actor=ACTOR,
        )
        username = user.username
    click.echo(f"Added {role} {username}.")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user per line.")
@pass_settings
def list_command(settings: "Settings", as_json: bool) -> None:
    """Every user with role, agent, teams, e-mail, language, state and live API tokens."""
    from dataclasses import asdict

    from sqlmodel import Session

    from qm.domain.users import user_summaries

    with open_engine(settings) as engine, Session(engine) as session:
        users = user_summaries(session)
    if as_json:
        for user in users:
            click.echo(json.dumps(asdict(user) | {"teams": list(user.teams)}, ensure_ascii=False))
        return
    header = ("user", "role", "agent", "teams", "e-mail", "language", "state", "tokens")
    rows = [
        (
            u.username,
            u.role,
            u.agent_id or "-",
            ", ".join(u.teams) or "-",
            u.email or "-",
            u.language or "-",
            "active" if u.active else "disabled",
            str(u.live_tokens),
        )
        for u in users
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    if not rows:
        click.echo("No users yet: add one with `qm users add NAME --role admin`.", err=True)


@users_group.command("disable")
@click.argument("name")
@pass_settings
def disable(settings: "Settings", name: str) -> None:
    """Stop NAME from signing in: revokes their API tokens; open browser sessions end at
    their next request."""
    from qm.db import session_scope
    from qm.domain.users import disable_user

    with (
        open_engine(settings) as engine,
        _as_click_errors(),
        session_scope(engine, immediate=True) as session,
    ):
        revoked = disable_user(session, name, actor=ACTOR)
    click.echo(f"Disabled {name}; revoked {revoked} API token(s).")


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke all of NAME's tokens instead.")
@pass_settings
def token(settings: "Settings", name: str, revoke: bool) -> None:
    """Print a new API token for NAME, alone on one line (shown this once; only its hash
    is stored). Integrations send it as `Authorization: Bearer <token>`."""
    from qm.db import session_scope
    from qm.domain.tokens import issue_token, revoke_tokens
    from qm.domain.users import get_user

    with (
        open_engine(settings) as engine,
        _as_click_errors(),
        session_scope(engine, immediate=True) as session,
    ):
        user = get_user(session, name)
        if revoke:
            count = revoke_tokens(session, user.username, actor=ACTOR)
        elif not user.active:
            raise click.BadParameter(
                f"{user.username} is disabled; a token would not work", param_hint="NAME"
            )
        else:
            secret = issue_token(session, user.username, actor=ACTOR)
    if revoke:
        click.echo(f"Revoked {count} API token(s) of {name}.")
    else:
        click.echo(secret)
