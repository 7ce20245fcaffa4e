"""The one test of the installed `qm` script itself; the others run the commands in-process."""

from pathlib import Path

from qm import __version__
from tests.qm.commands.subprocess_qm import run_qm


def test_the_installed_script_runs(tmp_path: Path) -> None:
    db = tmp_path / "smoke.db"
    version = run_qm("--version", db_url=f"sqlite:///{db}", cwd=tmp_path)
    assert version.stdout == f"qm, version {__version__}\n"
    init = run_qm("init", db_url=f"sqlite:///{db}", cwd=tmp_path)
    assert "upgraded from empty" in init.stdout and db.is_file()
    refused = run_qm("ingest", db_url=f"sqlite:///{db}", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "give exactly one of" in refused.stderr
