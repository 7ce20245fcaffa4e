"""pocketsphinx: the offline English fallback, with the model shipped in its wheel.

Its accuracy is far below Whisper's (about 30 % word errors on clean read speech, 65 % and
more on telephone audio): good enough to exercise the pipeline, not to judge a call.
"""

import numpy as np

from transcripts.engines.base import AsrConfig, AsrEngine, ChannelResult, Samples
from transcripts.errors import EngineError
from transcripts.format import Segment, Word

FRAME_RATE = 100  # pocketsphinx reports times in 10 ms frames
# Words that are not words: silences, breaths, noise markers.
_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[speech]", "[laugh]"}


class PocketsphinxEngine(AsrEngine):
    """CMU pocketsphinx 5 with its bundled US-English model and its own VAD (Endpointer)."""

    engine_name = "pocketsphinx"

    def __init__(self, config: AsrConfig) -> None:
        super().__init__(config)
        if config.language == "zh":
            raise EngineError(
                "QM_ASR_LANGUAGE=zh: pocketsphinx ships an English model only; "
                "use QM_ASR_ENGINE=faster-whisper with a Whisper model for Chinese"
            )
        try:
            from pocketsphinx import Decoder

            self.decoder = Decoder(samprate=16000, loglevel="FATAL")
        except Exception as exc:
            raise EngineError(f"cannot load pocketsphinx's English model: {exc}") from exc

    @property
    def uses_model(self) -> bool:
        """pocketsphinx ignores QM_WHISPER_MODEL."""
        return False

    def transcribe_channel(self, samples: Samples, *, language: str | None) -> ChannelResult:
        """Transcribe one 16 kHz channel, one segment per stretch of speech (English only)."""
        del language  # the bundled model is English; the config refused zh at load time
        from pocketsphinx import Segmenter

        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        segmenter = Segmenter(sample_rate=16000)
        spans = (
            [(s.start_time, s.pcm) for s in segmenter.segment(_Reader(pcm))]
            if self.config.vad
            else [(0.0, pcm)]
        )
        segments = [seg for start, chunk in spans if (seg := self._decode(start, chunk))]
        return ChannelResult(tuple(segments), "en")

    def _decode(self, offset: float, pcm: bytes) -> Segment | None:
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        words = tuple(
            Word(
                seg.word.split("(")[0],  # "read(2)" is the 2nd pronunciation of "read"
                round(offset + seg.start_frame / FRAME_RATE, 3),
                round(offset + (seg.end_frame + 1) / FRAME_RATE, 3),
            )
            for seg in decoder.seg()
            if seg.word.lower() not in _FILLERS
        )
        if not words:
            return None
        text = " ".join(w.text for w in words)
        return Segment("unknown", words[0].start, words[-1].end, text, words)


class _Reader:
    """A minimal file-like reader over bytes, for the Segmenter."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk
