"""Finding a script phrase in a transcript despite ASR errors: the matcher cascade.

For every phrase and every window of the transcript (one utterance, or two consecutive
utterances of the same speaker, so that a phrase split across segments is found):

1. **exact**: the normalised phrase occurs in the normalised window (score 1.0);
2. **fuzzy**: for English, a word-by-word alignment of the whole phrase in the window
   (`scoring.alignment`: sound-alike words are cheap, a different or missing word costs
   its weight, function words weigh less), so that a line sharing a few words with the
   phrase but saying something else stays low; for Chinese, rapidfuzz's character
   alignment (`partial_ratio`), scaled down when the window is shorter than the phrase.
   rapidfuzz's `partial_ratio` also screens every pair first, so that only pairs with
   something in common are aligned;
3. **pinyin** (Chinese): the same alignment over toneless pinyin, so that homophones
   written with the wrong character (清问 for 请问) still match;
4. **semantic**: a pluggable `Matcher` for paraphrases (by default USE multilingual v3,
   `scoring.semantic`), used when one is configured; nothing else depends on it. A
   `BatchMatcher` scores all phrases against the call's single utterances of the
   speakers that matter in one matrix (`semantic_speakers`), and also vetoes sound-alike
   matches: a pinyin match does not count where the semantic stage scores the window 0
   (a cosine at or below its "unrelated" anchor) or where another phrase is a semantic
   hit there by a clear margin (`MEANS_ELSE_MARGIN`), because a line that sounds like
   the phrase but means something else ("不客气滴 请问还有其他可以帮到您的吗" against the
   opening "您好 请问有什么可以帮您") is exactly what pinyin cannot tell apart. A line of
   several sentences is also read sentence by sentence (`semantic_parts`).

Every match other than the exact phrase must also agree with the phrase on negation and
on "done" against a promise (`cues_agree`, a small bilingual cue list).

Each (phrase, window) gets its best score and the method that found it. Whether that
counts as a hit, an uncertain match or nothing is decided by length-aware thresholds:
short phrases must match almost exactly, long ones may carry a few ASR errors.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from scoring.alignment import align_score, word_weight
from scoring.normalize import is_chinese, normalize, tokens
from scoring.script import Script
from scoring.transcript import Utterance

# Below this char-level score a pair is not considered at all (keeps cdist sparse).
FLOOR = 0.5
# Width of the "uncertain" band below each hit threshold.
UNCERTAIN_BAND = 0.12
# The word alignment of an English phrase is tried only where rapidfuzz's character
# screen is at least this close to the uncertain band. On the dev set the alignment
# never scored more than 0.10 above the screen (41,482 pairs), so nothing is lost.
ALIGN_MARGIN = 0.12
# Two segments of one speaker are read as one stretch of speech only when the pause
# between them is at most this long (a phrase is not said across a minute of silence).
PAIR_GAP_SECONDS = 3.0
# The sound-alike veto's second test: a pinyin match does not count when another phrase
# of the script is a semantic hit in the same line and scores this much more there (the
# line means that other thing; one that merely shares words with both scores close).
MEANS_ELSE_MARGIN = 0.25

# Cues that a sound-alike or meaning match is blind to (a line sounds like, or embeds
# next to, its own negation or its own promise). A match other than the exact phrase
# needs the phrase and the line to agree on negation, and a phrase that says something
# is done ("已经为您处理好了", "already updated") needs a line that says so too, not a
# promise ("方便查询更快为您处理", "I will update it"). English is matched on normalised
# words (contractions already expanded: "can't" -> "cannot"; "done" also from an
# auxiliary before a participle in -ed, "have verified"); Chinese on characters,
# less the common words where the character does not negate (不客气, 不好意思, 不便...).
NEGATION_WORDS = frozenset({"not", "never", "cannot", "unable", "nothing", "nobody"})
NEGATION_ZH = ("不", "没", "别", "未", "无法")
NOT_NEGATION_ZH = (
    "不客气", "不好意思", "不便", "不用谢", "不过", "不仅", "不断", "不然", "不错",
    "没关系", "没问题", "无论",
    # "Don't forget to ..." asks for it; "don't mention it" is a courtesy.
    "别忘", "不要忘", "别客气", "不用客气",
)  # fmt: skip
COMPLETION_WORDS = frozenset({"already", "done", "completed", "finished"})
# "have verified", "is updated": an auxiliary before a past participle says it is done.
PERFECT_AUXILIARIES = frozenset({"have", "has", "had", "is", "are", "was", "were", "been"})
COMPLETION_ZH = ("已", "好了", "完成", "办好", "搞定")


class Matcher(Protocol):
    """A semantic matcher for paraphrases (e.g. a local sentence-embedding model).

    It is asked only about pairs that the string matchers left below the hit threshold,
    but then about every such pair of a call, so an embedding model should cache each
    text's vector (the same phrase and window come back many times). Its score is held
    to the same length-aware thresholds and uncertain band as the others, so it must be
    calibrated: 1.0 means "says the same", and a paraphrase should clear 0.75 - 0.95.
    """

    name: str

    def similarity(self, phrase: str, text: str, language: str) -> float:
        """Similarity in [0, 1] between a script phrase and a transcript window (raw text)."""
        ...


@runtime_checkable
class BatchMatcher(Matcher, Protocol):
    """A `Matcher` that also scores many phrases against many texts at once."""

    def similarities(self, phrases: Sequence[str], texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Calibrated similarities, a (phrases x texts) matrix in [0, 1]."""
        ...


