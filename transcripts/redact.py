"""PCI/PIPL redaction: card numbers, security codes and Chinese ID numbers become tags.

Rules, applied before a transcript is stored or indexed:

- ``[PAN]``: 13-19 consecutive digits passing the Luhn check, written as digits in any
  grouping or spoken as words ("four one one one", "forty one eleven", "double five",
  "四一一一", "幺二三"), also when the speaker's digits continue in their next segment.
- ``[ID]``: 18 characters (17 digits and a digit or X) with a valid GB 11643 checksum.
- ``[CVV]``: a 3-4 digit number said within `CVV_CONTEXT_SECONDS` after a mention of the
  security code ("CVV", "security code", "安全码"...).

Word timestamps are kept: the redacted words become one word whose text is the tag and
whose times span them, so `redact_audio` can beep over the same span.
"""

import dataclasses
import math
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transcripts.audio import AudioLimits, probe_audio
from transcripts.errors import AudioError
from transcripts.format import Segment, Transcript, Word
from transcripts.numbers import (
    Token,
    china_id_valid,
    luhn_valid,
    normalize_width,
    spoken_digits,
    tokenize,
)

PAN, CVV, CHINA_ID = "[PAN]", "[CVV]", "[ID]"
TAGS = (PAN, CVV, CHINA_ID)
CVV_CONTEXT_SECONDS = 30.0
MAX_SEGMENT_GAP = 15.0  # seconds: a speaker's digits continue into their next segment
CVV_KEYWORDS = (
    "cvv",
    "cvc",
    "cid",
    "security code",
    "security number",
    "card verification",
    "verification code",
    "verification number",
    "digit code",
    "code on the back",
    "back of the card",
    "安全码",
    "验证码",
    "校验码",
    "背面",
    "后三位",
    "末三位",
)
# Tokens that may sit between the digits of one number without ending it.
_CONNECTORS = {
    "-",
    ".",
    ",",
    "，",
    "、",
    "/",
    "dash",
    "hyphen",
    "uh",
    "um",
    "er",
    "erm",
    "嗯",
    "呃",
}


@dataclass(frozen=True, slots=True)
class RedactionSpan:
    """A stretch of the recording whose words were redacted."""

    tag: str
    speaker: str
    start: float
    end: float


@dataclass
class _Seg:
    tokens: list[Token]
    values: list[str | None]
    marks: dict[int, str]


def _connector(token: Token) -> bool:
    return not token.text.strip() or token.lower in _CONNECTORS


def _digit_runs(
    segments: Sequence[Segment], segs: list[_Seg], order: list[int]
) -> Iterable[list[tuple[int, int]]]:
    """Runs of number tokens (segment index, token index) of one speaker, in time order."""
    run: list[tuple[int, int]] = []
    previous_end: float | None = None
    for si in order:
        if previous_end is not None and segments[si].start - previous_end > MAX_SEGMENT_GAP:
            yield run
            run = []
        previous_end = segments[si].end
        seg = segs[si]
        for ti, token in enumerate(seg.tokens):
            if seg.values[ti] is not None:
                run.append((si, ti))
            elif not _connector(token):
                yield run
                run = []
    yield run


def _mark_run(run: list[tuple[int, int]], segs: list[_Seg], cvv_ok: bool) -> None:
    digits = ""
    owner: list[int] = []
    for position, (si, ti) in enumerate(run):
        value = segs[si].values[ti] or ""
        digits += value
        owner += [position] * len(value)

    def mark(lo: int, hi: int, tag: str) -> None:
        for position in range(owner[lo], owner[hi - 1] + 1):
            si, ti = run[position]
            segs[si].marks.setdefault(ti, tag)

    if cvv_ok:
        # A security code is said on its own; a run may continue into other segments, so
        # look at each segment's part of it.
        start = 0
        for end in range(1, len(run) + 1):
            if end == len(run) or run[end][0] != run[start][0]:
                part = "".join(segs[si].values[ti] or "" for si, ti in run[start:end])
                if 3 <= len(part) <= 4 and part.isdigit():
                    for si, ti in run[start:end]:
                        segs[si].marks.setdefault(ti, CVV)
                start = end
    for i in range(len(digits) - 17):
        if china_id_valid(digits[i : i + 18]):
            mark(i, i + 18, CHINA_ID)
    for i in range(len(digits)):
        for length in range(19, 12, -1):
            window = digits[i : i + length]
            if len(window) == length and window.isdigit() and luhn_valid(window):
                mark(i, i + length, PAN)
                break


def redact_transcript(transcript: Transcript) -> Transcript:
    """The transcript with card numbers, CVVs and Chinese ID numbers replaced by tags.

    Segments without anything to redact are returned unchanged.
    """
    segments = transcript.segments
    segs = [_Seg(toks, spoken_digits(toks), {}) for toks in (tokenize(s.text) for s in segments)]
    keyword_times = [
        (s.start, s.end)
        for s in segments
        if any(k in normalize_width(s.text).lower() for k in CVV_KEYWORDS)
    ]
    by_speaker: dict[str, list[int]] = {}
    for i, seg in enumerate(segments):
        by_speaker.setdefault(seg.speaker, []).append(i)
    for order in by_speaker.values():
        order.sort(key=lambda i: (segments[i].start, segments[i].end))
        for run in _digit_runs(segments, segs, order):
            if not run:
                continue
            start = segments[run[0][0]].start
            cvv_ok = any(k0 <= start <= k1 + CVV_CONTEXT_SECONDS for k0, k1 in keyword_times)
            _mark_run(run, segs, cvv_ok)
    return dataclasses.replace(
        transcript,
        segments=tuple(
            _redact_segment(seg, info) if info.marks else seg
            for seg, info in zip(segments, segs, strict=True)
        ),
    )


