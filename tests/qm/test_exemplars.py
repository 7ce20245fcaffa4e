"""Learning from reviewers: a decision that corrects the checker teaches it at once (the
next call processed matches against the decided line), a newer decision replaces the
lesson, a privacy removal takes it away, and a positive lesson is a phrase suggestion an
admin accepts into a new script version or dismisses (`qm script suggest`)."""

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import phrase_suggestions, privacy, scripts
from qm.domain.exemplars import script_exemplars
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.overrides import override_key_point
from qm.domain.pipeline import AsrProvider, PipelineContext, ProcessReport, process_call
from qm.domain.users import create_user
from qm.errors import NotFound, ValidationFailed
from qm.models import (
    ExemplarSuggestion,
    KeyPointExemplar,
    KeyPointResult,
    Role,
    Script,
    User,
)
from qm.settings import Settings
from scoring.exemplars import EXEMPLAR_METHOD, REJECTED_NOTE, Exemplar
from tests.conftest import REPO
from tests.factories import PASSWORD
from tests.qm.commands.cli import invoke
from tests.qm.manifests import row, write_manifest

SCRIPTS = REPO / "qm" / "demo" / "scripts"
EN_PARAPHRASE = "before we go on who am i speaking with and what is your birthday"
ZH_PARAPHRASE = "麻烦您说一下您的名字和证件号"


