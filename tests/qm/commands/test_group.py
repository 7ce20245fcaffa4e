"""The `qm` group: help for every command, settings, and the one place errors are mapped."""

import re
import time
from pathlib import Path

from click.testing import CliRunner

from qm.cli import cli
from tests.qm.commands.cli import invoke


def subcommands() -> list[list[str]]:
    """Every command path under `qm`, groups' subcommands included, read from the help."""
    out = invoke("sqlite://", "--help").output
    names = re.findall(r"^  ([a-z][a-z-]*)\s", out.split("Commands:")[1], flags=re.M)
    paths = [[n] for n in names]
    for name in names:
        sub = invoke("sqlite://", name, "--help").output
        if "Commands:" in sub:
            found = re.findall(r"^  ([a-z][a-z-]*)\s", sub.split("Commands:")[1], flags=re.M)
            paths += [[name, s] for s in found]
    return paths


def test_every_subcommand_has_help() -> None:
    paths = subcommands()
    assert {"init", "ingest", "process", "serve", "demo"} <= {p[0] for p in paths}
    assert ["users", "add"] in paths and ["transcript", "correct"] in paths
    for path in paths:
        result = invoke("sqlite://", *path, "--help")
        assert result.exit_code == 0 and "Usage: qm" in result.output, path


def test_help_needs_no_settings() -> None:
    # A bad setting matters only to a command that reads the settings.
    started = time.monotonic()
    result = invoke("sqlite://", "--help", QM_TIMEZONE="Mars/Olympus")
    assert result.exit_code == 0 and "scorecard" in result.output
    assert time.monotonic() - started < 5


def test_a_bad_setting_is_named(db_url: str) -> None:
    result = invoke(db_url, "init", QM_TIMEZONE="Mars/Olympus")
    assert result.exit_code == 1 and "QM_TIMEZONE: unknown time zone" in result.output


def test_the_projects_errors_are_cli_errors(db_url: str) -> None:
    assert invoke(db_url, "init").exit_code == 0
    result = invoke(db_url, "training-status", "999", "completed", "--actor", "mona")
    assert result.exit_code == 1
    assert result.output == "Error: no training assignment 999\n"


def test_the_settings_file_is_read(tmp_path: Path) -> None:
    db = tmp_path / "from-file.db"
    site = tmp_path / "site.env"
    site.write_text(f"QM_DATABASE_URL=sqlite:///{db}\nQM_TIMEZONE=Asia/Shanghai\n")
    env = {"QM_DATABASE_URL": None, "QM_SECRET_KEY": None, "QM_SETTINGS_FILE": None}
    result = CliRunner().invoke(cli, ["--settings", str(site), "init"], env=env)
    assert result.exit_code == 0, result.output
    assert db.is_file()
    site.write_text("QM_TIMEZONE=Mars/Olympus\n")
    result = CliRunner().invoke(cli, ["--settings", str(site), "init"], env=env)
    assert result.exit_code == 1 and "QM_TIMEZONE" in result.output
