"""Full-text search in transcripts and the "key point missed" filter, on SQLite and PostgreSQL.

Transcripts are written through `replace_transcript`, the one door the app uses, so that
the tests see the index exactly as the triggers (SQLite) or the GIN index (PostgreSQL)
keep it.
"""

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from qm import migrate
from qm.db import make_engine, session_scope
from qm.domain.calls import listing, search
from qm.domain.calls.listing import CallFilters, list_calls
from qm.domain.calls.search import first_hits, key_point_options
from qm.domain.corrections import store_correction
from qm.domain.stored_transcripts import replace_transcript
from qm.models import KeyPointOverride, Role, User
from qm.models.transcript_search import compact_search_index
from tests.factories import T0, make_call, make_results, make_script, make_user
from transcripts.format import Segment as DocSegment
from transcripts.format import Transcript as DocTranscript

Line = tuple[str, float, float, str]

ENGLISH: list[Line] = [
    ("agent", 0.0, 3.0, "Thank you for calling, this is Sam."),
    (
        "customer",
        3.5,
        9.0,
        "Hello again, so as I said, last month I was charged twice and I would like a"
        " REFUND for the second one, as soon as you can please.",
    ),
    ("agent", 9.5, 12.0, "I'm sorry about that."),
]
CHINESE: list[Line] = [
    ("agent", 0.0, 2.5, "您好，这里是客服中心。"),
    ("customer", 2.5, 6.0, "我上个月多扣了一笔钱，想申请退款。"),
    ("agent", 6.5, 8.0, "好的，我帮您查一下。"),
]
ODD: list[Line] = [
    ("customer", 1.0, 4.0, "He said \"100% sure\" about the a*b_c plan (O'Brien's)."),
    ("agent", 4.0, 6.0, "That costs 1000 dollars, not 100."),
]


def doc(call_id: str, lines: list[Line], language: str = "en") -> DocTranscript:
    segments = tuple(DocSegment(s, a, b, t) for s, a, b, t in lines)
    return DocTranscript(call_id, language, lines[-1][2] if lines else None, segments)


def store(session: Session, call_id: str, lines: list[Line], language: str = "en") -> None:
    replace_transcript(
        session.connection(), call_id, doc(call_id, lines, language), source="import:test"
    )


def build(session: Session) -> None:
    """Three calls of two agents: English, Chinese and one full of search-syntax characters."""
    make_call(session, "en-1", agent_id="a-1", started_at=T0)
    store(session, "en-1", ENGLISH)
    make_call(session, "zh-1", agent_id="a-2", queue="cards", started_at=T0 + timedelta(hours=1))
    store(session, "zh-1", CHINESE, "zh")
    make_call(session, "odd-1", agent_id="a-1", started_at=T0 + timedelta(hours=2))
    store(session, "odd-1", ODD)


def found(session: Session, q: str, viewer: User, **filters: Any) -> list[str]:
    page = list_calls(
        session,
        filters=CallFilters(search=q, **filters),
        page=1,
        page_size=50,
        viewer=viewer,
    )
    return sorted(row.call_id for row in page.items)


