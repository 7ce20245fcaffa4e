"""Call read functions: visibility, pipeline status, handle time and evidence anchors."""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from qm.db import session_scope
from qm.domain.calls.detail import get_call_detail
from qm.domain.calls.listing import CallFilters, filter_options, list_calls
from qm.domain.calls.status import PipelineStatus, handle_time
from qm.errors import NotFound
from qm.models import Call, CallMetrics, Role, Stage, StageStatus, User
from tests.factories import T0, make_call, make_done, make_results, make_stage, make_transcript

REVIEWER = User(id=1, username="rita", password_hash="-", role=Role.REVIEWER)
AGENT_1 = User(id=2, username="amy", password_hash="-", role=Role.AGENT, agent_id="a-1")
UNLINKED_AGENT = User(id=3, username="zed", password_hash="-", role=Role.AGENT)


@pytest.fixture
def calls_db(engine: Engine) -> Engine:
    with session_scope(engine) as s:
        make_call(s, "c-1", agent_id="a-1", started_at=T0)
        make_done(s, "c-1")
        make_call(s, "c-2", agent_id="a-2", started_at=T0 + timedelta(hours=1))
        make_stage(s, "c-2", Stage.TRANSCRIBE, StageStatus.SKIPPED)
        make_stage(s, "c-2", Stage.KEYPOINTS, StageStatus.FAILED, "boom")
        make_call(s, "c-3", agent_id="a-2", started_at=T0 + timedelta(hours=2), reason=None)
        make_stage(s, "c-3", Stage.TRANSCRIBE, StageStatus.DONE)
    return engine


def _ids(engine: Engine, viewer: User, **filters: Any) -> list[str]:
    with session_scope(engine) as s:
        page = list_calls(
            s,
            filters=CallFilters(**filters),
            page=1,
            page_size=10,
            viewer=viewer,
        )
    return [r.call_id for r in page.items]


def test_visibility_by_role(calls_db: Engine) -> None:
    assert _ids(calls_db, REVIEWER) == ["c-3", "c-2", "c-1"]
    assert _ids(calls_db, AGENT_1) == ["c-1"]
    assert _ids(calls_db, AGENT_1, agent="a-2") == []
    assert _ids(calls_db, UNLINKED_AGENT) == []


def test_pipeline_status(calls_db: Engine) -> None:
    with session_scope(calls_db) as s:
        page = list_calls(s, filters=CallFilters(), page=1, page_size=10, viewer=REVIEWER)
    assert {r.call_id: r.status for r in page.items} == {
        "c-1": PipelineStatus.DONE,
        "c-2": PipelineStatus.FAILED,
        "c-3": PipelineStatus.PENDING,
    }
    assert _ids(calls_db, REVIEWER, status=PipelineStatus.PENDING) == ["c-3"]


def test_paging_counts(calls_db: Engine) -> None:
    with session_scope(calls_db) as s:
        page = list_calls(s, filters=CallFilters(), page=2, page_size=2, viewer=REVIEWER)
    assert (page.total, page.pages, page.has_previous, page.has_next) == (3, 2, True, False)
    assert [r.call_id for r in page.items] == ["c-1"]


def test_a_long_list_is_counted_up_to_the_cap_and_pages_on(
    calls_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qm.domain.calls import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 2)  # three calls: one more than counted
    with session_scope(calls_db) as s:
        first = list_calls(s, filters=CallFilters(), page=1, page_size=1, viewer=REVIEWER)
        last = list_calls(s, filters=CallFilters(), page=3, page_size=1, viewer=REVIEWER)
        beyond = list_calls(s, filters=CallFilters(), page=4, page_size=1, viewer=REVIEWER)
        narrow = list_calls(
            s, filters=CallFilters(agent="a-2"), page=1, page_size=1, viewer=REVIEWER
        )
    # "2+ calls": more than the cap are known to match, and a next page is offered.
    assert (first.total, first.total_is_lower_bound, first.has_next) == (2, True, True)
    assert [r.call_id for r in first.items] == ["c-3"]
    # The last page knows the whole number: it is exact again.
    assert (last.total, last.total_is_lower_bound, last.has_next) == (3, False, False)
    assert [r.call_id for r in last.items] == ["c-1"]
    assert beyond.items == [] and beyond.total_is_lower_bound
    # A list within the cap is counted exactly, as before.
    assert (narrow.total, narrow.total_is_lower_bound, narrow.pages) == (2, False, 2)