def _transcript(path: Path, call_id: str, language: str, lines: list[str]) -> str:
    doc = {
        "call_id": call_id,
        "language": language,
        "duration": 5.0 * len(lines),
        "segments": [
            {"speaker": "agent", "start": 1.0 + 5 * i, "end": 4.0 + 5 * i, "text": t}
            for i, t in enumerate(lines)
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path.name


CALLS = {
    # English: a paraphrase the strings miss, a sound-alike "my name is" the strings
    # take for one, and a line the checker is unsure about.
    "en-1": ("en", ["hello this is harper valley national bank", EN_PARAPHRASE, "my game is over"]),
    "en-2": ("en", ["hello", "so " + EN_PARAPHRASE, "my game is over"]),
    "en-3": ("en", ["can you confirm your flight"]),
    "en-4": ("en", ["ok can you confirm your flight"]),
    "zh-1": ("zh", ["您好星河通信客服", ZH_PARAPHRASE, "请问还有其他可以帮到您的吗"]),
    "zh-2": ("zh", ["您好", "那" + ZH_PARAPHRASE + "码", "请问还有其他可以帮到您的吗"]),
}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Engine:
    """The calls above imported (English to queue retail, Chinese to billing), scripts
    assigned, a reviewer and an admin; nothing processed yet."""
    rows = [
        row(
            call_id,
            queue="retail" if language == "en" else "zh-billing",
            transcript=_transcript(tmp_path / f"{call_id}.json", call_id, language, lines),
        )
        for call_id, (language, lines) in CALLS.items()
    ]
    ingest_manifest(engine, write_manifest(tmp_path / "m.csv", rows))
    with session_scope(engine) as session:
        for name, queue in (("hvnb-retail", "retail"), ("zh-billing", "zh-billing")):
            stored = scripts.load_script_file(session, SCRIPTS / f"{name}.yaml", actor="test")
            scripts.assign_to_queue(session, stored.key, queue, actor="test")
        create_user(session, username="rev", password=PASSWORD, role=Role.REVIEWER)
    return engine


def _process(engine: Engine, settings: Settings, *call_ids: str) -> None:
    ctx = PipelineContext(settings, AsrProvider(settings))
    for call_id in call_ids:
        process_call(engine, call_id, ctx, ProcessReport())


def _result(engine: Engine, call_id: str, item_id: str) -> KeyPointResult:
    with Session(engine) as session:
        return session.exec(
            select(KeyPointResult).where(
                KeyPointResult.call_id == call_id, KeyPointResult.item_id == item_id
            )
        ).one()


def _decide(engine: Engine, call_id: str, item_id: str, hit: bool, **span: float) -> None:
    with session_scope(engine) as session:
        rev = session.exec(select(User).where(User.username == "rev")).one()
        override_key_point(
            session,
            call_id=call_id,
            item_id=item_id,
            hit=hit,
            comment="the machine was wrong",
            actor=rev,
            **span,  # type: ignore[arg-type]
        )


def _exemplars(engine: Engine) -> list[KeyPointExemplar]:
    with Session(engine) as session:
        return list(session.exec(select(KeyPointExemplar).order_by(col(KeyPointExemplar.id))))


@pytest.mark.parametrize(
    ("first", "second", "item", "span", "script_key"),
    [
        ("en-1", "en-2", "verify", (6.0, 9.0), "hvnb-retail"),
        ("zh-1", "zh-2", "verify", (6.0, 9.0), "zh-billing"),
    ],
)
def test_a_missed_key_point_decided_with_a_span_is_found_on_the_next_call(
    world: Engine,
    settings: Settings,
    first: str,
    second: str,
    item: str,
    span: tuple[float, float],
    script_key: str,
) -> None:
    _process(world, settings, first)
    assert not _result(world, first, item).hit
    _decide(world, first, item, True, start=span[0], end=span[1])
    (taught,) = _exemplars(world)
    assert (taught.script_key, taught.item_id, taught.positive) == (script_key, item, True)
    assert taught.text == CALLS[first][1][1] and taught.call_id == first
    assert taught.suggestion == ExemplarSuggestion.PENDING
    _process(world, settings, second)
    found = _result(world, second, item)
    assert found.hit and found.method == EXEMPLAR_METHOD
    assert found.evidence == CALLS[second][1][1]


@pytest.mark.parametrize(
    ("first", "second", "item"), [("en-1", "en-2", "introduce"), ("zh-1", "zh-2", "offer_help")]
)
def test_a_false_hit_decided_as_a_miss_is_not_a_hit_on_the_next_call(
    world: Engine, settings: Settings, first: str, second: str, item: str
) -> None:
    _process(world, settings, first)
    wrong = _result(world, first, item)
    assert wrong.hit
    _decide(world, first, item, False)  # no span: the line the checker matched is the lesson
    (taught,) = _exemplars(world)
    assert (taught.positive, taught.text) == (False, wrong.evidence)
    _process(world, settings, second)
    vetoed = _result(world, second, item)
    assert (vetoed.hit, vetoed.uncertain, vetoed.note) == (False, False, REJECTED_NOTE)


def test_an_uncertain_match_decided_either_way_teaches_and_a_newer_decision_replaces_it(
    world: Engine, settings: Settings
) -> None:
    _process(world, settings, "en-3")
    unsure = _result(world, "en-3", "verify")
    assert unsure.uncertain
    _decide(world, "en-3", "verify", False)
    assert [(e.positive, e.text) for e in _exemplars(world)] == [(False, unsure.evidence)]
    _process(world, settings, "en-4")
    assert not _result(world, "en-4", "verify").uncertain
    # The reviewer changes their mind: the uncertain line did verify after all. Without
    # a span nothing is learnt (the uncertain line may not be the one that said it).
    _decide(world, "en-3", "verify", True)
    assert _exemplars(world) == []
    _decide(world, "en-3", "verify", True, start=1.0, end=4.0)
    assert [(e.positive, e.text) for e in _exemplars(world)] == [(True, unsure.evidence)]
    with Session(world) as session:
        assert script_exemplars(session, "hvnb-retail") == (
            Exemplar("verify", unsure.evidence, True),
        )


def test_a_confirmation_teaches_nothing(world: Engine, settings: Settings) -> None:
    _process(world, settings, "en-1")
    _decide(world, "en-1", "introduce", True)  # the checker said hit: a confirmation
    assert _exemplars(world) == []


def test_a_miss_on_a_line_saying_the_script_words_is_not_learnt_as_wording(
    world: Engine, settings: Settings
) -> None:
    # "hello this is harper valley national bank" is the greeting's own words: a
    # reviewer's "not said" there is about timing or order, and must not veto the
    # greeting on later calls.
    _process(world, settings, "en-1")
    greeting = _result(world, "en-1", "greeting")
    assert greeting.hit and greeting.method in ("exact", "fuzzy") and greeting.score >= 0.9
    _decide(world, "en-1", "greeting", False)
    assert _exemplars(world) == []
    # With a span the reviewer says which line was wrong: that is learnt.
    _decide(world, "en-1", "greeting", False, start=1.0, end=4.0)
    assert [(e.positive, e.text) for e in _exemplars(world)] == [(False, CALLS["en-1"][1][0])]


def test_removing_a_call_for_privacy_removes_what_it_taught(
    world: Engine, settings: Settings
) -> None:
    _process(world, settings, "en-1")
    _decide(world, "en-1", "verify", True, start=6.0, end=9.0)
    with session_scope(world) as session:
        targets = [t for t in privacy.erasure_targets(session, "k-1") if t.call_id == "en-1"]
        privacy.purge_calls(session, targets, reason=privacy.PurgeReason.ERASURE)
    assert _exemplars(world) == []


def _teach_verify(world: Engine, settings: Settings) -> None:
    _process(world, settings, "en-1", "en-3")
    _decide(world, "en-1", "verify", True, start=6.0, end=9.0)
    _decide(world, "en-3", "verify", True, start=1.0, end=4.0)  # a second variant


def test_an_admin_accepts_a_suggestion_into_a_new_script_version(
    world: Engine, settings: Settings
) -> None:
    _teach_verify(world, settings)
    with session_scope(world) as session:
        found = phrase_suggestions.suggestions(session, "hvnb-retail")
        assert {(s.item_id, s.phrase, s.count) for s in found} == {
            ("verify", EN_PARAPHRASE, 1),
            ("verify", "can you confirm your flight", 1),
        }
        chosen = next(s for s in found if s.phrase == EN_PARAPHRASE)
        assert chosen.sources == (("en-1", EN_PARAPHRASE),)
        saved = phrase_suggestions.accept_suggestions(
            session, "hvnb-retail", [chosen.id], actor="admin"
        )
        assert saved.version == 2
    with Session(world) as session:
        row_, parsed = scripts.latest_parsed(session, "hvnb-retail")
        verify = next(kp for kp in parsed.key_points if kp.id == "verify")
        assert verify.phrases[-1] == EN_PARAPHRASE and row_.version == 2
        left = phrase_suggestions.suggestions(session, "hvnb-retail")
        assert [s.phrase for s in left] == ["can you confirm your flight"]
    accepted = next(e for e in _exemplars(world) if e.text == EN_PARAPHRASE)
    assert (accepted.suggestion, accepted.version, accepted.decided_by) == (
        ExemplarSuggestion.ACCEPTED,
        2,
        "admin",
    )
    # Accepted, the exemplar still teaches (until a newer decision replaces it).
    with Session(world) as session:
        assert len(script_exemplars(session, "hvnb-retail")) == 2


def test_dismissing_and_bad_ids_and_a_phrase_too_long_for_a_script(
    world: Engine, settings: Settings
) -> None:
    _teach_verify(world, settings)
    with session_scope(world) as session:
        found = phrase_suggestions.suggestions(session, "hvnb-retail")
        first = found[0]
        assert (
            phrase_suggestions.dismiss_suggestions(
                session, "hvnb-retail", [first.id], actor="admin"
            )
            == 1
        )
        with pytest.raises(NotFound, match="no pending suggestion"):
            phrase_suggestions.accept_suggestions(session, "hvnb-retail", [first.id], actor="a")
        with pytest.raises(NotFound):
            phrase_suggestions.suggestions(session, "no-such-script")
        # A reviewer's line longer than a script phrase may be.
        long_line = _exemplars(world)[-1]
        session.get(KeyPointExemplar, long_line.id).text = "can you confirm " + "x" * 300  # type: ignore[union-attr]
        session.flush()
        (pending,) = phrase_suggestions.suggestions(session, "hvnb-retail")
        with pytest.raises(ValidationFailed) as caught:
            phrase_suggestions.accept_suggestions(session, "hvnb-retail", [pending.id], actor="a")
        assert caught.value.field == f"suggestion {pending.id}"
        assert "200" in caught.value.message
    with Session(world) as session:
        assert len(session.exec(select(Script)).all()) == 2  # nothing new was stored


def test_qm_script_suggest_lists_accepts_and_names_bad_ids(
    world: Engine, settings: Settings, db_url: str
) -> None:
    _teach_verify(world, settings)
    listed = invoke(db_url, "script", "suggest", "hvnb-retail", QM_SEMANTIC_MODEL="off")
    assert listed.exit_code == 0, listed.output
    assert "2 suggested phrase variant(s) for script hvnb-retail" in listed.output
    assert EN_PARAPHRASE in listed.output and "call en-1" in listed.output
    as_json = invoke(db_url, "script", "suggest", "hvnb-retail", "--json", QM_SEMANTIC_MODEL="off")
    rows = json.loads(as_json.output)
    chosen = next(r for r in rows if r["phrase"] == EN_PARAPHRASE)
    assert chosen["item"] == "verify" and chosen["sources"] == [
        {"call": "en-1", "line": EN_PARAPHRASE}
    ]
    bad = invoke(
        db_url, "script", "suggest", "hvnb-retail", "--accept", "999", QM_SEMANTIC_MODEL="off"
    )
    assert bad.exit_code != 0 and "no pending suggestion 999" in bad.output
    done = invoke(
        db_url,
        "script",
        "suggest",
        "hvnb-retail",
        "--accept",
        str(chosen["id"]),
        QM_SEMANTIC_MODEL="off",
    )
    assert done.exit_code == 0 and "version 2" in done.output
    with Session(world) as session:
        _, parsed = scripts.latest_parsed(session, "hvnb-retail")
        assert EN_PARAPHRASE in next(kp for kp in parsed.key_points if kp.id == "verify").phrases


def test_qm_script_suggest_names_a_latest_version_that_no_longer_passes(
    world: Engine, db_url: str
) -> None:
    with session_scope(world) as session:
        session.add(
            Script(key="old-rules", version=1, name="x", language="en", body={"id": "old-rules"})
        )
    result = invoke(db_url, "script", "suggest", "old-rules", QM_SEMANTIC_MODEL="off")
    assert result.exit_code == 1
    assert "script old-rules: its latest version no longer passes the checks" in result.output
