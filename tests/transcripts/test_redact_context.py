"""Security codes by context, expiry dates, Chinese ID numbers, free text, word times and
idempotence."""

import dataclasses

import pytest

from transcripts.format import Segment, Transcript, Word
from transcripts.redact import (
    CHINA_ID,
    CVV,
    PAN,
    TAGS,
    RedactionSpan,
    redact_text,
    redact_transcript,
    redaction_spans,
)


def _call(*segments: tuple[str, float, str], language: str = "en") -> list[str]:
    """Texts of a redacted call given (speaker, start, text); each segment lasts 1.5 s."""
    transcript = Transcript(
        "c",
        language,
        None,
        tuple(Segment(speaker, start, start + 1.5, text) for speaker, start, text in segments),
    )
    return [s.text for s in redact_transcript(transcript).segments]


def test_public_tags():
    assert (PAN, CVV, CHINA_ID) == ("[PAN]", "[CVV]", "[ID]") and TAGS == (PAN, CVV, CHINA_ID)


# --- security codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the cvv is 123", "the cvv is [CVV]"),
        ("CVC2: 0123", "CVC2: [CVV]"),
        ("the security code is one two three", "the security code is [CVV]"),
        ("123 is the code on the back", "[CVV] is the code on the back"),
        ("安全码是幺二三", "安全码是[CVV]"),
        ("卡背面的三位数是四五六", "卡背面的三位数是[CVV]"),
        ("后三位是789", "后三位是[CVV]"),
    ],
)
def test_cvv_after_a_keyword(text, expected):
    assert redact_text(text) == expected


def test_cvv_answered_by_the_other_speaker_within_the_window():
    texts = _call(
        ("agent", 0.0, "请问卡背面的安全码是多少？"),
        ("customer", 2.0, "嗯，是三二一"),
        ("customer", 45.0, "我有123积分"),
        ("customer", 50.0, "还有456"),  # 50 s after the keyword: too late
        language="zh",
    )
    assert texts[1:] == ["嗯，是[CVV]", "我有123积分", "还有456"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111 1111 1111 1111, 123", "[PAN], [CVV]"),
        (
            "my card is 4111 1111 1111 1111 and then 123 thanks",
            "my card is [PAN] and then [CVV] thanks",
        ),
        ("4111 1111 1111 1111 uh one two three", "[PAN] uh [CVV]"),
        ("卡号4111 1111 1111 1111，然后是123", "卡号[PAN]，然后是[CVV]"),
        ("卡号四一一一一一一一一一一一一一一一，嗯，幺二三", "卡号[PAN]，嗯，[CVV]"),
        # Amex codes have four digits.
        ("3782 822463 10005, 1234", "[PAN], [CVV]"),
    ],
)
def test_cvv_right_after_a_card(text, expected):
    assert redact_text(text) == expected


def test_cvv_after_a_card_in_the_next_segment():
    texts = _call(("customer", 0.0, "it's 4111 1111 1111 1111"), ("customer", 2.0, "and 123"))
    assert texts == ["it's [PAN]", "and [CVV]"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The failure case: a code after an expiry date.
        ("expires 08/27, 123", "expires 08/27, [CVV]"),
        ("card 4111 1111 1111 1111 expires 08/27, 123", "card [PAN] expires 08/27, [CVV]"),
        ("valid thru 08/2027 and 456", "valid thru 08/2027 and [CVV]"),
        ("exp 0827 456", "exp 0827 [CVV]"),
        ("exp oh eight twenty seven, one two three", "exp oh eight twenty seven, [CVV]"),
        ("exp eight twenty seven, then four five six", "exp eight twenty seven, then [CVV]"),
        ("有效期 08/27，后三位 456", "有效期 08/27，后三位 [CVV]"),
        ("有效期零八二七，四五六", "有效期零八二七，[CVV]"),
        ("到期是08 27，123", "到期是08 27，[CVV]"),
        # After a card, the date needs no keyword when written with a slash or followed
        # by a code.
        ("4111 1111 1111 1111 08/27 123", "[PAN] 08/27 [CVV]"),
        ("4111 1111 1111 1111, 0827, 123", "[PAN], 0827, [CVV]"),
        # Date and code in one breath right after the card: the code goes with the date.
        ("卡号4111 1111 1111 1111 08271234", "卡号[PAN] [CVV]"),
    ],
)
def test_cvv_after_an_expiry_date(text, expected):
    assert redact_text(text) == expected


