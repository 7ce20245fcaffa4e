"""PCI/PIPL redaction: card numbers, security codes and Chinese ID numbers become tags.

Applied before a transcript is stored or indexed (`redact_transcript`), and to free text
such as a reviewer's comment (`redact_text`).

Reading numbers
---------------
Each segment is split into tokens and every token that is a number is read as digits
(`transcripts.numbers.spoken_digits`): "4111", "four", "oh", "forty one", "eleven",
"double five", "四", "幺", full-width "４" (digits written onto a Latin word, "CVV2",
"SF1234567890", are part of that word). Per speaker, in time order, the transcript
becomes a stream of

- digit *groups*: digits said or written together. "4111 1111" is two groups, and so is
  "四一一一 一一一一"; English number words ("four one one one") and single digits
  ("4 1 1 1") separated by spaces form one group, because those spaces say nothing about
  how the speaker grouped the digits;
- *separators*, which keep a number going but end a group: punctuation, `FILLERS` ("uh",
  "um", "and", "sorry", "嗯", "呃", "那个", "然后"...), `CORRECTIONS` ("sorry", "I mean",
  "no wait", "不对", "说错了"...) and the pause between two segments of the same speaker
  (other speakers' segments in between are skipped; a gap of more than
  `MAX_SEGMENT_GAP` seconds ends the number);
- *words*, which end it.

A *run* is a maximal sequence of groups joined by separators.

Rules
-----
- ``[PAN]``: a stretch of whole groups of a run (the whole run, or from one group boundary
  to another) whose digits pass Luhn and match a card scheme's prefix and length
  (`transcripts.numbers.card_scheme`: Visa, Mastercard, Amex, UnionPay, JCB, Discover,
  Diners). No other substring is tested: 16 digits of a longer number that happen to
  pass Luhn are not a card. Everything from the first to the last group of the stretch
  is redacted, fillers included.

  At a self-correction the group said next may replace the last group said before it,
  or as many digits as it has, or the digits said last when it restates them with one
  changed ("4111 1112, sorry, 1111 ...", "... 8 3 4 6, no wait, 8 3 4 2 ..."); or the
  correction word was a filler. Up to `_MAX_CORRECTIONS` corrections in one card are
  read both ways. A card found through a correction takes with it everything its run
  said before (the abandoned attempt) and any other reading overlapping it.

  Where two readings of the same digits overlap (a 17-digit card, and 16 digits from
  its second group on that pass too), the longer wins; but a card followed by a 3-4
  digit group set apart by a separator used nowhere inside the card ("4111 1111 1111
  1111, 123") is a card and its code, even when the two also pass as a longer card.

  Where a card is being spoken of ("card", "卡号"... in the segment or one that ended at
  most `CARD_CONTEXT_SECONDS` before), a single group of 16-27 digits that is neither a
  card nor an ID number is split after a leading card followed by 3-4 digits, or by a
  month/year and 3-4 digits: a card run on into its code ("four one one one ... one one
  one two three").
- ``[ID]``: a stretch of whole groups with 18 characters (17 digits and a digit or X)
  that is a Chinese resident ID number: GB 11643 checksum, a plausible region code and
  birth date (`transcripts.numbers.is_china_id`).
- ``[CVV]``: the digits a run has left between its cards, IDs and expiry dates, cut at
  pauses and self-corrections, are a security code when a piece has 3 or 4 digits and
  - a security-code keyword (`CVV_KEYWORDS`: "CVV", "security code", "安全码", "后三位"...)
    was said, by anyone, in a segment that starts before the piece's segment ends and
    ended at most `CVV_CONTEXT_SECONDS` before the piece's segment starts, or
  - it follows a card number or an expiry date of the same speaker within
    `CARD_CONTEXT_WORDS` words and `CARD_CONTEXT_SECONDS` seconds;

  but not when it is written with a slash, follows one of `NOT_CVV_BEFORE` ("extension",
  "pay", "order", "since", "分机", "金额", "$"...) within two words, or is followed by one
  of `UNIT_AFTER` ("dollars", "元", "块", "%"...). A 7-8 digit piece right after a card
  whose first four digits are a month and year is an expiry date and code said in one
  breath, and is a security code as a whole.

  An expiry date is a month and year (08/27, 0827, 8 27, 08/2027, "oh eight twenty
  seven", 零八二七) said within `EXPIRY_CONTEXT_WORDS` words after an expiry keyword
  (`EXPIRY_KEYWORDS`: "expires", "exp", "valid thru", "有效期"...), or right after a card
  when written with a slash or followed by a 3-4 digit piece. It is not redacted.

Card or ID
----------
An 18-digit string can pass both checks only where a scheme's prefix is also a province
code: 62 (UnionPay; Gansu), 64 and 65 (Discover; Ningxia, Xinjiang), 35 (JCB; Fujian),
36 (Diners; Jiangxi). Structure decides: grouped the way cards are read (fours, then the
rest) it is a card; grouped the way ID numbers are read (6-8-4: region, birth date,
sequence) it is an ID; otherwise an ID/card word in its segment ("身份证", "ID" /
"card", "卡号") decides, and failing that it is an ID, because a card number passes the
ID's region, birth-date and mod-11 checks a few times in 100,000 while one ID number in
ten passes Luhn. Either way it is redacted. A card or ID found inside a longer one (a
14-digit Diners number inside an ID) gives way to the longer one; a card and an ID that
overlap otherwise are both redacted, the longer keeping its tag.

Word timestamps are kept: the redacted words become one word whose text is the tag and
whose times span them, so `redact_audio` can beep over the same span. Redacting twice
changes nothing: tags are never read as numbers or keywords, and a ``[PAN]`` tag counts
as the card before a security code.
"""

