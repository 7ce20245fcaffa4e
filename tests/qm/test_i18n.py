"""The two languages: the Chinese catalog is complete and consistent, and formats are local.

The completeness check extracts the marked strings from the source the way `make messages`
does (Babel with `babel.cfg`), so a string marked and not yet translated fails here, naming
it, rather than showing up in English on a Chinese page.
"""

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from qm import i18n
from qm.i18n import (
    format_day,
    format_duration,
    format_month,
    format_number,
    format_share,
    gettext,
    known_locale,
    negotiate,
    ngettext,
    pgettext,
    use_locale,
)

ROOT = Path(__file__).resolve().parents[2]
ZH = ROOT / "qm" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# `%(name)s`, `%(n)d`, `%(m)02d` ...; and str.format's `{id}`, `{call_id!r}`, `{d:.1f}`.
PERCENT_PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[-#0 +]*\d*(?:\.\d+)?[sdfr]")
BRACE_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rs])?(?::[^{}]*)?\}")


Msgid = str | tuple[str, str]


def extracted() -> list[tuple[str, int, Msgid | tuple[str | None, Msgid]]]:
    """Every string marked for translation in the source, as `make messages` finds them:
    (file, line, msgid), the msgid as (context, msgid) when it has a context."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found: list[tuple[str, int, Msgid | tuple[str | None, Msgid]]] = []
    for file, line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid: Msgid = message if isinstance(message, str) else (message[0], message[1])
        found.append((file, line, (context, msgid) if context else msgid))
    return found


def extracted_msgids() -> set[Msgid | tuple[str | None, Msgid]]:
    """The msgids of `extracted()`."""
    return {message for _file, _line, message in extracted()}


def zh_catalog() -> dict[Msgid | tuple[str | None, Msgid], tuple[Any, bool]]:
    """msgid (with its context, as `extracted` gives it) -> (msgstr, fuzzy) of the Chinese
    catalog."""
    with ZH.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    entries: dict[Msgid | tuple[str | None, Msgid], tuple[Any, bool]] = {}
    for m in catalog:
        if m.id:
            msgid: Msgid = m.id if isinstance(m.id, str) else (m.id[0], m.id[1])
            entries[(m.context, msgid) if m.context else msgid] = (m.string, m.fuzzy)
    return entries


def placeholders(text: str) -> Counter[str]:
    """The placeholders of a message, and how many literal `%%` it has."""
    found = Counter(PERCENT_PLACEHOLDER.findall(text)) + Counter(BRACE_PLACEHOLDER.findall(text))
    found["%%"] = text.count("%%")
    return found


def test_every_marked_string_has_a_chinese_translation() -> None:
    catalog = zh_catalog()
    extracted = extracted_msgids()
    assert len(extracted) > 300  # the extraction really read the templates and the code
    problems = []
    for msgid in sorted(extracted, key=str):
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"not in the catalog (run make messages): {msgid!r}")
            continue
        string, fuzzy = entry
        empty = not all(string) if isinstance(string, tuple) else not string
        if empty or fuzzy:
            problems.append(f"{'fuzzy' if fuzzy else 'untranslated'}: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_translations_keep_the_placeholders() -> None:
    mismatched = []
    for msgid, (string, _fuzzy) in zh_catalog().items():
        sources = [msgid] if isinstance(msgid, str) else list(msgid)
        targets = [string] if isinstance(string, str) else list(string)
        for target in targets:
            if not target:
                continue
            wanted = placeholders(sources[-1])
            if placeholders(target) != wanted:
                mismatched.append(f"{msgid!r} -> {target!r}")
    assert not mismatched, "\n".join(mismatched)


def test_a_lone_percent_in_a_template_string_is_written_double() -> None:
    # Jinja's newstyle gettext always %-formats, so a translation with a lone `%` breaks
    # the page; the check above counts `%%`, this one finds a stray single one.
    stray = [
        f"{msgid!r} -> {string!r}"
        for msgid, (string, _fuzzy) in zh_catalog().items()
        if isinstance(msgid, str)
        and isinstance(string, str)
        and "%%" in msgid
        and re.search(r"(?<!%)%(?![%(])", string.replace("%%", ""))
    ]
    assert not stray, "\n".join(stray)


def test_template_strings_write_a_percent_sign_double() -> None:
    # A template's `_()` always %-formats (Jinja's newstyle gettext): "95% interval" fails
    # when the page renders; it is written "95%% interval".
    lone = [
        f"{file}:{line}: {message!r}"
        for file, line, message in extracted()
        if file.endswith(".html")
        for text in ([message] if isinstance(message, str) else list(message))
        if re.search(r"%(?![%(])", text.replace("%%", ""))
    ]
    assert not lone, "\n".join(lone)


def test_chinese_lookups_and_english_source_text() -> None:
    with use_locale("zh-CN"):
        assert gettext("Calls") == "通话"
        assert gettext(
            "Too many failed sign-ins. Please wait %(wait)s and try again.", wait="30 秒"
        )
        assert gettext("no call with id %(call_id)s", call_id="'c-1'") == "没有 ID 为 'c-1' 的通话"
        assert ngettext("%(num)s call", "%(num)s calls", 3) == "3 通通话"
        # One English word, two meanings: the context tells them apart.
        assert gettext("Open") == "打开"
        assert pgettext("picks not yet reviewed", "Open") == "未完成"
    with use_locale("en"):
        # English is the source text: untranslated entries fall back to it, plurals too.
        assert gettext("Calls") == "Calls"
        assert ngettext("%(num)s call", "%(num)s calls", 1) == "1 call"
        assert ngettext("%(num)s call", "%(num)s calls", 2) == "2 calls"
        assert gettext("a message nobody marked") == "a message nobody marked"


def test_the_language_comes_back_after_a_block() -> None:
    with use_locale("zh"):
        assert i18n.current_locale() == "zh_CN"
        with use_locale("en"):
            assert gettext("Sign in") == "Sign in"
        assert gettext("Sign in") == "登录"
    assert i18n.current_locale() == "en"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh_Hans", "zh_CN"),
        ("ZH-cn", "zh_CN"),
        ("zh-TW", None),
        ("en-GB", "en"),
        ("EN", "en"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_known_locale(code: str | None, expected: str | None) -> None:
    assert known_locale(code) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9", "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4", "zh_CN"),
        ("en;q=0.3, zh-CN;q=0.7", "zh_CN"),
        ("zh-TW,fr", None),
        ("zh-CN;q=0", None),
        ("zh-CN;q=abc, en", "en"),
        ("", None),
    ],
)
def test_accept_language_negotiation(header: str, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_numbers_shares_days_months_and_durations_follow_the_locale() -> None:
    with use_locale("en"):
        assert format_number(1234567) == "1,234,567"
        assert format_number(12.345, digits=1) == "12.3"
        assert format_share(0.875) == "88%"
        assert format_day(date(2026, 11, 3)) == "Nov 3, 2026"
        assert format_month(2026, 11) == "November 2026"
        assert format_duration(245) == "4 min 05 s"
        assert format_duration(3725) == "1 h 02 min"
        assert format_duration(9) == "9 s"
        assert format_number(None) == "—"
    with use_locale("zh-CN"):
        assert format_number(1234567) == "1,234,567"
        assert format_share(0.875) == "88%"
        assert format_day(date(2026, 11, 3)) == "2026年11月3日"
        assert format_month(2026, 11) == "2026年11月"
        assert format_duration(245) == "4分05秒"
        assert format_duration(3725) == "1小时02分"
        assert format_duration(9) == "9秒"


def test_key_point_notes_are_shown_in_the_readers_language() -> None:
    from qm.i18n import result_note, use_locale
    from scoring import result_notes as rn

    wrong = rn.note(rn.WRONG_SPEAKER, heard="customer", wanted="agent")
    with use_locale("zh_CN"):
        assert result_note(rn.note(rn.NOT_FOUND)) == "未找到"
        assert result_note(wrong) == "由客户说出，而非坐席"
        assert result_note(rn.note(rn.TOO_LATE, start="95.0", limit="30")) == (
            "在第 95.0 秒，超过了 30 秒的时限"
        )
        assert result_note("a note from elsewhere") == "a note from elsewhere"
    with use_locale("en"):
        assert result_note(wrong) == "said by customer, not agent"


def test_pipeline_stage_details_are_shown_in_the_readers_language() -> None:
    from qm.domain.pipeline import stage_details as sd
    from qm.web.templating import stage_detail

    hits = sd.detail(sd.KEY_POINTS_HIT, hits=3, total=7, version="zh-billing v2")
    assert hits == "3/7 key points hit with zh-billing v2"  # stored in English
    purged = sd.detail(sd.PURGED, reason="retention", day="2026-01-31")
    with use_locale("zh_CN"):
        assert stage_detail(hits) == "用 zh-billing v2 检查，命中 3/7 个关键点"
        assert stage_detail(sd.detail(sd.NO_AUDIO)) == "没有录音，也没有转写"
        assert stage_detail(purged) == "录音和转写已于 2026-01-31 删除（保存期满）；之前的结果保留"
        assert stage_detail("database is locked (error id 1a2b3c)") == (
            "database is locked (error id 1a2b3c)"
        )
