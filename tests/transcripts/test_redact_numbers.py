"""The digit-string checks behind redaction: card schemes, Chinese ID numbers, tokens."""

import datetime
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcripts.numbers import (
    Token,
    card_scheme,
    is_card_number,
    is_china_id,
    spoken_digits,
    tokenize,
)


@pytest.mark.parametrize(
    ("prefix", "length", "scheme"),
    [
        ("4", 13, "visa"),
        ("4", 16, "visa"),
        ("4", 19, "visa"),
        ("4", 15, None),
        ("51", 16, "mastercard"),
        ("55", 16, "mastercard"),
        ("56", 16, None),
        ("50", 16, None),
        ("2220", 16, None),
        ("2221", 16, "mastercard"),
        ("2720", 16, "mastercard"),
        ("2721", 16, None),
        ("51", 19, None),
        ("34", 15, "amex"),
        ("37", 15, "amex"),
        ("37", 16, None),
        ("35", 15, None),
        ("62", 16, "unionpay"),
        ("62", 19, "unionpay"),
        ("62", 15, None),
        ("622126", 16, "unionpay"),  # Discover's range inside UnionPay's
        ("3527", 16, None),
        ("3528", 16, "jcb"),
        ("3589", 19, "jcb"),
        ("3590", 16, None),
        ("6011", 16, "discover"),
        ("6012", 16, None),
        ("643", 16, None),
        ("644", 16, "discover"),
        ("649", 19, "discover"),
        ("65", 16, "discover"),
        ("300", 14, "diners"),
        ("305", 19, "diners"),
        ("306", 14, None),
        ("36", 14, "diners"),
        ("38", 16, "diners"),
        ("39", 14, "diners"),
        ("1", 16, None),
        ("7", 16, None),
        ("8", 16, None),
        ("9", 16, None),
    ],
)
def test_card_schemes_by_prefix_and_length(prefix, length, scheme):
    assert card_scheme(prefix + "0" * (length - len(prefix))) == scheme


def test_card_numbers_need_luhn_and_ascii_digits():
    assert is_card_number("4111111111111111")
    assert not is_card_number("4111111111111112")
    assert not is_card_number("1234567812345670")  # Luhn-valid, no scheme
    assert card_scheme("４１１１１１１１１１１１１１１１") is None
    assert card_scheme("411111111111") is None and card_scheme("4" * 20) is None


def _with_check(body: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_china_id_region_birth_date_and_checksum():
    assert is_china_id("11010519491231002X")
    assert is_china_id("11010519491231002x")
    assert is_china_id(_with_check("44030019900101123"))  # county code 00
    assert is_china_id(_with_check("46900519900101123"))  # prefecture 90
    assert is_china_id(_with_check("81000019900101123"))  # Hong Kong residence permit
    assert not is_china_id(_with_check("81010119900101123"))
    assert not is_china_id(_with_check("10010519900101123"))  # no province 10
    assert not is_china_id(_with_check("11000519900101123"))  # prefecture 00
    assert is_china_id(_with_check("11010520000229123"))  # 2000 is a leap year
    assert not is_china_id(_with_check("11010519000229123"))  # 1900 is not
    assert not is_china_id("11010519491231002")  # 17 characters
    today = datetime.date(2026, 1, 1)
    assert is_china_id(_with_check("11010520251231123"), today=today)
    assert not is_china_id(_with_check("11010520260102123"), today=today)  # born tomorrow


def _reference_tokenize(text: str) -> list[Token]:
    """tokenize's rule, one character at a time (its path for non-ASCII text)."""

    def kind(ch: str) -> str:
        if ch.isascii() and ch.isdigit():
            return "digit"
        if ch.isascii() and (ch.isalpha() or ch == "'"):
            return "alpha"
        return "space" if ch.isspace() else "single"

    tokens: list[Token] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch)
        folded = folded if len(folded) == 1 else ch
        same = tokens and kind(folded) != "single" and kind(folded) == kind(tokens[-1].text[-1])
        if same:
            tokens[-1] = Token(tokens[-1].text + folded, tokens[-1].start, i + 1)
        else:
            tokens.append(Token(folded, i, i + 1))
    return tokens


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F), max_size=40))
def test_the_ascii_fast_path_splits_like_the_general_one(text):
    assert tokenize(text) == _reference_tokenize(text)


def test_a_comma_after_tens_is_a_pause():
    def digits(text: str) -> str:
        return "".join(v or "" for v in spoken_digits(tokenize(text)))

    assert digits("thirty five") == "35"
    assert digits("forty-one") == "41"
    assert digits("oh six thirty, five one two") == "0630512"
