"""Importing mystery-shopper results: validation, all-or-nothing, re-import."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.imports.mystery import ingest_mystery
from qm.errors import ValidationFailed
from qm.models import Agent, MysteryShop, Script

BODY = {
    "id": "s1",
    "name": "Script",
    "language": "en",
    "key_points": [{"id": "greeting", "phrases": ["hello"]}, {"id": "verify", "phrases": ["dob"]}],
    "forbidden": [],
}
HEADER = "shop_id,agent_id,date,scenario,greeting,verify,score,comment\n"


@pytest.fixture
def scripted(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        session.add(Script(key="s1", version=1, name="Script", language="en", body=BODY))
    return engine


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_creates_shops_and_agents_and_reimport_updates(
    scripted: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "shops.csv",
        HEADER
        + "m1,a-1,2024-05-02,lost card,yes,no,80,polite but skipped ID\n"
        + "m2,a-2,2024-05-03,balance,YES,na,,\n",
    )
    report = ingest_mystery(scripted, path)
    assert (report.rows, report.created, report.items) == (2, 2, ["greeting", "verify"])
    assert report.new_agents == ["a-1", "a-2"]
    with Session(scripted) as session:
        m1 = session.get(MysteryShop, "m1")
        assert m1 is not None
        assert m1.items == {"greeting": "yes", "verify": "no"}
        assert (m1.date, m1.score, m1.comment) == (dt.date(2024, 5, 2), 80, "polite but skipped ID")
        m2 = session.get(MysteryShop, "m2")
        assert m2 is not None and m2.items["greeting"] == "yes" and m2.score is None
        assert session.get(Agent, "a-2") is not None
    write(path, HEADER + "m1,a-1,2024-05-02,lost card,yes,yes,100,\n")
    again = ingest_mystery(scripted, path)
    assert (again.created, again.updated) == (0, 1)
    with Session(scripted) as session:
        assert len(session.exec(select(MysteryShop)).all()) == 2
        m1 = session.get(MysteryShop, "m1")
        assert m1 is not None and m1.items["verify"] == "yes"


BAD = [
    (
        "missing column",
        "shop_id,agent_id,date,greeting\nm9,a,2024-01-01,yes\n",
        1,
        "scenario",
        "missing column",
    ),
    (
        "unknown item",
        "shop_id,agent_id,date,scenario,greting\nm9,a,2024-01-01,x,yes\n",
        1,
        "greting",
        "unknown item id",
    ),
    ("bad answer", HEADER + "m9,a,2024-01-01,x,yes,maybe,,\n", 2, "verify", "yes, no, na"),
    ("empty answer", HEADER + "m9,a,2024-01-01,x,,no,,\n", 2, "greeting", "empty"),
    ("bad date", HEADER + "m9,a,01/02/2024,x,yes,no,,\n", 2, "date", "YYYY-MM-DD"),
    ("score out of range", HEADER + "m9,a,2024-01-01,x,yes,no,120,\n", 2, "score", "100 or less"),
    (
        "duplicate shop",
        HEADER + "m9,a,2024-01-01,x,yes,no,,\nm9,a,2024-01-02,x,yes,no,,\n",
        3,
        "shop_id",
        "twice",
    ),
]


@pytest.mark.parametrize(("name", "text", "row", "field", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_names_row_and_field_and_stores_nothing(
    scripted: Engine, tmp_path: Path, name: str, text: str, row: int, field: str, message: str
) -> None:
    ingest_mystery(scripted, write(tmp_path / "ok.csv", HEADER + "m1,a-1,2024-05-02,x,yes,no,,\n"))
    path = write(
        tmp_path / "bad.csv", HEADER + "m2,a-7,2024-05-02,x,yes,yes,,\n" if row > 1 else text
    )
    if row > 1:
        # a good row first, so the bad one comes after something the import already took
        path = write(
            tmp_path / "bad.csv",
            text.replace(HEADER, HEADER + "m2,a-7,2024-05-02,x,yes,yes,,\n", 1),
        )
        row += 1
    with pytest.raises(ValidationFailed) as info:
        ingest_mystery(scripted, path)
    assert (info.value.file, info.value.row, info.value.field) == (str(path), row, field)
    assert message in info.value.message
    with Session(scripted) as session:
        assert [s.id for s in session.exec(select(MysteryShop)).all()] == ["m1"]
        assert session.get(Agent, "a-7") is None


def test_item_columns_need_a_stored_script(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="no script is stored"):
        ingest_mystery(engine, write(tmp_path / "s.csv", HEADER + "m1,a,2024-01-01,x,yes,no,,\n"))
