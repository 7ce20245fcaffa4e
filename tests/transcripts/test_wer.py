"""WER/CER with the documented normalisation (jiwer 4)."""

import pytest

from transcripts.format import Segment, Transcript
from transcripts.numbers import number_to_chinese, number_to_english
from transcripts.wer import normalize_text, transcript_wer, wer_report


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Hello, World!", "en", "hello world"),
        ("ＨＥＬＬＯ　ｗｏｒｌｄ！", "en", "hello world"),
        ("I don't have 10 dollars.", "en", "i don't have ten dollars"),
        ("Call 0800 now", "en", "call zero eight zero zero now"),
        ("mp3 files", "en", "mp3 files"),
        ("2024 年", "zh", "二千零二十四 年"),
        ("我想查一下话费。", "zh", "我想查一下话费"),
        ("您好，请问有什么可以帮您？", "zh", "您好 请问有什么可以帮您"),
    ],
)
def test_normalisation(text, language, expected):
    assert normalize_text(text, language) == expected


def test_counts_substitutions_insertions_deletions():
    report = wer_report("the cat sat on the mat", "oh the cat sit on mat")
    assert (report.wer.substitutions, report.wer.deletions, report.wer.insertions) == (1, 1, 1)
    assert report.wer.hits == 4
    assert report.wer.rate == pytest.approx(3 / 6)
    assert report.language == "en"


def test_normalisation_makes_formatting_free():
    assert wer_report("Ten dollars, please!", "10 dollars please").wer.rate == 0


def test_chinese_is_scored_on_characters():
    report = wer_report("我想查一下话费", "我想查一话费")
    assert report.language == "zh"
    assert report.cer.deletions == 1
    assert report.headline == pytest.approx(1 / 7)
    assert report.wer == report.cer


def test_empty_reference_and_hypothesis():
    assert wer_report("", "").wer.rate == 0
    # As jiwer 4: every hypothesis word is an insertion, the rate is their number.
    empty = wer_report("", "hello there")
    assert (empty.wer.rate, empty.wer.insertions, empty.wer.hits) == (2, 2, 0)
    assert empty.cer.rate == 10 and empty.cer.insertions == 10
    assert wer_report("hello there", "").wer.deletions == 2


def test_transcript_wer_per_speaker():
    ref = Transcript(
        "c",
        "en",
        None,
        (Segment("agent", 0, 1, "thank you for calling"), Segment("customer", 1, 2, "hi there")),
    )
    hyp = Transcript(
        "c",
        "en",
        None,
        (Segment("agent", 0, 1, "thank you for calling"), Segment("customer", 1, 2, "hi bear")),
    )
    assert transcript_wer(ref, hyp, speaker="agent").wer.rate == 0
    assert transcript_wer(ref, hyp, speaker="customer").wer.rate == 0.5
    assert transcript_wer(ref, hyp).wer.rate == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    ("n", "en", "zh"),
    [
        (0, "zero", "零"),
        (13, "thirteen", "十三"),
        (40, "forty", "四十"),
        (105, "one hundred five", "一百零五"),
        (2024, "two thousand twenty four", "二千零二十四"),
        (10010, "ten thousand ten", "一万零一十"),
    ],
)
def test_number_words(n, en, zh):
    assert number_to_english(n) == en
    assert number_to_chinese(n) == zh
