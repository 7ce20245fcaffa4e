"""Benchmark: card-number, security-code and Chinese ID redaction; accuracy and throughput.

Generates a corpus of short call transcripts from a fixed seed (nothing hand-picked), in
English and Chinese, each with labelled numbers:

- positives: card numbers of every scheme (Visa 13/16/19, Mastercard 51-55 and 2-series,
  Amex, UnionPay 16-19, JCB, Discover, Diners), written with various groupings, in
  full-width digits, spoken digit by digit, in pairs and teens ("forty one eleven"), with
  "double"/"triple" and 幺, with fillers between groups, split over segments of the same
  speaker with a pause (and the agent's backchannel) between, with a self-correction; CVVs
  after a security-code keyword, after a card, after an expiry date; Chinese ID numbers;
- look-alike negatives: order numbers, tracking numbers (12-digit SF, 13-character EMS,
  18-digit JD-like), phone numbers (+86 mobile, US), amounts, dates, account numbers,
  16-digit numbers drawn uniformly (NOT filtered: some are valid card numbers by chance,
  reported as collisions), and 3-4 digit numbers that are not security codes (extensions,
  amounts, quantities; some said right after a card).

Every segment has word timestamps. A labelled number counts as redacted when none of its
words holding a digit survives; the tags over it say which tag it got. Printed per kind
and language: n, recall (positives) or false-redaction rate (negatives), and the
precision of each tag; then redaction throughput in segments per second (median of 3
runs), for the redactor in the working tree and, when git can show it, the one before
issue 7 (`--baseline`, loaded into a temporary module, never imported from the repo).

    python benchmarks/redaction.py [--seed 7] [--scale 1.0] [--runs 3] [--baseline REF]

Targets (issue 7): 100% of scheme-valid card numbers, >= 99% of CVVs in card context,
<= 1% of non-card numbers redacted.
"""

import argparse
import importlib.util
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from transcripts.format import Segment, Transcript, Word

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "ba57e2a"  # the last commit with the redactor before issue 7
PAN, CVV, CHINA_ID = "[PAN]", "[CVV]", "[ID]"
TAGS = (PAN, CVV, CHINA_ID)

# --- independent checks (the benchmark does not trust the code it measures) -------------

# (scheme, prefix ranges, lengths), from the schemes' published IIN tables.
SCHEMES: list[tuple[str, list[tuple[int, int]], list[int]]] = [
    ("visa", [(4, 4)], [13, 16, 19]),
    ("mastercard", [(51, 55)], [16]),
    ("mastercard-2", [(2221, 2720)], [16]),
    ("amex", [(34, 34), (37, 37)], [15]),
    ("unionpay", [(62, 62)], [16, 17, 18, 19]),
    ("jcb", [(3528, 3589)], [16, 17, 18, 19]),
    ("discover", [(6011, 6011), (644, 649), (65, 65), (622126, 622925)], [16, 17, 18, 19]),
    ("diners", [(300, 305), (36, 36), (38, 39)], [14, 15, 16, 17, 18, 19]),
]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def scheme_valid(digits: str) -> bool:
    if not digits.isdigit() or not luhn_ok(digits):
        return False
    for _, ranges, lengths in SCHEMES:
        if len(digits) in lengths:
            for low, high in ranges:
                width = len(str(low))
                if low <= int(digits[:width]) <= high:
                    return True
    return False


ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
ID_CHECK = "10X98765432"


