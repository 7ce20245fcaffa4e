"""`qm form`: load evaluation forms (versioned), assign them to queues or teams, list them."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group(name="form")
def form_group() -> None:
    """Evaluation forms (scoring/forms.py's YAML/JSON format), as the admin page does."""


@form_group.command(name="load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--queue", "queues", multiple=True, help="Review this queue's calls with it.")
@click.option("--team", "teams", multiple=True, help="Review this team's calls with it.")
@pass_settings
def load(settings: "Settings", path: Path, queues: tuple[str, ...], teams: tuple[str, ...]) -> None:
    """Validate and store a form file as a new version; optionally assign it.

    A queue's form wins over a team's for a call in both. Evaluations already started
    keep the version they were started with.
    """
    from qm.db import session_scope
    from qm.domain.evaluations.forms import assign_form, load_form_file

    with open_engine(settings) as engine, session_scope(engine, immediate=True) as session:
        row = load_form_file(session, path, actor="cli")
        for queue in queues:
            assign_form(session, row.key, queue=queue, actor="cli")
        for team in teams:
            assign_form(session, row.key, team_id=team, actor="cli")
        key, version = row.key, row.version
    click.echo(f"Form {key} is at version {version}.")
    for queue in queues:
        click.echo(f"Queue {queue} is reviewed with {key}.")
    for team in teams:
        click.echo(f"Team {team} is reviewed with {key}.")


@form_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per form.")
@pass_settings
def list_forms(settings: "Settings", as_json: bool) -> None:
    """The stored forms: latest version, name, and the queues and teams using them."""
    from qm.db import session_scope
    from qm.domain.definitions import form_summaries

    with open_engine(settings) as engine, session_scope(engine) as session:
        forms = form_summaries(session)
    for form in forms:
        if as_json:
            body = {
                "key": form.key,
                "name": form.name,
                "version": form.latest,
                "queues": list(form.queues),
                "teams": list(form.teams),
            }
            click.echo(json.dumps(body, ensure_ascii=False))
        else:
            used = ", ".join([*form.queues, *(f"team {t}" for t in form.teams)]) or "unassigned"
            click.echo(f"{form.key} v{form.latest}  {form.name}  ({used})")
    if not forms and not as_json:
        click.echo("No forms stored yet: `qm form load FILE`.")