@pytest.fixture(params=["few", "many"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of narrowing: matches read out as a list ("few"), or checked call by
    call ("many": any match at all counts as many here)."""
    if request.param == "many":
        monkeypatch.setattr(search, "PROBE_LIMIT", 1)
    return str(request.param)


@pytest.fixture
def world(engine: Engine, strategy: str) -> tuple[Engine, User]:
    with session_scope(engine) as session:
        build(session)
        reviewer = make_user(session, "rita", Role.REVIEWER)
    return engine, reviewer


def test_english_is_found_whatever_the_case_with_the_line_cut_around_it(
    world: tuple[Engine, User],
) -> None:
    engine, rita = world
    with Session(engine) as session:
        assert found(session, "refund", rita) == ["en-1"]
        assert found(session, "Charged  Twice", rita) == ["en-1"]  # runs of spaces count once
        assert found(session, "refunds", rita) == []
        page = list_calls(
            session, filters=CallFilters(search="refund"), page=1, page_size=10, viewer=rita
        )
        hit = page.items[0].match
        assert hit is not None
        assert (hit.position, hit.start, hit.anchor, hit.seek) == (1, 3.5, "seg-1", "3.5")
        # The match keeps the line's own case; the context is cut with an ellipsis.
        assert hit.text == "REFUND"
        assert hit.before == "…I was charged twice and I would like a "
        assert hit.after == " for the second one, as soon as you can…"


def test_chinese_three_and_two_characters_are_found_one_is_not(
    world: tuple[Engine, User],
) -> None:
    engine, rita = world
    with Session(engine) as session:
        assert found(session, "申请退款", rita) == ["zh-1"]  # the trigram index
        assert found(session, "退款", rita) == ["zh-1"]  # two characters: a scan
        assert found(session, "客服", rita) == ["zh-1"]
        assert found(session, "退货", rita) == []
        # One character would match nearly every call: only ids and names are matched.
        assert found(session, "退", rita) == []
        hits = first_hits(session, call_ids=["zh-1", "en-1"], query="退款")
        assert list(hits) == ["zh-1"]
        assert (hits["zh-1"].before, hits["zh-1"].text, hits["zh-1"].after) == (
            "我上个月多扣了一笔钱，想申请",
            "退款",
            "。",
        )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"100% sure"', ["odd-1"]),
        ("100%", ["odd-1"]),  # % is a character, not a wildcard: "1000" does not match
        ("a*b_c", ["odd-1"]),
        ("a*", ["odd-1"]),
        ("b_c", ["odd-1"]),
        ("x_y", []),  # _ is not "any character"
        ("O'Brien's", ["odd-1"]),
        ('"', []),
        ('""', []),
        ("*", []),
        ("**", []),
        ("refund OR twice", []),  # FTS5 syntax is text here
        ("NEAR(refund", []),
        ("refund:", []),
        ("\\", []),
        ("%%", []),
        ("(plan)", []),
        ("^He", []),
    ],
)
def test_search_syntax_characters_are_plain_text(
    world: tuple[Engine, User], query: str, expected: list[str]
) -> None:
    engine, rita = world
    with Session(engine) as session:
        assert found(session, query, rita) == expected


def test_a_corrected_transcript_is_found_by_its_new_words_only(
    world: tuple[Engine, User],
) -> None:
    engine, rita = world
    corrected = [(s, a, b, t.replace("REFUND", "credit note")) for s, a, b, t in ENGLISH]
    with session_scope(engine) as session:
        store_correction(session, "en-1", doc("en-1", corrected), reviewer="rita", source="web")
    with Session(engine) as session:
        assert found(session, "credit note", rita) == ["en-1"]
        assert found(session, "refund", rita) == []
        hit = first_hits(session, call_ids=["en-1"], query="credit")["en-1"]
        assert hit.text == "credit"
    # Re-importing the original replaces its rows: the index forgets the old text.
    with session_scope(engine) as session:
        store(session, "zh-1", [("agent", 0.0, 2.0, "您好，请问有什么可以帮您？")], "zh")
    with Session(engine) as session:
        assert found(session, "申请退款", rita) == []
        assert found(session, "可以帮您", rita) == ["zh-1"]
        if engine.dialect.name == "sqlite":
            # An external-content FTS5 index told the wrong old text would fail this.
            session.connection().exec_driver_sql(
                "INSERT INTO segment_fts(segment_fts) VALUES ('integrity-check')"
            )


def test_card_numbers_are_redacted_before_they_could_be_found(engine: Engine) -> None:
    with session_scope(engine) as session:
        make_call(session, "card-1")
        store(session, "card-1", [("customer", 0.0, 5.0, "my card is 4111 1111 1111 1111 ok")])
        rita = make_user(session, "rita", Role.REVIEWER)
    with Session(engine) as session:
        assert found(session, "4111", rita) == []
        assert found(session, "my card is", rita) == ["card-1"]


def test_search_combines_with_filters_and_visibility(world: tuple[Engine, User]) -> None:
    engine, rita = world
    with session_scope(engine) as session:
        amy = make_user(session, "amy", Role.AGENT, agent_id="a-1")
    with Session(engine) as session:
        assert found(session, "您好", rita) == ["zh-1"]
        assert found(session, "您好", rita, agent="a-1") == []
        assert found(session, "您好", rita, queue="cards") == ["zh-1"]
        assert found(session, "您好", amy) == []  # not her call
        assert found(session, "this is", amy) == ["en-1"]
        # The same text still matches call ids and customer names.
        assert found(session, "odd-", rita) == ["odd-1"]


def test_missed_counts_the_reviewers_decision_over_the_machine(engine: Engine) -> None:
    with session_scope(engine) as session:
        rita = make_user(session, "rita", Role.REVIEWER)
        for call_id in ("m-1", "m-2", "m-3", "m-4", "m-5"):
            make_call(session, call_id)
        make_results(session, "m-1", [{"item_id": "greeting", "hit": False}])
        make_results(session, "m-2", [{"item_id": "greeting", "hit": True}])
        make_results(session, "m-3", [{"item_id": "greeting", "hit": False, "uncertain": True}])
        make_results(session, "m-4", [{"item_id": "greeting", "hit": False}])
        make_results(session, "m-5", [{"item_id": "greeting", "hit": True}])
        make_results(session, "m-2", [{"item_id": "greeting", "hit": False, "kind": "forbidden"}])
        # m-4: the machine said missed, a reviewer said hit. m-5: a reviewer said missed,
        # then changed their mind. m-3: the machine was unsure, a reviewer said missed.
        # m-2 stays a hit though its forbidden phrase of the same id was "missed".
        assert rita.id is not None
        for call_id, hit in (("m-4", True), ("m-5", False), ("m-5", True), ("m-3", False)):
            session.add(
                KeyPointOverride(call_id=call_id, item_id="greeting", hit=hit, reviewer_id=rita.id)
            )
        session.flush()
    with Session(engine) as session:
        page = list_calls(
            session, filters=CallFilters(missed="greeting"), page=1, page_size=10, viewer=rita
        )
        assert sorted(r.call_id for r in page.items) == ["m-1", "m-3"]
        empty = list_calls(
            session, filters=CallFilters(missed="nothing"), page=1, page_size=10, viewer=rita
        )
        assert empty.total == 0


def test_key_point_options_come_from_the_scripts(engine: Engine) -> None:
    with session_scope(engine) as session:
        script = make_script(session)
        script.body = {
            **script.body,
            "key_points": [
                {"id": "greeting", "label": "Greets the caller"},
                {"id": "verify", "label": "核实身份"},
            ],
        }
        session.add(script)
    with Session(engine) as session:
        options = key_point_options(session)
    assert [(o.item_id, o.label) for o in options] == [
        ("greeting", "Greets the caller"),
        ("verify", "核实身份"),
    ]


def test_migration_indexes_segments_stored_before_it(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0008")
        with engine.begin() as conn:
            # The rows as 0008 knew them, written without the app's models.
            conn.execute(
                sa.text("INSERT INTO agent (id, name, created_at) VALUES ('a-1', 'a-1', :t)"),
                {"t": T0.replace(tzinfo=None)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO call (id, agent_id, started_at, source, imported_at)"
                    " VALUES ('old-1', 'a-1', :t, 'manifest', :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO transcript (call_id, kind, language, source, created_at)"
                    " VALUES ('old-1', 'original', 'zh', 'import', :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
            conn.execute(
                sa.text(
                    'INSERT INTO segment (transcript_id, position, speaker, start, "end", text)'
                    " SELECT id, 0, 'customer', 1.5, 3.0, '我想申请退款' FROM transcript"
                )
            )
        migrate.upgrade(engine)
        with session_scope(engine) as session:
            rita = make_user(session, "rita", Role.REVIEWER)
        with Session(engine) as session:
            assert found(session, "申请退款", rita) == ["old-1"]
    finally:
        engine.dispose()


def test_many_matches_are_paged_without_a_count(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "PROBE_LIMIT", 3)
    with session_scope(engine) as session:
        rita = make_user(session, "rita", Role.REVIEWER)
        for n in range(7):
            make_call(session, f"r-{n}", started_at=T0 + timedelta(minutes=n))
            store(session, f"r-{n}", [("customer", 1.0, 2.0, f"refund number {n}")])
    with Session(engine) as session:

        def page(number: int, q: str = "refund") -> listing.Page:
            return list_calls(
                session, filters=CallFilters(search=q), page=number, page_size=3, viewer=rita
            )

        # Many matches: not counted; each page knows whether another follows.
        first, second, third, past = page(1), page(2), page(3), page(4)
        assert (first.total, first.total_is_lower_bound, first.has_next) == (3, True, True)
        assert [r.call_id for r in first.items] == ["r-6", "r-5", "r-4"]
        assert (second.total, second.total_is_lower_bound, second.has_next) == (6, True, True)
        assert [r.call_id for r in second.items] == ["r-3", "r-2", "r-1"]
        # The last page knows it is the last: the total is exact there.
        assert (third.total, third.total_is_lower_bound, third.has_next) == (7, False, False)
        assert [r.call_id for r in third.items] == ["r-0"]
        assert (past.items, past.total_is_lower_bound, past.has_next) == ([], True, False)
        # Few matches (under the probe's limit) are counted exactly.
        exact = page(1, "number 5")
        assert (exact.total, exact.total_is_lower_bound) == (1, False)


def test_erased_text_is_not_found_and_compacting_leaves_none_of_it(
    world: tuple[Engine, User],
) -> None:
    engine, rita = world
    from qm.domain.privacy import erase_customer

    def index_holds(text: str) -> bool:
        found_in = session.connection().exec_driver_sql(
            "SELECT count(*) FROM segment_fts_data WHERE instr(block, ?) > 0",
            (text.encode(),),
        )
        return bool(found_in.scalar_one())

    sqlite = engine.dialect.name == "sqlite"
    with session_scope(engine) as session:
        assert not sqlite or index_holds("退款")
        # Every call of the world is customer k-1's. Deleted rows leave their trigrams in
        # the index's pages until it is compacted: the erasure compacts it.
        erase_customer(session, "k-1", actor="dpo")
        assert not sqlite or not index_holds("退款")
        compact_search_index(session.connection())  # a second compaction is harmless
        assert not sqlite or not index_holds("退款")
    with Session(engine) as session:
        assert found(session, "申请退款", rita) == []
        assert found(session, "refund", rita) == []
