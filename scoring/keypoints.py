"""Checking a transcript against a script's key points and forbidden phrases.

A key point is hit only when the rule holds completely: a match strong enough for the
phrase's length, said by the right speaker, starting within `within_seconds` of the
start of the recording, and after every key point in `after` (whose earliest valid
occurrence must start earlier).

Uncertain items go to a person; they are never silently passed or failed:

- a match in the grey band just below the hit threshold is reported `uncertain` with
  hit false;
- so is a strong match whose order rests on a prerequisite that is itself uncertain
  (it is in order only if the reviewer accepts the prerequisite);
- in compliance an uncertain key point counts as not hit until a reviewer decides, but
  an uncertain critical key point does not fail the call on its own.

Compliance is the weighted share of required key points hit; a missed critical key
point (or a critical forbidden phrase said) makes it 0, every item still listed.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from scoring import result_notes
from scoring.alignment import word_similarity
from scoring.courtesy import Courtesy, measure_courtesy
from scoring.exemplars import (
    EXEMPLAR_METHOD,
    REJECTED_NOTE,
    Exemplar,
    LearntPhrase,
    learnt_phrases,
)
from scoring.matching import (
    UNCERTAIN_BAND,
    Candidate,
    Matcher,
    Phrase,
    cues,
    find_candidates,
    pinyin,
    prepare,
    semantic_parts,
    semantic_speakers,
    windows,
)
from scoring.normalize import normalize
from scoring.script import ForbiddenRule, KeyPoint, Script
from scoring.transcript import CallTranscript

# A reviewer's line is matched more strictly than a script phrase: it is a transcript line
# as heard (with the recogniser's errors, fillers, words around the point), not wording
# chosen to say one thing, so a loose match of it ("号零八八为您服务" in "您好很高兴为您服务",
# 0.79 by characters) is as often another line of the same kind.
LEARNT_THRESHOLD = 0.85


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one key point or forbidden rule on one call."""

    id: str
    label: str
    kind: str  # "key_point" | "forbidden"
    hit: bool
    uncertain: bool
    start: float | None
    end: float | None
    speaker: str | None
    evidence: str
    score: float
    method: str
    note: str
    required: bool
    critical: bool
    weight: float

    def to_dict(self) -> dict[str, Any]:
        """The item as `qm check --json` prints it."""
        return {
            "id": self.id,
            "label": self.label,
            "hit": self.hit,
            "uncertain": self.uncertain,
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "evidence": self.evidence,
            "score": round(self.score, 4),
            "method": self.method,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Every item of the script checked on one call."""

    call_id: str
    script_id: str
    key_points: tuple[ItemResult, ...]
    forbidden: tuple[ItemResult, ...]
    compliance: float | None
    critical_failed: bool
    courtesy: Courtesy

    def to_dict(self) -> dict[str, Any]:
        """The `qm check --json` object."""
        return {
            "call_id": self.call_id,
            "script": self.script_id,
            "key_points": [r.to_dict() for r in self.key_points],
            "forbidden": [r.to_dict() for r in self.forbidden],
            "compliance": self.compliance,
            "critical_failed": self.critical_failed,
            "courtesy": self.courtesy.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class _Scored:
    candidate: Candidate
    threshold: float

    @property
    def strong(self) -> bool:
        return self.candidate.score >= self.threshold

    @property
    def weak(self) -> bool:
        return self.threshold - UNCERTAIN_BAND <= self.candidate.score < self.threshold


def _order(key_points: Sequence[KeyPoint]) -> list[KeyPoint]:
    """Key points with every `after` prerequisite before its dependants (scripts are acyclic)."""
    done: dict[str, KeyPoint] = {}
    by_id = {kp.id: kp for kp in key_points}

    def visit(kp: KeyPoint) -> None:
        if kp.id in done:
            return
        for other in kp.after:
            visit(by_id[other])
        done[kp.id] = kp

    for kp in key_points:
        visit(kp)
    return list(done.values())


@dataclass(frozen=True, slots=True)
class _When:
    """When a key point was first validly said, and whether that is certain."""

    start: float
    certain: bool


def _why_not(kp: KeyPoint, c: Candidate, times: dict[str, _When | None]) -> str | None:
    """None when the candidate satisfies the rule, else the reason it does not."""
    w = c.window
    if kp.speaker != "any" and w.speaker != kp.speaker:
        return result_notes.note(result_notes.WRONG_SPEAKER, heard=w.speaker, wanted=kp.speaker)
    if kp.within_seconds is not None and w.start > kp.within_seconds:
        start, limit = f"{w.start:.1f}", f"{kp.within_seconds:g}"
        return result_notes.note(result_notes.TOO_LATE, start=start, limit=limit)
    for other in kp.after:
        when = times.get(other)
        if when is None:
            return result_notes.note(result_notes.NEVER_BEFORE, other=other)
        if when.start >= w.start:
            return result_notes.note(result_notes.TOO_EARLY, other=other)
    return None


def _unsure_prerequisite(kp: KeyPoint, times: dict[str, _When | None]) -> str | None:
    """The first `after` key point that was only found with low confidence."""
    return next((o for o in kp.after if (when := times.get(o)) and not when.certain), None)


def _result(
    kind: str, item: Any, chosen: _Scored | None, *, hit: bool, uncertain: bool, note: str
) -> ItemResult:
    c = chosen.candidate if chosen else None
    return ItemResult(
        id=item.id,
        label=item.label,
        kind=kind,
        hit=hit,
        uncertain=uncertain,
        start=c.window.start if c else None,
        end=c.window.end if c else None,
        speaker=c.window.speaker if c else None,
        evidence=c.window.text if c else "",
        score=c.score if c else 0.0,
        method=c.method if c else "",
        note=note,
        required=getattr(item, "required", True),
        critical=item.critical,
        weight=getattr(item, "weight", 1.0),
    )


def _rejected(scored: list[_Scored], rejected: list[_Scored]) -> list[_Scored]:
    """The candidates that are more like a line a reviewer rejected than like what found
    them: a strong match of a negative exemplar, scoring higher, in the candidate's
    window or in one of the two lines it joins (a pair holding a rejected line is not
    evidence; its other line, if it says the key point, is a candidate of its own).

    Only the rejected line's wording counts (a match by the string matchers: the same
    template said again, with ASR errors), not its meaning: two lines of one kind
    ("工号一零八八为您服务", "您好很高兴为您服务") are close in meaning, and a rejected one
    would overrule every true one. A script phrase said exactly is never overruled.
    """
    # The best rejected-line score per window (first, last utterance).
    worst: dict[tuple[int, int], float] = {}
    for r in rejected:
        if r.strong and r.candidate.method != "semantic":
            key = (r.candidate.window.first, r.candidate.window.last)
            worst[key] = max(worst.get(key, 0.0), r.candidate.score)
    out = []
    for s in scored:
        first, last = s.candidate.window.first, s.candidate.window.last
        inside = {(first, last), (first, first), (last, last)}
        if s.candidate.method != "exact" and any(
            worst.get(key, 0.0) > s.candidate.score for key in inside
        ):
            out.append(s)
    return out


def _check_key_point(
    kp: KeyPoint,
    scored: list[_Scored],
    times: dict[str, _When | None],
    rejected: list[_Scored] | None = None,
) -> tuple[ItemResult, _When | None]:
    vetoed = _rejected(scored, rejected) if rejected else []
    if vetoed:
        # By identity: comparing the dataclasses field by field is the dearer part here.
        gone = {id(s) for s in vetoed}
        scored = [s for s in scored if id(s) not in gone]
    valid = [s for s in scored if _why_not(kp, s.candidate, times) is None]
    strong = [s for s in valid if s.strong]
    unsure = _unsure_prerequisite(kp, times)
    if strong:
        # The earliest valid occurrence counts (it is what later `after` rules compare to).
        best = min(strong, key=lambda s: (s.candidate.window.start, -s.candidate.score))
        when = _When(best.candidate.window.start, certain=unsure is None)
        if unsure is not None:
            # Said in order only if the reviewer accepts the prerequisite's match.
            note = result_notes.note(result_notes.UNSURE_BEFORE, other=unsure)
            return _result("key_point", kp, best, hit=False, uncertain=True, note=note), when
        return _result("key_point", kp, best, hit=True, uncertain=False, note=""), when
    weak = [s for s in valid if s.weak]
    if weak:
        best = max(weak, key=lambda s: s.candidate.score)
        note = result_notes.note(result_notes.LOW_CONFIDENCE)
        when = _When(best.candidate.window.start, certain=False)
        return _result("key_point", kp, best, hit=False, uncertain=True, note=note), when
    invalid = [s for s in scored if s.strong]
    if invalid:
        best = min(invalid, key=lambda s: s.candidate.window.start)
        reason = _why_not(kp, best.candidate, times) or ""
        return _result("key_point", kp, best, hit=False, uncertain=False, note=reason), None
    if vetoed:
        best = max(vetoed, key=lambda s: s.candidate.score)
        return _result("key_point", kp, best, hit=False, uncertain=False, note=REJECTED_NOTE), None
    not_found = result_notes.note(result_notes.NOT_FOUND)
    return _result("key_point", kp, None, hit=False, uncertain=False, note=not_found), None


def clear_caches() -> None:
    """Forget every cached normal form, pinyin, cue, sentence split, word similarity and
    prepared script."""
    caches = (normalize, pinyin, cues, semantic_parts, word_similarity, prepare, _prepared)
    for cached in (*caches, _with_learnt):
        cached.cache_clear()


@lru_cache(maxsize=64)
def _prepared(
    key_points: tuple[KeyPoint, ...], forbidden: tuple[ForbiddenRule, ...]
) -> tuple[tuple[Phrase, ...], tuple[tuple[str, str], ...]]:
    """Every phrase of a script, prepared once, and the item that owns it."""
    phrases: list[Phrase] = []
    owner: list[tuple[str, str]] = []
    for kp in key_points:
        phrases.extend(prepare(p) for p in kp.phrases)
        owner.extend(("key_point", kp.id) for _ in kp.phrases)
    for rule in forbidden:
        phrases.extend(prepare(p) for p in rule.phrases)
        owner.extend(("forbidden", rule.id) for _ in rule.phrases)
    return tuple(phrases), tuple(owner)


def _learnt_phrase(text: str) -> Phrase:
    """A reviewer's line prepared for matching, held to at least `LEARNT_THRESHOLD`."""
    phrase = prepare(text)
    return replace(phrase, threshold=max(phrase.threshold, LEARNT_THRESHOLD))


