"""Card numbers: every scheme, written and spoken, with fillers, pauses and self-corrections,
and nothing that is not a whole number (or a stretch of the speaker's own groups)."""

import pytest

from transcripts.format import Segment, Transcript
from transcripts.numbers import china_id_valid, is_card_number, is_china_id, luhn_valid
from transcripts.redact import redact_text, redact_transcript

# Scheme-valid test numbers (prefix, length and Luhn), one or more per scheme.
CARDS = {
    "visa 13": "4222222222222",
    "visa 16": "4111111111111111",
    "visa 19": "4123456789012345677",
    "mastercard 55": "5555555555554444",
    "mastercard 2221": "2223003122003222",
    "mastercard 2720": "2720123456789010",
    "amex": "378282246310005",
    "unionpay 16": "6212345678901232",
    "unionpay 17": "62123456789012347",
    "unionpay 18": "621234567890123457",
    "unionpay 19": "6212345678901234569",
    "jcb": "3530111333300000",
    "discover 6011": "6011111111111117",
    "discover 644": "6445644564456445",
    "discover 65": "6500123456789017",
    "discover 622126": "6221261234567897",
    "diners 305": "30569309025904",
    "diners 36": "36227206271667",
    "diners 38": "38520000023237",
}
# Passes both a card's and an ID number's checks (UnionPay 62 / Gansu 620102).
CARD_AND_ID = "620102199001010257"


def _segments(*texts: str, speaker: str = "customer") -> list[str]:
    segments = tuple(Segment(speaker, 2.0 * i, 2.0 * i + 1.5, text) for i, text in enumerate(texts))
    out = redact_transcript(Transcript("c", "en", None, segments))
    return [s.text for s in out.segments]


def _four(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH = "零一二三四五六七八九"


def _en(digits: str) -> str:
    return " ".join(EN[int(d)] for d in digits)


def _zh(digits: str, yao: bool = False) -> str:
    return "".join("幺" if yao and d == "1" else ZH[int(d)] for d in digits)


def test_the_test_numbers_are_scheme_valid():
    assert all(is_card_number(n) for n in CARDS.values())
    assert is_card_number(CARD_AND_ID) and is_china_id(CARD_AND_ID)


@pytest.mark.parametrize("number", CARDS.values(), ids=CARDS.keys())
def test_every_scheme_written_and_spoken(number):
    assert redact_text(f"my card is {number} thanks") == "my card is [PAN] thanks"
    assert redact_text(f"card {_four(number)}.") == "card [PAN]."
    assert redact_text(f"card {_four(number, '-')}, thanks") == "card [PAN], thanks"
    assert redact_text(f"it's {_en(number)} okay") == "it's [PAN] okay"
    assert redact_text(f"卡号是{_zh(number, yao=True)}，谢谢") == "卡号是[PAN]，谢谢"
    assert redact_text(f"卡号{_four(number, '，')}。") == "卡号[PAN]。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Amex as printed: 4-6-5.
        ("amex 3782 822463 10005 please", "amex [PAN] please"),
        # Pairs and teens, "oh", "double", "triple".
        ("forty one eleven eleven eleven eleven eleven eleven eleven", "[PAN]"),
        (
            "fifty five fifty five fifty five fifty five fifty five fifty five forty four "
            "forty four",
            "[PAN]",
        ),
        ("thirty seven eighty two, eighty two twenty four sixty three, ten oh oh five", "[PAN]"),
        ("four one double one, triple one one, double one double one, one one one one", "[PAN]"),
        ("six oh one one, one one one one, one one one one, one one one seven", "[PAN]"),
        # Full-width digits, 幺, and mixtures.
        ("卡号４１１１１１１１１１１１１１１１", "卡号[PAN]"),
        ("卡号是四幺幺幺 一一一一 幺幺幺幺 一一一一", "卡号是[PAN]"),
        ("my card is 4111 one one one one 1111 一一一一", "my card is [PAN]"),
    ],
)
def test_spoken_forms(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 sorry 1111 1111",
        "4111 1111 and 1111 1111",
        "4111, uh, 1111, um, 1111 and then 1111",
        "four one one one, sorry, one one one one, one one one one, and one one one one",
        "四一一一 一一一一 嗯 一一一一 一一一一",
        "四一一一，呃，一一一一，那个，一一一一，一一一一",
        "4111 1111，然后是1111 1111",
    ],
)
def test_card_broken_by_fillers(text):
    assert redact_text(text) == "[PAN]"


def test_card_split_across_segments_with_a_pause_and_the_agent_between():
    transcript = Transcript(
        "c",
        "zh",
        None,
        (
            Segment("customer", 0.0, 2.0, "卡号是四一一一，一一一一"),
            Segment("agent", 2.2, 2.5, "嗯"),
            Segment("customer", 3.5, 5.0, "嗯，一一一一"),
            Segment("customer", 6.0, 7.0, "一一一一，谢谢"),
        ),
    )
    texts = [s.text for s in redact_transcript(transcript).segments]
    assert texts == ["卡号是[PAN]", "嗯", "嗯，[PAN]", "[PAN]，谢谢"]


def test_a_long_silence_ends_the_number():
    # More than MAX_SEGMENT_GAP (15 s) apart: two numbers, neither a card.
    transcript = Transcript(
        "c",
        "en",
        None,
        (
            Segment("customer", 0.0, 2.0, "4111 1111"),
            Segment("customer", 30.0, 32.0, "1111 1111"),
        ),
    )
    assert redact_transcript(transcript) == transcript