def semantic_speakers(script: Script) -> frozenset[str]:
    """The speakers whose lines can satisfy some item of the script.

    Forbidden phrases count only from the agent; a key point from its `speaker`, or
    from anyone. The semantic stage reads only these speakers' lines.
    """
    speakers = {"agent"} if script.forbidden else set()
    for kp in script.key_points:
        if kp.speaker == "any":
            return frozenset({"agent", "customer", "unknown"})
        speakers.add(kp.speaker)
    return frozenset(speakers)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A script phrase prepared once for matching."""

    text: str
    norm: str
    chinese: bool
    threshold: float
    words: tuple[str, ...]
    weights: tuple[float, ...]
    pinyin: str


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of one speaker's speech: one utterance or two in a row."""

    first: int
    last: int
    speaker: str
    start: float
    end: float
    text: str
    norm: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    """The best score of one phrase in one window."""

    window: Window
    phrase_index: int
    score: float
    method: str


def hit_threshold(phrase_norm: str) -> float:
    """Score needed for a hit: the shorter the phrase, the closer to exact."""
    length = len(tokens(phrase_norm))
    # (up to N tokens, threshold). Chinese counts characters and is scored by character
    # alignment: one or two characters must match exactly in effect, longer phrases may
    # carry a few ASR substitutions. English counts words and is scored by weighted word
    # alignment (function words weigh half): one or two words must be there (up to
    # inflection); three or four may lose one function word ("my name sarah"); five to
    # seven may not lose a content word (1 of a weight of 4 leaves 0.75); longer phrases
    # may lose about a quarter of their weight to ASR errors.
    if is_chinese(phrase_norm):
        steps, longest = ((2, 0.97), (4, 0.82), (7, 0.75)), 0.70
    else:
        steps, longest = ((2, 0.95), (4, 0.75), (7, 0.76)), 0.72
    for limit, threshold in steps:
        if length <= limit:
            return threshold
    return longest


@lru_cache(maxsize=65536)
def cues(norm: str) -> tuple[bool, bool]:
    """Whether normalised text negates, and whether it says something is done."""
    if is_chinese(norm):
        bare = norm
        for idiom in NOT_NEGATION_ZH:
            bare = bare.replace(idiom, " ")
        return (
            any(c in bare for c in NEGATION_ZH),
            any(c in norm for c in COMPLETION_ZH),
        )
    words = norm.split()
    done = bool(set(words) & COMPLETION_WORDS) or any(
        aux in PERFECT_AUXILIARIES and participle.endswith("ed")
        for aux, participle in pairwise(words)
    )
    return bool(set(words) & NEGATION_WORDS), done


def cues_agree(phrase_norm: str, text_norm: str) -> bool:
    """Whether a line may say a phrase by its cues: the same negation, and done if it is."""
    negated, done = cues(phrase_norm)
    said_negated, said_done = cues(text_norm)
    return negated == said_negated and (said_done or not done)


@lru_cache(maxsize=8192)
def prepare(text: str) -> Phrase:
    """Normalise a script phrase once: its form, threshold, weighted words and pinyin."""
    norm = normalize(text)
    chinese = is_chinese(norm)
    words = () if chinese else tuple(norm.split())
    return Phrase(
        text=text,
        norm=norm,
        chinese=chinese,
        threshold=hit_threshold(norm),
        words=words,
        weights=tuple(word_weight(w) for w in words),
        pinyin=pinyin(norm) if chinese else "",
    )


