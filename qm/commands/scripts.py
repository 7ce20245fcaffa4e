"""`qm script`: load scripts (versioned) and assign them to queues."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group(name="script")
def script_group() -> None:
    """Manage call scripts (DESIGN.md's YAML/JSON format)."""


@script_group.command(name="load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Check calls of this queue with it (repeatable); their calls are re-checked.",
)
@pass_settings
def load(settings: "Settings", path: Path, queues: tuple[str, ...]) -> None:
    """Validate and store a script file as a new version; optionally assign it to queues.

    The calls of each queue named are marked for re-checking with this version: their
    key points and metrics are computed again by the next `qm process` (results so far
    stay until then; reviewer overrides are kept).
    """
    from qm.db import session_scope
    from qm.domain import rechecks, scripts

    marked: dict[str, int] = {}
    # The write lock from the start: this reads, then writes the audit log and stages.
    with open_engine(settings) as engine, session_scope(engine, immediate=True) as session:
        row = scripts.load_script_file(session, path, actor="cli")
        for queue in queues:
            scripts.assign_to_queue(session, row.key, queue, actor="cli")
            session.flush()  # the queue exists before its calls are marked
            marked[queue] = rechecks.recheck_queue(session, queue=queue, actor="cli")
        key, version = row.key, row.version
    click.echo(f"Script {key} is at version {version}.")
    for queue, count in marked.items():
        click.echo(
            f"Queue {queue} now uses {key}: {count} call(s) marked for re-checking "
            f"with version {version}; `qm process` checks them."
        )


@contextmanager
def _script_checks(key: str) -> Iterator[None]:
    """A stored version that no longer passes the script checks, named as a CLI error."""
    from scoring.script import ScriptError

    try:
        yield
    except ScriptError as exc:
        raise click.ClickException(
            f"script {key}: its latest version no longer passes the checks ({exc}); "
            "store a fixed version with `qm script load` first"
        ) from exc


@script_group.command(name="suggest")
@click.argument("key")
@click.option(
    "--accept",
    "accepted",
    type=int,
    multiple=True,
    help="Add this suggestion to a new version of the script (repeatable).",
)
@click.option(
    "--dismiss",
    "dismissed",
    type=int,
    multiple=True,
    help="Do not add this suggestion (repeatable); it keeps teaching the checker.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the suggestions as JSON.")
@click.option("--actor", default="cli", show_default=True, help="Name in the audit log.")
@pass_settings
def suggest(
    settings: "Settings",
    key: str,
    accepted: tuple[int, ...],
    dismissed: tuple[int, ...],
    as_json: bool,
    actor: str,
) -> None:
    """List the phrase variants reviewers' key-point decisions suggest for script KEY,
    or accept / dismiss them by id.

    When a reviewer says the checker missed a key point and marks the line that said
    it, that line teaches the checker at once and suggests its sentence as a new phrase
    of the key point. Accepting stores a new version of the script with the phrases
    added; calls are checked with it from the next check on.
    """
    import json

    from qm.db import session_scope
    from qm.domain import phrase_suggestions
    from scoring.semantic import SemanticMatcherError, load_matcher

    if set(accepted) & set(dismissed):
        raise click.UsageError("a suggestion cannot be both accepted and dismissed")
    # The sentence of a line is chosen as the keypoints stage reads it: by meaning when
    # the semantic stage is on.
    try:
        matcher = load_matcher(settings.semantic_model, threads=settings.semantic_threads)
    except SemanticMatcherError as exc:
        raise click.ClickException(str(exc)) from exc
    with (
        open_engine(settings) as engine,
        session_scope(engine, immediate=True) as session,
        _script_checks(key),
    ):
        if dismissed:
            count = phrase_suggestions.dismiss_suggestions(
                session, key, dismissed, actor=actor, matcher=matcher
            )
            click.echo(f"Dismissed {len(set(dismissed))} suggestion(s) ({count} decision(s)).")
        if accepted:
            row = phrase_suggestions.accept_suggestions(
                session, key, accepted, actor=actor, matcher=matcher
            )
            click.echo(
                f"Script {row.key} is at version {row.version} with "
                f"{len(set(accepted))} accepted phrase(s); calls are checked with it "
                "from the next check on."
            )
        if accepted or dismissed:
            return
        found = phrase_suggestions.suggestions(session, key, matcher=matcher)
    if as_json:
        rows = [
            {
                "id": s.id,
                "item": s.item_id,
                "label": s.label,
                "phrase": s.phrase,
                "decisions": s.count,
                "sources": [{"call": call, "line": line} for call, line in s.sources],
            }
            for s in found
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(f"No pending suggestions for script {key}.")
        return
    click.echo(f"{len(found)} suggested phrase variant(s) for script {key}:")
    for s in found:
        click.echo(f"  [{s.id}] {s.item_id} ({s.label}), {s.count} decision(s): {s.phrase!r}")
        for call_id, line in s.sources:
            click.echo(f"        call {call_id}: {line!r}")
    click.echo(f"Accept with `qm script suggest {key} --accept ID`, or dismiss with --dismiss ID.")
