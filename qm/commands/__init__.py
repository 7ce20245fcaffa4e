"""Subcommands of `qm`; add a new one to COMMANDS."""

import click

from qm.commands.agreement import agreement
from qm.commands.audit import audit_group
from qm.commands.calibrate import calibrate
from qm.commands.check import check
from qm.commands.db import init
from qm.commands.demo import demo
from qm.commands.forms import form_group
from qm.commands.ingest import ingest
from qm.commands.matcher import matcher_group
from qm.commands.mystery import mystery_group
from qm.commands.privacy import erase, retention_group
from qm.commands.process import process
from qm.commands.queues import queue_group
from qm.commands.redact import redact
from qm.commands.report import report_group
from qm.commands.sample import sample_group
from qm.commands.scheduler import scheduler_command
from qm.commands.scorecard import scorecard
from qm.commands.scripts import script_group
from qm.commands.serve import serve
from qm.commands.status import status
from qm.commands.training import training, training_status
from qm.commands.transcribe import transcribe, wer
from qm.commands.transcripts import transcript_group
from qm.commands.users import users_group
from qm.commands.worker import worker

COMMANDS: list[click.Command] = [
    agreement,
    audit_group,
    calibrate,
    check,
    demo,
    erase,
    form_group,
    init,
    ingest,
    matcher_group,
    mystery_group,
    process,
    queue_group,
    redact,
    report_group,
    retention_group,
    sample_group,
    scheduler_command,
    scorecard,
    script_group,
    serve,
    status,
    training,
    training_status,
    transcribe,
    transcript_group,
    users_group,
    wer,
    worker,
]
