"""Stereo call recordings: which channel is whom, dual-mono detection, merging by time.

Contact centres record the agent and the customer on separate channels; each channel is
transcribed on its own and the segments are merged on the shared timeline. A "stereo" file
whose channels carry the same signal (dual mono) would duplicate every line, so it is
detected and treated as mono.
"""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from transcripts.format import Segment

AGENT_CHANNELS = ("left", "right")
DUAL_MONO_CORRELATION = 0.98  # normalised correlation above which two channels are one signal
MAX_LAG = 160  # samples at 16 kHz (10 ms): tolerate a small offset between the copies
SILENCE_DBFS = -50.0  # a channel whose loudest 30 ms frame is quieter than this is empty

Samples = npt.NDArray[np.float32]


def speakers_for(channel_count: int, agent_channel: str = "left") -> tuple[str, ...]:
    """Speaker label of each channel: stereo is agent/customer, mono is unknown.

    Raises:
        ValueError: when `agent_channel` is not ``left`` or ``right``.
    """
    if agent_channel not in AGENT_CHANNELS:
        raise ValueError(f"agent channel must be left or right, got {agent_channel!r}")
    if channel_count == 1:
        return ("unknown",)
    return ("agent", "customer") if agent_channel == "left" else ("customer", "agent")


def is_silent(samples: Samples, sample_rate: int = 16_000) -> bool:
    """Whether no 30 ms frame of the channel reaches `SILENCE_DBFS`."""
    frame = int(0.03 * sample_rate)
    usable = len(samples) - len(samples) % frame
    if usable == 0:
        return True
    rms = np.sqrt(np.mean(np.square(samples[:usable].reshape(-1, frame), dtype=np.float64), 1))
    return bool(20 * np.log10(float(rms.max()) + 1e-12) < SILENCE_DBFS)


def is_dual_mono(left: Samples, right: Samples, *, window: int = 30 * 16_000) -> bool:
    """Whether both channels carry the same signal (up to gain and a few ms of offset).

    Compares the first `window` samples by normalised cross-correlation over lags of up
    to `MAX_LAG` samples. Two silent channels count as dual mono.
    """
    a = left[:window].astype(np.float64)
    b = right[:window].astype(np.float64)
    n = min(len(a), len(b))
    if n == 0:
        return True
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    energy = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    if energy < 1e-9:
        return float(np.abs(a).max(initial=0.0)) < 1e-4 and float(np.abs(b).max(initial=0.0)) < 1e-4
    size = 1 << (2 * n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([corr[: MAX_LAG + 1], corr[-MAX_LAG:]])
    return bool(lags.max() / energy >= DUAL_MONO_CORRELATION)


def downmix(channels: Iterable[Samples]) -> Samples:
    """The mean of the channels (for dual mono, the signal itself)."""
    stacked = np.stack(list(channels))
    return np.asarray(stacked.mean(axis=0), dtype=np.float32)


def merge_segments(per_channel: Iterable[Iterable[Segment]]) -> tuple[Segment, ...]:
    """Merge the channels' segments into one time-ordered transcript.

    Ties are broken by end time and then by speaker, so the order is deterministic.
    """
    merged = [seg for segments in per_channel for seg in segments]
    merged.sort(key=lambda s: (s.start, s.end, s.speaker))
    return tuple(merged)