import bisect
import dataclasses
import datetime
import math
import re
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from transcripts.audio import AudioLimits, probe_audio
from transcripts.errors import AudioError
from transcripts.format import Segment, Transcript, Word
from transcripts.numbers import (
    Token,
    is_card_number,
    is_china_id,
    normalize_width,
    spoken_digits,
    tokenize,
)
from transcripts.redaction_words import (
    CARD_WORDS,
    CORRECTIONS,
    CVV_KEYWORDS,
    EXPIRY_KEYWORDS,
    FILLERS,
    ID_WORDS,
    NOT_CVV_BEFORE,
    UNIT_AFTER,
)

PAN, CVV, CHINA_ID = "[PAN]", "[CVV]", "[ID]"
TAGS = (PAN, CVV, CHINA_ID)
CVV_CONTEXT_SECONDS = 30.0
MAX_SEGMENT_GAP = 15.0  # seconds: a speaker's digits continue into their next segment
CARD_CONTEXT_WORDS = 4.0  # words between a card/expiry date and its code (a CJK char: half)
CARD_CONTEXT_SECONDS = 20.0
EXPIRY_CONTEXT_WORDS = 3.0  # words between an expiry keyword and the date
_MAX_GROUPS = 40  # groups one card may be said in, corrections included
_MAX_CORRECTIONS = 5  # self-corrections read as such within one card (more: fillers)
_MAX_VARIANTS = 32  # readings of one stretch kept across its self-corrections


def _keyword_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole English words/phrases (any spacing) or CJK substrings, longest first."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    english = [re.escape(p).replace(r"\ ", r"\s+") for p in ordered if p.isascii()]
    chinese = [re.escape(p) for p in ordered if not p.isascii()]
    parts = ([r"\b(?:" + "|".join(english) + r")\b"] if english else []) + chinese
    return re.compile("|".join(parts))


_CVV_RE = _keyword_regex(CVV_KEYWORDS)
_ID_WORDS_RE = _keyword_regex(ID_WORDS)
_CARD_WORDS_RE = _keyword_regex(CARD_WORDS)
_TAG_RE = re.compile(r"\[(?:PAN|CVV|ID)\]")
_TAG_NAMES = frozenset(t[1:-1] for t in TAGS)

# Word flags
_W_EXPIRY, _W_NOT_CVV, _W_UNIT = 1, 2, 4
_WORD_FLAG_RES = (
    (_W_EXPIRY, _keyword_regex(EXPIRY_KEYWORDS)),
    (_W_NOT_CVV, _keyword_regex(NOT_CVV_BEFORE)),
    (_W_UNIT, _keyword_regex(UNIT_AFTER)),
)
_ANY_WORD_FLAG_RE = re.compile("|".join(f"(?:{r.pattern})" for _, r in _WORD_FLAG_RES))
_SYMBOL_FLAGS = {"$": _W_NOT_CVV, "¥": _W_NOT_CVV, "€": _W_NOT_CVV, "£": _W_NOT_CVV}
_SYMBOL_FLAGS |= {"#": _W_NOT_CVV, "%": _W_UNIT}

# Separator flags (0 between two groups: only a space)
_PUNCT, _SLASH, _FILLER, _CORRECTION, _PAUSE, _RUN_ON = 1, 2, 4, 8, 16, 32
_RUN_ON_MIN, _RUN_ON_MAX = 16, 27  # digits of a card run on into its code (and expiry)
_CARD_LENGTHS = (16, 15, 19, 13, 14, 17, 18)  # the most common first

# Anything that might be a number or a tag; text without it needs no tokenizing.
_EN_NUMBER_WORDS = (
    "zero|oh|o|nought|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    "thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    "fifty|sixty|seventy|eighty|ninety|double|triple|x"
)
_MAYBE_NUMBER = re.compile(
    r"[\d\u00b2\u00b3\u00b9\u2070-\u209f\u2460-\u24ff\u2776-\u2793"
    r"〇零洞一幺二两三四五六七八九叉\[]|(?i:\b(?:" + _EN_NUMBER_WORDS + r")\b)"
)
_SHORT_TEXT = 12  # shorter texts are tokenized anyway
_FILLERS_RE = _keyword_regex((*FILLERS, *CORRECTIONS))
_CJK_RE = re.compile(r"[^\x00-\x7f\s\W]")


def _phrase_table(
    phrases: Iterable[tuple[str, int]],
) -> dict[str, list[tuple[tuple[str, ...], int]]]:
    table: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for phrase, flags in phrases:
        parts = tuple(t.text.lower() for t in tokenize(phrase) if not t.text.isspace())
        table.setdefault(parts[0], []).append((parts[1:], flags))
    for entries in table.values():
        entries.sort(key=lambda entry: len(entry[0]), reverse=True)
    return table


