"""Word-level alignment of an English phrase inside a stretch of speech.

Character similarity alone (rapidfuzz's `partial_ratio`) is lenient with a phrase whose
one distinctive word was replaced by another: "thank you for choosing acme" and "thank
you for calling acme" share most of their letters but say different things. So the
fuzzy score of an English phrase comes from aligning it word by word inside the window,
with free text before and after it, at these costs:

- a phrase word matched by a window word costs its weight times (1 - similarity), the
  similarity being the two words' character similarity, so that a sound-alike ASR
  substitution ("acne" for "acme") stays cheap, and counting as 0 below
  `MIN_WORD_SIMILARITY` (a different word is a missing word);
- a phrase word missing costs its weight;
- an extra window word inside the match costs `INSERT_COST` times its weight;
- two window words that together make a phrase word are read as one ("tele com");
- inflections of one word ("thank", "thanks") are nearly the same word, and a function
  word may stand for another of its kind ("could" for "can") at half similarity.

Function words (the, you, for, is ...) weigh `FUNCTION_WEIGHT`, other words 1. The score,
1 - cost / total weight of the phrase, says how much of what the phrase says was said.
"""

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from rapidfuzz.distance import Levenshtein

MIN_WORD_SIMILARITY = 0.6
FUNCTION_WEIGHT = 0.5
INSERT_COST = 0.5
# "thanks" for "thank", "confirmed" for "confirm": the same word, nearly.
STEM_SIMILARITY = 0.95
# Small numbers, which normalisation writes as digits, spelled out again.
SPELLED = dict(enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven"]))
# Function words by kind. One may stand for another of its kind ("could you" for "can
# you", "this is" for "that is") at FUNCTION_SWAP similarity; pronouns are left out on
# purpose, since "your name is" does not say "my name is". Negations are not function
# words: "not" turns a phrase round.
FUNCTION_KINDS = (
    frozenset({"a", "an", "the", "this", "that", "these", "those", "some", "any", "all"}),
    frozenset({
        "can", "could", "will", "would", "shall", "should", "may", "might", "must", "do",
        "does", "did", "is", "am", "are", "was", "were", "be", "been", "have", "has", "had",
    }),
    frozenset({"to", "of", "in", "on", "at", "for", "from", "by", "with", "about", "as", "into"}),
)  # fmt: skip
PRONOUNS = frozenset({
    "i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her",
    "it", "its", "they", "them", "their",
})  # fmt: skip
OTHER_FUNCTION_WORDS = frozenset({
    "and", "or", "but", "so", "if", "then", "than", "there", "here", "just", "very", "too",
    "also", "what", "which", "who", "when", "where", "how", "why",
})  # fmt: skip
FUNCTION_WORDS = frozenset().union(*FUNCTION_KINDS, PRONOUNS, OTHER_FUNCTION_WORDS)
FUNCTION_SWAP = 0.5
_KIND = {word: i for i, kind in enumerate(FUNCTION_KINDS) for word in kind}


def word_weight(word: str) -> float:
    """How much a word counts toward a phrase: function words less than the rest."""
    return FUNCTION_WEIGHT if word in FUNCTION_WORDS else 1.0


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=1 << 17)
def word_similarity(a: str, b: str) -> float:
    """Character similarity of two words in [0, 1]; 0 when they are too different.

    A small number normalised to digits is compared by its spelling with a word, since
    ASR writes "for" as "four" and "to" as "two" (which normalisation makes 4 and 2).
    """
    if a == b:
        return 1.0
    if _stem(a) == _stem(b):
        return STEM_SIMILARITY
    if a in _KIND and _KIND[a] == _KIND.get(b):
        return FUNCTION_SWAP
    if a.isdigit() != b.isdigit():
        a, b = (
            SPELLED.get(int(a), a) if a.isdigit() else a,
            SPELLED.get(int(b), b) if b.isdigit() else b,
        )
    score = float(Levenshtein.normalized_similarity(a, b))
    return score if score >= MIN_WORD_SIMILARITY else 0.0


def align_score(
    phrase: Sequence[str], weights: Sequence[float], text: Sequence[str], *, floor: float = 0.0
) -> float:
    """Score in [0, 1] of the best weighted alignment of the whole `phrase` inside `text`.

    Args:
        phrase: the phrase's normalised words.
        weights: the weight of each phrase word (see `word_weight`).
        text: the window's normalised words.
        floor: scores below this are not needed: return 0.0 as soon as the score is known
            to stay below it. Every alignment spends on each phrase word at least its
            cheapest match in the window (or its weight when missing, which is never
            cheaper), so the sum of those minima bounds the cost from below; most pairs
            that pass the character screen are rejected this way before the alignment.
    """
    total = sum(weights)
    if not phrase or not text or total <= 0:
        return 0.0
    text = _join_split_words(phrase, text)
    similarity = word_similarity
    # The margin keeps a score that lands exactly on `floor` (after rounding) computed.
    most_cost = (1.0 - floor) * total + 1e-9
    least_cost = 0.0
    rows: list[list[float]] = []
    for word, weight in zip(phrase, weights, strict=True):
        matched = [weight * (1.0 - similarity(word, other)) for other in text]
        least_cost += min(matched)
        if least_cost > most_cost:
            return 0.0
        rows.append(matched)
    inserted = [INSERT_COST * word_weight(t) for t in text]
    # row[j]: the cheapest alignment of the phrase so far that ends just before text[j];
    # before the first phrase word it is free everywhere, so the phrase may start anywhere.
    row = [0.0] * (len(text) + 1)
    for matched, weight in zip(rows, weights, strict=True):
        up, row = row, [row[0] + weight]
        best = row[0]
        for j, cost in enumerate(matched):
            best_here = up[j] + cost  # matched, well or badly
            missing = up[j + 1] + weight
            if missing < best_here:
                best_here = missing
            extra = best + inserted[j]  # best is row[j]
            best = extra if extra < best_here else best_here
            row.append(best)
    return max(0.0, 1.0 - min(row) / total)


def _join_split_words(phrase: Sequence[str], text: Sequence[str]) -> Sequence[str]:
    """Join two window words that together make a phrase word ("tele com" -> "telecom")."""
    wanted = set(phrase)
    if not any(a + b in wanted for a, b in pairwise(text)):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if i + 1 < len(text) and text[i] + text[i + 1] in wanted:
            out.append(text[i] + text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return out
