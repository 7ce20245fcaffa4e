"""Recordings in: cheap validation from the header, then decoding with PyAV.

`probe_audio` looks only at the file's size and its first bytes and header, so a file that
is not audio, is truncated, or declares hours of audio it does not contain is rejected
before the decoder's heavy path. `decode_audio` then decodes with PyAV (bundled FFmpeg
libraries; no ffmpeg binary, no subprocess) to 16 kHz float32, one array per channel.
"""

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from transcripts.errors import AudioError

SAMPLE_RATE = 16_000  # Hz; what every ASR engine here consumes
MIN_BYTES_PER_SECOND = 500  # 4 kbit/s: below any speech codec we accept (Opus goes to 6)

WAV_CODECS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law"}
_WAV_EXTENSIBLE = 0xFFFE
# Content that is clearly not audio, named in the error message.
_NOT_AUDIO = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or Office document)"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "an executable"),
)


@dataclass(frozen=True, slots=True)
class AudioLimits:
    """What an accepted recording may be at most (and at least)."""

    max_bytes: int = 512 * 1024 * 1024
    max_duration: float = 4 * 3600.0  # seconds
    max_channels: int = 2
    min_sample_rate: int = 8_000
    max_sample_rate: int = 48_000


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What the header of an accepted recording says.

    Attributes:
        path: the file.
        format: the container sniffed from the content: wav, mp3, flac, ogg, mp4 or aac.
        codec: the codec, e.g. ``PCM``, ``mu-law``, ``mp3``, ``opus``.
        sample_rate: Hz.
        channels: 1 or 2.
        duration: seconds, as declared by the header.
        size: bytes on disk.
    """

    path: Path
    format: str
    codec: str
    sample_rate: int
    channels: int
    duration: float
    size: int


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Decoded samples: one float32 array per channel at `SAMPLE_RATE`."""

    channels: tuple[npt.NDArray[np.float32], ...]
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0