_PHRASES = _phrase_table(
    [(p, _FILLER) for p in FILLERS]
    + [(p, _CORRECTION) for p in CORRECTIONS]
    + [("slash", _SLASH), ("斜杠", _SLASH)]
)

# Item kinds of a speaker's stream
_NUM, _SEP, _WORD, _TAG, _BREAK = range(5)


@dataclass(frozen=True, slots=True)
class RedactionSpan:
    """A stretch of the recording whose words were redacted."""

    tag: str
    speaker: str
    start: float
    end: float


@dataclass(slots=True)
class _Item:
    """A digit group, separator, word, tag or break in a speaker's stream."""

    kind: int
    seg: int  # index of the segment it is in
    lo: int = 0  # character offsets in that segment's text
    hi: int = 0
    digits: str = ""  # _NUM
    flags: int = 0  # _SEP: separator flags; _WORD: word flags
    weight: float = 0.0  # _WORD: how many words it counts for
    tag: str = ""  # _TAG: the tag; _NUM: the tag it was given
    # _NUM: per token, (digits up to its end, its offsets, whether written in digits)
    cuts: list[tuple[int, int, int, bool]] | None = None


def redact_text(text: str, language: str | None = None) -> str:
    """Free text (a reviewer's comment, a note) with the same numbers replaced by tags.

    The text is read as one segment of one speaker, with both languages' rules (people
    switch languages mid-sentence); `language` (``en``/``zh``) is only recorded.
    """
    language = language or ("zh" if re.search(r"[\u3400-\u9fff]", text) else "en")
    segment = Segment("unknown", 0.0, 0.0, text)
    return redact_transcript(Transcript("", language, None, (segment,))).segments[0].text


def redact_transcript(transcript: Transcript) -> Transcript:
    """The transcript with card numbers, CVVs and Chinese ID numbers replaced by tags.

    Segments without anything to redact are returned unchanged, and so is a transcript
    that has been redacted already.
    """
    segments = transcript.segments
    card_talk = _Windows(segments, _CARD_WORDS_RE, CARD_CONTEXT_SECONDS)
    items = [_segment_items(i, seg.text, card_talk.overlaps(seg)) for i, seg in enumerate(segments)]
    if not any(it.kind == _NUM for seg_items in items for it in seg_items):
        return transcript
    keyword_windows = _Windows(segments, _CVV_RE, CVV_CONTEXT_SECONDS)
    by_speaker: dict[str, list[int]] = {}
    for i, seg in enumerate(segments):
        by_speaker.setdefault(seg.speaker, []).append(i)
    marks: dict[int, list[tuple[int, int, str]]] = {}
    for order in by_speaker.values():
        order.sort(key=lambda i: (segments[i].start, segments[i].end))
        stream = _stream(segments, items, order)
        for tag, first, last in _analyse(stream, segments, keyword_windows):
            _mark(stream, first, last, tag, marks)
    if not marks:
        return transcript
    return dataclasses.replace(
        transcript,
        segments=tuple(
            _redact_segment(seg, marks[i]) if i in marks else seg for i, seg in enumerate(segments)
        ),
    )


class _Windows:
    """From each segment that says one of some words until some seconds after it ends."""

    def __init__(self, segments: Sequence[Segment], words: re.Pattern[str], after: float):
        spans = sorted(
            (s.start, s.end + after)
            for s in segments
            if words.search(normalize_width(_TAG_RE.sub(" ", s.text)).lower())
        )
        self._starts = [start for start, _ in spans]
        self._latest_end: list[float] = []  # the latest end among spans[: i + 1]
        for _, end in spans:
            self._latest_end.append(max(end, self._latest_end[-1]) if self._latest_end else end)

    def overlaps(self, segment: Segment) -> bool:
        """Whether the segment overlaps a window (one starting no later than it ends)."""
        i = bisect.bisect_right(self._starts, segment.end)
        return i > 0 and self._latest_end[i - 1] >= segment.start


