"""Importing the Harper Valley dataset format."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.domain.imports.harper_valley import ingest_harper_valley
from qm.errors import ValidationFailed
from qm.models import Agent, Call, Customer, Segment, Transcript

SID = "0002f70f7386445b"
HARPER_VALLEY = Path(__file__).resolve().parents[2] / "qm" / "demo" / "harper_valley"


def test_conversations_become_calls_with_human_transcripts(engine: Engine) -> None:
    report = ingest_harper_valley(engine, HARPER_VALLEY)
    assert report.rows == 60 and report.transcripts == 60
    with Session(engine) as session:
        call = session.get(Call, f"hv-{SID}")
        assert call is not None
        assert call.agent_id == "hv-agent-46"
        assert call.customer_id == "patricia-brown"
        assert call.reason == "replace card"
        assert call.started_at.timestamp() == pytest.approx(1591056783.191)
        assert call.talk_seconds == pytest.approx(51.203)
        assert call.hold_seconds is None and call.transfers is None  # not in the dataset
        customer = session.get(Customer, "patricia-brown")
        assert customer is not None and customer.name == "Patricia Brown"
        agent = session.get(Agent, "hv-agent-46")
        assert agent is not None and agent.name.endswith("(46)")
        transcript = session.exec(select(Transcript).where(Transcript.call_id == call.id)).one()
        first = session.exec(
            select(Segment).where(Segment.transcript_id == transcript.id).order_by(Segment.position)
        ).first()
        assert first is not None
        assert (first.speaker, first.text) == ("agent", "hello this is harper valley national bank")
        assert first.start == pytest.approx(1.669)
        texts = session.exec(select(Segment.text)).all()
        assert not any("[noise]" in t or "<unk>" in t for t in texts)
    again = ingest_harper_valley(engine, HARPER_VALLEY)
    assert (again.created, again.updated) == (0, 60)


def test_broken_file_rejects_the_whole_folder(engine: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "hv"
    shutil.copytree(HARPER_VALLEY, copy)
    meta = copy / "metadata" / f"{SID}.json"
    data = json.loads(meta.read_text())
    del data["start_time_ms"]
    meta.write_text(json.dumps(data))
    with pytest.raises(ValidationFailed) as info:
        ingest_harper_valley(engine, copy)
    assert info.value.file == str(meta) and info.value.field == "start_time_ms"
    with Session(engine) as session:
        assert session.exec(select(Call)).first() is None