def _groups(info: _Seg) -> list[tuple[int, int, str]]:
    """Character ranges to replace: marked tokens with the same tag, joined over connectors."""
    groups: list[tuple[int, int, str]] = []
    last_marked: int | None = None
    for ti in sorted(info.marks):
        tag = info.marks[ti]
        token = info.tokens[ti]
        between = info.tokens[last_marked + 1 : ti] if last_marked is not None else None
        if (
            groups
            and between is not None
            and groups[-1][2] == tag
            and all(_connector(t) for t in between)
        ):
            groups[-1] = (groups[-1][0], token.end, tag)
        else:
            groups.append((token.start, token.end, tag))
        last_marked = ti
    return groups


def _align_words(text: str, words: Sequence[Word]) -> list[tuple[int, int]] | None:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        found = text.find(word.text, cursor)
        if not word.text or found < 0:
            return None
        spans.append((found, found + len(word.text)))
        cursor = found + len(word.text)
    return spans


def _redact_segment(seg: Segment, info: _Seg) -> Segment:
    groups = _groups(info)
    text = seg.text
    for lo, hi, tag in reversed(groups):
        text = text[:lo] + tag + text[hi:]
    if not seg.words:
        return dataclasses.replace(seg, text=text)
    spans = _align_words(seg.text, seg.words)
    if spans is None:
        # Words that do not line up with the text: redact every word holding a number.
        spans = []
        numeric = [any(v is not None for v in spoken_digits(tokenize(w.text))) for w in seg.words]
        tag = groups[0][2]
        words = _collapse(seg.words, numeric, [tag] * len(seg.words))
        return dataclasses.replace(seg, text=text, words=words)
    hit = [False] * len(seg.words)
    tags = [""] * len(seg.words)
    for i, (w0, w1) in enumerate(spans):
        for lo, hi, tag in groups:
            if w0 < hi and lo < w1:
                hit[i], tags[i] = True, tag
    return dataclasses.replace(seg, text=text, words=_collapse(seg.words, hit, tags))


def _collapse(words: Sequence[Word], hit: list[bool], tags: list[str]) -> tuple[Word, ...]:
    out: list[Word] = []
    for i, word in enumerate(words):
        if not hit[i]:
            out.append(word)
        elif i > 0 and hit[i - 1] and tags[i - 1] == tags[i]:
            out[-1] = Word(tags[i], out[-1].start, max(out[-1].end, word.end))
        else:
            out.append(Word(tags[i], word.start, word.end))
    return tuple(out)


def redaction_spans(transcript: Transcript, *, padding: float = 0.2) -> list[RedactionSpan]:
    """Where a redacted transcript's tags were spoken, widened by `padding` seconds.

    A tag in a segment without word timestamps spans the whole segment.
    """
    spans: list[RedactionSpan] = []
    for seg in transcript.segments:
        if seg.words and any(w.text in TAGS for w in seg.words):
            spans += [
                RedactionSpan(
                    w.text,
                    seg.speaker,
                    round(max(0.0, w.start - padding), 3),
                    round(w.end + padding, 3),
                )
                for w in seg.words
                if w.text in TAGS
            ]
        else:
            for tag in TAGS:
                if tag in seg.text:
                    spans.append(RedactionSpan(tag, seg.speaker, seg.start, seg.end))
    return spans


BEEP_HZ = 1000.0
BEEP_LEVEL = 0.25  # -12 dBFS


def redact_audio(
    source: Path,
    destination: Path,
    spans: Iterable[RedactionSpan],
    *,
    mode: str = "beep",
    limits: AudioLimits | None = None,
) -> Path:
    """Write a copy of a recording with the redacted spans beeped or silenced.

    The copy is a 16-bit PCM WAV at the source's sample rate with its channels; every
    channel is covered over each span, because one party's voice bleeds into the other's.

    Args:
        source: the original recording.
        destination: the new WAV file (must differ from `source`).
        spans: from `redaction_spans`.
        mode: ``beep`` (1 kHz tone) or ``silence``.
        limits: validation caps for the source.

    Raises:
        AudioError: when the source is rejected or cannot be decoded.
        ValueError: for an unknown mode or when destination is the source.
    """
    if mode not in ("beep", "silence"):
        raise ValueError(f"mode must be beep or silence, got {mode!r}")
    if destination.resolve() == source.resolve():
        raise ValueError("redact_audio writes a new file; destination is the source")
    info = probe_audio(source, limits)
    samples = _decode_native(info.path, info.format, info.sample_rate, info.channels)
    rate = info.sample_rate
    for span in spans:
        lo = max(0, math.floor(span.start * rate))
        hi = min(samples.shape[1], math.ceil(span.end * rate))
        if hi <= lo:
            continue
        if mode == "beep":
            t = np.arange(lo, hi) / rate
            samples[:, lo:hi] = (BEEP_LEVEL * 32767 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(
                np.int16
            )
        else:
            samples[:, lo:hi] = 0
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(info.channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples.T).tobytes())
    return destination


def _decode_native(path: Path, fmt: str, rate: int, channels: int) -> np.ndarray:
    import av
    from av.audio.resampler import AudioResampler

    layout = "stereo" if channels == 2 else "mono"
    resampler = AudioResampler(format="s16p", layout=layout, rate=rate)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path), format=fmt, metadata_errors="ignore") as container:
            for frame in container.decode(audio=0):
                frame.pts = None
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise AudioError(f"{path}: cannot decode the {fmt} audio: {exc}") from exc
    if not chunks:
        raise AudioError(f"{path}: contains no audio samples")
    return np.concatenate(chunks, axis=1).astype(np.int16)
