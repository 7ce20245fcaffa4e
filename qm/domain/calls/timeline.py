"""The call's timeline: who speaks when, the long silences and the overtalk.

- A **long silence** is exactly what the courtesy measure counts (`scoring.courtesy`):
  a gap of more than `SILENCE_SECONDS` between the end of everything said so far and
  the next utterance, in transcript order. So the number of silences on the bar is the
  call's `long_silences` figure.
- **Overtalk** is time in which the agent and the customer both speak: the intersection
  of the agent's speech with the customer's. Overlaps shorter than `OVERLAP_SECONDS`
  (the courtesy measure's threshold for an interruption) are ordinary turn-taking and
  timestamp jitter, and are left out.

Positions are shares of the call's length in [0, 1], so the page can draw the bar at
any width.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from scoring.courtesy import OVERLAP_SECONDS, SILENCE_SECONDS

SPEAKERS = ("agent", "customer")


class Utterance(Protocol):
    """What the timeline needs of a segment."""

    @property
    def speaker(self) -> str: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Span:
    """One stretch of the bar: `kind` is agent, customer, unknown, silence or overtalk."""

    kind: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """How long it lasts."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Timeline:
    """The bar above the transcript, with its totals."""

    duration: float
    speech: tuple[Span, ...]
    silences: tuple[Span, ...]
    overtalk: tuple[Span, ...]

    def offset(self, span: Span) -> float:
        """Where `span` starts, as a share of the call."""
        return min(1.0, max(0.0, span.start / self.duration))

    def extent(self, span: Span) -> float:
        """How much of the call `span` covers (never past the end)."""
        return max(0.0, min(span.end, self.duration) - max(span.start, 0.0)) / self.duration

    def seconds(self, kind: str) -> float:
        """Total time of one kind (speech of one speaker, silence or overtalk)."""
        spans = {"silence": self.silences, "overtalk": self.overtalk}.get(kind)
        if spans is None:
            return sum(s.seconds for s in _union([s for s in self.speech if s.kind == kind]))
        return sum(s.seconds for s in spans)

    @property
    def longest_silence(self) -> float:
        """The longest long silence, 0 when there is none."""
        return max((s.seconds for s in self.silences), default=0.0)


def _union(spans: Sequence[Span]) -> list[Span]:
    """Overlapping spans merged, in time order."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.kind, last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def _silences(utterances: Sequence[Utterance]) -> list[Span]:
    # The same walk as scoring.courtesy's: the count must match the call's figure.
    found: list[Span] = []
    spoken_until: float | None = None
    for u in utterances:
        if spoken_until is not None and u.start - spoken_until > SILENCE_SECONDS:
            found.append(Span("silence", spoken_until, u.start))
        spoken_until = u.end if spoken_until is None else max(spoken_until, u.end)
    return found


def _overtalk(speech: Sequence[Span]) -> list[Span]:
    agent = _union([s for s in speech if s.kind == "agent"])
    customer = _union([s for s in speech if s.kind == "customer"])
    found: list[Span] = []
    i = j = 0
    while i < len(agent) and j < len(customer):
        start = max(agent[i].start, customer[j].start)
        end = min(agent[i].end, customer[j].end)
        if end - start >= OVERLAP_SECONDS:
            found.append(Span("overtalk", start, end))
        # Move past whichever ends first; the other may still overlap the next one.
        if agent[i].end < customer[j].end:
            i += 1
        else:
            j += 1
    return found


def build_timeline(utterances: Sequence[Utterance], duration: float | None) -> Timeline | None:
    """The timeline of a transcript's utterances (in transcript order), or None when empty.

    Args:
        utterances: the segments, as stored.
        duration: the recording's length when known; the last utterance's end otherwise
            (and when it runs past the stated length).
    """
    if not utterances:
        return None
    length = max(duration or 0.0, max(u.end for u in utterances))
    if length <= 0:
        return None
    speech = tuple(
        Span(u.speaker if u.speaker in SPEAKERS else "unknown", u.start, u.end) for u in utterances
    )
    return Timeline(
        duration=length,
        speech=speech,
        silences=tuple(_silences(utterances)),
        overtalk=tuple(_overtalk(speech)),
    )