def test_cvv_after_an_expiry_date_in_other_segments():
    texts = _call(
        ("customer", 0.0, "卡号是4111 1111 1111 1111"),
        ("agent", 2.0, "有效期呢？"),
        ("customer", 4.0, "有效期是零八二七"),
        ("customer", 6.0, "四五六"),
        language="zh",
    )
    assert texts == ["卡号是[PAN]", "有效期呢？", "有效期是零八二七", "[CVV]"]


@pytest.mark.parametrize(
    "text",
    [
        # No card context at all.
        "I have 123 points",
        "room 1203 please",
        "call me on 415 555 0123",
        "see you at 1230",
        "一共350块",
        # A date is not a code, even after an expiry keyword.
        "it expires 0827",
        # Card context, but an amount, a quantity or a year.
        "card 4111 1111 1111 1111 and I'd like to pay 300 dollars",
        "card 4111 1111 1111 1111, please charge 250",
        "card 4111 1111 1111 1111, the amount is 300",
        "card 4111 1111 1111 1111, I've had it since 1998",
        "卡号4111 1111 1111 1111，我要付300元",
        "卡号4111 1111 1111 1111，充值500块",
        # Too far after the card.
        "card 4111 1111 1111 1111 okay and can you also tell me why I was charged twice 123",
        # Not 3-4 digits, or a slash.
        "the cvv is 12345",
        "the cvv... my phone is 415 555 0123",
        "the security code... I was born on 03/15",
    ],
)
def test_numbers_that_are_not_security_codes(text):
    assert CVV not in redact_text(text)


def test_extension_near_a_keyword_is_not_a_code():
    texts = _call(
        ("agent", 0.0, "what's the security code?"),
        ("customer", 2.0, "sorry, can you transfer me to extension 1234"),
        ("customer", 4.0, "分机号8021"),
    )
    assert texts[1:] == ["sorry, can you transfer me to extension 1234", "分机号8021"]


def test_corrected_cvv():
    assert redact_text("the cvv is 123, sorry, 124") == "the cvv is [CVV], sorry, [CVV]"


# --- Chinese ID numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证号11010519491231002X", "身份证号[ID]"),
        ("身份证号11010519491231002x。", "身份证号[ID]。"),
        ("身份证 110105 19491231 002X", "身份证 [ID]"),
        ("身份证号幺幺零幺零五幺九四九幺二三幺零零二叉", "身份证号[ID]"),
        ("my ID number is one one zero one oh five one nine four nine one two three one "
         "oh oh two x", "my ID number is [ID]"),
        ("港澳居民居住证810000199408230021", "港澳居民居住证[ID]"),
    ],
)  # fmt: skip
def test_china_id_numbers(text, expected):
    assert redact_text(text) == expected


