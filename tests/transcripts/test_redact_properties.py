"""Hypothesis: every scheme-valid card in every spoken form is redacted; random numbers
that are neither cards nor ID numbers are left alone; redaction is idempotent and keeps
word times."""

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from transcripts.format import Segment, Transcript, Word
from transcripts.numbers import is_china_id
from transcripts.redact import TAGS, redact_text, redact_transcript

# The schemes' prefixes and lengths, written out again here so that a slip in
# transcripts.numbers.CARD_SCHEMES shows.
SCHEMES = [
    ([(4, 4)], [13, 16, 19]),
    ([(51, 55), (2221, 2720)], [16]),
    ([(34, 34), (37, 37)], [15]),
    ([(62, 62)], [16, 17, 18, 19]),
    ([(3528, 3589)], [16, 17, 18, 19]),
    ([(6011, 6011), (644, 649), (65, 65), (622126, 622925)], [16, 17, 18, 19]),
    ([(300, 305), (36, 36), (38, 39)], [14, 15, 16, 17, 18, 19]),
]
EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ZH = "零一二三四五六七八九"
FULL = str.maketrans("0123456789", "０１２３４５６７８９")
# Anything that could still carry a digit after redaction.
DIGIT_LEFT = re.compile(
    r"[0-9０-９零〇一二三四五六七八九幺两]|\b(?:"
    + "|".join(EN + TEENS + TENS[2:] + ["oh", "double", "triple"])
    + r")\b",
    re.IGNORECASE,
)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def scheme_valid(digits: str) -> bool:
    return luhn(digits) and any(
        len(digits) in lengths and low <= int(digits[: len(str(low))]) <= high
        for ranges, lengths in SCHEMES
        for low, high in ranges
    )


@st.composite
def cards(draw: st.DrawFn) -> str:
    ranges, lengths = draw(st.sampled_from(SCHEMES))
    low, high = draw(st.sampled_from(ranges))
    prefix = str(draw(st.integers(low, high)))
    length = draw(st.sampled_from(lengths))
    body = prefix + draw(
        st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    number = next(body + c for c in "0123456789" if luhn(body + c))
    assert scheme_valid(number)
    return number


def pairs(group: str) -> list[str]:
    """A group read in pairs ("forty one eleven"); an odd digit first, alone."""
    words = [EN[int(group[0])]] if len(group) % 2 else []
    for k in range(len(group) % 2, len(group), 2):
        a, b = int(group[k]), int(group[k + 1])
        if a == 0:
            words += ["oh", EN[b]]
        elif a == 1:
            words.append(TEENS[b])
        elif b == 0:
            words += [EN[a], "oh"]  # "forty" alone could merge with a following digit
        else:
            words += [TENS[a], EN[b]]
    return words


def doubles(group: str) -> list[str]:
    words: list[str] = []
    i = 0
    while i < len(group):
        j = i
        while j < len(group) and group[j] == group[i] and j - i < 3:
            j += 1
        words += [*{3: ["triple"], 2: ["double"]}.get(j - i, []), EN[int(group[i])]]
        i = j
    return words


def render(group: str, style: str) -> str:
    if style == "digits":
        return group
    if style == "full-width":
        return group.translate(FULL)
    if style == "words":
        return " ".join(EN[int(d)] for d in group)
    if style == "oh":
        return " ".join("oh" if d == "0" else EN[int(d)] for d in group)
    if style == "pairs":
        return " ".join(pairs(group))
    if style == "double":
        return " ".join(doubles(group))
    return "".join("幺" if style == "zh-yao" and d == "1" else ZH[int(d)] for d in group)


STYLES = {
    "en": ["digits", "full-width", "words", "oh", "pairs", "double"],
    "zh": ["digits", "full-width", "zh", "zh-yao"],
}
SEPARATORS = {
    "en": [" ", ", ", "-", " uh ", ", um, ", " and ", " sorry ", ", and then "],
    "zh": ["，", " ", "嗯", "，嗯，", "，那个，", "、", "，呃，", "然后"],
}
CORRECTIONS = {
    "en": [", sorry, ", ", no wait, ", ", sorry, I mean, "],
    "zh": ["，不对，是", "，说错了，是"],
}
LEAD = {"en": "my card is ", "zh": "卡号是"}
TAIL = {"en": " thanks", "zh": "，谢谢"}


@st.composite
def spoken_cards(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A card number said in one of the ways people and recognisers say it: the number and
    the texts of the customer's segments."""
    number = draw(cards())
    lang = draw(st.sampled_from(["en", "zh"]))
    size = draw(st.sampled_from([4, 4, 4, 3, 5, 6, 19]))
    groups = [number[k : k + size] for k in range(0, len(number), size)]
    style = draw(st.sampled_from(STYLES[lang]))
    texts = [render(g, style) for g in groups]
    seps = [draw(st.sampled_from(SEPARATORS[lang])) for _ in texts[1:]]
    if style == "digits" and lang == "en":
        seps = [s if s.strip(" ") or s else " " for s in seps]
    if len(groups) > 1 and draw(st.booleans()):
        # A slip: a wrong group, the correction, then the right one (or all over again).
        at = draw(st.integers(1, len(groups) - 1))
        wrong = list(groups[at])
        k = draw(st.integers(0, len(wrong) - 1))
        wrong[k] = str((int(wrong[k]) + draw(st.integers(1, 9))) % 10)
        fix = draw(st.sampled_from(CORRECTIONS[lang]))
        restart = draw(st.booleans())
        said_again = texts if restart else texts[at:]
        again_seps = seps if restart else seps[at:]
        head = _join(texts[:at], seps[: at - 1]) + seps[at - 1] + render("".join(wrong), style)
        texts = [head + fix + said_again[0], *said_again[1:]]
        seps = list(again_seps)
    # Split into one to three segments at group boundaries (a pause).
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(texts) - 1)), max_size=2))))
    cuts = [c for c in cuts if 0 < c < len(texts)]
    segments, start = [], 0
    for cut in [*cuts, len(texts)]:
        segments.append(_join(texts[start:cut], seps[start : cut - 1]))
        start = cut
    segments[0] = LEAD[lang] + segments[0]
    segments[-1] += TAIL[lang]
    return number, segments