def _segment_items(si: int, text: str, card_talk: bool) -> list[_Item]:
    """The groups, separators, words and tags of one segment's text.

    `card_talk`: a card was spoken of in this segment or one just before it.
    """
    if len(text) > _SHORT_TEXT and not _MAYBE_NUMBER.search(text):
        folded = normalize_width(text).lower()
        if not _ANY_WORD_FLAG_RE.search(folded):
            # No number and no word that matters to one: one word as long as its words
            # (unless it is all fillers, which the tokens below tell apart).
            words = _FILLERS_RE.sub(" ", folded)
            weight = len(re.findall(r"[a-z']+", words)) + 0.5 * len(_CJK_RE.findall(words))
            if weight:
                return [_Item(_WORD, si, 0, len(text), weight=weight)]
    tokens = tokenize(text)
    values = spoken_digits(tokens)
    char_flags = _char_flags("".join(t.text for t in tokens).lower())
    items: list[_Item] = []
    n = len(tokens)
    i = 0
    space = False
    previous_number = ""  # the last token, when it was a number
    while i < n:
        token = tokens[i]
        text_i = token.text
        if text_i.isspace():
            space = True
            i += 1
            continue
        value = values[i]
        if (
            value is not None
            and not space
            and i
            and _glued_to_word(tokens[i - 1], token, values[i - 1])
        ):
            value = None  # "CVV2", "mp3", "SF1234567890": digits inside a code are no number
        if value is not None:
            if previous_number and (not space or _joinable(previous_number, text_i)):
                items[-1].digits += value
                items[-1].hi = token.end
            else:
                items.append(_Item(_NUM, si, token.start, token.end, value, cuts=[]))
            cuts = items[-1].cuts
            assert cuts is not None
            written = text_i.isascii() and text_i.isdigit()
            cuts.append((len(items[-1].digits), token.start, token.end, written))
            previous_number = text_i
            space = False
            i += 1
            continue
        previous_number = ""
        space = False
        if (
            text_i == "["
            and i + 2 < n
            and tokens[i + 2].text == "]"
            and tokens[i + 1].text in _TAG_NAMES
        ):
            tag = f"[{tokens[i + 1].text}]"
            items.append(_Item(_TAG, si, token.start, tokens[i + 2].end, tag=tag))
            i += 3
            continue
        end, flags = _phrase_at(tokens, i)
        if end:
            items.append(_Item(_SEP, si, token.start, tokens[end - 1].end, flags=flags))
            i = end
            continue
        if len(text_i) == 1 and not text_i.isalnum():
            symbol = _SYMBOL_FLAGS.get(text_i)
            if symbol is not None:
                items.append(_Item(_WORD, si, token.start, token.end, flags=symbol))
            else:
                flags = _SLASH if text_i == "/" else _PUNCT
                items.append(_Item(_SEP, si, token.start, token.end, flags=flags))
        else:
            weight = 1.0 if text_i.isascii() else 0.5 * len(text_i)
            flags = char_flags[token.start] if char_flags else 0
            items.append(_Item(_WORD, si, token.start, token.end, flags=flags, weight=weight))
        i += 1
    if card_talk and any(it.kind == _NUM and len(it.digits) >= _RUN_ON_MIN for it in items):
        items = [part for it in items for part in _split_run_on(it, text)]
    return items


def _split_run_on(item: _Item, text: str) -> list[_Item]:
    """A card number run on into its security code (and expiry date) without a pause,
    split where the card ends; only where a card is being spoken of ("card", "卡号").

    For 16-27 digits that are neither a card nor an ID number as a whole: a card followed
    by 3-4 digits, or by a month/year and 3-4 digits.
    """
    digits, cuts = item.digits, item.cuts
    if (
        item.kind != _NUM
        or cuts is None
        or not _RUN_ON_MIN <= len(digits) <= _RUN_ON_MAX
        or not digits.isdigit()
        or is_card_number(digits)
        or (len(digits) == 18 and is_china_id(digits))
    ):
        return [item]
    ends: dict[int, int] = {}  # digits said -> where they end: between tokens, or digits
    said = 0
    for count, start, end, written in cuts:
        if written:  # one character a digit, full-width ones too
            ends |= {k: start + k - said for k in range(said + 1, count + 1)}
        ends[count] = end
        said = count
    readings: list[tuple[bool, int, list[int]]] = []  # (likely, card length, where to cut)
    for length in _CARD_LENGTHS:
        rest = len(digits) - length
        if length not in ends or not is_card_number(digits[:length]):
            continue
        if rest in (3, 4):
            readings.append((True, length, [length]))
        elif rest in (7, 8) and length + 4 in ends and _month_year(digits[length : length + 4]):
            likely = _current_expiry_year(digits[length + 2 : length + 4])
            readings.append((likely, length, [length, length + 4]))
    if not readings:
        return [item]
    # Where the digits can be read more than one way: a code alone, or an expiry date a
    # card may have now, then the longest card (so that no card digit is left).
    _, _, splits = max(readings, key=lambda r: (r[0], r[1]))
    parts: list[_Item] = []
    lo = item.lo
    for start, end in zip([0, *splits], [*splits, len(digits)], strict=True):
        hi = ends[end]
        if parts:
            parts.append(_Item(_SEP, item.seg, lo, lo, flags=_RUN_ON))
            lo += len(text[lo:hi]) - len(text[lo:hi].lstrip())
        parts.append(_Item(_NUM, item.seg, lo, hi, digits[start:end]))
        lo = hi
    return parts


def _current_expiry_year(year: str) -> bool:
    """Whether a two-digit year is one a card in use may expire in (3 years ago to +15)."""
    return (int(year) - datetime.date.today().year + 3) % 100 <= 18


def _char_flags(folded: str) -> list[int] | None:
    """Word flags per character of the (lower-cased, width-folded) text; None when none."""
    flags: list[int] | None = None
    for flag, regex in _WORD_FLAG_RES:
        for match in regex.finditer(folded):
            if flags is None:
                flags = [0] * len(folded)
            for c in range(match.start(), match.end()):
                flags[c] |= flag
    return flags


def _glued_to_word(previous: Token, token: Token, previous_value: str | None) -> bool:
    """Whether a run of digits is written onto the (Latin) word before it."""
    return (
        previous_value is None
        and previous.end == token.start
        and token.text.isascii()
        and token.text.isdigit()
        and previous.text.isascii()
        and previous.text.isalpha()
    )


