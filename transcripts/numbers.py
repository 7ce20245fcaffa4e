"""Numbers as they appear in transcripts: digits, English number words, Chinese digits.

Speech recognisers write a spoken card number as "4111 1111...", "four one one one",
"forty one eleven" or "四一一一" / "幺二三"; redaction and WER normalisation both need to
read these as digits (and, for WER, write digits back as words). The checks that decide
what a digit string is live here too: payment card schemes with Luhn, and Chinese
resident ID numbers (GB 11643) with a plausible region code and birth date.
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

EN_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
EN_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
EN_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
EN_REPEATS = {"double": 2, "triple": 3}
# 幺 is how "1" is read out in numbers on the phone; 洞 is the radio-style "0".
ZH_DIGITS = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
CHECK_X = {"x", "叉"}  # the "X" check character of a Chinese ID number


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of text: a digit run, a word, one CJK character, space or punctuation."""

    text: str
    start: int  # character offsets in the text it came from
    end: int

    @property
    def lower(self) -> str:
        """The token as matched against the number words."""
        return self.text.lower()


def normalize_width(text: str) -> str:
    """Full-width letters, digits and punctuation as their ASCII forms (NFKC)."""
    return unicodedata.normalize("NFKC", text)


_ASCII_TOKEN = re.compile(r"[0-9]+|[A-Za-z']+|\s+|.", re.DOTALL)


def tokenize(text: str) -> list[Token]:
    """Split text into tokens; offsets refer to `text` itself.

    Full-width digits and letters are read as ASCII, which NFKC does one-for-one per
    character (a character whose NFKC form is longer stays as it is), so the folded text
    has the same length and offsets stay valid.
    """
    folded = text if text.isascii() else "".join(map(_fold, text))
    # Runs of digits, of letters (with apostrophes), of spaces; anything else alone.
    return [Token(m.group(), m.start(), m.end()) for m in _ASCII_TOKEN.finditer(folded)]


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 else ch


def spoken_digits(tokens: list[Token]) -> list[str | None]:
    """The digits each token stands for ("" for none but harmless), None where it is not a number.

    English tens combine with a following unit ("forty one" -> "4", "1"); "double five"
    gives "5", "5"; a lone "forty" is "40".
    """
    values: list[str | None] = [_single_value(t) for t in tokens]
    for i, token in enumerate(tokens):
        word = token.lower
        if word in EN_TENS:
            nxt = _next_word(tokens, i)
            unit = values[nxt] if nxt is not None and tokens[nxt].lower in EN_DIGITS else None
            values[i] = EN_TENS[word] if unit not in (None, "0") else EN_TENS[word] + "0"
        elif word in EN_REPEATS:
            nxt = _next_word(tokens, i)
            following = values[nxt] if nxt is not None else None
            if following is not None and len(following) == 1:
                values[i] = following * (EN_REPEATS[word] - 1)
    return values


def _single_value(token: Token) -> str | None:
    text = token.lower
    if text.isascii() and text.isdigit():
        return text
    if text in EN_DIGITS:
        return EN_DIGITS[text]
    if text in EN_TEENS:
        return EN_TEENS[text]
    if text in ZH_DIGITS:
        return ZH_DIGITS[text]
    if text in CHECK_X:
        return "X"
    return None


