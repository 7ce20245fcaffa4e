"""The call's timeline (qm.domain.calls.timeline) on built transcripts: its long silences are
the courtesy measure's, its overtalk is where agent and customer speech intersect."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qm.domain.calls.timeline import Span, build_timeline
from scoring.courtesy import measure_courtesy
from scoring.transcript import CallTranscript, Utterance

CALL = [
    Utterance("agent", 0.0, 5.0, "thank you for calling"),
    Utterance("customer", 4.0, 9.0, "my card is blocked"),  # 1 s overtalk (4-5)
    Utterance("agent", 8.9, 10.0, "one moment"),  # 0.1 s overlap: jitter, not overtalk
    Utterance("agent", 22.0, 30.0, "thanks for waiting"),  # 12 s silence (10-22)
    Utterance("customer", 26.0, 28.0, "ok"),  # 2 s overtalk inside the agent's turn
    Utterance("unknown", 45.0, 46.0, "[noise]"),  # 15 s silence (30-45)
    Utterance("customer", 50.0, 52.0, "bye"),  # 4 s gap: not long
]


def test_silences_overtalk_and_totals_by_hand() -> None:
    timeline = build_timeline(CALL, 60.0)
    assert timeline is not None
    assert timeline.duration == 60.0
    assert timeline.silences == (Span("silence", 10.0, 22.0), Span("silence", 30.0, 45.0))
    assert timeline.overtalk == (Span("overtalk", 4.0, 5.0), Span("overtalk", 26.0, 28.0))
    assert timeline.longest_silence == 15.0
    assert timeline.seconds("agent") == pytest.approx(5.0 + 1.1 + 8.0)
    assert timeline.seconds("customer") == pytest.approx(5.0 + 2.0 + 2.0)
    assert timeline.seconds("silence") == 27.0
    assert timeline.seconds("overtalk") == 3.0
    assert [s.kind for s in timeline.speech].count("unknown") == 1
    # Positions on the bar are shares of the call.
    assert timeline.offset(timeline.silences[0]) == pytest.approx(10 / 60)
    assert timeline.extent(timeline.silences[1]) == pytest.approx(15 / 60)


def test_the_silence_count_is_the_courtesy_figure() -> None:
    courtesy = measure_courtesy(CallTranscript("c", "en", 60.0, tuple(CALL)), language="en")
    timeline = build_timeline(CALL, 60.0)
    assert timeline is not None
    assert len(timeline.silences) == courtesy.long_silences == 2
    assert timeline.longest_silence == courtesy.longest_silence


def test_chinese_call_and_a_stated_length_shorter_than_the_speech() -> None:
    zh = [Utterance("agent", 0.0, 3.0, "您好"), Utterance("customer", 14.0, 16.0, "我想查话费")]
    timeline = build_timeline(zh, 10.0)  # the speech runs past the stated length
    assert timeline is not None and timeline.duration == 16.0
    assert timeline.silences == (Span("silence", 3.0, 14.0),)


def test_no_speech_no_timeline() -> None:
    assert build_timeline([], 30.0) is None
    assert build_timeline([Utterance("agent", 0.0, 0.0, "")], None) is None


turns = st.lists(
    st.tuples(
        st.sampled_from(["agent", "customer", "unknown"]),
        st.floats(0, 600, allow_nan=False),
        st.floats(0, 30, allow_nan=False),
    ),
    max_size=25,
)


@given(turns)
def test_any_transcript_matches_courtesy_and_stays_on_the_bar(
    raw: list[tuple[str, float, float]],
) -> None:
    utterances = [
        Utterance(speaker, start, start + length, "x")
        for speaker, start, length in sorted(raw, key=lambda t: t[1])
    ]
    timeline = build_timeline(utterances, None)
    if timeline is None:
        return
    transcript = CallTranscript("c", "en", None, tuple(utterances))
    assert len(timeline.silences) == measure_courtesy(transcript, language="en").long_silences
    for span in (*timeline.speech, *timeline.silences, *timeline.overtalk):
        assert 0.0 <= timeline.offset(span) <= 1.0
        assert 0.0 <= timeline.offset(span) + timeline.extent(span) <= 1.0 + 1e-9
    for span in timeline.overtalk:
        assert span.seconds >= 0.3