def _joinable(previous: str, token: str) -> bool:
    """Whether two number tokens with a space between belong to one group."""
    if not (previous.isascii() and token.isascii()):
        return False
    if previous.isalpha() and token.isalpha():
        return True  # English number words: the space is needed, not a grouping
    return len(previous) == len(token) == 1  # single digits said one by one


def _phrase_at(tokens: list[Token], i: int) -> tuple[int, int]:
    """(end token index, separator flags) of a filler or correction starting at token i."""
    entries = _PHRASES.get(tokens[i].text.lower())
    if not entries:
        return 0, 0
    n = len(tokens)
    for rest, flags in entries:
        j = i + 1
        for part in rest:
            while j < n and tokens[j].text.isspace():
                j += 1
            if j >= n or tokens[j].text.lower() != part:
                break
            j += 1
        else:
            return j, flags
    return 0, 0


def _stream(segments: Sequence[Segment], items: list[list[_Item]], order: list[int]) -> list[_Item]:
    """One speaker's items in time order, with a pause or a break between segments."""
    stream: list[_Item] = []
    previous_end: float | None = None
    for si in order:
        if previous_end is not None:
            if segments[si].start - previous_end > MAX_SEGMENT_GAP:
                stream.append(_Item(_BREAK, si))
            else:
                stream.append(_Item(_SEP, si, flags=_PAUSE))
        previous_end = segments[si].end
        stream += items[si]  # each segment is in one speaker's stream only
    return stream


def _runs(stream: list[_Item]) -> list[tuple[list[int], list[int]]]:
    """Runs: the stream indices of their groups, and the separator flags before each group."""
    runs: list[tuple[list[int], list[int]]] = []
    groups: list[int] = []
    between: list[int] = []
    flags = 0
    for idx, it in enumerate(stream):
        if it.kind == _NUM:
            between.append(flags if groups else 0)
            groups.append(idx)
            flags = 0
        elif it.kind == _SEP:
            flags |= it.flags
        else:
            if groups:
                runs.append((groups, between))
                groups, between = [], []
            flags = 0
    if groups:
        runs.append((groups, between))
    return runs


def _analyse(
    stream: list[_Item],
    segments: Sequence[Segment],
    keyword_windows: _Windows,
) -> list[tuple[str, int, int]]:
    """(tag, first stream index, last stream index) of everything to redact."""
    runs = _runs(stream)
    spans: list[tuple[str, int, int]] = []
    for groups, between in runs:
        spans += _numbers(stream, groups, between, segments)
    spans += _security_codes(stream, runs, segments, keyword_windows)
    return spans


def _numbers(
    stream: list[_Item], groups: list[int], between: list[int], segments: Sequence[Segment]
) -> list[tuple[str, int, int]]:
    """Card and ID numbers of one run; their groups get their tag."""
    digits = [stream[g].digits for g in groups]
    found: list[tuple[int, int, str]] = []  # (first group, last group, tag)
    checked: dict[str, str] = {}
    for a in range(len(groups)):
        # Digits read so far -> (corrections applied, minus the group of the latest one).
        readings = {"": (0, 0)}
        corrections = 0
        for b in range(a, min(len(groups), a + _MAX_GROUPS)):
            group = digits[b]
            if b > a and between[b] & _CORRECTION and corrections < _MAX_CORRECTIONS:
                corrections += 1  # (any further "sorry" is taken as a filler)
                variants = dict(readings)
                for reading, (edits, _) in readings.items():
                    for dropped in _corrected(reading, digits[b - 1], group):
                        variants.setdefault(reading[:-dropped], (edits + 1, -b))
                # As many as may be kept: the fewest corrections, then the latest (a "sorry"
                # said before may well have been a filler).
                readings = dict(sorted(variants.items(), key=lambda v: v[1])[:_MAX_VARIANTS])
            readings = {r + group: e for r, e in readings.items() if len(r) + len(group) <= 19}
            if not readings:
                break
            kinds = "".join({_kind_of(r, checked) for r in readings if len(r) >= 13})
            found += [(a, b, tag) for tag in (PAN, CHINA_ID) if tag in kinds]
    if not found:
        return []
    cards = {(a, b) for a, b, tag in found if tag == PAN}
    for a, b in cards & {(a, b) for a, b, tag in found if tag == CHINA_ID}:
        # Both a card and an ID: structure decides (module docstring, "Card or ID").
        loser = CHINA_ID if _read_as_card(stream, groups, digits, a, b, segments) else PAN
        found.remove((a, b, loser))
    # A card followed by a 3-4 digit group set apart by a separator used nowhere inside the
    # card ("4111 1111 1111 1111, 123") is a card and its security code, even when the two
    # also pass as one longer card.
    kept: set[tuple[int, int]] = set()
    for a, b, tag in sorted(found):
        if not (
            tag == PAN
            and (a, b - 1) in kept
            and 3 <= len(digits[b]) <= 4
            and between[b]
            and between[b] not in between[a + 1 : b]
        ):
            kept.add((a, b))
    found = [(a, b, tag) for a, b, tag in found if tag != PAN or (a, b) in kept]
    # Longest first. A stretch overlapping a longer one of its kind is another reading of
    # the same digits and gives way, unless a correction is involved: then all readings
    # are redacted, and a card said over after a correction takes with it all its run
    # said before (the abandoned attempt). A card and an ID number that overlap are both
    # redacted, the longer keeping its tag.
    found.sort(key=lambda f: sum(len(d) for d in digits[f[0] : f[1] + 1]), reverse=True)
    tags = [""] * len(groups)
    for a, b, tag in found:
        taken = tags[a : b + 1]
        corrected = tag == PAN and any(between[c] & _CORRECTION for c in range(a, b + 1))
        if any(taken) and not corrected and all(t in ("", tag) for t in taken):
            continue
        tags[a : b + 1] = [t or tag for t in taken]
        if corrected and between[a] & _CORRECTION:  # said over after a correction
            tags[:a] = [t or PAN for t in tags[:a]]
    spans: list[tuple[str, int, int]] = []
    for j, tag in enumerate(tags):
        stream[groups[j]].tag = tag
        if not tag:
            continue
        if j and tags[j - 1] == tag:
            spans[-1] = (tag, spans[-1][1], groups[j])
        else:
            spans.append((tag, groups[j], groups[j]))
    return spans