def id_check_char(body: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def id_valid(number: str) -> bool:
    """GB 11643 checksum with a 19xx/20xx birth date that exists (region not checked)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    days = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1900 <= year <= 2030 and 1 <= month <= 12 and 1 <= day <= days[month - 1]):
        return False
    return id_check_char(number[:17]) == number[17].upper()


# --- how numbers are said --------------------------------------------------------------

EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
EN_TEENS_LIST = EN_TEENS.split()
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ZH = "零一二三四五六七八九"
NUMBER_WORDS = set(EN_ONES) | set(EN_TEENS_LIST) | set(EN_TENS[2:]) | {"oh", "double", "triple"}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def en_digit(d: str, rng: random.Random) -> str:
    return "oh" if d == "0" and rng.random() < 0.5 else EN_ONES[int(d)]


def en_digits(group: str, rng: random.Random) -> list[str]:
    return [en_digit(d, rng) for d in group]


def en_double(group: str, rng: random.Random) -> list[str]:
    """Runs of a repeated digit as "double"/"triple"."""
    words: list[str] = []
    i = 0
    while i < len(group):
        j = i
        while j < len(group) and group[j] == group[i] and j - i < 3:
            j += 1
        if j - i == 3:
            words += ["triple", EN_ONES[int(group[i])]]
        elif j - i == 2:
            words += ["double", EN_ONES[int(group[i])]]
        else:
            words.append(en_digit(group[i], rng))
        i = j
    return words


def en_pairs(groups: list[str], rng: random.Random) -> list[list[str]]:
    """Each group read in pairs ("forty one eleven"); an odd digit is read first, alone."""
    units: list[tuple[int, str]] = []  # (group index, one or two digits)
    for gi, group in enumerate(groups):
        if len(group) % 2:
            units.append((gi, group[0]))
            group = group[1:]
        units += [(gi, group[k : k + 2]) for k in range(0, len(group), 2)]
    out: list[list[str]] = [[] for _ in groups]
    following: str | None = None  # the first word of the next unit (rendered back to front)
    for gi, unit in reversed(units):
        if len(unit) == 1:
            words = [en_digit(unit, rng)]
        elif unit[0] == "0":
            words = ["oh", EN_ONES[int(unit[1])]]
        elif unit[0] == "1":
            words = [EN_TEENS_LIST[int(unit[1])]]
        elif unit[1] != "0":
            words = [EN_TENS[int(unit[0])], EN_ONES[int(unit[1])]]
        elif following in EN_ONES or following == "oh":
            words = [EN_ONES[int(unit[0])], "oh"]  # "forty" then "six" would be heard as 46
        else:
            words = [EN_TENS[int(unit[0])]]
        out[gi] = words + out[gi]
        following = words[0]
    return out


def zh_digits(group: str, yao: bool) -> str:
    return "".join("幺" if yao and d == "1" else ZH[int(d)] for d in group)


# --- the corpus --------------------------------------------------------------------------


@dataclass
class Item:
    kind: str
    lang: str
    expected: str | None  # the tag it should get; None: must stay
    collision: bool = False  # a negative that is itself a valid card/ID number
    spans: list[tuple[int, int, int]] = field(default_factory=list)  # (segment, lo, hi)


@dataclass
class Case:
    transcript: Transcript
    items: list[Item]


class Builder:
    """Builds one transcript: segments of pieces, some of them labelled items."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng, self.lang = rng, lang
        self.segments: list[tuple[str, float, float, str]] = []
        self.items: list[Item] = []
        self.clock = 0.0

    def say(self, speaker: str, *pieces: "str | tuple[str, Item]", gap: float = 0.4) -> None:
        text = ""
        for piece in pieces:
            if isinstance(piece, tuple):
                body, item = piece
                item.spans.append((len(self.segments), len(text), len(text) + len(body)))
                if item not in self.items:
                    self.items.append(item)
                text += body
            else:
                text += piece
        start = self.clock + gap
        end = start + 0.3 * len(words_of(text)) + 0.2
        self.segments.append((speaker, round(start, 3), round(end, 3), text))
        self.clock = end

    def build(self) -> Case:
        segments = []
        for speaker, start, end, text in self.segments:
            spans = words_of(text)
            step = (end - start) / max(len(spans), 1)
            words = tuple(
                Word(text[lo:hi], round(start + k * step, 3), round(start + (k + 1) * step, 3))
                for k, (lo, hi) in enumerate(spans)
            )
            segments.append(Segment(speaker, start, end, text, words))
        call = Transcript("bench", self.lang, round(self.clock, 3), tuple(segments))
        return Case(call, self.items)


_WORD = re.compile(r"[\u3400-\u9fff]|[，。、？！：；]|[^\s\u3400-\u9fff，。、？！：；]+")


def words_of(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


GREETINGS = {
    "en": ["Thank you for calling, how can I help?", "Hi, this is the billing team."],
    "zh": ["您好，很高兴为您服务。", "您好，请问有什么可以帮您？"],
}
CARD_ASK = {
    "en": ["Can I have the card number please?", "What's the card number?"],
    "zh": ["请提供一下您的卡号。", "麻烦报一下银行卡号。"],
}
CARD_LEAD = {
    "en": ["my card number is ", "it's ", "sure, ", "yes, "],
    "zh": ["卡号是", "好的，", "是"],
}
CARD_TAIL = {"en": ["", " thanks", ", that's it"], "zh": ["", "，谢谢", "，就这些"]}
BACKCHANNEL = {"en": ["mm-hmm", "okay", "go on"], "zh": ["嗯", "好的", "您继续"]}
FILLERS = {"en": ["uh", "um", "sorry", "and"], "zh": ["嗯", "呃", "那个"]}
CORRECTIONS = {"en": ["sorry", "sorry, I mean", "no wait"], "zh": ["不对，是", "说错了，是"]}
CVV_ASK = {
    "en": ["And the security code on the back?", "What's the CVV?", "And the three digit code?"],
    "zh": ["请问卡背面的安全码是多少？", "后三位是多少？", "请提供一下CVV。"],
}
CLOSING = {"en": ["Thanks, one moment please."], "zh": ["好的，请稍等。"]}


def make_card(rng: random.Random, scheme: str) -> str:
    _, ranges, lengths = next(s for s in SCHEMES if s[0] == scheme)
    low, high = rng.choice(ranges)
    length = rng.choice(lengths)
    prefix = str(rng.randint(low, high))
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


def card_groups(number: str, rng: random.Random) -> list[str]:
    """How the number is grouped when written or read out."""
    if len(number) == 15 and number[:2] in ("34", "37") and rng.random() < 0.7:
        return [number[:4], number[4:10], number[10:]]  # Amex 4-6-5
    if len(number) == 14 and rng.random() < 0.5:
        return [number[:4], number[4:10], number[10:]]  # Diners 4-6-4
    return [number[k : k + 4] for k in range(0, len(number), 4)]


CARD_FORMS = {
    "en": [
        "written 4-4-4-4",
        "written with dashes",
        "written as one run",
        "spoken digit by digit",
        "spoken in pairs",
        "spoken with double",
        "fillers between groups",
        "split over segments",
        "self-corrected group",
        "restarted after a slip",
    ],
    "zh": [
        "written 4-4-4-4",
        "written as one run",
        "full-width digits",
        "spoken digit by digit",
        "spoken in groups with 幺",
        "fillers between groups",
        "split over segments",
        "self-corrected group",
        "restarted after a slip",
    ],
}


def render_groups(groups: list[str], style: str, rng: random.Random) -> list[str]:
    """One text per group in the given style."""
    if style == "digits":
        return groups
    if style == "full-width":
        return [g.translate(FULL_WIDTH) for g in groups]
    if style == "en-digits":
        return [" ".join(en_digits(g, rng)) for g in groups]
    if style == "en-pairs":
        return [" ".join(words) for words in en_pairs(groups, rng)]
    if style == "en-double":
        return [" ".join(en_double(g, rng)) for g in groups]
    yao = rng.random() < 0.6
    return [zh_digits(g, yao) for g in groups]


def join_groups(texts: list[str], lang: str, rng: random.Random, sep: str | None = None) -> str:
    if sep is None:
        sep = rng.choice([" ", ", "] if lang == "en" else [" ", "，", ""])
    return sep.join(texts)


def say_card(b: Builder, number: str, form: str, item: Item) -> None:
    """The customer says the card number in `form` (one or more segments)."""
    rng, lang = b.rng, b.lang
    groups = card_groups(number, rng)
    spoken = {"en": rng.choice(["en-digits", "en-pairs", "en-double"]), "zh": "zh"}[lang]
    written = rng.random() < 0.5
    style = "digits" if written else spoken
    lead, tail = rng.choice(CARD_LEAD[lang]), rng.choice(CARD_TAIL[lang])
    if form == "written 4-4-4-4":
        text = " ".join(groups)
    elif form == "written with dashes":
        text = "-".join(groups)
    elif form == "written as one run":
        text = number
    elif form == "full-width digits":
        text = rng.choice([" ", ""]).join(render_groups(groups, "full-width", rng))
    elif form == "spoken digit by digit":
        whole = [number] if rng.random() < 0.5 else groups
        text = join_groups(
            render_groups(whole, "en-digits" if lang == "en" else "zh", rng), lang, rng
        )
    elif form == "spoken in pairs":
        text = join_groups(render_groups(groups, "en-pairs", rng), lang, rng)
    elif form == "spoken with double":
        text = join_groups(render_groups(groups, "en-double", rng), lang, rng)
    elif form == "spoken in groups with 幺":
        text = join_groups([zh_digits(g, True) for g in groups], lang, rng, rng.choice(["，", " "]))
    elif form == "fillers between groups":
        texts = render_groups(groups, style, rng)
        text = texts[0]
        for t in texts[1:]:
            if rng.random() < 0.5:
                filler = rng.choice(FILLERS[lang])
                text += f" {filler} " if lang == "en" else f"，{filler}，"
            else:
                text += " " if lang == "en" or written else "，"
            text += t
    elif form == "split over segments":
        texts = render_groups(groups, style, rng)
        cut = rng.randint(1, len(texts) - 1)
        sep = " " if lang == "en" or written else "，"
        first, second = sep.join(texts[:cut]), sep.join(texts[cut:])
        b.say("customer", lead, (first, item))
        if rng.random() < 0.5:
            b.say("agent", rng.choice(BACKCHANNEL[lang]), gap=rng.uniform(0.2, 1.5))
        b.say("customer", (second, item), tail, gap=rng.uniform(0.3, 3.0))
        return
    elif form in ("self-corrected group", "restarted after a slip"):
        texts = render_groups(groups, style, rng)
        at = rng.randint(1, len(groups) - 1)
        wrong_group = list(groups[at])
        k = rng.randrange(len(wrong_group))
        wrong_group[k] = rng.choice([d for d in "0123456789" if d != wrong_group[k]])
        wrong = render_groups([*groups[:at], "".join(wrong_group)], style, rng)
        sep = " " if lang == "en" or written else "，"
        fix = rng.choice(CORRECTIONS[lang])
        said_fix = f", {fix}, " if lang == "en" else f"，{fix}"
        if form == "self-corrected group":
            text = sep.join(wrong) + said_fix + sep.join(texts[at:])
        else:
            text = sep.join(wrong) + said_fix + sep.join(texts)
    else:
        raise AssertionError(form)
    b.say("customer", lead, (text, item), tail)


def card_case(rng: random.Random, lang: str, scheme: str, form: str) -> Case:
    b = Builder(rng, lang)
    b.say("agent", rng.choice(GREETINGS[lang]))
    b.say("agent", rng.choice(CARD_ASK[lang]))
    number = make_card(rng, scheme)
    item = Item(f"card {scheme}", lang, PAN)
    item.collision = id_valid(number)  # a card that is also a valid ID (reported)
    say_card(b, number, form, item)
    b.say("agent", rng.choice(CLOSING[lang]))
    case = b.build()
    case.items[0].kind = f"card {scheme}|{form}"
    return case


def say_short(digits: str, lang: str, rng: random.Random) -> str:
    """A 3-4 digit number as written or spoken."""
    style = rng.choice(["digits", "spoken"])
    if style == "digits":
        return digits
    if lang == "en":
        return " ".join(en_digits(digits, rng))
    return zh_digits(digits, rng.random() < 0.6)


EXPIRY_SAID = {
    "en": ["expires {d}", "expiry {d}", "exp {d}", "valid thru {d}"],
    "zh": ["有效期{d}", "有效期是{d}", "到期{d}"],
}


def expiry_text(rng: random.Random, lang: str) -> str:
    month, year = rng.randint(1, 12), rng.randint(24, 35)
    form = rng.choice(["slash", "run", "spoken"])
    if form == "slash":
        return f"{month:02d}/{year}" if rng.random() < 0.8 else f"{month:02d}/20{year}"
    if form == "run":
        return f"{month:02d}{year}"
    if lang == "en":
        mm = ("oh " + EN_ONES[month]) if month < 10 else EN_TEENS_LIST[month - 10]
        yy = EN_TENS[year // 10] + ("" if year % 10 == 0 else " " + EN_ONES[year % 10])
        return f"{mm} {yy}"
    return zh_digits(f"{month:02d}{year}", False)


def cvv_case(rng: random.Random, lang: str, context: str) -> Case:
    b = Builder(rng, lang)
    b.say("agent", rng.choice(GREETINGS[lang]))
    scheme = rng.choice([s[0] for s in SCHEMES])
    number = make_card(rng, scheme)
    code = "".join(rng.choice("0123456789") for _ in range(4 if scheme == "amex" else 3))
    cvv = Item(f"cvv {context}", lang, CVV)
    card = Item(f"card {scheme}|with a CVV", lang, PAN)
    said_code = say_short(code, lang, rng)
    card_text = " ".join(card_groups(number, rng))
    sep = ", " if lang == "en" else "，"
    if context == "after a keyword":
        b.say("agent", rng.choice(CARD_ASK[lang]))
        b.say("customer", rng.choice(CARD_LEAD[lang]), (card_text, card))
        b.say("agent", rng.choice(CVV_ASK[lang]))
        if rng.random() < 0.5:
            b.say("customer", (said_code, cvv))
        else:
            lead = {"en": ["it's ", "uh, ", "the code is "], "zh": ["是", "嗯，", "安全码是"]}
            b.say("customer", rng.choice(lead[lang]), (said_code, cvv))
    elif context == "after a card":
        b.say("agent", rng.choice(CARD_ASK[lang]))
        joiner = {"en": [", ", ", and ", ", then "], "zh": ["，", "，然后", "，然后是"]}
        if rng.random() < 0.7:
            b.say(
                "customer",
                rng.choice(CARD_LEAD[lang]),
                (card_text, card),
                rng.choice(joiner[lang]),
                (said_code, cvv),
            )
        else:
            b.say("customer", rng.choice(CARD_LEAD[lang]), (card_text, card))
            b.say("customer", (said_code, cvv), gap=rng.uniform(0.3, 2.0))
    elif context == "after an expiry date":
        b.say("agent", rng.choice(CARD_ASK[lang]))
        expiry = rng.choice(EXPIRY_SAID[lang]).format(d=expiry_text(rng, lang))
        if rng.random() < 0.6:
            b.say(
                "customer",
                rng.choice(CARD_LEAD[lang]),
                (card_text, card),
                sep + expiry + sep,
                (said_code, cvv),
            )
        else:
            b.say("customer", rng.choice(CARD_LEAD[lang]), (card_text, card))
            b.say("agent", rng.choice(BACKCHANNEL[lang]))
            b.say("customer", expiry + sep, (said_code, cvv))
    elif context == "run on after a card (no pause)":
        # Card, (expiry date,) code said digit by digit in one breath: one run of digits.
        b.say("agent", rng.choice(CARD_ASK[lang]))
        month, year = rng.randint(1, 12), rng.randint(24, 35)
        expiry = f"{month:02d}{year}" if rng.random() < 0.3 else ""
        if lang == "en":
            parts = [" ".join(en_digits(p, rng)) for p in (number, expiry, code)]
            sep = " "
        else:
            yao = rng.random() < 0.6
            parts = [zh_digits(p, yao) for p in (number, expiry, code)]
            sep = ""
        middle = sep + parts[1] + sep if expiry else sep
        lead = {"en": ["my card number is ", "the card is "], "zh": ["卡号是", "银行卡号"]}
        b.say("customer", rng.choice(lead[lang]), (parts[0], card), middle, (parts[2], cvv))
    else:
        raise AssertionError(context)
    b.say("agent", rng.choice(CLOSING[lang]))
    return b.build()


ID_REGIONS = [
    "110101", "110105", "310101", "310115", "440103", "440305", "330106", "320102",
    "510104", "420106", "620102", "650102", "360102", "500103", "610113", "370202",
    "210102", "230103", "350203", "530102", "810000", "820000", "830000",
]  # fmt: skip


def make_id(rng: random.Random) -> str:
    year = rng.randint(1940, 2010)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    body = f"{rng.choice(ID_REGIONS)}{year}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
    return body + id_check_char(body)


def id_case(rng: random.Random, lang: str) -> Case:
    b = Builder(rng, lang)
    b.say("agent", rng.choice(GREETINGS[lang]))
    ask = {"en": "Can you confirm your ID number?", "zh": "请报一下您的身份证号码。"}
    b.say("agent", ask[lang])
    number = make_id(rng)
    item = Item("china id", lang, CHINA_ID)
    item.collision = scheme_valid(number)  # an ID that is also a valid card (reported)
    form = rng.choice(["run", "6-8-4", "spoken"])
    if form == "run":
        text = number
    elif form == "6-8-4":
        text = f"{number[:6]} {number[6:14]} {number[14:]}"
    elif lang == "zh":
        yao = rng.random() < 0.6
        text = zh_digits(number[:17], yao) + (
            "叉" if number[17] == "X" else zh_digits(number[17], yao)
        )
    else:
        text = " ".join(en_digits(number[:17], rng)) + (
            " X" if number[17] == "X" else " " + en_digit(number[17], rng)
        )
    lead = {"en": ["it's ", "my ID number is "], "zh": ["身份证号是", "号码是", ""]}
    b.say("customer", rng.choice(lead[lang]), (text, item))
    b.say("agent", rng.choice(CLOSING[lang]))
    case = b.build()
    case.items[0].kind = f"china id|{form}"
    return case


def rand_digits(rng: random.Random, n: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def negative_case(rng: random.Random, lang: str, kind: str) -> Case:
    """One look-alike number that must stay, in a sentence of its kind."""
    b = Builder(rng, lang)
    b.say("agent", rng.choice(GREETINGS[lang]))
    en = lang == "en"
    if kind == "order number":
        if rng.random() < 0.5:
            y, m, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
            digits = f"{y}{m:02d}{d:02d}" + rand_digits(rng, rng.randint(6, 10), "0123456789")
        else:
            digits = rand_digits(rng, rng.randint(10, 20))
        text, sentence = digits, ("my order number is {x}" if en else "订单号是{x}")
    elif kind == "tracking SF (12 digits)":
        digits = rand_digits(rng, 12)
        text, sentence = "SF" + digits, ("the SF tracking number is {x}" if en else "顺丰单号{x}")
    elif kind == "tracking EMS (13 chars)":
        digits = rand_digits(rng, 9, "0123456789")
        letters = rng.choice(["EA", "EB", "EE", "LK", "RR"])
        text, sentence = f"{letters}{digits}CN", ("EMS number {x}" if en else "EMS单号是{x}")
    elif kind == "tracking JD-like (18 digits)":
        digits = rand_digits(rng, 18)
        text, sentence = digits, ("the JD tracking number is {x}" if en else "京东快递单号{x}")
    elif kind == "phone +86 mobile":
        digits = "1" + rng.choice("3456789") + rand_digits(rng, 9, "0123456789")
        form = rng.choice(["run", "3-4-4", "+86", "spoken"])
        if form == "run":
            text = digits
        elif form == "3-4-4":
            text = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        elif form == "+86":
            text = f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
            digits = "86" + digits
        else:
            text = (
                ", ".join(
                    " ".join(en_digits(g, rng)) for g in (digits[:3], digits[3:7], digits[7:])
                )
                if en
                else zh_digits(digits, True)
            )
        sentence = "you can call me on {x}" if en else "我的手机号是{x}"
    elif kind == "phone US":
        area, mid, last = (
            rand_digits(rng, 3, "23456789"),
            rand_digits(rng, 3, "23456789"),
            rand_digits(rng, 4, "0123456789"),
        )
        digits = "1" + area + mid + last
        form = rng.choice(["(415) 555-0123", "+1 415 555 0123", "415-555-0123", "spoken"])
        if form == "(415) 555-0123":
            text = f"({area}) {mid}-{last}"
        elif form == "+1 415 555 0123":
            text = f"+1 {area} {mid} {last}"
        elif form == "415-555-0123":
            text = f"{area}-{mid}-{last}"
        else:
            text = ", ".join(" ".join(en_digits(g, rng)) for g in (area, mid, last))
        sentence = "my number is {x}" if en else "美国的电话是{x}"
    elif kind == "amount":
        value = rng.randint(100, 999999)
        cents = rng.randint(0, 99)
        digits = f"{value}{cents:02d}"
        form = rng.choice(["$1,234.56", "1234.56 dollars", "¥12,345", "一共350块"])
        if form == "$1,234.56":
            text = f"${value:,}.{cents:02d}"
        elif form == "1234.56 dollars":
            text = f"{value}.{cents:02d} dollars" if en else f"{value}.{cents:02d}元"
        elif form == "¥12,345":
            text = f"¥{value:,}"
        else:
            text = f"{value} dollars in total" if en else f"一共{value}块"
        sentence = "the charge was {x}" if en else "扣了{x}"
    elif kind == "date":
        y, m, d = rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28)
        digits = f"{y}{m:02d}{d:02d}"
        form = rng.choice(["iso", "us", "words"])
        if form == "iso":
            text = f"{y}-{m:02d}-{d:02d}"
        elif form == "us":
            text = f"{m:02d}/{d:02d}/{y}"
        else:
            text = f"{MONTHS[m - 1]} {d}, {y}" if en else f"{y}年{m}月{d}日"
        sentence = "that was on {x}" if en else "是{x}的事"
    elif kind == "account number":
        digits = rand_digits(rng, rng.randint(8, 17), "0123456789")
        text, sentence = digits, ("my account number is {x}" if en else "我的账号是{x}")
    elif kind.startswith("random 16 digits"):
        digits = "".join(rng.choice("0123456789") for _ in range(16))
        form = kind.split("|")[1]
        if form == "one run":
            text = digits
        elif form == "4-4-4-4":
            text = " ".join(digits[k : k + 4] for k in range(0, 16, 4))
        else:
            text = " ".join(en_digits(digits, rng)) if en else zh_digits(digits, rng.random() < 0.5)
        sentence = "the reference number is {x}" if en else "参考号是{x}"
    else:
        raise AssertionError(kind)
    item = Item(kind, lang, None)
    item.collision = scheme_valid(digits) or id_valid(digits)
    before, after = sentence.split("{x}")
    b.say("customer", before, (text, item), after)
    b.say("agent", rng.choice(CLOSING[lang]))
    return b.build()


def short_negative_case(rng: random.Random, lang: str, kind: str) -> Case:
    """A 3-4 digit number that is not a security code."""
    b = Builder(rng, lang)
    b.say("agent", rng.choice(GREETINGS[lang]))
    en = lang == "en"
    digits = rand_digits(rng, rng.choice([3, 4]))
    said = say_short(digits, lang, rng)
    item = Item(f"3-4 digits: {kind}", lang, None)
    if kind == "extension":
        sentence = (
            rng.choice(["please transfer me to extension {x}", "my extension is {x}"])
            if en
            else rng.choice(["请转分机{x}", "分机号是{x}"])
        )
        before, after = sentence.split("{x}")
        b.say("customer", before, (said, item), after)
    elif kind == "amount":
        sentence = (
            rng.choice(["I was charged {x} dollars", "the bill was ${x}"])
            if en
            else rng.choice(["扣了我{x}元", "一共{x}块"])
        )
        before, after = sentence.split("{x}")
        if "$" in before:
            said = digits
        b.say("customer", before, (said, item), after)
    elif kind == "quantity or time":
        sentence = (
            rng.choice(["I have {x} points", "it took {x} minutes", "room {x}"])
            if en
            else rng.choice(["我有{x}积分", "等了{x}分钟", "房间号{x}"])
        )
        before, after = sentence.split("{x}")
        b.say("customer", before, (said, item), after)
    elif kind == "amount right after a card":
        scheme = rng.choice([s[0] for s in SCHEMES])
        card = Item(f"card {scheme}|with an amount", lang, PAN)
        number = make_card(rng, scheme)
        b.say("agent", rng.choice(CARD_ASK[lang]))
        tail = (
            rng.choice(
                [", and I'd like to pay {x} dollars", ", please charge {x}", ", the amount is {x}"]
            )
            if en
            else rng.choice(["，我要付{x}元", "，充值{x}块", "，金额是{x}"])
        )
        before, after = tail.split("{x}")
        b.say(
            "customer",
            rng.choice(CARD_LEAD[lang]),
            (" ".join(card_groups(number, rng)), card),
            before,
            (said, item),
            after,
        )
    elif kind == "year after a card":
        scheme = rng.choice([s[0] for s in SCHEMES])
        card = Item(f"card {scheme}|with a year", lang, PAN)
        number = make_card(rng, scheme)
        digits = str(rng.randint(1990, 2024))
        b.say("agent", rng.choice(CARD_ASK[lang]))
        tail = ", I've had it since {x}" if en else "，从{x}年开始用的"
        before, after = tail.split("{x}")
        b.say(
            "customer",
            rng.choice(CARD_LEAD[lang]),
            (" ".join(card_groups(number, rng)), card),
            before,
            (digits, item),
            after,
        )
    else:
        raise AssertionError(kind)
    b.say("agent", rng.choice(CLOSING[lang]))
    return b.build()


NEGATIVE_KINDS = [
    "order number",
    "tracking SF (12 digits)",
    "tracking EMS (13 chars)",
    "tracking JD-like (18 digits)",
    "phone +86 mobile",
    "phone US",
    "amount",
    "date",
    "account number",
]
RANDOM_16 = ["random 16 digits|one run", "random 16 digits|4-4-4-4", "random 16 digits|spoken"]
SHORT_NEGATIVES = [
    "extension",
    "amount",
    "quantity or time",
    "amount right after a card",
    "year after a card",
]
CVV_CONTEXTS = [
    "after a keyword",
    "after a card",
    "after an expiry date",
    "run on after a card (no pause)",
]


def corpus(seed: int, scale: float) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []

    def n(base: int) -> int:
        return max(1, round(base * scale))

    for lang in ("en", "zh"):
        for scheme, _, _ in SCHEMES:
            for form in CARD_FORMS[lang]:
                cases += [card_case(rng, lang, scheme, form) for _ in range(n(15))]
        for context in CVV_CONTEXTS:
            cases += [cvv_case(rng, lang, context) for _ in range(n(300))]
        cases += [id_case(rng, lang) for _ in range(n(300))]
        for kind in NEGATIVE_KINDS:
            cases += [negative_case(rng, lang, kind) for _ in range(n(200))]
        for kind in RANDOM_16:
            cases += [negative_case(rng, lang, kind) for _ in range(n(400))]
        for kind in SHORT_NEGATIVES:
            cases += [short_negative_case(rng, lang, kind) for _ in range(n(200))]
    return cases


# --- scoring -------------------------------------------------------------------------------

_NUMBERISH = re.compile(r"[0-9０-９零〇一二三四五六七八九幺叉]")


def holds_digit(word: str) -> bool:
    if _NUMBERISH.search(word):
        return True
    return word.lower().strip(",.") in NUMBER_WORDS


@dataclass
class Outcome:
    redacted: bool
    tags: set[str]


def score(case: Case, out: Transcript) -> tuple[list[Outcome], list[tuple[str, bool]]]:
    """Per item: redacted and the tags over it; per tag word: (tag, right item under it)."""
    kept = {
        (w.text, w.start, w.end) for s in out.segments for w in s.words or () if w.text not in TAGS
    }
    tag_words = [
        (w.text, w.start, w.end) for s in out.segments for w in s.words or () if w.text in TAGS
    ]
    times: list[tuple[float, float]] = []
    outcomes = []
    for item in case.items:
        words = []
        for si, lo, hi in item.spans:
            seg = case.transcript.segments[si]
            for (w0, w1), word in zip(words_of(seg.text), seg.words or (), strict=True):
                if w0 < hi and lo < w1 and holds_digit(word.text):
                    words.append(word)
        start, end = min(w.start for w in words), max(w.end for w in words)
        times.append((start, end))
        redacted = all((w.text, w.start, w.end) not in kept for w in words)
        tags = {t for t, t0, t1 in tag_words if t0 < end and start < t1}
        outcomes.append(Outcome(redacted, tags))
    judged = []
    for tag, t0, t1 in tag_words:
        right = any(
            item.expected == tag and t0 < end and start < t1
            for item, (start, end) in zip(case.items, times, strict=True)
        )
        judged.append((tag, right))
    return outcomes, judged


def evaluate(cases: list[Case], redact: Callable[[Transcript], Transcript]) -> dict[str, object]:
    positives: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    negatives: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    precision: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        out = redact(case.transcript)
        outcomes, judged = score(case, out)
        for item, outcome in zip(case.items, outcomes, strict=True):
            if item.expected:
                for key in _positive_keys(item):
                    row = positives[key]
                    row[0] += 1
                    row[1] += outcome.redacted
                    row[2] += outcome.redacted and item.expected in outcome.tags
            else:
                row = negatives[(item.kind, item.lang)]
                row[0] += 1
                row[1] += outcome.redacted
                row[2] += item.collision
                row[3] += outcome.redacted and item.collision
        for tag, right in judged:
            for key in ((tag, case.transcript.language), (tag, "all")):
                precision[key][0] += 1
                precision[key][1] += right
    return {"positives": positives, "negatives": negatives, "precision": precision}


def _positive_keys(item: Item) -> list[tuple[str, str]]:
    if item.kind.startswith("card "):
        scheme, form = item.kind[5:].split("|")
        return [
            (f"card, scheme: {scheme}", item.lang),
            (f"card, form: {form}", item.lang),
            ("card, all", item.lang),
        ]
    if item.kind.startswith("china id"):
        return [(f"china id, {item.kind.split('|')[1]}", item.lang), ("china id, all", item.lang)]
    return [(item.kind, item.lang), ("cvv, all", item.lang)]


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:6.2f}%" if b else "     -"


def report(results: dict[str, object], title: str, brief: bool = False) -> None:
    positives = results["positives"]
    negatives = results["negatives"]
    precision = results["precision"]
    assert (
        isinstance(positives, dict) and isinstance(negatives, dict) and isinstance(precision, dict)
    )
    print(f"\n== {title}")
    print(f"{'positives':44s} {'lang':4s} {'n':>5s} {'recall':>8s} {'tag ok':>8s}")
    for (kind, lang), (n, redacted, tagged) in sorted(positives.items()):
        if brief and not kind.endswith("all") and not kind.startswith("cvv"):
            continue
        print(f"{kind:44s} {lang:4s} {n:5d} {pct(redacted, n):>8s} {pct(tagged, n):>8s}")
    print(
        f"\n{'negatives (false redaction)':44s} {'lang':4s} {'n':>5s} {'rate':>8s}"
        f" {'collide':>7s} {'w/o collisions':>14s}"
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (kind, lang), (n, redacted, collide, both) in sorted(negatives.items()):
        print(
            f"{kind:44s} {lang:4s} {n:5d} {pct(redacted, n):>8s} {collide:7d}"
            f" {pct(redacted - both, n - collide):>14s}"
        )
        for key in (lang, "all"):
            row = totals[key]
            row[0] += n
            row[1] += redacted
            row[2] += collide
            row[3] += both
    for lang, (n, redacted, collide, both) in sorted(totals.items()):
        print(
            f"{'all non-card numbers':44s} {lang:4s} {n:5d} {pct(redacted, n):>8s} {collide:7d}"
            f" {pct(redacted - both, n - collide):>14s}"
        )
    print(f"\n{'tag precision':44s} {'lang':4s} {'tags':>5s} {'right':>8s} {'prec.':>8s}")
    for (tag, lang), (n, right) in sorted(precision.items()):
        print(f"{tag:44s} {lang:4s} {n:5d} {right:8d} {pct(right, n):>8s}")


def load_baseline(ref: str) -> ModuleType | None:
    """The redactor of commit `ref`, with its own numbers module, as a temporary module."""
    try:
        redact = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:transcripts/redact.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        numbers = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:transcripts/numbers.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(no baseline: git cannot show {ref}: {exc})")
        return None
    folder = Path(tempfile.mkdtemp(prefix="redaction-baseline-"))
    (folder / "baseline_numbers.py").write_text(numbers, encoding="utf-8")
    redact = redact.replace("from transcripts.numbers import", "from baseline_numbers import")
    (folder / "baseline_redact.py").write_text(redact, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(
            "baseline_redact", folder / "baseline_redact.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def throughput(cases: list[Case], redact: Callable[[Transcript], Transcript]) -> float:
    segments = sum(len(c.transcript.segments) for c in cases)
    started = time.perf_counter()
    for case in cases:
        redact(case.transcript)
    return segments / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size factor")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median)")
    parser.add_argument(
        "--baseline", default=BASELINE, help="git ref of the old redactor ('' for none)"
    )
    args = parser.parse_args()

    from transcripts.redact import redact_transcript

    cases = corpus(args.seed, args.scale)
    segments = sum(len(c.transcript.segments) for c in cases)
    items = [i for c in cases for i in c.items]
    print(
        f"corpus: seed {args.seed}, {len(cases)} transcripts, {segments} segments, "
        f"{sum(1 for i in items if i.expected)} positives, "
        f"{sum(1 for i in items if not i.expected)} negatives"
    )
    cards = [i for i in items if i.expected == PAN]
    ids = [i for i in items if i.expected == CHINA_ID]
    print(
        f"cards that are also valid ID numbers: {sum(i.collision for i in cards)} of {len(cards)}; "
        f"ID numbers that are also valid cards: {sum(i.collision for i in ids)} of {len(ids)}"
    )
    old = load_baseline(args.baseline) if args.baseline else None
    if old is not None:
        report(
            evaluate(cases, old.redact_transcript),
            f"before (redactor of {args.baseline})",
            brief=True,
        )
    report(evaluate(cases, redact_transcript), "after (this working tree)")

    print(f"\nthroughput, segments/s, median of {args.runs} interleaved runs:")
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        if old is not None:
            timings["before"].append(throughput(cases, old.redact_transcript))
        timings["after"].append(throughput(cases, redact_transcript))
    for name, values in timings.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name:6s} {statistics.median(values):10.0f}   runs: {runs}")


if __name__ == "__main__":
    main()
