"""Word and character error rates (jiwer) with a documented normalisation.

Normalisation, applied to reference and hypothesis alike:

1. Unicode NFKC: full-width letters, digits and punctuation become ASCII (``ＡＢＣ１２`` ->
   ``ABC12``), ideographic space becomes a space.
2. Lower case.
3. Numbers written with digits become words in the text's language: ``10`` -> ``ten``
   (English, cardinal, no "and"), ``105`` -> ``一百零五`` (Chinese). Digit groups such as
   ``4111 1111`` are read group by group; digits inside words (``mp3``) are left alone.
4. Punctuation and symbols are removed (apostrophes inside words are kept: ``don't``).
5. Whitespace is collapsed.

Chinese is scored on characters: WER on Chinese text (written without spaces) would count
whole sentences as single words, so for ``zh`` the headline figure is the CER and the WER is
computed over the same characters.
"""

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jiwer

from transcripts.format import Transcript
from transcripts.numbers import number_to_chinese, number_to_english

_CJK = re.compile(r"[\u3400-\u9fff]")
_NUMBER = re.compile(r"(?<![a-z0-9])\d+(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class ErrorCounts:
    """One error rate with the alignment counts behind it."""

    rate: float
    substitutions: int
    deletions: int
    insertions: int
    hits: int

    @property
    def reference_length(self) -> int:
        """Words (or characters) in the reference: substitutions + deletions + hits."""
        return self.substitutions + self.deletions + self.hits


@dataclass(frozen=True, slots=True)
class WerReport:
    """WER and CER of a hypothesis against a reference.

    Attributes:
        language: ``en`` or ``zh`` (decides normalisation and the headline figure).
        wer: word error rate (for zh: over characters, equal to the CER).
        cer: character error rate, spaces excluded.
        reference: the normalised reference.
        hypothesis: the normalised hypothesis.
    """

    language: str
    wer: ErrorCounts
    cer: ErrorCounts
    reference: str
    hypothesis: str

    @property
    def headline(self) -> float:
        """The figure to report: WER for English, CER for Chinese."""
        return self.cer.rate if self.language == "zh" else self.wer.rate


def detect_language(text: str) -> str:
    """``zh`` when a fifth or more of the letters are CJK ideographs, else ``en``."""
    letters = [c for c in text if c.isalpha()]
    cjk = sum(1 for c in letters if _CJK.match(c))
    return "zh" if letters and cjk * 5 >= len(letters) else "en"


def normalize_text(text: str, language: str = "en") -> str:
    """Apply the module's normalisation (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    to_words = number_to_chinese if language == "zh" else number_to_english

    def spell(match: re.Match[str]) -> str:
        digits = match.group()
        if len(digits) > 8 or (len(digits) > 1 and digits.startswith("0")):
            # Phone/card-style digit strings are read digit by digit.
            return " ".join(to_words(int(d)) for d in digits)
        return f" {to_words(int(digits))} "

    text = _NUMBER.sub(spell, text)
    chars = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        inner_apostrophe = ch == "'" and 0 < i < len(text) - 1 and text[i - 1].isalnum()
        if category[0] in "PS" and not inner_apostrophe:
            chars.append(" ")
        else:
            chars.append(ch)
    return " ".join("".join(chars).split())


def _counts(reference: list[str], hypothesis: list[str]) -> ErrorCounts:
    # jiwer 4 takes an empty reference: every hypothesis word is an insertion and the
    # rate is their number (a finite figure that JSON can carry).
    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    return ErrorCounts(out.wer, out.substitutions, out.deletions, out.insertions, out.hits)


def wer_report(reference: str, hypothesis: str, *, language: str | None = None) -> WerReport:
    """Compare a hypothesis with a reference after normalisation.

    Args:
        reference: the correct text.
        hypothesis: the recogniser's text.
        language: ``en`` or ``zh``; detected from the reference when None.

    Returns:
        WER and CER with substitution, deletion, insertion and hit counts. With an empty
        reference the rate is the number of inserted words (characters), as jiwer 4
        counts it: 0 for an empty hypothesis.
    """
    language = language or detect_language(reference)
    ref = normalize_text(reference, language)
    hyp = normalize_text(hypothesis, language)
    ref_chars = [c for c in ref if not c.isspace()]
    hyp_chars = [c for c in hyp if not c.isspace()]
    cer = _counts(ref_chars, hyp_chars)
    wer = cer if language == "zh" else _counts(ref.split(), hyp.split())
    return WerReport(language, wer, cer, ref, hyp)


def transcript_text(transcript: Transcript, speaker: str | None = None) -> str:
    """The transcript's words in time order, optionally of one speaker only."""
    return " ".join(s.text for s in transcript.segments if speaker in (None, s.speaker))


def transcript_wer(
    reference: Transcript, hypothesis: Transcript, *, speaker: str | None = None
) -> WerReport:
    """WER of an engine's transcript against a reviewer's corrected transcript of the same call.

    Args:
        reference: the corrected transcript.
        hypothesis: the engine's transcript.
        speaker: compare one speaker's words only (``agent``, ``customer``).
    """
    return wer_report(
        transcript_text(reference, speaker),
        transcript_text(hypothesis, speaker),
        language=reference.language,
    )


def read_text_or_transcript(value: str) -> tuple[str, str | None]:
    """A WER input: a transcript JSON file, a text file, or the text itself.

    Returns:
        The text and, for a transcript file, its language.
    """
    path = Path(value)
    try:
        is_file = len(value) < 4096 and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        return value, None
    if path.suffix.lower() == ".json":
        from transcripts.format import load_transcript

        transcript = load_transcript(path)
        return transcript_text(transcript), transcript.language
    return path.read_text(encoding="utf-8"), None