def _kind_of(digits: str, checked: dict[str, str]) -> str:
    """PAN, CHINA_ID, both ("[PAN][ID]") or "" for a reading of 13-19 characters (memoised)."""
    kind = checked.get(digits)
    if kind is None:
        kind = (PAN if is_card_number(digits) else "") + (
            CHINA_ID if len(digits) == 18 and is_china_id(digits) else ""
        )
        checked[digits] = kind
    return kind


def _corrected(said: str, last_group: str, again: str) -> tuple[int, ...]:
    """How many digits said before a self-correction the digits said after it may replace.

    The group said next replaces the last group said before it, or as many digits as it
    has; or it restates the digits said last with one of them changed ("... 8 3 4 6, no
    wait, 8 3 4 2 ..." replaces 4 digits). Dropping none (the correction was a filler)
    is the caller's reading already.
    """
    width = max(len(again), len(last_group))
    return _drops(said[-width:], min(len(said), width + 1), len(last_group), again)


@lru_cache(maxsize=8192)
def _drops(tail: str, limit: int, last_length: int, again: str) -> tuple[int, ...]:
    drops = []
    for dropped in range(1, limit):
        replaced = tail[len(tail) - dropped :]
        if dropped in (len(again), last_length) or (
            sum(x != y for x, y in zip(replaced, again, strict=False)) <= 1
        ):
            drops.append(dropped)
    return tuple(drops)


def _read_as_card(
    stream: list[_Item],
    groups: list[int],
    digits: list[str],
    a: int,
    b: int,
    segments: Sequence[Segment],
) -> bool:
    """Whether digits that are both a card and an ID number are read as a card."""
    sizes = [len(d) for d in digits[a : b + 1]]
    if len(sizes) >= 4 and all(s == 4 for s in sizes[:-1]):
        return True  # 4-4-4-4-2: how card numbers are read
    if sizes[:2] == [6, 8]:
        return False  # 6-8-4: region, birth date, sequence
    text = normalize_width(segments[stream[groups[a]].seg].text).lower()
    return not _ID_WORDS_RE.search(text) and bool(_CARD_WORDS_RE.search(text))


@dataclass(slots=True)
class _Context:
    """Words (and the time) since the speaker's last card, expiry date, keyword."""

    card_words: float = math.inf
    card_end: float = -math.inf
    expiry_words: float = math.inf
    expiry_end: float = -math.inf
    expiry_keyword_words: float = math.inf
    not_cvv_words: float = math.inf

    def word(self, item: _Item) -> None:
        self.card_words += item.weight
        self.expiry_words += item.weight
        self.expiry_keyword_words += item.weight
        self.not_cvv_words += item.weight
        if item.flags & _W_EXPIRY:
            self.expiry_keyword_words = 0.0
        if item.flags & _W_NOT_CVV:
            self.not_cvv_words = 0.0

    def card(self, end: float) -> None:
        self.card_words, self.card_end = 0.0, end
        self.not_cvv_words = math.inf

    def after_card(self, start: float) -> bool:
        return (
            self.card_words <= CARD_CONTEXT_WORDS and start - self.card_end <= CARD_CONTEXT_SECONDS
        )

    def after_expiry(self, start: float) -> bool:
        return (
            self.expiry_words <= CARD_CONTEXT_WORDS
            and start - self.expiry_end <= CARD_CONTEXT_SECONDS
        )


def _security_codes(
    stream: list[_Item],
    runs: list[tuple[list[int], list[int]]],
    segments: Sequence[Segment],
    keyword_windows: _Windows,
) -> list[tuple[str, int, int]]:
    """CVV spans: 3-4 digit pieces after a keyword, a card or an expiry date."""
    spans: list[tuple[str, int, int]] = []
    run_at = {groups[0]: (groups, between) for groups, between in runs}
    context = _Context()
    idx = 0
    while idx < len(stream):
        item = stream[idx]
        if item.kind == _WORD:
            context.word(item)
        elif item.kind == _TAG:
            if item.tag == PAN:
                context.card(segments[item.seg].end)
            context.not_cvv_words = math.inf
        elif item.kind == _BREAK:
            context = _Context()
        elif item.kind == _NUM:
            groups, between = run_at[idx]
            spans += _run_codes(stream, groups, between, segments, keyword_windows, context)
            idx = groups[-1] + 1
            continue
        idx += 1
    return spans


