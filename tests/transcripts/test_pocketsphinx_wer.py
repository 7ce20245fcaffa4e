"""Real speech through pocketsphinx: a regression guard on WER, not a quality claim.

Bounds are the WER measured when this test was written (pocketsphinx 5.1.1, its bundled
en-us model), plus about ten points of slack. Whisper models would score far lower; these
numbers only catch a broken decoding path (resampling, channel split, VAD).
"""

import json

import pytest

from transcripts.wer import transcript_text, wer_report

from .conftest import AUDIO, STEREO

REFERENCES = json.loads((AUDIO / "references.json").read_text(encoding="utf-8"))
# clip -> (measured WER, bound)
BOUNDS = {
    "jfk.wav": (0.227, 0.33),
    "librivox/sense_and_sensibility_01_austen_64kb-0870.wav": (0.409, 0.50),
    "librivox/sense_and_sensibility_01_austen_64kb-0880.wav": (0.375, 0.50),
    "librivox/sense_and_sensibility_01_austen_64kb-0890.wav": (0.357, 0.45),
    "librivox/sense_and_sensibility_01_austen_64kb-0920.wav": (0.211, 0.32),
    "librivox/sense_and_sensibility_01_austen_64kb-0930.wav": (0.125, 0.25),
    "ldc93s1_8k.wav": (0.818, 0.95),  # 8 kHz telephone band: pocketsphinx is near useless
}
CORPUS_BOUND = 0.45  # measured 0.349 over all clips (stereo clip included)


@pytest.fixture(scope="module")
def results(sphinx):
    return {clip: sphinx.transcribe_file(AUDIO / clip, call_id=clip) for clip in REFERENCES}


@pytest.mark.parametrize("clip", sorted(BOUNDS))
def test_wer_stays_under_the_recorded_bound(results, clip):
    report = wer_report(REFERENCES[clip]["text"], transcript_text(results[clip]))
    assert report.wer.rate <= BOUNDS[clip][1]


def test_corpus_wer(results):
    errors = words = 0
    for clip, transcript in results.items():
        counts = wer_report(REFERENCES[clip]["text"], transcript_text(transcript)).wer
        errors += counts.substitutions + counts.deletions + counts.insertions
        words += counts.reference_length
    assert errors / words <= CORPUS_BOUND


def test_stereo_clip_speakers_are_right(results):
    transcript = results["stereo_diarization.wav"]
    texts = REFERENCES["stereo_diarization.wav"]["channel_texts"]
    agent = wer_report(texts["left"], transcript_text(transcript, "agent"))
    customer = wer_report(texts["right"], transcript_text(transcript, "customer"))
    assert agent.wer.rate <= 0.35  # measured 0.235
    assert customer.wer.rate <= 0.9  # measured 0.80: a short, fast sentence
    # Each channel's words match its own reference far better than the other's.
    crossed = wer_report(texts["right"], transcript_text(transcript, "agent"))
    assert crossed.wer.rate > agent.wer.rate + 0.5
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)


def test_stereo_clip_with_agent_on_the_right(sphinx):
    transcript = sphinx.transcribe_file(STEREO, call_id="c", agent_channel="right")
    left_text = REFERENCES["stereo_diarization.wav"]["channel_texts"]["left"]
    assert wer_report(left_text, transcript_text(transcript, "customer")).wer.rate <= 0.35
