"""`qm transcript`: reviewer corrections and the ASR accuracy they measure."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.group(name="transcript")
def transcript_group() -> None:
    """Corrected transcripts and ASR accuracy per engine and model."""


@transcript_group.command(name="correct")
@click.argument("call_id")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--reviewer", required=True, help="User name of the reviewer who corrected it.")
@pass_settings
def correct(settings: "Settings", call_id: str, path: Path, reviewer: str) -> None:
    """Store PATH (DESIGN.md's transcript JSON) as the corrected transcript of CALL_ID.

    When the call's transcript came from an ASR engine, the engine's WER against the
    correction is kept for `qm transcript accuracy`. The call's key points and metrics
    are reset so that the next `qm process` checks the corrected text.
    """
    from sqlmodel import Session

    from qm.domain.corrections import store_correction
    from qm.errors import NotFound, ValidationFailed
    from transcripts.errors import TranscriptFormatError
    from transcripts.format import load_transcript

    try:
        doc = load_transcript(path)
    except TranscriptFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_engine(settings) as engine, Session(engine) as session:
        try:
            result = store_correction(session, call_id, doc, reviewer=reviewer, source=str(path))
        except (NotFound, ValidationFailed) as exc:
            raise click.ClickException(f"{exc} — nothing was stored.") from exc
        session.commit()
        accuracy = result.accuracy
        if accuracy is None:
            click.echo(f"Stored the corrected transcript of {call_id} (no engine to measure).")
        else:
            unit = "CER" if accuracy.language == "zh" else "WER"
            click.echo(
                f"Stored the corrected transcript of {call_id}; {accuracy.engine}"
                f"{'/' + accuracy.model if accuracy.model else ''} {unit} "
                f"{accuracy.wer:.1%} ({accuracy.substitutions} substitutions, "
                f"{accuracy.deletions} deletions, {accuracy.insertions} insertions "
                f"in {accuracy.reference_units} reference units)."
            )
    click.echo("Run `qm process` to check the corrected text against the script.")


@transcript_group.command(name="accuracy")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per engine/model.")
@pass_settings
def accuracy(settings: "Settings", as_json: bool) -> None:
    """ASR accuracy per engine, model and language over the calls reviewers corrected.

    The pooled rate divides all errors by all reference words (characters for Chinese),
    so long calls weigh more; the mean and median are of the per-call rates.
    """
    from sqlmodel import Session

    from qm.domain.corrections import asr_accuracy_summary

    with open_engine(settings) as engine, Session(engine) as session:
        summary = asr_accuracy_summary(session)
    if as_json:
        for item in summary:
            click.echo(json.dumps(asdict(item), ensure_ascii=False))
        return
    if not summary:
        click.echo("No corrected transcripts of machine-transcribed calls yet.")
        return
    click.echo(
        f"{'engine':<16} {'model':<20} {'lang':<5} {'calls':>5} {'pooled':>7} "
        f"{'mean':>7} {'median':>7} {'ref units':>9}"
    )
    for item in summary:
        click.echo(
            f"{item.engine:<16} {item.model or '-':<20} {item.language:<5} {item.calls:>5} "
            f"{item.pooled_wer:>7.1%} {item.mean_wer:>7.1%} {item.median_wer:>7.1%} "
            f"{item.reference_units:>9}"
        )
    click.echo("Rates are WER for English and CER for Chinese.")


@transcript_group.command(name="export")
@click.argument("call_ids", nargs=-1)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write <call id>.json files into (created when missing).",
)
@click.option(
    "--kind",
    type=click.Choice(["current", "original", "corrected"]),
    default="current",
    show_default=True,
    help="current: the reviewer's correction when there is one, else the original.",
)
@pass_settings
def export(settings: "Settings", call_ids: tuple[str, ...], out_dir: Path, kind: str) -> None:
    """Write the transcripts of CALL_IDS (default: every call) as DESIGN.md JSON files.

    The files are what `qm check` and outside tools read.
    """
    from sqlmodel import Session

    from qm.domain.corrections import export_transcripts

    with open_engine(settings) as engine, Session(engine) as session:
        written = export_transcripts(session, out_dir, call_ids, kind=kind)
    click.echo(f"Wrote {len(written)} transcript(s) to {out_dir}.")