def _run_codes(
    stream: list[_Item],
    groups: list[int],
    between: list[int],
    segments: Sequence[Segment],
    keyword_windows: _Windows,
    context: _Context,
) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    k = len(groups)
    j = 0
    while j < k:
        item = stream[groups[j]]
        if item.tag:
            card = False
            while j < k and stream[groups[j]].tag:
                card = card or stream[groups[j]].tag == PAN
                j += 1
            if card:
                context.card(segments[stream[groups[j - 1]].seg].end)
            context.not_cvv_words = math.inf
            continue
        size = _expiry_at(stream, groups, between, j, segments, context)
        if size:
            context.expiry_words = 0.0
            context.expiry_end = segments[stream[groups[j + size - 1]].seg].end
            context.expiry_keyword_words = context.not_cvv_words = math.inf
            j += size
            continue
        end = j  # the piece: up to a tagged group, a pause or a correction
        while (
            end + 1 < k
            and not stream[groups[end + 1]].tag
            and not between[end + 1] & (_PAUSE | _CORRECTION)
        ):
            end += 1
        code = "".join(stream[g].digits for g in groups[j : end + 1])
        # An expiry date and a code in one breath right after a card ("... 1111 08271234").
        run_on = end == j and len(code) in (7, 8) and _month_year(code[:4])
        if (
            (3 <= len(code) <= 4 or (run_on and context.card_words == 0))
            and code.isdigit()
            and not any(between[x] & _SLASH for x in range(j + 1, end + 1))
            and context.not_cvv_words > 2
            and not _unit_follows(stream, groups[end])
        ):
            seg = segments[item.seg]
            if (
                context.after_card(seg.start)
                or context.after_expiry(seg.start)
                or keyword_windows.overlaps(seg)
            ):
                spans.append((CVV, groups[j], groups[end]))
        context.not_cvv_words = math.inf
        j = end + 1
    return spans


def _unit_follows(stream: list[_Item], idx: int) -> bool:
    nxt = stream[idx + 1] if idx + 1 < len(stream) else None
    return (
        nxt is not None
        and nxt.kind == _WORD
        and nxt.seg == stream[idx].seg
        and bool(nxt.flags & _W_UNIT)
    )


def _expiry_at(
    stream: list[_Item],
    groups: list[int],
    between: list[int],
    j: int,
    segments: Sequence[Segment],
    context: _Context,
) -> int:
    """How many groups from group j make an expiry date (0: none)."""
    keyword = context.expiry_keyword_words <= EXPIRY_CONTEXT_WORDS
    if not keyword and not context.after_card(segments[stream[groups[j]].seg].start):
        return 0

    def following(x: int) -> str | None:
        if (
            x < len(groups)
            and not stream[groups[x]].tag
            and not between[x] & (_PAUSE | _CORRECTION)
        ):
            return stream[groups[x]].digits
        return None

    def code_at(x: int) -> bool:
        """Whether a security code (or its tag, when redacting again) is said at group x."""
        if x < len(groups):
            code = following(x)
            return code is not None and 3 <= len(code) <= 4
        flags = 0
        for idx in range(groups[-1] + 1, len(stream)):
            item = stream[idx]
            if item.kind != _SEP:
                return item.kind == _TAG and item.tag == CVV and not flags & (_PAUSE | _CORRECTION)
            flags |= item.flags
        return False

    first, second = stream[groups[j]].digits, following(j + 1)
    if (
        second is not None
        and _month(first)
        and _year(second)
        and (keyword or between[j + 1] & _SLASH or code_at(j + 2))
    ):
        return 2
    if _month_year(first) and (
        keyword
        or (len(first) == 4 and (j + 1 == len(groups) or second is not None) and code_at(j + 1))
    ):
        return 1
    return 0


def _month(digits: str) -> bool:
    return 1 <= len(digits) <= 2 and digits.isdigit() and 1 <= int(digits) <= 12


def _year(digits: str) -> bool:
    return digits.isdigit() and (len(digits) == 2 or (len(digits) == 4 and digits[:2] == "20"))


def _month_year(digits: str) -> bool:
    """MYY, MMYY or MMYYYY."""
    if len(digits) == 3:
        return digits[0] != "0" and _month(digits[0]) and _year(digits[1:])
    if len(digits) in (4, 6):
        return _month(digits[:2]) and _year(digits[2:])
    return False


def _mark(
    stream: list[_Item],
    first: int,
    last: int,
    tag: str,
    marks: dict[int, list[tuple[int, int, str]]],
) -> None:
    """Record the character range of a span in each segment it touches."""
    ranges: dict[int, list[int]] = {}
    for item in stream[first : last + 1]:
        if item.kind == _NUM:  # with the separators between them, not those around
            if item.seg in ranges:
                ranges[item.seg][1] = item.hi
            else:
                ranges[item.seg] = [item.lo, item.hi]
    for seg, (lo, hi) in ranges.items():
        marks.setdefault(seg, []).append((lo, hi, tag))