def sniff_format(head: bytes) -> str | None:
    """The audio container named by a file's first bytes, or None when it is not one we read."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG frame sync; layer bits 00 mean AAC in an ADTS stream.
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


def _describe_content(head: bytes) -> str:
    for magic, what in _NOT_AUDIO:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unrecognised binary data (starts with {head[:8].hex(' ')})"
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        return "text"
    return f"unrecognised data (starts with {head[:8].hex(' ')})"


def probe_audio(path: Path, limits: AudioLimits | None = None) -> AudioInfo:
    """Validate a recording from its size and header, without decoding it.

    The format is taken from the content, never from the file name.

    Args:
        path: the recording.
        limits: caps on size, duration, channels and sample rate (defaults: `AudioLimits()`).

    Returns:
        What the header declares.

    Raises:
        AudioError: naming the file and what is wrong with it.
    """
    limits = limits or AudioLimits()
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise AudioError(f"{path}: not a regular file")
        if size == 0:
            raise AudioError(f"{path}: the file is empty (0 bytes)")
        if size > limits.max_bytes:
            raise AudioError(
                f"{path}: {size} bytes is over the upload limit of {limits.max_bytes} bytes"
            )
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    fmt = sniff_format(head)
    if fmt is None:
        raise AudioError(
            f"{path}: not a supported audio file: the content is {_describe_content(head[:512])} "
            "(accepted: WAV, MP3, FLAC, OGG/Opus, M4A; the format is read from the content, "
            "not the name)"
        )
    info = _probe_wav(path, head, size) if fmt == "wav" else _probe_container(path, fmt, size)
    _check_limits(info, limits)
    return info


def _check_limits(info: AudioInfo, limits: AudioLimits) -> None:
    where = info.path
    if not 1 <= info.channels <= limits.max_channels:
        raise AudioError(
            f"{where}: {info.channels} channels; at most {limits.max_channels} are accepted "
            "(mono, or stereo with agent and customer on separate channels)"
        )
    if not limits.min_sample_rate <= info.sample_rate <= limits.max_sample_rate:
        raise AudioError(
            f"{where}: sample rate {info.sample_rate} Hz is outside "
            f"{limits.min_sample_rate}-{limits.max_sample_rate} Hz"
        )
    if info.duration > limits.max_duration:
        raise AudioError(
            f"{where}: declares {info.duration:.0f} s of audio, over the limit of "
            f"{limits.max_duration:.0f} s"
        )
    if info.duration * MIN_BYTES_PER_SECOND > info.size:
        raise AudioError(
            f"{where}: declares {info.duration:.1f} s of audio but the file has only "
            f"{info.size} bytes; the header is corrupt or forged"
        )


def _probe_wav(path: Path, head: bytes, size: int) -> AudioInfo:
    pos = 12
    fmt_chunk: bytes | None = None
    while pos + 8 <= len(head):
        chunk_id = head[pos : pos + 4]
        (chunk_size,) = struct.unpack_from("<I", head, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt_chunk = head[body : body + chunk_size]
            if len(fmt_chunk) < 16 or chunk_size < 16:
                raise AudioError(f"{path}: WAV header is truncated: 'fmt ' chunk is incomplete")
        elif chunk_id == b"data":
            if fmt_chunk is None:
                raise AudioError(f"{path}: WAV header has no 'fmt ' chunk before the audio data")
            return _wav_info(path, fmt_chunk, chunk_size, size - body, size)
        pos = body + chunk_size + (chunk_size & 1)  # chunks are word-aligned
    if fmt_chunk is None:
        raise AudioError(f"{path}: WAV header is truncated: no 'fmt ' chunk")
    raise AudioError(f"{path}: WAV file is truncated: no 'data' chunk")


def _wav_info(path: Path, fmt: bytes, declared: int, available: int, size: int) -> AudioInfo:
    tag, channels, rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAV_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    codec = WAV_CODECS.get(tag)
    if codec is None:
        raise AudioError(
            f"{path}: WAV codec 0x{tag:04x} is not supported (PCM, IEEE float, A-law, mu-law)"
        )
    if channels == 0 or rate == 0 or byte_rate == 0:
        raise AudioError(
            f"{path}: WAV header is corrupt ({channels} channels, {rate} Hz, {byte_rate} B/s)"
        )
    # 0xFFFFFFFF (or 0) is what streaming writers put before they know the length.
    data = available if declared in (0, 0xFFFFFFFF) else declared
    duration = data / byte_rate
    if declared > available + byte_rate:  # more than a second missing
        raise AudioError(
            f"{path}: declares {duration:.1f} s of audio ({declared} bytes) but only "
            f"{available} bytes follow the header; the file is truncated or the header forged"
        )
    return AudioInfo(path, "wav", f"{codec} {bits}-bit", rate, channels, duration, size)


def _probe_container(path: Path, fmt: str, size: int) -> AudioInfo:
    import av

    try:
        # Opening reads the header and probes the first packets only.
        with av.open(str(path), format=fmt, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: the {fmt} file has no audio stream")
            stream = container.streams.audio[0]
            duration = 0.0
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            ctx = stream.codec_context
            return AudioInfo(
                path, fmt, ctx.name, int(stream.sample_rate or 0), ctx.channels, duration, size
            )
    except av.FFmpegError as exc:
        raise AudioError(f"{path}: not a readable {fmt} file: {exc}") from exc


def decode_audio(info: AudioInfo, limits: AudioLimits | None = None) -> DecodedAudio:
    """Decode a probed recording to 16 kHz float32, one array per channel.

    Args:
        info: the result of `probe_audio` for the file.
        limits: stops decoding past `max_duration` even if the header lied.

    Raises:
        AudioError: when the content cannot be decoded.
    """
    import av
    from av.audio.resampler import AudioResampler

    limits = limits or AudioLimits()
    max_samples = int(limits.max_duration * SAMPLE_RATE)
    layout = "stereo" if info.channels == 2 else "mono"
    resampler = AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
    chunks: list[npt.NDArray[Any]] = []
    total = 0
    try:
        with av.open(str(info.path), format=info.format, metadata_errors="ignore") as container:
            for frame in container.decode(audio=0):
                frame.pts = None  # some containers carry broken timestamps; we only need order
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    total += out.samples
                if total > max_samples:
                    raise AudioError(
                        f"{info.path}: decodes to more than {limits.max_duration:.0f} s of audio"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except av.FFmpegError as exc:
        raise AudioError(f"{info.path}: cannot decode the {info.format} audio: {exc}") from exc
    if not chunks:
        raise AudioError(f"{info.path}: contains no audio samples")
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return DecodedAudio(tuple(np.ascontiguousarray(ch) for ch in samples))


def load_audio(path: Path, limits: AudioLimits | None = None) -> DecodedAudio:
    """Validate then decode a recording (`probe_audio` followed by `decode_audio`)."""
    return decode_audio(probe_audio(path, limits), limits)
