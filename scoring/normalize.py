"""Text normalisation shared by key-point matching and courtesy counting.

Both the script's phrases and the transcript go through the same steps, so that what
ASR or a person wrote differently but means the same compares equal:

- Unicode NFKC (full-width letters, digits and punctuation become half-width), lower case;
- punctuation removed;
- English contractions expanded ("name's" -> "name is", "can't" -> "cannot");
- numbers made canonical digits: "seven", "twenty one", "七", "三十" and "7" all compare
  by value (Chinese digit strings read one by one, such as "三零二一", become "3021");
- hesitation fillers dropped (uh, um, 嗯, 呃 ...).

English is compared word by word; Chinese character by character with spaces removed.
"""

import re
import unicodedata
from functools import lru_cache

CONTRACTIONS = {
    "can't": "cannot",
    "won't": "will not",
    "n't": " not",
    "'re": " are",
    "'m": " am",
    "'ll": " will",
    "'ve": " have",
    "'d": " would",
    "'s": " is",
}
FILLERS_EN = frozenset({"uh", "um", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm", "uhh", "umm"})
FILLERS_ZH = "嗯呃额唔"
_UNITS_EN = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS_EN = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES_EN = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_ZH_NUMBER = re.compile(f"[{''.join(_ZH_DIGITS)}{''.join(_ZH_UNITS)}]+")
_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_chinese(text: str) -> bool:
    """True when `text` contains CJK characters."""
    return _CJK.search(text) is not None


def _english_numbers(words: list[str]) -> list[str]:
    """Replace runs of number words by their value in digits ("twenty one" -> "21")."""
    out: list[str] = []
    total = current = 0
    in_number = False

    def flush() -> None:
        nonlocal total, current, in_number
        if in_number:
            out.append(str(total + current))
        total = current = 0
        in_number = False

    for word in words:
        if word in _UNITS_EN and not (word == "oh" and not in_number):
            # "oh" only counts as zero inside a number ("four oh two").
            unit = _UNITS_EN[word]
            if in_number and current >= 100 and current % 100 == 0:
                current += unit  # "two hundred ten"
            elif in_number and current >= 20 and current % 10 == 0 and unit < 10:
                current += unit  # "twenty one"
            elif in_number and current:
                current = current * 10 + unit  # digits read one by one: "four one one"
            else:
                current += unit
            in_number = True
        elif word in _TENS_EN:
            tens = _TENS_EN[word]
            if in_number and current and current % 100 != 0:
                current = current * 100 + tens  # "nineteen eighty"
            else:
                current += tens
            in_number = True
        elif word in _SCALES_EN and in_number:
            scale = _SCALES_EN[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        elif word.isdigit():
            flush()
            out.append(word)
        else:
            flush()
            out.append(word)
    flush()
    return out


def _chinese_number(run: str) -> str:
    """A run of Chinese numerals as digits: "三十" -> "30", "三零二一" -> "3021"."""
    if not any(ch in _ZH_UNITS for ch in run):
        return "".join(str(_ZH_DIGITS[ch]) for ch in run)
    total = section = digit = 0
    for ch in run:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch == "万":
            total += (section + digit) * 10_000
            section = digit = 0
        else:
            section += max(digit, 1 if ch == "十" else digit) * _ZH_UNITS[ch]
            digit = 0
    return str(total + section + digit)


def _expand_contractions(text: str) -> str:
    for short, full in CONTRACTIONS.items():
        if short in text:
            text = text.replace(short, full)
    return text


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """The canonical form of `text` (see the module docstring); cached."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    if is_chinese(text):
        text = _ZH_NUMBER.sub(lambda m: _chinese_number(m.group()), text)
        text = _PUNCT.sub(" ", text)
        text = "".join(ch for ch in text if ch not in FILLERS_ZH)
        # Chinese compares character by character; keep single spaces only between
        # runs of Latin letters or digits.
        text = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text)
        return re.sub(r"\s+", " ", text).strip()
    text = _expand_contractions(text)
    text = _PUNCT.sub(" ", text).replace("'", " ")
    words = [w for w in text.split() if w not in FILLERS_EN]
    return " ".join(_english_numbers(words))


def tokens(text: str) -> list[str]:
    """Normalised tokens: words for English, characters (and Latin words) for Chinese."""
    norm = normalize(text)
    if not is_chinese(norm):
        return norm.split()
    out: list[str] = []
    for part in re.findall(r"[a-z0-9]+|\S", norm):
        out.append(part)
    return out