def test_a_word_ends_the_number():
    assert redact_text("room 4111 1111 and my phone 1111 1111") == (
        "room 4111 1111 and my phone 1111 1111"
    )


@pytest.mark.parametrize(
    "text",
    [
        # The group said after the correction replaces the one before it.
        "4111 1112, sorry, 1111 1111 1111",
        "4111 1111 1111 1112, sorry, I mean 1111",
        "four one one one one one one two, no wait, one one one one, one one one one, "
        "one one one one",
        # ... or restates the last digits with one changed.
        "four one one one one one one one one one one two, sorry, one one one one one",
        "四一一一 一一一二，不对，是一一一一，一一一一，一一一一",
        "四一一一，一一一二，说错了，是一一一一，一一一一，一一一一",
        # ... or the whole number is said again; the abandoned attempt goes too.
        "4111 1112, sorry, 4111 1111 1111 1111",
        "四一一一 一一二，不对，四一一一 一一一一 一一一一 一一一一",
    ],
)
def test_self_corrections(text):
    assert redact_text(text) == "[PAN]"


def test_correction_as_a_filler():
    assert redact_text("4111 1111 sorry 1111 1111") == "[PAN]"


def test_order_and_tracking_numbers_are_not_cards():
    # The old redactor tagged any 13-19 digit window passing Luhn: these have one.
    for number in ("14111111111111111", "411111111111111100", "202411254111111111111111"):
        assert luhn_valid(number[1:17]) or luhn_valid(number[:16]) or luhn_valid(number[8:])
        assert redact_text(f"order number {number}") == f"order number {number}"
        assert redact_text(f"订单号{number}") == f"订单号{number}"
    # Luhn-valid but no scheme has this prefix and length.
    assert luhn_valid("1234567812345670")
    assert redact_text("tracking 1234567812345670") == "tracking 1234567812345670"
    assert redact_text("the SF number is SF1234567890 12") == "the SF number is SF1234567890 12"


def test_a_card_written_beside_other_numbers_is_found_by_its_groups():
    assert redact_text("4111 1111 1111 1111 0827 123 thanks") == "[PAN] 0827 [CVV] thanks"
    assert redact_text("ref 12 4111 1111 1111 1111") == "ref 12 [PAN]"


def test_a_card_is_never_an_id_number():
    # A 19-digit Visa whose first 18 digits pass the ID checksum: the old redactor said [ID].
    visa = "4000000000000000063"
    assert is_card_number(visa) and china_id_valid(visa[:18])
    assert redact_text(f"card {visa}") == "card [PAN]"
    # Both checks pass: read as cards are read (4-4-4-4-2), it is a card...
    assert redact_text(f"card number {_four(CARD_AND_ID)}") == "card number [PAN]"
    assert redact_text(f"卡号是{CARD_AND_ID}") == "卡号是[PAN]"


def test_an_id_number_is_never_a_card():
    # ... read as ID numbers are read (6-8-4), said as an ID, or with nothing to go on: an ID.
    region, birth, rest = CARD_AND_ID[:6], CARD_AND_ID[6:14], CARD_AND_ID[14:]
    assert redact_text(f"my ID is {region} {birth} {rest}") == "my ID is [ID]"
    assert redact_text(f"身份证号{CARD_AND_ID}") == "身份证号[ID]"
    assert redact_text(f"it's {CARD_AND_ID}") == "it's [ID]"
    # The 14 first digits of this Jiangxi ID make a Luhn-valid Diners number (36...).
    jiangxi = "360102199001010755"
    assert is_china_id(jiangxi)
    assert redact_text(f"身份证 {jiangxi[:6]} {jiangxi[6:14]} {jiangxi[14:]}") == "身份证 [ID]"


def test_agent_reading_the_number_back_is_redacted_too():
    texts = _segments("it's 4111 1111 1111 1111", speaker="customer")
    assert texts == ["it's [PAN]"]
    texts = _segments("so that's 4111 1111 1111 1111, correct?", speaker="agent")
    assert texts == ["so that's [PAN], correct?"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Said in one breath: the card, then the code (and an expiry date).
        (
            "my card is four one one one one one one one one one one one one one one one "
            "one two three thanks",
            "my card is [PAN] [CVV] thanks",
        ),
        ("卡号四一一一一一一一一一一一一一一一幺二三，谢谢", "卡号[PAN][CVV]，谢谢"),
        ("card number 41111111111111111234", "card number [PAN][CVV]"),
        ("卡号四一一一一一一一一一一一一一一一零八二七幺二三", "卡号[PAN]零八二七[CVV]"),
        # Without talk of a card, a long run of digits is one number.
        ("tracking number 4111111111111111123", "tracking number 4111111111111111123"),
    ],
)
def test_a_card_run_on_into_its_code(text, expected):
    assert redact_text(text) == expected


def test_card_talk_in_the_agents_question_counts():
    texts = _segments(
        "what's the card number?",
        "four one one one one one one one one one one one one one one one one two three",
    )
    assert texts[1] == "[PAN] [CVV]"


def test_a_segment_of_fillers_does_not_end_the_number():
    assert _segments("4111 1111", "uh, um, uh, um, hmm...", "1111 1111") == [
        "[PAN]",
        "uh, um, uh, um, hmm...",
        "[PAN]",
    ]
