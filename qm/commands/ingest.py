"""`qm ingest`: import a call manifest or the Harper Valley dataset."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.domain.imports.ingest import ImportReport, Progress
    from qm.settings import Settings


@contextmanager
def progress_bar(total: int | None, unit: str) -> "Iterator[Progress | None]":
    """A tqdm bar on a terminal for long imports; nothing when output is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True) as bar:
        yield bar.update


def _print_report(report: "ImportReport") -> None:
    click.echo(
        f"Imported {report.rows} call(s) from {report.file}: {report.created} new, "
        f"{report.updated} updated, {report.transcripts} transcript(s), "
        f"{len(report.new_agents)} new agent(s)."
    )


@click.command()
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Call manifest CSV (columns in DESIGN.md); audio/transcript paths are relative to it "
        "and must lie in its folder, or in QM_IMPORT_ROOT when that is set."
    ),
)
@click.option(
    "--harper-valley",
    "harper_valley",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of the Harper Valley dataset (metadata/ and transcript/ JSON pairs).",
)
@click.option(
    "--queue",
    default="hvnb-retail",
    show_default=True,
    help="Queue given to Harper Valley calls (the dataset has none).",
)
@click.option(
    "--agent-channel",
    type=click.Choice(["left", "right"]),
    default=None,
    help="Stereo channel carrying the agent in this import's audio (default: QM_AGENT_CHANNEL).",
)
@pass_settings
def ingest(
    settings: "Settings",
    manifest: Path | None,
    harper_valley: Path | None,
    queue: str,
    agent_channel: str | None,
) -> None:
    """Import calls. All-or-nothing per file: a bad row stores nothing of that file.

    Re-importing a call id updates that call (and re-runs its pipeline) instead of
    duplicating it. Agents and customers first named here are created.
    """
    if (manifest is None) == (harper_valley is None):
        raise click.UsageError("give exactly one of --manifest FILE or --harper-valley DIR")
    from qm.domain.imports.harper_valley import ingest_harper_valley
    from qm.domain.imports.ingest import count_data_rows, ingest_manifest
    from qm.errors import ValidationFailed

    with open_engine(settings) as engine:
        try:
            if manifest is not None:
                total = (
                    count_data_rows(manifest)
                    if manifest.is_file() and sys.stderr.isatty()
                    else None
                )
                with progress_bar(total, "rows") as progress:
                    report = ingest_manifest(
                        engine,
                        manifest,
                        agent_channel=agent_channel,
                        progress=progress,
                        import_root=settings.import_root,
                    )
            else:
                assert harper_valley is not None
                with progress_bar(None, "calls") as progress:
                    report = ingest_harper_valley(
                        engine, harper_valley, queue=queue, progress=progress
                    )
        except ValidationFailed as exc:
            raise click.ClickException(f"{exc} — nothing from this file was stored.") from exc
    _print_report(report)