def _next_word(tokens: list[Token], i: int) -> int | None:
    # "forty-one" is 41, but "thirty, five" (a pause) is 30 and 5.
    for j in range(i + 1, min(i + 4, len(tokens))):
        if tokens[j].text.strip() and tokens[j].text != "-":
            return j
    return None


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Payment card schemes: (name, lengths, prefix ranges as (low, high) over the first digits).
CARD_SCHEMES: tuple[tuple[str, tuple[int, ...], tuple[tuple[str, str], ...]], ...] = (
    ("visa", (13, 16, 19), (("4", "4"),)),
    ("mastercard", (16,), (("51", "55"), ("2221", "2720"))),
    ("amex", (15,), (("34", "34"), ("37", "37"))),
    ("unionpay", (16, 17, 18, 19), (("62", "62"),)),
    ("jcb", (16, 17, 18, 19), (("3528", "3589"),)),
    (
        "discover",
        (16, 17, 18, 19),
        (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")),
    ),
    ("diners", (14, 15, 16, 17, 18, 19), (("300", "305"), ("36", "36"), ("38", "39"))),
)


def _schemes_by_first_two() -> dict[str, list[tuple[str, tuple[int, ...], str, str]]]:
    """The schemes' prefix ranges by the first two digits they allow, in CARD_SCHEMES order."""
    index: dict[str, list[tuple[str, tuple[int, ...], str, str]]] = {}
    for name, lengths, ranges in CARD_SCHEMES:
        for low, high in ranges:
            if len(low) == 1:
                firsts = [low + d for d in "0123456789"]
            else:
                firsts = [f"{p:02d}" for p in range(int(low[:2]), int(high[:2]) + 1)]
            for first in firsts:
                index.setdefault(first, []).append((name, lengths, low, high))
    return index


_SCHEMES_BY_TWO = _schemes_by_first_two()


def card_scheme(digits: str) -> str | None:
    """The card scheme whose prefix and length `digits` matches (Luhn not checked), or None.

    622126-622925 (Discover co-branded with UnionPay) is reported as ``unionpay``.
    """
    n = len(digits)
    if not 13 <= n <= 19 or not (digits.isascii() and digits.isdigit()):
        return None
    for name, lengths, low, high in _SCHEMES_BY_TWO.get(digits[:2], ()):
        if n in lengths and low <= digits[: len(low)] <= high:
            return name
    return None


def is_card_number(digits: str) -> bool:
    """Whether `digits` is a payment card number: a scheme's prefix and length, and Luhn."""
    return card_scheme(digits) is not None and luhn_valid(digits)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level codes of GB/T 2260, and 81/82/83 for the residence permits of Hong Kong,
# Macao and Taiwan residents (which use 810000/820000/830000).
_ID_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65}
)
_ID_PERMITS = frozenset({"810000", "820000", "830000"})
_ID_FIRST_YEAR = 1900


def china_id_valid(number: str) -> bool:
    """Whether an 18-character string has a valid GB 11643 checksum (17 digits + digit/X)."""
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def is_china_id(number: str, *, today: datetime.date | None = None) -> bool:
    """Whether `number` is a Chinese resident ID number: checksum, region code and birth date.

    The region must be a province-level code with a prefecture code 01-70 or 90 (county
    code free), or a Hong Kong/Macao/Taiwan residence permit prefix; the birth date
    (characters 7-14, YYYYMMDD) a real date from 1900 up to `today`.
    """
    if not china_id_valid(number):
        return False
    region = number[:6]
    if region not in _ID_PERMITS:
        prefecture = int(region[2:4])
        if int(region[:2]) not in _ID_PROVINCES or not (1 <= prefecture <= 70 or prefecture == 90):
            return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    today = today or datetime.date.today()
    if not _ID_FIRST_YEAR <= year <= today.year:
        return False
    try:
        born = datetime.date(year, month, day)
    except ValueError:
        return False
    return born <= today


_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_EN_TEEN_WORDS = [
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
_EN_TEN_WORDS = [
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]


def number_to_english(n: int) -> str:
    """Cardinal English words for 0 <= n < 10**12, without "and" ("one hundred five")."""
    if n < 10:
        return _EN_ONES[n]
    if n < 20:
        return _EN_TEEN_WORDS[n - 10]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TEN_WORDS[tens] + ("" if ones == 0 else " " + _EN_ONES[ones])
    for size, name in (
        (10**9, "billion"),
        (10**6, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if n >= size:
            head, rest = divmod(n, size)
            words = f"{number_to_english(head)} {name}"
            return words if rest == 0 else f"{words} {number_to_english(rest)}"
    raise AssertionError("unreachable")


_ZH_DIGIT_CHARS = "零一二三四五六七八九"


def number_to_chinese(n: int) -> str:
    """Chinese reading of 0 <= n < 10**8 ("一百零五", "十二", "一万零一十")."""
    text = _chinese(n)
    # Only a leading 一十 is read 十 ("十二", but "一百一十").
    return text[1:] if text.startswith("一十") else text


def _chinese(n: int) -> str:
    if n < 10:
        return _ZH_DIGIT_CHARS[n]
    if n >= 10**4:
        head, rest = divmod(n, 10**4)
        text = _chinese(head) + "万"
        if rest:
            text += ("零" if rest < 1000 else "") + _chinese(rest)
        return text
    parts: list[str] = []
    zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // unit % 10
        if digit == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        parts.append(_ZH_DIGIT_CHARS[digit] + name)
    return "".join(parts)
