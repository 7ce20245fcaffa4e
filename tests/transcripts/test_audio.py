"""Upload validation before decoding, and decoding of every accepted format with PyAV."""

import struct
from pathlib import Path

import av
import numpy as np
import pytest

from transcripts.audio import AudioLimits, decode_audio, load_audio, probe_audio, sniff_format
from transcripts.errors import AudioError

from .conftest import AUDIO, STEREO, write_wav


def _tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)])


def _encode(path: Path, container: str, codec: str, rate: int, channels: int = 1) -> Path:
    """Write two seconds of tone with PyAV's bundled encoders."""
    layout = "stereo" if channels == 2 else "mono"
    samples = _tone(2.0, rate, channels).astype(np.float32)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, samples.shape[1], frame_size):
            chunk = samples[:, start : start + frame_size]
            data = chunk if fmt.endswith("p") else chunk.T.reshape(1, -1)
            if fmt.startswith("s16"):
                data = (data * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                data = (data * 2**31 - 1).astype(np.int32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data), format=fmt, layout=layout
            )
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("name", "container", "codec", "rate", "channels", "expected"),
    [
        ("mulaw.wav", "wav", "pcm_mulaw", 8000, 1, "wav"),
        ("alaw.wav", "wav", "pcm_alaw", 8000, 2, "wav"),
        ("call.flac", "flac", "flac", 44100, 2, "flac"),
        ("call.mp3", "mp3", "libmp3lame", 22050, 1, "mp3"),
        ("call.opus", "ogg", "libopus", 48000, 1, "ogg"),
        ("call.m4a", "mp4", "aac", 32000, 2, "mp4"),
    ],
)
def test_accepted_formats_decode_to_16k_channels(
    tmp_path, name, container, codec, rate, channels, expected
):
    path = _encode(tmp_path / name, container, codec, rate, channels)
    info = probe_audio(path)
    assert (info.format, info.sample_rate, info.channels) == (expected, rate, channels)
    assert info.duration == pytest.approx(2.0, abs=0.15)
    audio = decode_audio(info)
    assert len(audio.channels) == channels
    assert audio.duration == pytest.approx(2.0, abs=0.15)
    assert 0.1 < float(np.abs(audio.channels[0]).max()) <= 1.0


def test_real_8k_and_stereo_clips():
    telephone = probe_audio(AUDIO / "ldc93s1_8k.wav")
    assert (telephone.sample_rate, telephone.channels) == (8000, 1)
    assert load_audio(AUDIO / "ldc93s1_8k.wav").sample_rate == 16_000
    stereo = load_audio(STEREO)
    assert len(stereo.channels) == 2
    assert stereo.duration == pytest.approx(5.0)


def test_format_comes_from_content_not_name(tmp_path):
    flac = _encode(tmp_path / "really-flac.wav", "flac", "flac", 16000)
    assert probe_audio(flac).format == "flac"
    assert load_audio(flac).duration == pytest.approx(2.0, abs=0.1)


def _wav_header(data_bytes: int, *, channels=1, rate=16000, fmt_tag=1) -> bytes:
    byte_rate = rate * channels * 2
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, byte_rate, channels * 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


BAD_FILES = {
    "zero-length.wav": (b"", "empty"),
    "notes.wav": (b"call notes: customer asked about billing\n" * 20, "content is text"),
    "truncated-riff.wav": (b"RIFF\x24\x00\x00\x00WAVEfm", "no 'fmt ' chunk"),
    "truncated-fmt.wav": (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "incomplete"),
    "no-data.wav": (_wav_header(0)[:36], "no 'data' chunk"),
    "hours.wav": (_wav_header(16000 * 2 * 3 * 3600) + b"\x00" * 3200, "declares 10800.0 s"),
    "six-channels.wav": (_wav_header(12 * 1600, channels=6) + b"\x00" * 12 * 1600, "6 channels"),
    "96k.wav": (_wav_header(3200, rate=96000) + b"\x00" * 3200, "96000 Hz is outside"),
    "adpcm.wav": (_wav_header(3200, fmt_tag=2) + b"\x00" * 3200, "codec 0x0002"),
    "picture.mp3": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "a PNG image"),
    "report.m4a": (b"%PDF-1.7\n" + b"x" * 200, "a PDF document"),
    "garbage.ogg": (bytes(range(7, 200)), "unrecognised"),
    "broken.flac": (b"fLaC" + b"\x00" * 60, "not a readable flac file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_uploads_are_rejected_with_their_own_message(tmp_path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError, match=r".*") as info:
        probe_audio(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_each_bad_file_gets_a_distinct_message(tmp_path):
    messages = set()
    for name, (content, _) in BAD_FILES.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(AudioError) as info:
            probe_audio(path)
        messages.add(str(info.value).replace(str(path), ""))
    assert len(messages) == len(BAD_FILES)


def test_size_cap_is_checked_first(tmp_path):
    path = write_wav(tmp_path / "a.wav", [np.zeros(16000, dtype=np.float32)])
    with pytest.raises(AudioError, match="over the upload limit"):
        probe_audio(path, AudioLimits(max_bytes=1000))


def test_tiny_mp3_declaring_hours_never_reaches_the_decoder(tmp_path):
    mp3 = _encode(tmp_path / "short.mp3", "mp3", "libmp3lame", 16000)
    limits = AudioLimits(max_duration=1.0)
    with pytest.raises(AudioError, match="over the limit"):
        probe_audio(mp3, limits)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="cannot read"):
        probe_audio(tmp_path / "absent.wav")


def test_sniffing():
    assert sniff_format(b"ID3\x04") == "mp3"
    assert sniff_format(b"\xff\xfb\x90\x00") == "mp3"
    assert sniff_format(b"\xff\xf1\x50\x80") == "aac"
    assert sniff_format(b"\x00\x00\x00\x20ftypM4A ") == "mp4"
    assert sniff_format(b"hello") is None