@lru_cache(maxsize=64)
def _with_learnt(
    key_points: tuple[KeyPoint, ...],
    forbidden: tuple[ForbiddenRule, ...],
    learnt: tuple[LearntPhrase, ...],
) -> tuple[tuple[Phrase, ...], tuple[tuple[str, str], ...]]:
    """The script's phrases and owners (`_prepared`) followed by the learnt ones: a
    positive exemplar belongs to its key point, a negative one to ("rejected", item)."""
    phrases, owner = _prepared(key_points, forbidden)
    extra = tuple(_learnt_phrase(x.text) for x in learnt)
    owners = tuple(("key_point" if x.positive else "rejected", x.item_id) for x in learnt)
    return phrases + extra, owner + owners


def check_call(
    script: Script,
    transcript: CallTranscript,
    *,
    matcher: Matcher | None = None,
    exemplars: Sequence[Exemplar] = (),
) -> CheckResult:
    """Check every key point and forbidden rule of `script` on `transcript`.

    `exemplars` are reviewers' evidence for the key points (`scoring.exemplars`): a
    line like a positive one is a match of its key point (method "exemplar"), a match
    more like a negative one is not.
    """
    learnt = learnt_phrases(script, exemplars, matcher) if exemplars else ()
    phrases, owner = _with_learnt(script.key_points, script.forbidden, learnt)
    # Phrases past the script's own are learnt ones.
    own = len(phrases) - len(learnt)
    by_item: dict[tuple[str, str], list[_Scored]] = {}
    for c in find_candidates(
        phrases,
        windows(transcript.utterances),
        matcher=matcher,
        language=script.language,
        speakers=semantic_speakers(script),
        strict_from=own,
    ):
        if c.phrase_index >= own:
            # Found through a reviewer's line (even word for word, it is not the script's).
            c = Candidate(c.window, c.phrase_index, c.score, EXEMPLAR_METHOD)
        by_item.setdefault(owner[c.phrase_index], []).append(
            _Scored(c, phrases[c.phrase_index].threshold)
        )

    times: dict[str, _When | None] = {}
    results: dict[str, ItemResult] = {}
    for kp in _order(script.key_points):
        results[kp.id], times[kp.id] = _check_key_point(
            kp,
            by_item.get(("key_point", kp.id), []),
            times,
            by_item.get(("rejected", kp.id)),
        )
    key_points = tuple(results[kp.id] for kp in script.key_points)

    forbidden = []
    for rule in script.forbidden:
        said = [
            s
            for s in by_item.get(("forbidden", rule.id), [])
            if s.candidate.window.speaker == "agent"
        ]
        strong = [s for s in said if s.strong]
        weak = [s for s in said if s.weak]
        if strong:
            best = min(strong, key=lambda s: s.candidate.window.start)
            forbidden.append(_result("forbidden", rule, best, hit=True, uncertain=False, note=""))
        elif weak:
            best = max(weak, key=lambda s: s.candidate.score)
            note = result_notes.note(result_notes.LOW_CONFIDENCE)
            forbidden.append(_result("forbidden", rule, best, hit=False, uncertain=True, note=note))
        else:
            forbidden.append(_result("forbidden", rule, None, hit=False, uncertain=False, note=""))

    critical_failed = any(r.critical and not r.hit and not r.uncertain for r in key_points) or any(
        r.critical and r.hit for r in forbidden
    )
    required = [r for r in key_points if r.required]
    total = sum(r.weight for r in required)
    compliance = None if total == 0 else sum(r.weight for r in required if r.hit) / total
    if critical_failed and compliance is not None:
        compliance = 0.0
    courtesy = measure_courtesy(transcript, language=script.language, extra=script.courtesy)
    return CheckResult(
        call_id=transcript.call_id,
        script_id=script.id,
        key_points=key_points,
        forbidden=tuple(forbidden),
        compliance=compliance,
        critical_failed=critical_failed,
        courtesy=courtesy,
    )
