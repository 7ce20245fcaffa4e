"""`qm redact --all`: redact what older versions stored, then compact the database."""

import sys
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings


@click.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    required=True,
    help="Every stored transcript, evidence excerpt and recording (the only mode).",
)
@click.option(
    "--audio/--no-audio",
    default=True,
    show_default=True,
    help="Also replace recordings by copies with the redacted spans beeped.",
)
@click.option(
    "--compact/--no-compact",
    default=True,
    show_default=True,
    help="Rewrite the database files afterwards so no replaced text survives in them.",
)
@pass_settings
def redact(settings: "Settings", everything: bool, audio: bool, compact: bool) -> None:
    """Redact card numbers, security codes and ID numbers already in the database.

    New transcripts are redacted before they are stored; this brings databases written by
    older versions in line. It is safe to run again: redaction is idempotent. Recordings
    are replaced by redacted copies (the original is removed unless
    QM_KEEP_ORIGINAL_AUDIO=1).
    """
    del everything  # required flag: there is no partial mode, the flag says so explicitly
    from sqlmodel import Session, func, select
    from tqdm import tqdm

    from qm.domain.redaction import compact_database, redact_stored_audio, redact_stored_text
    from qm.models import Transcript

    with open_engine(settings) as engine:
        with Session(engine) as session:
            total = session.exec(select(func.count()).select_from(Transcript)).one()
        show = sys.stderr.isatty() and total > 0
        with tqdm(total=total, unit="transcripts", file=sys.stderr, disable=not show) as bar:
            report = redact_stored_text(engine, actor="cli", progress=bar.update)
        click.echo(
            f"Checked {report.transcripts_checked} transcript(s): {report.transcripts_changed} "
            f"redacted ({report.segments_changed} segment(s)), "
            f"{report.evidence_changed} evidence excerpt(s) redacted."
        )
        if audio:
            redact_stored_audio(engine, keep_original=settings.keep_original_audio, report=report)
            kept = (
                " (originals kept: QM_KEEP_ORIGINAL_AUDIO=1)"
                if settings.keep_original_audio
                else ""
            )
            click.echo(
                f"Replaced {report.recordings_redacted} recording(s) by redacted copies{kept}."
            )
            for call_id, error in report.recordings_failed:
                click.secho(f"  {call_id}: recording not redacted: {error}", fg="red", err=True)
        if compact:
            click.echo(compact_database(engine) + ".")
    if report.recordings_failed:
        sys.exit(1)
