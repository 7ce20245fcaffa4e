"""Running the installed `qm` script as a subprocess, for the tests that need a real process
(the entry point itself, and `qm demo`, which starts worker processes)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, TEST_SECRET

__all__ = ["QM", "REPO", "run_qm"]

QM = str(Path(sys.executable).with_name("qm"))


def run_qm(
    *args: str, db_url: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`qm ARGS` in a fresh process on the database at `db_url`, with no other `QM_*`
    settings; fails the test with its output when `check` and the exit status is not 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    env |= {"QM_DATABASE_URL": db_url, "QM_SECRET_KEY": TEST_SECRET}
    result = subprocess.run(
        [QM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"qm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
