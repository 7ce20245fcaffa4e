"""What reviewers teach the key-point checker: their decisions' evidence as exemplars.

When a reviewer says the checker missed a key point and shows the line that said it,
that line is a *positive exemplar* of the key point: later calls are matched against it
as if it were one more phrase of the item, by every stage of the cascade (a reviewer's
wording is found by the string matchers, its meaning by the semantic stage). When a
reviewer says a hit was wrong, the line the checker matched is a *negative exemplar*
(`teaches_negative` says when): a later candidate for that key point that is more like
the rejected line's wording than like what found it is not a hit
(`scoring.keypoints`).

An exemplar is a transcript line, and a line often says several things ("Hi there!
Sorry for the wait. Please DM us your account number."). Only its sentence closest to
the key point's own phrases is used (`exemplar_phrase`): the sentence that says the key
point, or, for a rejected line, the one that fooled the checker. The rest of the line
would otherwise make any similar greeting a hit.

Nothing here reads a database: the application chooses which exemplars apply to a
script (`qm.domain.exemplars`), the checker takes them as plain values.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz

from scoring import result_notes
from scoring.matching import BatchMatcher, Matcher, semantic_parts
from scoring.normalize import normalize
from scoring.script import Script

# The method name of a match found through a positive exemplar (shown with the result).
EXEMPLAR_METHOD = "exemplar"
# The note on a key point whose every match was like a line a reviewer rejected.
REJECTED_NOTE = result_notes.REJECTED
# A match by the script's own words at least this close says the phrase nearly verbatim.
NEAR_VERBATIM = 0.9


@dataclass(frozen=True, slots=True)
class Exemplar:
    """A reviewer's evidence for one key point: a line that said it (`positive`), or a
    line the checker matched that did not (negative)."""

    item_id: str
    text: str
    positive: bool


@dataclass(frozen=True, slots=True)
class LearntPhrase:
    """The part of an exemplar the checker matches, with the key point it belongs to."""

    item_id: str
    text: str
    positive: bool


def teaches_negative(method: str, score: float) -> bool:
    """Whether a reviewer's "not said" on a match found by `method` with `score` makes
    the matched line a negative exemplar.

    Not when the line says the key point's own words (exactly, or by characters at
    least `NEAR_VERBATIM`): then the reviewer's answer is about when or in what order it
    was said (the checker took a wrong line for an earlier key point, say), not about
    the wording, and learning the wording as "not it" would veto every true one after.
    A line that only sounds like the phrase, means something like it, or is like a
    reviewer's line is the checker's error of wording, which is what is learnt.
    """
    return not (method == "exact" or (method == "fuzzy" and score >= NEAR_VERBATIM))


@lru_cache(maxsize=4096)
def _closeness_by_strings(phrases: tuple[str, ...], sentences: tuple[str, ...]) -> np.ndarray:
    """How much of a phrase each sentence shares at best (rapidfuzz's partial ratio)."""
    norms = [normalize(p) for p in phrases]
    return np.array(
        [max((fuzz.partial_ratio(p, normalize(s)) / 100 for p in norms), default=0.0)
         for s in sentences]
    )  # fmt: skip


def _closeness(
    phrases: Sequence[str], sentences: Sequence[str], matcher: Matcher | None
) -> np.ndarray:
    """Per sentence, its best closeness to any of the phrases."""
    if not phrases:
        return np.zeros(len(sentences))
    if isinstance(matcher, BatchMatcher):
        scores = np.asarray(matcher.similarities(list(phrases), list(sentences)))
        return np.asarray(scores.max(axis=0), dtype=np.float64)
    return _closeness_by_strings(tuple(phrases), tuple(sentences))


def exemplar_phrase(
    phrases: Sequence[str],
    text: str,
    matcher: Matcher | None = None,
    others: Sequence[str] = (),
) -> str:
    """The sentence of `text` that says the key point (all of a one-sentence line).

    Of a line of several sentences (a chat agent's quick messages, say), the one closest
    to the key point's `phrases` and least like the script's `others` (the other key
    points' phrases): "请问还有其他可以帮您的吗" in a line marked for the closing is the
    anything-else question, not the closing. Closeness is the semantic matcher's
    similarity when it scores in batches, else the characters a sentence shares.
    """
    parts = semantic_parts(text)
    sentences = parts[1:] if len(parts) > 1 else parts
    if len(sentences) == 1 or not phrases:
        return sentences[0]
    own = _closeness(phrases, sentences, matcher)
    elsewhere = _closeness(others, sentences, matcher)
    return sentences[int(np.argmax(own - elsewhere))]


def others_of(script: Script, item_id: str) -> tuple[str, ...]:
    """The phrases of the script's other key points and forbidden rules than `item_id`."""
    phrases = [p for kp in script.key_points if kp.id != item_id for p in kp.phrases]
    phrases += [p for rule in script.forbidden for p in rule.phrases]
    return tuple(phrases)


def learnt_phrases(
    script: Script, exemplars: Sequence[Exemplar], matcher: Matcher | None = None
) -> tuple[LearntPhrase, ...]:
    """The phrases `exemplars` add to `script`'s key points, each once.

    Exemplars of items the script has no key point for (an item since removed) are left
    out, and so is a positive exemplar that is already one of the item's phrases.
    """
    by_id = {kp.id: kp for kp in script.key_points}
    out: dict[tuple[str, str, bool], LearntPhrase] = {}
    for exemplar in exemplars:
        kp = by_id.get(exemplar.item_id)
        if kp is None or not normalize(exemplar.text):
            continue
        text = exemplar_phrase(kp.phrases, exemplar.text, matcher, others_of(script, kp.id))
        if exemplar.positive and normalize(text) in {normalize(p) for p in kp.phrases}:
            continue
        key = (kp.id, normalize(text), exemplar.positive)
        out.setdefault(key, LearntPhrase(kp.id, text, exemplar.positive))
    return tuple(out.values())
