"""Fixtures for the transcripts tests: real clips, the tiny random Whisper model, WAV writers."""

import wave
from pathlib import Path

import numpy as np
import pytest

from transcripts.asr import AsrConfig, AsrEngine, load_engine

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "fixtures" / "audio"
TINY_MODEL = ROOT / "fixtures" / "models" / "whisper-random-fixture"
STEREO = AUDIO / "stereo_diarization.wav"


def write_wav(path: Path, channels: list[np.ndarray], rate: int = 16_000) -> Path:
    """Write float channels in [-1, 1] as a 16-bit PCM WAV."""
    stacked = np.stack([np.clip(c, -1, 1) for c in channels], axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((stacked * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[list[np.ndarray], int]:
    """Float channels and the sample rate of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as src:
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
        n, rate = src.getnchannels(), src.getframerate()
    return [data[i::n].astype(np.float32) / 32768 for i in range(n)], rate


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Model weights are never downloaded by tests.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_config() -> AsrConfig:
    """faster-whisper with the committed random-weight model; greedy, no fallback."""
    return AsrConfig(
        engine="faster-whisper",
        model=str(TINY_MODEL),
        language="en",
        beam_size=1,
        temperature=(0.0,),
        local_files_only=True,
    )


@pytest.fixture(scope="session")
def tiny_engine(tiny_config: AsrConfig) -> AsrEngine:
    """The loaded tiny engine (one per test session, as in a worker)."""
    return load_engine(tiny_config)


@pytest.fixture(scope="session")
def sphinx() -> AsrEngine:
    """The pocketsphinx engine."""
    return load_engine(AsrConfig(engine="pocketsphinx", language="en"))


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """Five seconds of real speech (the left channel of the stereo clip), 16 kHz."""
    channels, _ = read_wav(STEREO)
    return channels[0]
