"""Jinja set-up: where templates live and the filters that format times and shares."""

from datetime import datetime, tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from qm.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
MISSING = "—"  # shown for an unknown value


def mmss(seconds: float | None) -> str:
    """`125.4` -> `02:05`; hours are added when needed (`1:02:05`)."""
    if seconds is None:
        return MISSING
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def percent(share: float | None) -> str:
    """`0.875` -> `88%`."""
    return MISSING if share is None else f"{share * 100:.0f}%"


def local_time(instant: datetime | None, tz: tzinfo) -> str:
    """An instant as date and minute in the site's time zone."""
    return MISSING if instant is None else instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def template_config(settings: Settings) -> TemplateConfig[JinjaTemplateEngine]:
    """Templates under `qm/web/templates`, with filters bound to this app's time zone."""
    tz = settings.tz
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        # A misspelt variable fails loudly in tests instead of rendering as nothing.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Every string a person reads is marked `_("...")`; the catalogs (zh_CN, en) plug in
        # here with `install_gettext_translations`. Until then the English source text shows.
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters["mmss"] = mmss
    env.filters["percent"] = percent
    env.filters["localtime"] = lambda instant: local_time(instant, tz)
    env.globals["site_timezone"] = settings.timezone
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
