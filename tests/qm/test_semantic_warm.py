"""The runner embeds a claimed batch of calls' semantic texts in one model call."""

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.pipeline import process_pending
from qm.models import KeyPointResult
from qm.settings import Settings
from scoring import semantic
from tests.conftest import REPO
from tests.qm.manifests import row, write_manifest, write_transcript
from tests.scoring.test_semantic import CountingEmbed

SCRIPT = REPO / "qm" / "demo" / "scripts" / "hvnb-retail.yaml"
CALLS = {
    "a": [
        ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is ann"),
        ("customer", 5.0, 7.0, "i want to check my balance"),
        ("agent", 8.0, 10.0, "now please check your name"),
    ],
    "b": [
        ("agent", 1.0, 4.0, "hello this is harper valley national bank my name is bo"),
        ("agent", 5.0, 7.0, "thank you for calling. have a great day"),
    ],
}


@pytest.fixture
def counting(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, CountingEmbed]:
    for call_id, lines in CALLS.items():
        write_transcript(tmp_path / f"{call_id}.json", call_id, lines)
    rows = [row(c, queue="retail", transcript=f"{c}.json") for c in CALLS]
    ingest_manifest(engine, write_manifest(tmp_path / "m.csv", rows))
    with session_scope(engine) as session:
        stored = scripts.load_script_file(session, SCRIPT, actor="test")
        scripts.assign_to_queue(session, stored.key, "retail", actor="test")
    model = CountingEmbed()
    monkeypatch.setattr(
        semantic,
        "load_sentence_transformer",
        lambda path, **_: semantic.EmbeddingMatcher(model, "concepts"),
    )
    return settings.model_copy(update={"semantic_model": tmp_path / "model"}), model


def results(engine: Engine) -> set[tuple[str, str, bool, str]]:
    with Session(engine) as session:
        rows = session.exec(select(KeyPointResult)).all()
        return {(r.call_id, r.item_id, r.hit, r.method) for r in rows}


def test_one_model_call_embeds_the_batch_of_calls(
    engine: Engine, counting: tuple[Settings, CountingEmbed]
) -> None:
    settings, model = counting
    report = process_pending(engine, settings)
    assert report.calls == 2 and report.done["keypoints"] == 2
    # Both calls fit one claimed batch: their texts go to the model together, each once.
    assert len(model.batches) == 1
    assert max(model.texts.values()) == 1
    assert {"now please check your name", "have a great day"} <= set(model.texts)


def test_the_batch_embedding_does_not_change_the_results(
    engine: Engine, counting: tuple[Settings, CountingEmbed], tmp_path: Path
) -> None:
    settings, model = counting
    # One call per run: each call's texts are embedded on their own.
    for call_id in CALLS:
        process_pending(engine, settings, call_ids=[call_id])
    alone = results(engine)
    assert ("a", "verify", True, "semantic") in alone
    assert len(model.batches) == 2
    # Imported again, the calls are checked again, now in one batch (each run loads a
    # new matcher, so nothing is cached from the runs above).
    rows = [row(c, queue="retail", transcript=f"{c}.json") for c in CALLS]
    ingest_manifest(engine, write_manifest(tmp_path / "again.csv", rows))
    model.batches.clear()
    process_pending(engine, settings)
    assert len(model.batches) == 1
    assert results(engine) == alone


def test_calls_with_their_key_points_checked_add_nothing(
    engine: Engine, counting: tuple[Settings, CountingEmbed]
) -> None:
    settings, model = counting
    process_pending(engine, settings)
    model.batches.clear()
    process_pending(engine, settings)
    assert model.batches == []