def _join(texts: list[str], seps: list[str]) -> str:
    out = texts[0] if texts else ""
    for sep, text in zip(seps, texts[1:], strict=True):
        out += sep + text
    return out


@settings(max_examples=500, deadline=None)
@given(card=spoken_cards(), agent_between=st.booleans())
def test_every_scheme_valid_card_in_every_spoken_form_is_redacted(card, agent_between):
    _, texts = card
    segments: list[Segment] = []
    t = 0.0
    for i, text in enumerate(texts):
        if i and agent_between:
            segments.append(Segment("agent", t, t + 0.5, "okay"))
            t += 0.7
        segments.append(Segment("customer", t, t + 2.0, text))
        t += 3.0
    out = redact_transcript(Transcript("c", "en", None, tuple(segments)))
    said = " ".join(s.text for s in out.segments if s.speaker == "customer")
    assert "[PAN]" in said
    assert not DIGIT_LEFT.search(said), said


@st.composite
def said_numbers(draw: st.DrawFn) -> tuple[str, str, str]:
    digits = draw(st.text("0123456789", min_size=1, max_size=30))
    lang = draw(st.sampled_from(["en", "zh"]))
    style = draw(st.sampled_from(["digits", "full-width", "words" if lang == "en" else "zh"]))
    grouped = len(digits) <= 12 and draw(st.booleans())
    if grouped:
        sep = draw(st.sampled_from([" ", "-", ", "]))
        groups = [digits[k : k + 4] for k in range(0, len(digits), 4)]
        text = sep.join(render(g, style) for g in groups)
    else:
        text = render(digits, style)
    return digits, lang, text


@settings(max_examples=400, deadline=None)
@given(number=said_numbers())
def test_numbers_that_are_neither_cards_nor_ids_are_left_alone(number):
    digits, lang, text = number
    assume(not scheme_valid(digits) and not is_china_id(digits))
    sentence = f"the reference is {text} thanks" if lang == "en" else f"参考编号{text}，谢谢"
    assert redact_text(sentence) == sentence


PIECES = st.sampled_from(
    [
        "my card is",
        "4111 1111 1111 1111",
        "4111",
        "1111 1111",
        "sorry",
        "uh",
        "expires 08/27",
        "123",
        "the cvv is",
        "安全码",
        "四一一一",
        "幺二三",
        "嗯",
        "110105 19491231 002X",
        "[PAN]",
        "[CVV]",
        "extension",
        "dollars",
        "，",
        "and",
        "0827",
        "08/27",
        "exp",
        "有效期",
        "零八二七",
        "5",
        "12",
        "36227206271667",
        "6212 3456 7890 1232",
        "no wait",
        "不对，是",
        "pay",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.sampled_from(["agent", "customer"]), st.lists(PIECES, min_size=1, max_size=8)),
        min_size=1,
        max_size=6,
    ),
    gaps=st.lists(st.floats(0.1, 20.0), min_size=6, max_size=6),
)
def test_redaction_is_idempotent_and_keeps_word_times(segments, gaps):
    built: list[Segment] = []
    t = 0.0
    for (speaker, pieces), gap in zip(segments, gaps, strict=False):
        words = []
        for k, w in enumerate(" ".join(pieces).split()):
            words.append(Word(w, round(t + 0.3 * k, 3), round(t + 0.3 * k + 0.2, 3)))
        built.append(Segment(speaker, t, words[-1].end, " ".join(pieces), tuple(words)))
        t = words[-1].end + gap
    transcript = Transcript("c", "en", None, tuple(built))
    once = redact_transcript(transcript)
    assert redact_transcript(once) == once
    for before, after in zip(transcript.segments, once.segments, strict=True):
        assert (before.speaker, before.start, before.end) == (after.speaker, after.start, after.end)
        if after is before:
            continue
        kept = {(w.start, w.end): w for w in before.words or ()}
        for word in after.words or ():
            if word.text in TAGS:
                covered = [
                    w for w in before.words or () if word.start <= w.start and w.end <= word.end
                ]
                assert covered[0].start == word.start and covered[-1].end == word.end
            else:
                assert kept[(word.start, word.end)] == word
