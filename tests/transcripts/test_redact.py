"""Redaction of card numbers, security codes and Chinese ID numbers, in English and Chinese.

The rules one by one are in test_redact_cards.py (card numbers), test_redact_context.py
(security codes, ID numbers, free text, idempotence) and test_redact_properties.py
(hypothesis); the digit-string checks in test_redact_numbers.py.
"""

import wave

import numpy as np
import pytest

from transcripts.format import Segment, Transcript, Word
from transcripts.numbers import china_id_valid, luhn_valid
from transcripts.redact import RedactionSpan, redact_audio, redact_transcript, redaction_spans

from .conftest import read_wav, write_wav

VISA = "4111111111111111"
AMEX = "378282246310005"


def _one(text: str, speaker: str = "customer", language: str = "en") -> str:
    transcript = Transcript("c", language, None, (Segment(speaker, 0.0, 5.0, text),))
    return redact_transcript(transcript).segments[0].text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [PAN] thanks"),
        ("card 4111-1111-1111-1111.", "card [PAN]."),
        (f"number {AMEX} expiry 0927", "number [PAN] expiry 0927"),
        (
            "it's four one one one one one one one one one one one one one one one okay",
            "it's [PAN] okay",
        ),
        ("forty one eleven eleven eleven eleven eleven eleven eleven", "[PAN]"),
        ("four one double one" + " one" * 12, "[PAN]"),
        ("Card: ４１１１ １１１１ １１１１ １１１１", "Card: [PAN]"),
        # Not Luhn-valid, too short, or a phone number: left alone.
        ("4111 1111 1111 2", "4111 1111 1111 2"),
        ("call me on 415 555 0123", "call me on 415 555 0123"),
        ("order 123456789012", "order 123456789012"),
        # A longer number is not a card because 16 of its digits pass Luhn.
        ("order 14111111111111111", "order 14111111111111111"),
        ("the cvv is 123", "the cvv is [CVV]"),
        ("security code seven three one", "security code [CVV]"),
        ("I have 3 accounts", "I have 3 accounts"),
        # Chinese: digits as characters, 幺 for one.
        ("我的卡号是四一一一一一一一一一一一一一一一", "我的卡号是[PAN]"),
        ("卡号是4111 1111 1111 1111，谢谢", "卡号是[PAN]，谢谢"),
        ("卡号三七八二八二二四六三幺零零零五", "卡号[PAN]"),
        ("背面的安全码是幺二三", "背面的安全码是[CVV]"),
        ("身份证号11010519491231002X", "身份证号[ID]"),
        ("身份证号幺幺零幺零五幺九四九幺二三幺零零二叉", "身份证号[ID]"),
        ("我的电话是13812345678", "我的电话是13812345678"),
    ],
)
def test_redaction_table(text, expected):
    assert _one(text) == expected


def test_digits_split_across_segments_of_one_speaker():
    transcript = Transcript(
        "c",
        "en",
        None,
        (
            Segment("customer", 10.0, 12.0, "it's 4111 1111"),
            Segment("agent", 12.1, 12.5, "uh huh"),
            Segment("customer", 12.6, 15.0, "1111 1111"),
        ),
    )
    out = redact_transcript(transcript)
    assert [s.text for s in out.segments] == ["it's [PAN]", "uh huh", "[PAN]"]


def test_cvv_answer_in_the_next_segment():
    transcript = Transcript(
        "c",
        "en",
        None,
        (
            Segment("agent", 0.0, 2.0, "and the three digit code on the back please"),
            Segment("customer", 3.0, 4.0, "nine eight seven"),
            Segment("customer", 60.0, 61.0, "I have 123 points"),
        ),
    )
    texts = [s.text for s in redact_transcript(transcript).segments]
    assert texts[1:] == ["[CVV]", "I have 123 points"]


def test_word_timestamps_of_the_redacted_span_are_kept():
    words = (
        Word("card", 1.0, 1.3),
        Word("4111", 1.4, 1.9),
        Word("1111", 2.0, 2.5),
        Word("1111", 2.6, 3.1),
        Word("1111", 3.2, 3.7),
        Word("thanks", 4.0, 4.3),
    )
    seg = Segment("customer", 1.0, 4.3, "card 4111 1111 1111 1111 thanks", words)
    out = redact_transcript(Transcript("c", "en", 4.3, (seg,))).segments[0]
    assert [w.text for w in out.words] == ["card", "[PAN]", "thanks"]
    assert (out.words[1].start, out.words[1].end) == (1.4, 3.7)
    spans = redaction_spans(Transcript("c", "en", 4.3, (out,)), padding=0.1)
    assert spans == [RedactionSpan("[PAN]", "customer", 1.3, 3.8)]


def test_untouched_transcript_is_equal():
    seg = Segment("agent", 0.0, 1.0, "thank you for calling", (Word("thank", 0.0, 0.3),))
    transcript = Transcript("c", "en", 1.0, (seg,))
    assert redact_transcript(transcript) == transcript


def test_redact_audio_beeps_and_silences_the_span(tmp_path):
    rate = 8000
    t = np.arange(3 * rate) / rate
    voice = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    src = write_wav(tmp_path / "call.wav", [voice, voice * 0.5], rate)
    span = [RedactionSpan("[PAN]", "customer", 1.0, 2.0)]
    silenced = redact_audio(src, tmp_path / "silenced.wav", span, mode="silence")
    beeped = redact_audio(src, tmp_path / "beeped.wav", span)
    (left, right), out_rate = read_wav(silenced)
    assert out_rate == rate
    assert np.all(left[rate + 1 : 2 * rate - 1] == 0) and np.all(
        right[rate + 1 : 2 * rate - 1] == 0
    )
    assert np.allclose(left[: rate - 1], voice[: rate - 1], atol=1e-3)
    (beep, _), _ = read_wav(beeped)
    spectrum = np.abs(np.fft.rfft(beep[rate + 10 : 2 * rate - 10]))
    peak_hz = np.argmax(spectrum) * rate / (len(beep[rate + 10 : 2 * rate - 10]))
    assert peak_hz == pytest.approx(1000, abs=5)
    with wave.open(str(beeped)) as w:
        assert w.getnchannels() == 2
    with pytest.raises(ValueError, match="new file"):
        redact_audio(src, src, span)


def test_checksums():
    assert luhn_valid(VISA) and luhn_valid(AMEX) and not luhn_valid("4111111111111112")
    assert china_id_valid("11010519491231002X") and not china_id_valid("110105194912310021")