def _with_check(body: str) -> str:
    """17 digits and their GB 11643 check character."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


@pytest.mark.parametrize(
    "number",
    [
        _with_check("99010519491231002"),  # no such province
        _with_check("11950519491231002"),  # prefecture 95
        _with_check("11010519491331002"),  # month 13
        _with_check("11010519490230002"),  # 30 February
        _with_check("11010518491231002"),  # born 1849
        _with_check("11010530491231002"),  # born 3049
        _with_check("71000019491231002"),  # 71: Taiwan IDs are residence permits, 830000
        "110105194912310021",  # checksum wrong
    ],
)
def test_not_china_id_numbers(number):
    assert redact_text(f"号码 {number}") == f"号码 {number}"


# --- free text, word times, idempotence ------------------------------------------------------


def test_redact_text_for_notes_and_comments():
    assert redact_text("Customer read 4111 1111 1111 1111 and cvv 123 aloud", "en") == (
        "Customer read [PAN] and cvv [CVV] aloud"
    )
    assert (
        redact_text("客户念了卡号4111111111111111，安全码123") == "客户念了卡号[PAN]，安全码[CVV]"
    )
    assert redact_text("nothing to hide here") == "nothing to hide here"
    assert redact_text("卡号 4111 1111 1111 1111", language="zh") == "卡号 [PAN]"
    assert redact_text("") == ""


def test_word_times_survive_in_chinese_with_fillers():
    text = "卡号四一一一 嗯 一一一一 一一一一 一一一一，安全码幺二三"
    words = tuple(
        Word(c, 1.0 + 0.1 * i, 1.0 + 0.1 * i + 0.08) for i, c in enumerate(text) if c != " "
    )
    seg = Segment("customer", 1.0, 5.0, text, words)
    out = redact_transcript(Transcript("c", "zh", 5.0, (seg,))).segments[0]
    assert out.text == "卡号[PAN]，安全码[CVV]"
    assert [w.text for w in out.words] == ["卡", "号", PAN, "，", "安", "全", "码", CVV]
    # The tag spans the first digit (四) to the last (the 16th 一), the filler within.
    digits = [w for w in words if w.text in "四一"]
    pan = out.words[2]
    assert (pan.start, pan.end) == (digits[0].start, digits[15].end)
    cvv = next(w for w in out.words if w.text == CVV)
    assert (cvv.start, cvv.end) == (words[-3].start, words[-1].end)
    spans = redaction_spans(Transcript("c", "zh", 5.0, (out,)), padding=0.0)
    assert spans == [
        RedactionSpan(PAN, "customer", round(pan.start, 3), round(pan.end, 3)),
        RedactionSpan(CVV, "customer", round(cvv.start, 3), round(cvv.end, 3)),
    ]


def test_a_card_over_two_segments_keeps_each_segments_times():
    first = Segment(
        "customer",
        0.0,
        2.0,
        "it's 4111 1111",
        (Word("it's", 0.0, 0.3), Word("4111", 0.5, 1.0), Word("1111", 1.2, 1.8)),
    )
    second = Segment(
        "customer",
        3.0,
        4.0,
        "1111 1111 thanks",
        (Word("1111", 3.0, 3.4), Word("1111", 3.5, 3.8), Word("thanks", 3.9, 4.0)),
    )
    out = redact_transcript(Transcript("c", "en", 4.0, (first, second)))
    assert [(w.text, w.start, w.end) for w in out.segments[0].words] == [
        ("it's", 0.0, 0.3),
        (PAN, 0.5, 1.8),
    ]
    assert [(w.text, w.start, w.end) for w in out.segments[1].words] == [
        (PAN, 3.0, 3.8),
        ("thanks", 3.9, 4.0),
    ]


def test_segments_without_anything_to_redact_are_the_same_objects():
    segments = (
        Segment("agent", 0.0, 1.0, "card number please"),
        Segment("customer", 1.5, 3.0, "4111 1111 1111 1111"),
        Segment("agent", 3.5, 4.0, "thanks, 2 minutes"),
    )
    out = redact_transcript(Transcript("c", "en", None, segments))
    assert out.segments[0] is segments[0] and out.segments[2] is segments[2]
    assert out.segments[1].text == PAN


@pytest.mark.parametrize(
    "texts",
    [
        ["card 4111 1111 1111 1111 expires 08/27, 123"],
        ["4111 1112, sorry, 4111 1111 1111 1111 and 123"],
        ["卡号四一一一 一一一一", "嗯", "一一一一 一一一一", "有效期零八二七，四五六"],
        ["the cvv is [CVV]", "123 4111 1111 1111 1111 5 [PAN] 456"],
        ["身份证 110105 19491231 002X 123", "order 14111111111111111"],
    ],
)
def test_redacting_twice_changes_nothing(texts):
    segments = tuple(
        Segment(
            "customer",
            2.0 * i,
            2.0 * i + 1.5,
            t,
            tuple(Word(w, 2.0 * i, 2.0 * i + 1) for w in t.split()),
        )
        for i, t in enumerate(texts)
    )
    once = redact_transcript(Transcript("c", "en", None, segments))
    assert redact_transcript(once) == once
    # A tag in the text is not a security-code keyword for what follows.
    assert redact_text("[CVV] and then 123") == "[CVV] and then 123"


def test_words_that_do_not_line_up_with_the_text():
    seg = Segment(
        "customer",
        0.0,
        3.0,
        "card 4111 1111 1111 1111",
        (Word("card", 0.0, 0.5), Word("4111111111111111", 0.6, 3.0)),
    )
    out = redact_transcript(Transcript("c", "en", 3.0, (seg,))).segments[0]
    assert out.text == "card [PAN]"
    assert out.words == (Word("card", 0.0, 0.5), Word(PAN, 0.6, 3.0))
    assert dataclasses.replace(out, text="x").speaker == "customer"
