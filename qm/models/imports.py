"""Uploads imported in the background: one row per upload, with its state and counts."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from qm.models.base import UTCDateTime, utcnow


class ImportKind(StrEnum):
    """What an upload holds."""

    MANIFEST = "manifest"  # a call manifest with its audio and transcript files
    MYSTERY = "mystery"  # a mystery-shopper CSV
    # Telephony exports (qm.domain.imports.asterisk, .freeswitch, .cdr_mapping):
    ASTERISK = "asterisk"  # Master.csv (or cdr-csv/Master.csv), queue_log, recordings
    FREESWITCH = "freeswitch"  # JSON CDRs and/or mod_cdr_csv's Master.csv, recordings
    CDR = "cdr"  # any CDR CSV with its YAML mapping file


class ImportState(StrEnum):
    """Where an upload's import stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(SQLModel, table=True):
    """One upload: the file to import, who sent it, and what importing it did.

    A failed import stored nothing (imports are all or nothing per file); `error_*` say
    which file, row and field was refused and why.
    """

    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    kind: ImportKind = Field(sa_column=Column(String(20), nullable=False))
    state: ImportState = Field(sa_column=Column(String(20), nullable=False, index=True))
    # The manifest or CSV as the admin named it, and the folder its upload was unpacked in.
    file_name: str = Field(max_length=255)
    folder: str = Field(max_length=1000)
    created_by: str = Field(max_length=100)
    # The process running the import ("host:pid"): a restarted server fails only the jobs
    # of its own host's processes that are gone, never one another process is running.
    worker: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Data rows in the file, counted before importing (an estimate for the progress bar).
    total_rows: int | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    transcripts: int = 0
    # The pipeline run over the imported calls: calls processed and stages that failed.
    processed: int = 0
    process_failed: int = 0
    # Why the pipeline could not do everything (no ASR engine, failed stages), for the page.
    process_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A telephony export's zone (None: the site's, QM_TIMEZONE) and its import summary (one
    # line a fact, in the site's default language: contacts by kind, missing recordings).
    timezone: str | None = Field(default=None, max_length=64)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_file: str | None = Field(default=None, max_length=255)
    error_row: int | None = None
    error_field: str | None = Field(default=None, max_length=100)
    error_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