def windows(utterances: Sequence[Utterance]) -> list[Window]:
    """Single utterances plus each pair of consecutive, close utterances by one speaker."""
    out = []
    for i, u in enumerate(utterances):
        norm = normalize(u.text)
        out.append(Window(i, i, u.speaker, u.start, u.end, u.text, norm, tuple(norm.split())))
    for i in range(len(utterances) - 1):
        a, b = utterances[i], utterances[i + 1]
        if a.speaker == b.speaker and b.start - a.end <= PAIR_GAP_SECONDS:
            joiner = "" if is_chinese(a.text) else " "
            first, second = out[i], out[i + 1]
            out.append(
                Window(
                    i,
                    i + 1,
                    a.speaker,
                    a.start,
                    b.end,
                    f"{a.text}{joiner}{b.text}",
                    f"{first.norm}{joiner}{second.norm}".strip(),
                    first.words + second.words,
                )
            )
    return out


@lru_cache(maxsize=65536)
def pinyin(norm: str) -> str:
    """Toneless pinyin of normalised Chinese text, syllables separated by spaces."""
    return " ".join(lazy_pinyin(norm))


def _contains(phrase: str, text: str, chinese: bool) -> bool:
    if chinese:
        return phrase in text
    return f" {phrase} " in f" {text} "


def _coverage(phrase: str, text: str, raw: float) -> float:
    # partial_ratio aligns the shorter string inside the longer one; when the window is
    # the shorter, a fragment of the phrase would score high, so scale by coverage.
    score = raw / 100
    if len(text) < len(phrase):
        score *= len(text) / len(phrase)
    return score


def _fuzzy(phrase: Phrase, window: Window, raw: float, *, sound: bool = True) -> tuple[float, str]:
    if not phrase.chinese:
        # The word alignment is dearer than rapidfuzz's character screen and does not
        # score more than ALIGN_MARGIN above it: skip pairs that cannot reach the band.
        if raw / 100 < phrase.threshold - UNCERTAIN_BAND - ALIGN_MARGIN:
            return 0.0, ""
        # Below the uncertain band a score decides nothing: let the alignment stop early.
        floor = phrase.threshold - UNCERTAIN_BAND
        return align_score(phrase.words, phrase.weights, window.words, floor=floor), "fuzzy"
    best, method = _coverage(phrase.norm, window.norm, raw), "fuzzy"
    if sound and best < phrase.threshold:
        py_text = pinyin(window.norm)
        py_score = _coverage(phrase.pinyin, py_text, fuzz.partial_ratio(phrase.pinyin, py_text))
        # A pinyin match is weaker evidence than the characters themselves.
        py_score *= 0.98
        if py_score > best:
            best, method = py_score, "pinyin"
    return best, method


