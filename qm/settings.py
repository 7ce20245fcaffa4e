"""Settings read from `QM_*` environment variables or a settings file.

Nothing here is a module-level singleton: `Settings()` is built by the CLI or by
`create_app`, and tests build their own.
"""

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Script used for calls whose queue has none assigned (a script id, e.g. "hvnb-inbound").
    default_script: str | None = None
    # ASR settings used by the transcription stage.
    asr_engine: Literal["faster-whisper", "openai-whisper", "pocketsphinx"] = "faster-whisper"
    whisper_model: str = "small"
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    asr_language: Literal["auto", "en", "zh"] = "auto"
    agent_channel: Literal["left", "right"] = "left"
    page_size: int = 50
    # Scorecards: composite weights per component (JSON object; missing keys keep their
    # defaults) and the minimum number of contacts for an agent to be ranked.
    scorecard_weights: dict[str, float] = {}
    min_contacts: int = 10
    demo_dir: Path = Path("demo-data")

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

    def check_production(self) -> None:
        """Refuse to run a production server with the development secret."""
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("QM_SECRET_KEY must be set when QM_ENVIRONMENT=production")

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
    import os

    path = settings_file or (
        Path(os.environ["QM_SETTINGS_FILE"]) if "QM_SETTINGS_FILE" in os.environ else None
    )
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"settings file not found: {path}")
    return Settings(_env_file=path or "qm.env", **overrides)  # type: ignore[call-arg]