def _merge(text: str, ranges: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Ranges in order, those of one tag with only spaces between joined."""
    merged: list[tuple[int, int, str]] = []
    for lo, hi, tag in sorted(ranges):
        if (
            merged
            and merged[-1][2] == tag
            and (lo <= merged[-1][1] or not text[merged[-1][1] : lo].strip())
        ):
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]), tag)
        else:
            merged.append((lo, hi, tag))
    return merged


def _align_words(text: str, words: Sequence[Word]) -> list[tuple[int, int]] | None:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        found = text.find(word.text, cursor)
        if not word.text or found < 0:
            return None
        spans.append((found, found + len(word.text)))
        cursor = found + len(word.text)
    return spans


def _redact_segment(seg: Segment, ranges: list[tuple[int, int, str]]) -> Segment:
    groups = _merge(seg.text, ranges)
    text = seg.text
    for lo, hi, tag in reversed(groups):
        text = text[:lo] + tag + text[hi:]
    if not seg.words:
        return dataclasses.replace(seg, text=text)
    spans = _align_words(seg.text, seg.words)
    if spans is None:
        # Words that do not line up with the text: redact every word holding a number.
        numeric = [any(v is not None for v in spoken_digits(tokenize(w.text))) for w in seg.words]
        tag = groups[0][2]
        words = _collapse(seg.words, numeric, [tag] * len(seg.words))
        return dataclasses.replace(seg, text=text, words=words)
    hit = [False] * len(seg.words)
    tags = [""] * len(seg.words)
    for i, (w0, w1) in enumerate(spans):
        for lo, hi, tag in groups:
            if w0 < hi and lo < w1:
                hit[i], tags[i] = True, tag
    return dataclasses.replace(seg, text=text, words=_collapse(seg.words, hit, tags))


def _collapse(words: Sequence[Word], hit: list[bool], tags: list[str]) -> tuple[Word, ...]:
    out: list[Word] = []
    for i, word in enumerate(words):
        if not hit[i]:
            out.append(word)
        elif i > 0 and hit[i - 1] and tags[i - 1] == tags[i]:
            out[-1] = Word(tags[i], out[-1].start, max(out[-1].end, word.end))
        else:
            out.append(Word(tags[i], word.start, word.end))
    return tuple(out)


def redaction_spans(transcript: Transcript, *, padding: float = 0.2) -> list[RedactionSpan]:
    """Where a redacted transcript's tags were spoken, widened by `padding` seconds.

    A tag in a segment without word timestamps spans the whole segment.
    """
    spans: list[RedactionSpan] = []
    for seg in transcript.segments:
        if seg.words and any(w.text in TAGS for w in seg.words):
            spans += [
                RedactionSpan(
                    w.text,
                    seg.speaker,
                    round(max(0.0, w.start - padding), 3),
                    round(w.end + padding, 3),
                )
                for w in seg.words
                if w.text in TAGS
            ]
        else:
            for tag in TAGS:
                if tag in seg.text:
                    spans.append(RedactionSpan(tag, seg.speaker, seg.start, seg.end))
    return spans


BEEP_HZ = 1000.0
BEEP_LEVEL = 0.25  # -12 dBFS


def redact_audio(
    source: Path,
    destination: Path,
    spans: Iterable[RedactionSpan],
    *,
    mode: str = "beep",
    limits: AudioLimits | None = None,
) -> Path:
    """Write a copy of a recording with the redacted spans beeped or silenced.

    The copy is a 16-bit PCM WAV at the source's sample rate with its channels; every
    channel is covered over each span, because one party's voice bleeds into the other's.

    Args:
        source: the original recording.
        destination: the new WAV file (must differ from `source`).
        spans: from `redaction_spans`.
        mode: ``beep`` (1 kHz tone) or ``silence``.
        limits: validation caps for the source.

    Raises:
        AudioError: when the source is rejected or cannot be decoded.
        ValueError: for an unknown mode or when destination is the source.
    """
    if mode not in ("beep", "silence"):
        raise ValueError(f"mode must be beep or silence, got {mode!r}")
    if destination.resolve() == source.resolve():
        raise ValueError("redact_audio writes a new file; destination is the source")
    info = probe_audio(source, limits)
    samples = _decode_native(info.path, info.format, info.sample_rate, info.channels)
    rate = info.sample_rate
    for span in spans:
        lo = max(0, math.floor(span.start * rate))
        hi = min(samples.shape[1], math.ceil(span.end * rate))
        if hi <= lo:
            continue
        if mode == "beep":
            t = np.arange(lo, hi) / rate
            samples[:, lo:hi] = (BEEP_LEVEL * 32767 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(
                np.int16
            )
        else:
            samples[:, lo:hi] = 0
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(info.channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples.T).tobytes())
    return destination


def _decode_native(path: Path, fmt: str, rate: int, channels: int) -> np.ndarray:
    import av
    from av.audio.resampler import AudioResampler

    layout = "stereo" if channels == 2 else "mono"
    resampler = AudioResampler(format="s16p", layout=layout, rate=rate)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path), format=fmt, metadata_errors="ignore") as container:
            for frame in container.decode(audio=0):
                frame.pts = None
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise AudioError(f"{path}: cannot decode the {fmt} audio: {exc}") from exc
    if not chunks:
        raise AudioError(f"{path}: contains no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.int16)