def _semantic_matrix(
    matcher: BatchMatcher,
    phrases: Sequence[Phrase],
    wins: Sequence[Window],
    speakers: frozenset[str] | None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Semantic scores of every phrase in every window it reads, and which windows those are.

    Only single utterances by `speakers` (None: anyone) are read; a text said twice in
    a call is embedded once.
    """
    # A line with no words (silence marks, punctuation) is not read: an empty text still
    # gets a vector, and it sits near everything.
    read = np.array(
        [
            w.first == w.last and bool(w.norm) and (speakers is None or w.speaker in speakers)
            for w in wins
        ]
    )
    parts = {i: semantic_parts(wins[i].text) for i, r in enumerate(read) if r}
    texts = list(dict.fromkeys(t for ts in parts.values() for t in ts))
    matrix = np.zeros((len(phrases), len(wins)), dtype=np.float32)
    if texts:
        scored = matcher.similarities([p.text for p in phrases], texts)
        column = {t: i for i, t in enumerate(texts)}
        for i, ts in parts.items():
            # A line is as close to a phrase as its closest sentence (or itself).
            matrix[:, i] = scored[:, [column[t] for t in ts]].max(axis=1)
    return matrix, read


# Where a line breaks into sentences: end punctuation, and in Chinese also the spaces
# that join a chat agent's quick messages or an ASR engine's phrases.
_SENTENCE_END = re.compile(r"(?<=[.!?;~…])\s+|[。！？；~…\n]+")
_ZH_SPACE = re.compile(r"(?<=[\u4e00-\u9fff?？~])\s+(?=[\u4e00-\u9fff])")


@lru_cache(maxsize=65536)
def semantic_parts(text: str) -> tuple[str, ...]:
    """The texts the semantic stage embeds for one line: the line, and each of its
    sentences when it has several (a long line's vector is an average that a short
    phrase said in one sentence of it does not come close to)."""
    pieces = [p.strip() for part in _SENTENCE_END.split(text) for p in _ZH_SPACE.split(part)]
    sentences = [p for p in pieces if len(normalize(p)) >= 2]
    return (text, *sentences) if len(sentences) > 1 else (text,)


def _screen(
    phrases: Sequence[Phrase], wins: Sequence[Window], cutoff: float, scorer: Any
) -> npt.NDArray[Any]:
    """rapidfuzz's `scorer` of every phrase against every window, 0 below `cutoff`."""
    if not phrases:
        return np.zeros((0, len(wins)), dtype=np.float32)
    return cdist(
        [p.norm for p in phrases],
        [w.norm for w in wins],
        scorer=scorer,
        score_cutoff=cutoff * 100,
        workers=1,
    )


def find_candidates(
    phrases: Sequence[Phrase],
    wins: Sequence[Window],
    *,
    matcher: Matcher | None = None,
    language: str = "en",
    speakers: frozenset[str] | None = None,
    strict_from: int | None = None,
) -> list[Candidate]:
    """Every (phrase, window) pair scoring at least FLOOR, with the method that found it.

    `speakers` limits what a `BatchMatcher` reads (see `semantic_speakers`); a plain
    `Matcher` is asked about every pair. Phrases from index `strict_from` on are lines
    as heard (reviewers' exemplars, `scoring.exemplars`), each with a threshold of its
    own, matched by its characters as a whole (not word by word, not by sound) and by
    meaning, and only where a pair may reach its uncertain band: a heard line carries its
    own recogniser errors, matching its sound or its words one by one finds lines of the
    same kind, and a long line against every window is the dearest pair there is.
    """
    if not phrases or not wins:
        return []
    strict = len(phrases) if strict_from is None else strict_from
    scores = _screen(phrases[:strict], wins, FLOOR, fuzz.partial_ratio)
    if strict < len(phrases):
        # A heard line against a window as a whole: rapidfuzz's ratio, which is also
        # many times cheaper than the partial ratio's alignment of a long line.
        lowest = min(p.threshold for p in phrases[strict:]) - UNCERTAIN_BAND
        heard_scores = _screen(phrases[strict:], wins, max(FLOOR, lowest), fuzz.ratio)
        scores = np.vstack([scores, heard_scores])
    out: list[Candidate] = []
    semantic: npt.NDArray[np.float32] | None = None
    if isinstance(matcher, BatchMatcher):
        semantic, read = _semantic_matrix(matcher, phrases, wins, speakers)
        # Per window, the best semantic score of a phrase that is a semantic hit there.
        thresholds = np.array([[p.threshold] for p in phrases], dtype=np.float32)
        explained = np.where(semantic >= thresholds, semantic, 0.0).max(axis=0)
        # Pairs the strings found, plus those only the meaning found (for a heard line,
        # only where the meaning reaches its uncertain band).
        floors = np.where(
            np.arange(len(phrases)) >= strict, thresholds[:, 0] - UNCERTAIN_BAND, FLOOR
        )
        meant = semantic >= floors[:, None]
        pairs = list(zip(*np.nonzero((scores > 0) | meant), strict=True))
    elif matcher is not None:
        pairs = [(p, w) for p in range(len(phrases)) for w in range(len(wins))]
    else:
        # Without a semantic matcher only pairs above the floor can match: skip the rest.
        pairs = list(zip(*np.nonzero(scores), strict=True))
    for p, w in pairs:
        phrase, window = phrases[p], wins[w]
        raw = float(scores[p, w])
        if _contains(phrase.norm, window.norm, phrase.chinese):
            out.append(Candidate(window, p, 1.0, "exact"))
            continue
        # The sound-alike veto: no pinyin match where the meaning is unrelated, or where
        # another phrase's meaning explains the line clearly better.
        sound = (
            semantic is None
            or not read[w]
            or (semantic[p, w] > 0.0 and explained[w] - semantic[p, w] < MEANS_ELSE_MARGIN)
        )
        if p >= strict:
            best, method = (raw / 100, "fuzzy") if raw else (0.0, "")
        else:
            best, method = _fuzzy(phrase, window, raw, sound=sound) if raw else (0.0, "")
        if semantic is not None:
            if best < phrase.threshold and semantic[p, w] > best:
                best, method = float(semantic[p, w]), "semantic"
        elif matcher is not None and best < phrase.threshold:
            similarity = matcher.similarity(phrase.text, window.text, language)
            if similarity > best:
                best, method = similarity, "semantic"
        if best >= FLOOR and cues_agree(phrase.norm, window.norm):
            out.append(Candidate(window, p, best, method))
    return _spanning_pairs_only(out)


def _spanning_pairs_only(candidates: list[Candidate]) -> list[Candidate]:
    """Keep a two-utterance window only when it beats both of its utterances alone.

    Otherwise a phrase said in the second utterance would be dated to the first one.
    """
    single = {
        (c.phrase_index, c.window.first): c.score
        for c in candidates
        if c.window.first == c.window.last
    }
    return [
        c
        for c in candidates
        if c.window.first == c.window.last
        or c.score
        > max(
            single.get((c.phrase_index, c.window.first), 0.0),
            single.get((c.phrase_index, c.window.last), 0.0),
        )
    ]
