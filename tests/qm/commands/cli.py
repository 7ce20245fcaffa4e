"""Running `qm` in-process for the command tests."""

import os

from click.testing import CliRunner, Result

from qm.cli import cli
from tests.conftest import TEST_SECRET


def invoke(db_url: str, *args: str, input: str | None = None, **env: str) -> Result:
    """`qm ARGS` in this process on the database at `db_url`, as a fresh shell would run it:
    the caller's other `QM_*` variables are unset, so only `env` adds settings."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QM_")}
    clean |= {"QM_DATABASE_URL": db_url, "QM_SECRET_KEY": TEST_SECRET} | env
    return CliRunner().invoke(
        cli, list(args), input=input, env=clean, catch_exceptions=False, prog_name="qm"
    )
