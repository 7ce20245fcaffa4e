"""Word-level alignment of English phrases: scores computed by hand.

Weights: function words 0.5, other words 1. Score = 1 - cost / total weight, where a
missing phrase word costs its weight, a matched one weight x (1 - similarity), an extra
window word inside the match 0.5 x its weight.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.alignment import align_score, word_similarity, word_weight
from scoring.normalize import normalize


def score(phrase: str, text: str) -> float:
    words = normalize(phrase).split()
    return align_score(words, [word_weight(w) for w in words], normalize(text).split())


@pytest.mark.parametrize(
    ("phrase", "text", "expected"),
    [
        # exact, inside a longer turn: free text before and after
        ("thank you for calling acme", "hi thank you for calling acme how are you", 1.0),
        # a distinctive word replaced by another: 1 - 1/4 (thank 1 you .5 for .5 choosing 1 acme 1)
        ("thank you for choosing acme", "thank you for calling acme telecom", 0.75),
        # one function word missing: 1 - 0.5/2
        ("my name is", "name is tom", 0.75),
        # contraction expanded by normalisation: exact
        ("my name is", "my name's tom", 1.0),
        # function word of the same kind (can/could): similarity 0.5 -> 1 - 0.25/3
        ("can you please confirm", "could you please confirm", 1 - 0.25 / 3),
        # a pronoun is not swapped for another: "your" does not say "my" -> 1 - 0.5/1.5
        ("my name", "your name", 1 - 0.5 / 1.5),
        # inflection: thanks/thank similarity 0.95 -> 1 - 0.05/1.5
        ("thank you", "thanks you", 1 - 0.05 / 1.5),
        # a split word is joined: "tele com" -> "telecom"
        ("acme telecom", "acme tele com", 1.0),
        # "four" (normalised to 4) for "for": spelled back, similarity 0.75 -> 1 - 0.125/1.5
        ("thank for", "thank four", 1 - 0.125 / 1.5),
        # an extra word inside the phrase: "so" (0.5) x 0.5 -> 1 - 0.25/2
        ("i am sorry", "i am so sorry", 0.875),
        # the near miss has "confirm" and "date" of eight words (weight 6): 1 - 4/6
        ("can you please confirm your date of birth", "i cannot confirm date right now", 1 / 3),
    ],
)
def test_alignment_scores_by_hand(phrase: str, text: str, expected: float) -> None:
    assert score(phrase, text) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("acme", "acme", 1.0),
        ("acme", "acne", 0.75),  # one letter of four
        ("calling", "choosing", 0.0),  # below MIN_WORD_SIMILARITY: a different word
        ("confirmed", "confirm", 0.95),  # same stem
        ("this", "that", 0.5),  # function words of one kind
        ("my", "your", 0.0),  # pronouns are not interchangeable
    ],
)
def test_word_similarity(a: str, b: str, expected: float) -> None:
    assert word_similarity(a, b) == pytest.approx(expected)


words = st.lists(st.sampled_from(["thank", "you", "for", "calling", "acme", "the", "4"]))


@given(phrase=words.filter(bool), text=words)
def test_score_is_a_share_and_exact_containment_is_full(phrase, text) -> None:
    weights = [word_weight(w) for w in phrase]
    assert 0.0 <= align_score(phrase, weights, text) <= 1.0
    assert align_score(phrase, weights, ["hello", *phrase, "bye"]) == pytest.approx(1.0)


@given(
    phrase=words.filter(bool),
    text=st.lists(st.sampled_from(["thanks", "you", "four", "colling", "acne", "a", "bill"])),
    floor=st.floats(0.0, 1.0),
)
def test_floor_only_drops_scores_below_it(phrase, text, floor) -> None:
    # The early exit is exact: a score at or above the floor is the full alignment's.
    weights = [word_weight(w) for w in phrase]
    full = align_score(phrase, weights, text)
    early = align_score(phrase, weights, text, floor=floor)
    if full >= floor + 1e-9:
        assert early == full
    elif full < floor - 1e-9:
        assert early in (0.0, full)


def test_floor_stops_an_unrelated_pair() -> None:
    phrase = normalize("thank you for calling acme telecom").split()
    weights = [word_weight(w) for w in phrase]
    text = normalize("my card was charged twice this month").split()
    assert align_score(phrase, weights, text, floor=0.64) == 0.0
    near = normalize("thanks for calling acne").split()
    assert align_score(phrase, weights, near, floor=0.64) == align_score(phrase, weights, near)
    assert align_score(phrase, weights, near) == pytest.approx(0.64)
