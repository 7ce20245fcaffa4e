"""Kept for the test modules that still import `run_qm`, `QM` or `REPO` from here; the CLI
tests themselves live in tests/qm/commands/ (in-process, one subprocess smoke test)."""

from tests.qm.commands.subprocess_qm import QM, REPO, run_qm

__all__ = ["QM", "REPO", "run_qm"]
