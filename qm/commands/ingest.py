"""`qm ingest`: import a call manifest, the Harper Valley dataset, or a telephony export."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import open_engine, pass_settings

if TYPE_CHECKING:
    from qm.domain.imports.ingest import ImportReport, Progress
    from qm.domain.imports.telephony import TelephonyReport
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


def _print_telephony(report: "TelephonyReport") -> None:
    for line in report.summary_lines():
        click.echo(line)


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
    "--asterisk",
    type=click.Path(path_type=Path, file_okay=False),
    help="Asterisk export folder: Master.csv (cdr_csv), queue_log, recordings by uniqueid.",
)
@click.option(
    "--freeswitch",
    type=click.Path(path_type=Path, file_okay=False),
    help="FreeSWITCH export folder: mod_json_cdr files and/or mod_cdr_csv's Master.csv.",
)
@click.option(
    "--cdr",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Any other CDR CSV; needs --mapping.",
)
@click.option(
    "--mapping",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML file saying which --cdr column is which call field (docs/formats.md).",
)
@click.option(
    "--timezone",
    "pbx_timezone",
    default=None,
    help="Time zone of the PBX's local CDR times (default: QM_TIMEZONE).",
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
    asterisk: Path | None,
    freeswitch: Path | None,
    cdr: Path | None,
    mapping: Path | None,
    pbx_timezone: str | None,
    queue: str,
    agent_channel: str | None,
) -> None:
    """Import calls. All-or-nothing per file: a bad row stores nothing of that file.

    Re-importing a call id updates that call (and re-runs its pipeline) instead of
    duplicating it. Agents and customers first named here are created.
    """
    given = [x for x in (manifest, harper_valley, asterisk, freeswitch, cdr) if x is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --manifest FILE, --harper-valley DIR, --asterisk DIR, "
            "--freeswitch DIR or --cdr FILE --mapping MAP.yaml"
        )
    if (cdr is None) != (mapping is None):
        raise click.UsageError("--cdr FILE and --mapping MAP.yaml go together")
    if asterisk is not None or freeswitch is not None or cdr is not None:
        _ingest_telephony(settings, asterisk, freeswitch, cdr, mapping, pbx_timezone, agent_channel)
        return
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


def _ingest_telephony(
    settings: "Settings",
    asterisk: Path | None,
    freeswitch: Path | None,
    cdr: Path | None,
    mapping: Path | None,
    pbx_timezone: str | None,
    agent_channel: str | None,
) -> None:
    """Import an Asterisk or FreeSWITCH export folder, or a CDR CSV with its mapping."""
    from qm.domain.imports.asterisk import ingest_asterisk
    from qm.domain.imports.cdr_mapping import ingest_cdr
    from qm.domain.imports.freeswitch import ingest_freeswitch
    from qm.errors import ValidationFailed

    zone = pbx_timezone or settings.timezone
    # Joined -in/-out recording pairs are written beside the browser uploads.
    merge_dir = settings.upload_folder() / "telephony"
    with open_engine(settings) as engine, progress_bar(None, "calls") as progress:
        try:
            if asterisk is not None:
                report = ingest_asterisk(
                    engine,
                    asterisk,
                    timezone=zone,
                    import_root=settings.import_root,
                    merge_dir=merge_dir,
                    agent_channel=agent_channel,
                    progress=progress,
                )
            elif freeswitch is not None:
                report = ingest_freeswitch(
                    engine,
                    freeswitch,
                    timezone=zone,
                    import_root=settings.import_root,
                    merge_dir=merge_dir,
                    agent_channel=agent_channel,
                    progress=progress,
                )
            else:
                assert cdr is not None and mapping is not None
                report = ingest_cdr(
                    engine,
                    cdr,
                    mapping,
                    import_root=settings.import_root,
                    agent_channel=agent_channel,
                    progress=progress,
                )
        except ValidationFailed as exc:
            raise click.ClickException(f"{exc} — nothing from this import was stored.") from exc
    _print_telephony(report)
