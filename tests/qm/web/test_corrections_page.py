"""The transcript correction page: the form, a saved correction (redacted, its WER
recorded, the call re-checked in the background), refusals that store nothing, and who
may use it. In English and in Chinese."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.pipeline import process_pending
from qm.domain.stored_transcripts import current_transcript, replace_transcript
from qm.models import (
    AsrAccuracy,
    AuditEvent,
    CallMetrics,
    CallStage,
    KeyPointResult,
    Role,
    Segment,
    Stage,
    StageStatus,
    Transcript,
    TranscriptKind,
)
from qm.settings import Settings
from tests.conftest import REPO
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup
from transcripts import Segment as DocSegment
from transcripts import Transcript as DocTranscript

SCRIPTS = REPO / "qm" / "demo" / "scripts"
EDIT = "/calls/{}/transcript/edit"
# What the engine heard: it lost the bank's name, so the greeting is missed.
HEARD_EN = [
    ("agent", 1.0, 4.0, "hello this is my name is ann"),
    ("agent", 4.5, 6.0, "how can i help you today"),
    ("customer", 7.0, 9.5, "i want to pay my bill"),
    ("agent", 30.0, 33.0, "thank you for calling have a great day"),
]
HEARD_ZH = [
    ("agent", 0.5, 3.0, "您好客服"),
    ("customer", 3.5, 6.0, "我想查一下话费"),
    ("customer", 6.5, 9.0, "我的身份证号码是"),
]
ID_NUMBER = "110101199003074514"
CARD = "4111111111111111"


def _wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll until `check()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the background re-check did not finish in time"
        time.sleep(0.05)


def _heard(engine: Engine, settings: Settings, call_id: str, lines: list[Any], lang: str) -> None:
    """A call whose transcript came from an engine, checked with its queue's script."""
    queue, path = ("retail", "hvnb-retail.yaml") if lang == "en" else ("hotline", "zh-billing.yaml")
    with session_scope(engine) as session:
        make_call(session, call_id, queue=queue)
        doc = DocTranscript(
            call_id, lang, lines[-1][2], tuple(DocSegment(s, a, b, t) for s, a, b, t in lines)
        )
        replace_transcript(session.connection(), call_id, doc, source="asr:faster-whisper/small")
        row = scripts.load_script_file(session, SCRIPTS / path, actor="test")
        scripts.assign_to_queue(session, row.key, queue, actor="test")
    process_pending(engine, settings, call_ids=[call_id])


def _form(client: Client, call_id: str) -> dict[str, str]:
    """The form as the browser would send it unchanged (with its CSRF token)."""
    page = soup(client.get(EDIT.format(call_id)).text)
    form = page.select_one("form#correction")
    assert form is not None
    data: dict[str, str] = {}
    for field in form.select("input[name]"):
        data[str(field["name"])] = str(field.get("value", ""))
    for select_ in form.select("select[name]"):
        chosen = select_.select_one("option[selected]")
        data[str(select_["name"])] = str(chosen["value"]) if chosen else ""
    for area in form.select("textarea[name]"):
        data[str(area["name"])] = area.get_text()
    assert data["_csrf_token"] == csrf_token(client, EDIT.format(call_id))
    return data


def _post(client: Client, call_id: str, data: dict[str, str]) -> Any:
    return client.post(EDIT.format(call_id), data=data, follow_redirects=False)


def _stored(engine: Engine, call_id: str) -> tuple[Transcript, list[Segment]]:
    with Session(engine) as session:
        transcript = current_transcript(session, call_id)
        assert transcript is not None
        segments = session.exec(
            select(Segment)
            .where(Segment.transcript_id == transcript.id)
            .order_by(col(Segment.position))
        ).all()
        return transcript, list(segments)


def _keypoints_done(engine: Engine, call_id: str) -> bool:
    with Session(engine) as session:
        stage = session.exec(
            select(CallStage).where(
                CallStage.call_id == call_id, CallStage.stage == Stage.KEYPOINTS
            )
        ).first()
        return stage is not None and stage.status == StageStatus.DONE


def _hits(engine: Engine, call_id: str) -> dict[str, bool]:
    with Session(engine) as session:
        rows = session.exec(select(KeyPointResult).where(KeyPointResult.call_id == call_id))
        return {r.item_id: r.hit for r in rows}