def test_date_filter_uses_the_site_time_zone(calls_db: Engine) -> None:
    # In Auckland (UTC+13) c-2 at 10:00 UTC is 23:00 on 1 March, c-3 at 11:00 UTC is
    # already 00:00 on 2 March.
    with session_scope(calls_db) as s:
        auckland = list_calls(
            s,
            filters=CallFilters(date_from=T0.date() + timedelta(days=1)),
            page=1,
            page_size=10,
            viewer=REVIEWER,
            tz=ZoneInfo("Pacific/Auckland"),
        )
    assert [r.call_id for r in auckland.items] == ["c-3"]


def test_filter_options_follow_visibility(calls_db: Engine) -> None:
    with session_scope(calls_db) as s:
        everyone = filter_options(s, REVIEWER)
        own = filter_options(s, AGENT_1)
    assert [a for a, _ in everyone.agents] == ["a-1", "a-2"]
    assert everyone.reasons == ["balance"]
    assert [a for a, _ in own.agents] == ["a-1"]


def test_detail_visibility(calls_db: Engine) -> None:
    with session_scope(calls_db) as s:
        assert get_call_detail(s, "c-1", AGENT_1).call.id == "c-1"
        # Another agent's call is "not found", in the words used for a call that is missing.
        with pytest.raises(NotFound, match=r"^no call with id 'c-2'$"):
            get_call_detail(s, "c-2", AGENT_1)
        with pytest.raises(NotFound, match=r"^no call with id 'nope'$"):
            get_call_detail(s, "nope", REVIEWER)
        with pytest.raises(NotFound, match=r"^no call with this id$"):
            get_call_detail(s, "c-1\x00", REVIEWER)


def test_detail_stages_in_order_with_pending_ones(calls_db: Engine) -> None:
    with session_scope(calls_db) as s:
        detail = get_call_detail(s, "c-2", REVIEWER)
    assert [(v.stage, v.status, v.detail) for v in detail.stages] == [
        ("transcribe", "skipped", ""),
        ("keypoints", "failed", "boom"),
        ("metrics", "pending", ""),
    ]
    assert detail.status == PipelineStatus.FAILED


def test_evidence_anchor_prefers_the_speaker_whose_turn_overlaps(engine: Engine) -> None:
    with session_scope(engine) as s:
        make_call(s, "c-1")
        # Stereo channels overlap: the customer talks over the agent at 5 s.
        make_transcript(
            s,
            "c-1",
            [("agent", 0.0, 8.0, "let me explain the fee"), ("customer", 4.0, 6.0, "okay")],
        )
        make_results(
            s,
            "c-1",
            [
                {"item_id": "explain", "hit": True, "start": 5.0, "speaker": "agent"},
                {"item_id": "ack", "hit": True, "start": 5.0, "speaker": "customer"},
                {"item_id": "late", "hit": True, "start": 30.0, "speaker": "agent"},
                {"item_id": "none", "hit": False},
            ],
        )
    with session_scope(engine) as s:
        detail = get_call_detail(s, "c-1", REVIEWER)
    assert [(v.result.item_id, v.anchor) for v in detail.key_points] == [
        ("explain", "seg-0"),
        ("ack", "seg-1"),
        ("late", "seg-0"),
        ("none", None),
    ]
    assert [m.item_id for m in detail.segments[0].marks] == ["explain", "late"]


def test_handle_time_prefers_the_metric_and_keeps_unknown_unknown() -> None:
    call = Call(
        id="c", agent_id="a", started_at=T0, talk_seconds=100, hold_seconds=10, wrap_seconds=None
    )
    assert handle_time(call, None) is None
    call.wrap_seconds = 5
    assert handle_time(call, None) == 115
    assert handle_time(call, CallMetrics(call_id="c", handle_seconds=120)) == 120
