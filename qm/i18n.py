"""Two languages: the gettext catalogs (zh_CN, en), the current locale and localized formats.

Every string a person reads is marked for translation: `gettext("...")` (imported as `_`)
in Python, `{{ _("...") }}` in templates. The catalogs are the `.po` files under
`qm/locale/<locale>/LC_MESSAGES/messages.po`, kept in the repository and read at start-up
(no compiled `.mo` files to forget): `make messages` extracts new strings and merges them
into both catalogs.

The current locale is a context variable: the web layer sets it per request (the user's
language, else the browser's `Accept-Language`), reports and e-mails set it per recipient
with `use_locale`, and everything that formats text reads it. Locale codes: `zh_CN` and
`en` inside the program (gettext's spelling); `zh-CN` and `en` where a person or a browser
sees them (BCP 47: `<html lang>`, the user's stored language, `?lang=`).
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import format_skeleton as _babel_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import LazyProxy, NullTranslations, Translations

from scoring.messages import parse as parse_message
from scoring.result_notes import SPEAKER_PARAMS
from scoring.result_notes import TEMPLATES as NOTE_TEMPLATES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
LOCALES = ("zh_CN", "en")  # the first is the product's first language
DEFAULT_LOCALE = "en"
# What a person writes (`?lang=zh`, a user's language, Accept-Language) -> our locale.
_ALIASES = {
    "zh": "zh_CN",
    "zh_cn": "zh_CN",
    "zh_hans": "zh_CN",
    "zh_hans_cn": "zh_CN",
    "zh_sg": "zh_CN",
    "en": "en",
}

_current: ContextVar[str] = ContextVar("qm_locale", default=DEFAULT_LOCALE)


def known_locale(code: str | None) -> str | None:
    """`zh-CN`, `zh`, `zh_Hans`, `en-GB`, `EN` ... -> `zh_CN` or `en`; None if neither."""
    if not code:
        return None
    key = code.strip().replace("-", "_").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    language = key.split("_", 1)[0]
    if language == "zh":
        # Traditional Chinese (Taiwan, Hong Kong, Macau) is not what the catalog holds.
        return None if key.startswith(("zh_tw", "zh_hk", "zh_hant", "zh_mo")) else "zh_CN"
    return _ALIASES.get(language)


def negotiate(accept_language: str | None) -> str | None:
    """The best of our locales for an `Accept-Language` header, or None.

    Entries are taken in the order of their quality values (RFC 9110); a malformed entry
    is skipped rather than failing the request.
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    for _q, _pos, tag in sorted(ranked):
        found = known_locale(tag)
        if found:
            return found
    return None


def html_lang(locale: str | None = None) -> str:
    """The BCP 47 tag for `<html lang>` and stored preferences: `zh-CN` or `en`."""
    return (locale or current_locale()).replace("_", "-")


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of `locale`, read from its `.po` file (fuzzy entries are left out)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    # An untranslated plural entry reads as ("", ""), which `write_mo` would keep (a
    # non-empty tuple) and `ngettext` would then answer with an empty string.
    for message in list(catalog):
        if message.id and isinstance(message.string, tuple) and not all(message.string):
            catalog.delete(message.id, message.context)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def current_locale() -> str:
    """The locale text is being produced in now (`zh_CN` or `en`)."""
    return _current.get()


def set_locale(locale: str | None) -> None:
    """Make `locale` current for the rest of this context (a web request)."""
    _current.set(known_locale(locale) or DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Produce text in `locale` inside the block (an e-mail or PDF for one recipient)."""
    token = _current.set(known_locale(locale) or DEFAULT_LOCALE)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str, /, **variables: Any) -> str:
    """`message` in the current locale, with `%(name)s` placeholders filled from `variables`."""
    text = translations(current_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> str:
    """The singular or plural form for `n` in the current locale; `%(num)s` is `n`."""
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def pgettext(context: str, message: str, /, **variables: Any) -> str:
    """`message` as meant in `context`: for an English word with two meanings that another
    language tells apart ("Open" a call; the picks still "Open")."""
    text = str(translations(current_locale()).pgettext(context, message))
    return text % variables if variables else text


def library_message(error: Any) -> str:
    """The reason of a library's error (`scoring.messages`: an English `template` with its
    `params`) in the current locale."""
    return gettext(error.template, **error.params)


def stored_message(text: str, templates: Sequence[str], *, translated: Collection[str] = ()) -> str:
    """A message stored in English (one of `templates`, see `scoring.messages.parse`) in
    the current locale, the values named in `translated` translated too; other text as it
    is."""
    parsed = parse_message(text, templates)
    if parsed is None:
        return text
    template, params = parsed
    values = {k: gettext(v) if k in translated else v for k, v in params.items()}
    return gettext(template, **values)


def result_note(text: str) -> str:
    """A key-point result's note (`scoring.result_notes`) in the current locale, with the
    speakers it names translated."""
    return stored_message(text, NOTE_TEMPLATES, translated=SPEAKER_PARAMS)


def N_(message: str) -> str:
    """Marks `message` for the catalogs without translating it (Babel extracts `N_`).

    For a constant translated later where it is shown (`_(label)` in a template): a status
    value, a choice's label, a band's meaning.
    """
    return message


def lazy_gettext(message: str, /, **variables: Any) -> LazyProxy:
    """A translation looked up when it is shown, for module-level labels and choices."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


# For the templates: Jinja's i18n extension (newstyle) formats and escapes itself, so these
# only look the message up.
def _jinja_gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def _jinja_pgettext(context: str, message: str) -> str:
    return str(translations(current_locale()).pgettext(context, message))


def jinja_callables() -> dict[str, Any]:
    """The gettext callables for `Environment.install_gettext_callables`."""
    return {"gettext": _jinja_gettext, "ngettext": _jinja_ngettext, "pgettext": _jinja_pgettext}


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def format_number(value: float | int | None, digits: int = 0, missing: str = "—") -> str:
    """A number with the current locale's separators: `12,345.6`."""
    if value is None:
        return missing
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel_locale(current_locale()))


def format_share(share: float | None, digits: int = 0, missing: str = "—") -> str:
    """A share 0..1 as a percentage in the current locale: `0.875` -> `88%`."""
    if share is None:
        return missing
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(share, format=pattern, locale=_babel_locale(current_locale()))


def format_day(day: date | datetime | None, missing: str = "—") -> str:
    """A date in the current locale: `Nov 3, 2026` / `2026年11月3日`."""
    if day is None:
        return missing
    if isinstance(day, datetime):
        day = day.date()
    return _babel_date(day, format="medium", locale=_babel_locale(current_locale()))


def format_instant(instant: datetime | None, tz: tzinfo, missing: str = "—") -> str:
    """An instant as date and minute in `tz`, in the current locale's order."""
    if instant is None:
        return missing
    return _babel_datetime(
        instant, format="short", tzinfo=tz, locale=_babel_locale(current_locale())
    )


def format_month(year: int, month: int) -> str:
    """A month's name with its year in the current locale: `November 2026` / `2026年11月`."""
    # A skeleton, not a pattern: each locale orders year and month its own way.
    return _babel_skeleton("yMMMM", date(year, month, 1), locale=_babel_locale(current_locale()))


def format_duration(seconds: float | None, missing: str = "—") -> str:
    """A handle time or similar: `4 min 05 s` / `4分05秒`; hours when needed."""
    if seconds is None:
        return missing
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return gettext("%(h)d h %(m)02d min", h=hours, m=minutes)
    if minutes:
        return gettext("%(m)d min %(s)02d s", m=minutes, s=secs)
    return gettext("%(s)d s", s=secs)