def test_the_form_lists_every_segment_with_its_time_speaker_and_text(
    reviewer: Client, engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    response = reviewer.get(EDIT.format("c-1"))
    assert response.status_code == 200
    page = soup(response.text)
    rows = page.select("form#correction tbody tr")
    assert len(rows) == len(HEARD_EN)
    first = rows[0]
    assert "00:01" in first.get_text() and "00:04" in first.get_text()
    chosen = first.select_one('select[name="speaker-0"] option[selected]')
    assert chosen is not None and chosen["value"] == "agent"
    options = [o["value"] for o in first.select('select[name="speaker-0"] option')]
    assert options == ["agent", "customer"]
    text = first.select_one('textarea[name="text-0"]')
    assert text is not None and text.get_text() == HEARD_EN[0][3]
    start = first.select_one('input[name="start-0"]')
    assert start is not None and float(str(start["value"])) == 1.0


def test_a_correction_is_stored_redacted_measured_and_rechecked_in_the_background(
    reviewer: Client, engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    assert _hits(engine, "c-1")["greeting"] is False  # the engine lost the bank's name
    data = _form(reviewer, "c-1")
    data["text-0"] = "hello this is harper valley national bank my name is ann"
    data["text-2"] = f"i want to pay my bill with card {CARD}"

    response = _post(reviewer, "c-1", data)

    assert response.status_code == 303
    assert response.headers["location"] == "/calls/c-1"
    transcript, segments = _stored(engine, "c-1")
    assert transcript.kind == TranscriptKind.CORRECTED
    assert transcript.source == "reviewer:rita"
    assert segments[0].text.endswith("national bank my name is ann")
    assert CARD not in segments[2].text and "[PAN]" in segments[2].text
    with Session(engine) as session:
        accuracy = session.exec(select(AsrAccuracy)).one()
    assert (accuracy.engine, accuracy.model, accuracy.corrected_by) == (
        "faster-whisper",
        "small",
        "rita",
    )
    assert accuracy.deletions >= 1
    # The call page shows the WER just recorded ...
    page = soup(reviewer.get("/calls/c-1").text)
    measured = page.select_one(".asr-accuracy")
    assert measured is not None and "WER" in measured.get_text()
    # ... and the re-check runs in the background: the greeting is now found.
    _wait_for(lambda: _keypoints_done(engine, "c-1"))
    assert _hits(engine, "c-1")["greeting"] is True
    with Session(engine) as session:
        metrics = session.get(CallMetrics, "c-1")
        assert metrics is not None and metrics.script_version == 1
    page = soup(reviewer.get("/calls/c-1").text)
    checked = page.select_one("#checked-with")
    assert checked is not None
    assert "Checked with script hvnb-retail version 1 on" in checked.get_text()
    assert "re-check pending" not in checked.get_text()


def test_a_chinese_correction_masks_id_and_card_numbers_and_changes_a_speaker(
    reviewer: Client, engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "zh-1", HEARD_ZH, "zh")
    assert _hits(engine, "zh-1")["greeting"] is False  # the company's name was lost
    data = _form(reviewer, "zh-1")
    data["text-0"] = "您好星河通信客服"
    data["text-2"] = f"我的身份证号码是{ID_NUMBER}，卡号是{CARD}"
    data["speaker-1"] = "agent"

    response = _post(reviewer, "zh-1", data)

    assert response.status_code == 303, response.text
    transcript, segments = _stored(engine, "zh-1")
    assert transcript.kind == TranscriptKind.CORRECTED and transcript.language == "zh"
    assert segments[2].text == "我的身份证号码是[ID]，卡号是[PAN]"
    assert segments[1].speaker == "agent"
    with Session(engine) as session:
        accuracy = session.exec(select(AsrAccuracy)).one()
    assert accuracy.language == "zh" and accuracy.wer > 0
    _wait_for(lambda: _keypoints_done(engine, "zh-1"))
    assert _hits(engine, "zh-1")["greeting"] is True
    page = soup(reviewer.get("/calls/zh-1").text)
    assert "CER" in page.select_one(".asr-accuracy").get_text()  # type: ignore[union-attr]
    assert "我的身份证号码是[ID]" in page.get_text()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"text-1": "   "}, "text-1", "is empty"),
        ({"speaker-0": "unknown"}, "speaker-0", "must be agent or customer"),
        ({"speaker-0": "supervisor"}, "speaker-0", "must be agent or customer"),
        ({"text-4": "one more line", "start-4": "40.0"}, "text-4", "cannot add segments"),
        ({"start-1": "4.0"}, "start-1", "cannot be changed"),
        ({"end-3": "not a time"}, "end-3", "cannot be changed"),
        ({"text-0": "x" * 10_001}, "text-0", "longer than 10000 characters"),
        ({"text-0": "bell \x07 ring"}, "text-0", "control character"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    reviewer: Client,
    engine: Engine,
    settings: Settings,
    change: dict[str, str],
    field: str,
    message: str,
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    data = _form(reviewer, "c-1") | change
    data["text-2"] = f"my card is {CARD}"  # typed, but refused with the rest

    response = _post(reviewer, "c-1", data)

    assert response.status_code == 422
    page = soup(response.text)
    alert = page.select_one("#correction-error")
    assert alert is not None
    assert f"field {field}" in alert.get_text() and message in alert.get_text()
    # The form comes back with what was typed.
    again = page.select_one('textarea[name="text-2"]')
    assert again is not None and again.get_text() == f"my card is {CARD}"
    _assert_nothing_stored(engine, "c-1")


def test_a_missing_segment_is_refused(reviewer: Client, engine: Engine, settings: Settings) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    data = _form(reviewer, "c-1")
    del data["text-3"]
    response = _post(reviewer, "c-1", data)
    assert response.status_code == 422
    assert "field text-3: is missing" in response.text
    _assert_nothing_stored(engine, "c-1")


def test_a_form_made_from_a_replaced_transcript_is_refused_as_a_conflict(
    reviewer: Client, engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    stale = _form(reviewer, "c-1")
    fresh = _form(reviewer, "c-1")
    fresh["text-0"] = "hello this is harper valley national bank my name is ann"
    assert _post(reviewer, "c-1", fresh).status_code == 303
    stale["text-1"] = "how may i help you"

    response = _post(reviewer, "c-1", stale)

    assert response.status_code == 409
    assert "replaced since this page was opened" in response.text
    _, segments = _stored(engine, "c-1")
    assert segments[1].text == "how can i help you today"


def _assert_nothing_stored(engine: Engine, call_id: str) -> None:
    transcript, segments = _stored(engine, call_id)
    assert transcript.kind == TranscriptKind.ORIGINAL
    assert [s.text for s in segments] == [line[3] for line in HEARD_EN]
    with Session(engine) as session:
        assert session.exec(select(AsrAccuracy)).all() == []
        assert not session.exec(
            select(AuditEvent).where(AuditEvent.action == "transcript.corrected")
        ).all()
        # The call was not marked for a re-check either.
        assert _keypoints_done(engine, call_id)


def test_agents_may_not_correct_and_hidden_or_missing_calls_are_not_found(
    client: Client, seed: Callable[..., None], engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    seed(lambda s: make_user(s, "andy", Role.AGENT, agent_id="a-1"))
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    seed(lambda s: make_call(s, "no-text", queue="retail"))
    login(client, "andy")
    assert client.get(EDIT.format("c-1")).status_code == 403
    token = csrf_token(client, "/calls")
    refused = client.post(EDIT.format("c-1"), data={"_csrf_token": token, "transcript_id": "1"})
    assert refused.status_code == 403
    assert "Correct transcript" not in client.get("/calls/c-1").text  # their own call
    client.post("/logout", data={"_csrf_token": csrf_token(client, "/calls")})
    login(client, "rita")
    assert client.get(EDIT.format("nope")).status_code == 404
    assert client.get(EDIT.format("no-text")).status_code == 404
    token = csrf_token(client, "/calls")
    missing = client.post(EDIT.format("nope"), data={"_csrf_token": token})
    assert missing.status_code == 404
    _assert_nothing_stored(engine, "c-1")


def test_the_call_page_links_to_the_form_and_says_which_version_checked_it(
    reviewer: Client, engine: Engine, settings: Settings
) -> None:
    _heard(engine, settings, "c-1", HEARD_EN, "en")
    page = soup(reviewer.get("/calls/c-1").text)
    link = page.select_one("a#correct-transcript")
    assert link is not None and link["href"] == "/calls/c-1/transcript/edit"
    assert "Correct transcript" in link.get_text()
    checked = page.select_one("#checked-with")
    assert checked is not None and "script hvnb-retail version 1" in checked.get_text()
    body = reviewer.get("/api/calls/c-1").json()
    assert body["checked_with"]["script_key"] == "hvnb-retail"
    assert body["checked_with"]["script_version"] == 1
    assert body["checked_with"]["recheck_pending"] is False
    assert body["checked_with"]["checked_at"].startswith("20")
