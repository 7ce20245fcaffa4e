"""Courtesy sub-measures of a call, from the agent's own speech and the segment times.

- polite forms, empathy phrases, forbidden phrases: occurrences in agent utterances of
  the built-in lexicons (`scoring/lexicons/<language>.json`) plus a script's additions;
- customer's name used: the agent said the customer's first or last name (None when the
  name is unknown);
- interruptions: the agent starts speaking while a customer segment is still running;
- long silences: gaps of more than `SILENCE_SECONDS` in which nobody speaks.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from scoring.normalize import is_chinese, normalize
from scoring.transcript import CallTranscript

SILENCE_SECONDS = 10.0
# An agent start this far inside a customer segment counts as interrupting; smaller
# overlaps are ordinary turn-taking and timestamp jitter.
OVERLAP_SECONDS = 0.3


@dataclass(frozen=True, slots=True)
class Courtesy:
    """The courtesy sub-measures of one call; each is reported on its own."""

    polite_count: int
    empathy_count: int
    forbidden_count: int
    forbidden_phrases: tuple[str, ...]
    customer_name_used: bool | None
    interruptions: int
    long_silences: int
    longest_silence: float
    agent_utterances: int

    def to_dict(self) -> dict[str, Any]:
        """The sub-measures as a JSON object."""
        return {
            "polite_count": self.polite_count,
            "empathy_count": self.empathy_count,
            "forbidden_count": self.forbidden_count,
            "forbidden_phrases": list(self.forbidden_phrases),
            "customer_name_used": self.customer_name_used,
            "interruptions": self.interruptions,
            "long_silences": self.long_silences,
            "longest_silence": round(self.longest_silence, 2),
            "agent_utterances": self.agent_utterances,
        }


@lru_cache(maxsize=4)
def lexicon(language: str) -> dict[str, tuple[str, ...]]:
    """The built-in lexicon of `language` ("en" or "zh"), normalised."""
    name = "zh.json" if language == "zh" else "en.json"
    raw = json.loads(resources.files("scoring").joinpath("lexicons", name).read_text("utf-8"))
    return {kind: tuple(normalize(p) for p in phrases) for kind, phrases in raw.items()}


def _count(phrases: Sequence[str], texts: Sequence[str]) -> tuple[int, list[str]]:
    """Occurrences of `phrases` in `texts`, longest first and never overlapping.

    "I'm sorry to hear that" is one empathy phrase, not "i am sorry" plus "sorry to
    hear"; 请稍等 is one polite form, not 请 plus 请稍等.
    """
    total, found = 0, []
    padded = [f" {t} " for t in texts]
    for phrase in sorted((p for p in phrases if p), key=len, reverse=True):
        needle = f" {phrase} " if not is_chinese(phrase) else phrase
        n = 0
        for i, text in enumerate(padded):
            if needle in text:
                n += text.count(needle)
                # A separator keeps the words on either side apart and matches nothing.
                padded[i] = text.replace(needle, " | " if needle[0] == " " else "|")
        if n:
            total += n
            found.append(phrase)
    return total, found


def _silences(transcript: CallTranscript) -> tuple[int, float]:
    count, longest, spoken_until = 0, 0.0, None
    for u in transcript.utterances:
        if spoken_until is not None:
            gap = u.start - spoken_until
            if gap > SILENCE_SECONDS:
                count += 1
            longest = max(longest, gap)
        spoken_until = u.end if spoken_until is None else max(spoken_until, u.end)
    return count, max(longest, 0.0)


def _interruptions(transcript: CallTranscript) -> int:
    customer = [(u.start, u.end) for u in transcript.utterances if u.speaker == "customer"]
    count = 0
    for u in transcript.utterances:
        if u.speaker == "agent" and any(
            s + OVERLAP_SECONDS <= u.start < e - OVERLAP_SECONDS for s, e in customer
        ):
            count += 1
    return count


def measure_courtesy(
    transcript: CallTranscript,
    *,
    language: str,
    extra: Mapping[str, Sequence[str]] | None = None,
    customer_name: str | None = None,
) -> Courtesy:
    """Courtesy sub-measures of `transcript`.

    Args:
        transcript: the call.
        language: "en" or "zh", which built-in lexicon to use.
        extra: a script's own additions per kind ("polite", "empathy", "forbidden").
        customer_name: the customer's name, when known.
    """
    words = lexicon(language)
    extra = extra or {}
    agent = [normalize(u.text) for u in transcript.utterances if u.speaker == "agent"]

    def phrases(kind: str) -> list[str]:
        # dict.fromkeys drops a script addition that repeats a built-in phrase.
        return list(
            dict.fromkeys([*words.get(kind, ()), *(normalize(p) for p in extra.get(kind, ()))])
        )

    polite, _ = _count(phrases("polite"), agent)
    empathy, _ = _count(phrases("empathy"), agent)
    forbidden, found = _count(phrases("forbidden"), agent)
    name_used: bool | None = None
    if customer_name:
        parts = [normalize(p) for p in customer_name.split() if len(p) > 1] or [
            normalize(customer_name)
        ]
        if is_chinese(customer_name) and len(customer_name) >= 2:
            parts = [customer_name[0]]  # the surname, as in 王先生 / 李女士
        name_used = _count(parts, agent)[0] > 0
    silences, longest = _silences(transcript)
    return Courtesy(
        polite_count=polite,
        empathy_count=empathy,
        forbidden_count=forbidden,
        forbidden_phrases=tuple(found),
        customer_name_used=name_used,
        interruptions=_interruptions(transcript),
        long_silences=silences,
        longest_silence=longest,
        agent_utterances=len(agent),
    )


def courtesy_score(
    courtesy: Mapping[str, Any], *, interruptions_allowed: int = 1, silences_allowed: int = 0
) -> float | None:
    """One call's courtesy in [0, 1]: the share of applicable checks it passes.

    Checks: used a polite form; said no forbidden phrase; interrupted the customer at
    most `interruptions_allowed` times; at most `silences_allowed` long silences; used
    the customer's name (only when the name is known). Empathy is reported, not scored:
    not every call calls for it.
    """
    checks: list[bool] = []
    if "polite_count" in courtesy:
        checks.append(courtesy["polite_count"] > 0)
    if "forbidden_count" in courtesy:
        checks.append(courtesy["forbidden_count"] == 0)
    if "interruptions" in courtesy:
        checks.append(courtesy["interruptions"] <= interruptions_allowed)
    if "long_silences" in courtesy:
        checks.append(courtesy["long_silences"] <= silences_allowed)
    if courtesy.get("customer_name_used") is not None:
        checks.append(bool(courtesy["customer_name_used"]))
    return sum(checks) / len(checks) if checks else None
