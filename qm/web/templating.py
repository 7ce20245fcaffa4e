"""Jinja set-up: where templates live and the filters that format times and shares."""

from datetime import datetime, tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from qm import i18n
from qm.domain.pipeline import stage_details
from qm.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
MISSING = "—"  # shown for an unknown value
# Stored values the templates show translated (`{{ _(value) }}`): pipeline and stage
# stages and statuses, evaluation states and kinds, key-point outcomes, review picks,
# calibration sessions, speakers, the steps of an evaluation's history.
SHOWN_VALUES = (
    i18n.N_("create"),
    i18n.N_("answer"),
    i18n.N_("submit"),
    i18n.N_("release"),
    i18n.N_("acknowledge"),
    i18n.N_("dispute"),
    i18n.N_("resolve"),
    i18n.N_("transcribe"),
    i18n.N_("keypoints"),
    i18n.N_("metrics"),
    i18n.N_("pending"),
    i18n.N_("done"),
    i18n.N_("failed"),
    i18n.N_("skipped"),
    i18n.N_("draft"),
    i18n.N_("submitted"),
    i18n.N_("released"),
    i18n.N_("acknowledged"),
    i18n.N_("disputed"),
    i18n.N_("resolved"),
    i18n.N_("standard"),
    i18n.N_("calibration"),
    i18n.N_("self"),
    i18n.N_("hit"),
    i18n.N_("miss"),
    i18n.N_("uncertain"),
    i18n.N_("open"),
    i18n.N_("in_progress"),
    i18n.N_("closed"),
    i18n.N_("random"),
    i18n.N_("critical-miss"),
    i18n.N_("uncertain-keypoints"),
    i18n.N_("forbidden-phrase"),
    i18n.N_("low-courtesy"),
    i18n.N_("handle-time"),
    i18n.N_("transfer"),
    i18n.N_("repeat-contact"),
    i18n.N_("new-agent"),
    i18n.N_("round_robin"),
    i18n.N_("by_load"),
    i18n.N_("agent"),
    i18n.N_("customer"),
)


def stage_detail(text: str) -> str:
    """A pipeline stage's stored detail in the reader's language (`stage_details`)."""
    return i18n.stored_message(
        text, stage_details.TEMPLATES, translated=stage_details.TRANSLATED_PARAMS
    )


def mmss(seconds: float | None) -> str:
    """`125.4` -> `02:05`; hours are added when needed (`1:02:05`)."""
    if seconds is None:
        return MISSING
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def percent(share: float | None) -> str:
    """`0.875` -> `88%` (in the current locale's digits and sign)."""
    return i18n.format_share(share, missing=MISSING)


def role_label(role: str) -> str:
    """A role's name as a person reads it."""
    labels = {
        "agent": i18n.gettext("agent"),
        "reviewer": i18n.gettext("reviewer"),
        "manager": i18n.gettext("manager"),
        "admin": i18n.gettext("admin"),
    }
    return labels.get(str(role), str(role))


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
        # Every string a person reads is marked `_("...")`; `qm.i18n` looks it up in the
        # catalog of the request's locale (zh_CN or en).
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        **i18n.jinja_callables(), newstyle=True
    )
    env.filters["mmss"] = mmss
    env.filters["result_note"] = i18n.result_note
    env.filters["stage_detail"] = stage_detail
    env.filters["percent"] = percent
    env.filters["localtime"] = lambda instant: local_time(instant, tz)
    env.filters["number"] = i18n.format_number
    env.filters["day"] = i18n.format_day
    env.filters["duration"] = i18n.format_duration
    env.globals["site_timezone"] = settings.timezone
    env.globals["html_lang"] = i18n.html_lang
    env.globals["role_label"] = role_label
    env.globals["current_locale"] = i18n.current_locale
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
