"""The interactive call page: the recording (whole and by byte range), the player, sync
hooks for call.js, the timeline, and key-point decisions on the page and over the API."""

import struct
import wave
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, delete

from qm.db import session_scope
from qm.domain import tokens
from qm.models import Call, KeyPointResult, Role
from qm.web.byte_ranges import ByteRange, Unsatisfiable, parse_range
from tests.factories import make_call, make_results, make_transcript, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

SEGMENTS = [
    ("agent", 0.5, 4.0, "thank you for calling acme"),
    ("customer", 3.5, 8.0, "hi, my card is blocked"),  # 0.5 s of overtalk
    ("agent", 21.0, 25.0, "sorry for the wait, let me check"),  # 13 s of silence before
    ("customer", 25.5, 28.0, "thanks"),
]


def write_wav(path: Path, seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real (silent) mono 16-bit WAV file; its bytes."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack("<h", 0) * int(seconds * rate))
    return path.read_bytes()


def build(s: Session, audio: Path | None = None) -> None:
    make_call(s, "c-1", agent_id="a-1")
    make_transcript(s, "c-1", SEGMENTS)
    make_results(
        s,
        "c-1",
        [
            {
                "item_id": "greeting",
                "label": "Greets",
                "hit": True,
                "start": 0.5,
                "end": 4.0,
                "speaker": "agent",
                "evidence": "thank you for calling acme",
            },
            {"item_id": "verify", "label": "Verifies", "hit": False, "uncertain": True},
            {"kind": "forbidden", "item_id": "rude", "label": "Rude", "hit": False},
        ],
    )
    make_call(s, "c-2", agent_id="a-2")
    if audio is not None:
        for call_id in ("c-1", "c-2"):
            call = s.get(Call, call_id)
            assert call is not None
            call.audio_path = str(audio)
            s.add(call)
    s.flush()


@pytest.fixture
def recording(tmp_path: Path, seed: Any) -> bytes:
    """Calls c-1 (agent a-1) and c-2 (agent a-2), both with the same WAV recording."""
    audio = tmp_path / "c-1.wav"
    data = write_wav(audio)
    seed(lambda s: build(s, audio))
    return data


# --- The recording --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=10-", ByteRange(10, 99)),
        ("bytes=-5", ByteRange(95, 99)),
        ("bytes=-500", ByteRange(0, 99)),
        ("bytes=90-500", ByteRange(90, 99)),
        ("BYTES = 1-2", None),  # not the syntax: ignored, the whole file
        ("bytes=5-2", None),  # last before first: invalid, ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-9", None),
        ("bytes=a-b", None),
        ("bytes=٣-٤", None),  # digits, but not ASCII ones
    ],
)
def test_range_header_parsing(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_the_whole_recording_with_its_type(reviewer: Client, recording: bytes) -> None:
    response = reviewer.get("/calls/c-1/audio")
    assert response.status_code == 200
    assert response.content == recording
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(recording))
    assert "private" in response.headers["cache-control"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=100-199", 100, 199), ("bytes=44-", 44, None), ("bytes=-16", -16, None)],
)
def test_a_range_request_gets_206_and_exactly_those_bytes(
    reviewer: Client, recording: bytes, header: str, first: int, last: int | None
) -> None:
    response = reviewer.get("/calls/c-1/audio", headers={"Range": header})
    assert response.status_code == 206
    part = recording[first : None if last is None else last + 1]
    assert response.content == part
    size = len(recording)
    start = first % size
    assert response.headers["content-range"] == f"bytes {start}-{start + len(part) - 1}/{size}"
    assert response.headers["content-length"] == str(len(part))


def test_a_range_past_the_end_is_416(reviewer: Client, recording: bytes) -> None:
    response = reviewer.get("/calls/c-1/audio", headers={"Range": f"bytes={len(recording)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(recording)}"


def test_audio_follows_the_call_s_visibility(client: Client, seed: Any, recording: bytes) -> None:
    seed(lambda s: make_user(s, "agent1", Role.AGENT, agent_id="a-1"))
    login(client, "agent1")
    assert client.get("/calls/c-1/audio").content == recording  # their own call
    hidden = client.get("/calls/c-2/audio")  # another agent's: as if it did not exist
    missing = client.get("/calls/none/audio")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert recording not in hidden.content


def test_no_recording_or_a_missing_file_is_404(reviewer: Client, seed: Any, tmp_path: Path) -> None:
    seed(lambda s: build(s, None))
    assert reviewer.get("/calls/c-1/audio").status_code == 404
    page = soup(reviewer.get("/calls/c-1").text)
    assert page.select_one("audio#player") is None

    def point_at_nothing(s: Session) -> None:
        call = s.get(Call, "c-1")
        assert call is not None
        call.audio_path = str(tmp_path / "gone.wav")
        s.add(call)

    seed(point_at_nothing)
    assert reviewer.get("/calls/c-1/audio").status_code == 404
    assert soup(reviewer.get("/calls/c-1").text).select_one("audio#player") is None


def test_the_page_has_the_player_and_the_hooks_call_js_uses(
    reviewer: Client, recording: bytes
) -> None:
    response = reviewer.get("/calls/c-1")
    page = soup(response.text)
    player = page.select_one("audio#player")
    assert player is not None and player["src"] == "/calls/c-1/audio"
    assert page.select_one('script[src="/static/call.js"]') is not None
    assert "onclick" not in response.text and "style=" not in response.text
    lines = page.select("li.seg[data-start]")
    assert [(li["data-start"], li["data-end"]) for li in lines][:2] == [
        ("0.50", "4.00"),
        ("3.50", "8.00"),
    ]
    greeting = page.select_one('#key-points li[data-item="greeting"]')
    assert greeting is not None
    chip = greeting.select_one(".chip[data-seek]")
    assert chip is not None and chip["data-seek"] == "0.50" and chip["href"] == "#seg-0"
    script = reviewer.get("/static/call.js")
    assert script.status_code == 200 and "timeupdate" in script.text


# --- The timeline ---------------------------------------------------------------------


def test_the_timeline_marks_speech_silence_and_overtalk(reviewer: Client, seed: Any) -> None:
    seed(lambda s: build(s, None))
    page = soup(reviewer.get("/calls/c-1").text)
    figure = page.select_one("#timeline")
    assert figure is not None and figure["data-duration"] == "28.00"
    silences = figure.select("rect.tl-silence")
    overtalk = figure.select("rect.tl-overtalk")
    # The 13 s gap from 8.0 to 21.0 is 8.0 / 28 of the way in, 13 / 28 of the bar long.
    assert [(r["x"], r["width"], r["data-seek"]) for r in silences] == [
        ("285.71", "464.29", "8.00")
    ]
    assert [(r["x"], r["data-seek"]) for r in overtalk] == [("125.00", "3.50")]
    assert [r["data-seek"] for r in figure.select("rect.tl-agent")] == ["0.50", "21.00"]
    assert figure.select_one("#tl-silences")["data-count"] == "1"  # type: ignore[index]
    assert figure.select_one("#tl-overtalk")["data-count"] == "1"  # type: ignore[index]
    assert figure.select_one("#tl-agent-seconds").text == "00:07"  # type: ignore[union-attr]


# --- Key-point decisions on the page ----------------------------------------------------


def decide(client: Client, item: str, **fields: str) -> Any:
    data = {"_csrf_token": csrf_token(client, "/calls/c-1"), **fields}
    return client.post(f"/calls/c-1/keypoints/{item}/override", data=data, follow_redirects=False)


def test_an_uncertain_point_asks_for_a_decision_and_shows_it_once_made(
    reviewer: Client, seed: Any
) -> None:
    seed(lambda s: build(s, None))
    page = soup(reviewer.get("/calls/c-1").text)
    verify = page.select_one('#key-points li[data-item="verify"]')
    assert verify is not None and "needs-decision" in verify["class"]
    assert page.select_one("#needs-decision-count") is not None
    form = verify.select_one("form.decide")
    assert form is not None and form["action"] == "/calls/c-1/keypoints/verify/override"
    assert [b["data-action"] for b in form.select("button[name=hit]")] == ["hit", "miss"]
    greeting_form = page.select_one('li[data-item="greeting"] form.decide')
    assert greeting_form is not None
    confirm = greeting_form.select_one('button[data-action="confirm"]')
    assert confirm is not None and confirm["value"] == "true"
    assert page.select_one('li[data-item="rude"] form.decide') is None  # forbidden phrase

    response = decide(reviewer, "verify", hit="true", start="21.0", end="25.0", comment="asked DOB")
    assert response.status_code == 303
    assert response.headers["location"] == "/calls/c-1#kp-key_point-verify"
    page = soup(reviewer.get("/calls/c-1").text)
    verify = page.select_one('#key-points li[data-item="verify"]')
    assert verify is not None and "needs-decision" not in verify["class"]
    assert verify["data-decided"] == "hit"
    override = verify.select_one(".override")
    assert override is not None and override["data-override-hit"] == "true"
    assert override.select_one(".override-by").text == "rita"  # type: ignore[union-attr]
    assert override.select_one(".override-evidence").text == "“sorry for the wait, let me check”"  # type: ignore[union-attr]
    assert override.select_one(".chip")["data-seek"] == "21.00"  # type: ignore[index]
    # The decision taught the checker the line, and the page says so.
    taught = override.select_one(".override-taught")
    assert taught is not None and taught["data-taught"] == "hit"
    assert "next calls" in taught.text
    assert page.select_one("#needs-decision-count") is None
    # Decided with an evaluation form open: back to the page with it still open.
    again = decide(reviewer, "verify", hit="true", comment="", evaluation="7")
    assert again.headers["location"] == "/calls/c-1?evaluation=7#kp-key_point-verify"


def test_a_contradiction_without_a_reason_is_refused_naming_the_field(
    reviewer: Client, seed: Any
) -> None:
    seed(lambda s: build(s, None))
    response = decide(reviewer, "greeting", hit="false", comment="")
    assert response.status_code == 422
    assert "field comment" in soup(response.text).select_one(".detail").text  # type: ignore[union-attr]
    assert decide(reviewer, "greeting", hit="maybe").status_code == 422
    assert decide(reviewer, "greeting", hit="true", start="abc", end="1").status_code == 422
    page = soup(reviewer.get("/calls/c-1").text)
    assert page.select_one('li[data-item="greeting"] .override') is None  # nothing stored


def test_the_decision_survives_a_recomputation_of_the_results(
    reviewer: Client, seed: Any, engine: Engine
) -> None:
    seed(lambda s: build(s, None))
    assert decide(reviewer, "greeting", hit="false", comment="wrong company").status_code == 303
    assert decide(reviewer, "greeting", hit="true", comment="listened again").status_code == 303
    with session_scope(engine) as s:
        s.exec(delete(KeyPointResult).where(col(KeyPointResult.call_id) == "c-1"))
        make_results(s, "c-1", [{"item_id": "greeting", "label": "Greets", "hit": False}])
    page = soup(reviewer.get("/calls/c-1").text)
    greeting = page.select_one('#key-points li[data-item="greeting"]')
    assert greeting is not None and greeting["data-outcome"] == "miss"  # the new machine answer
    assert greeting["data-decided"] == "hit"  # the reviewer's newest decision still counts
    assert greeting.select_one(".override-comment").text == "listened again"  # type: ignore[union-attr]
    earlier = greeting.select(".override-history li")
    assert len(earlier) == 1 and "wrong company" in earlier[0].text
    # A decision on a key point the new check no longer has is shown apart, not lost.
    assert decide(reviewer, "greeting", hit="true", comment="heard it").status_code == 303
    with session_scope(engine) as s:
        s.exec(delete(KeyPointResult).where(col(KeyPointResult.call_id) == "c-1"))
    page = soup(reviewer.get("/calls/c-1").text)
    orphan = page.select_one('#orphan-overrides li[data-item="greeting"]')
    assert orphan is not None and orphan["data-decided"] == "hit"


def test_an_agent_sees_decisions_but_cannot_make_one(
    client: Client, seed: Any, engine: Engine
) -> None:
    seed(lambda s: build(s, None))
    seed(lambda s: make_user(s, "agent1", Role.AGENT, agent_id="a-1"))
    login(client, "agent1")
    page = soup(client.get("/calls/c-1").text)
    assert page.select_one("form.decide") is None
    response = decide(client, "greeting", hit="true", comment="")
    assert response.status_code == 403


def test_a_chinese_call_can_be_decided(reviewer: Client, seed: Any) -> None:
    def build_zh(s: Session) -> None:
        make_call(s, "zh-1", agent_id="a-1")
        make_transcript(
            s,
            "zh-1",
            [("agent", 0.0, 3.0, "您好，欢迎致电"), ("customer", 3.5, 6.0, "我想查话费")],
            language="zh",
        )
        make_results(s, "zh-1", [{"item_id": "问候", "label": "使用标准问候语", "hit": True}])

    seed(build_zh)
    data = {
        "_csrf_token": csrf_token(reviewer, "/calls/zh-1"),
        "hit": "false",
        "start": "0",
        "end": "3",
        "comment": "没有报工号",
    }
    response = reviewer.post(
        "/calls/zh-1/keypoints/问候/override", data=data, follow_redirects=False
    )
    assert response.status_code == 303
    page = soup(reviewer.get("/calls/zh-1").text)
    item = page.select_one('#key-points li[data-item="问候"]')
    assert item is not None and item["data-decided"] == "miss"
    assert item.select_one(".override-comment").text == "没有报工号"  # type: ignore[union-attr]
    assert item.select_one(".override-evidence").text == "“您好，欢迎致电”"  # type: ignore[union-attr]
    assert page.select_one("#timeline") is not None


# --- The same decision over the JSON API ----------------------------------------------


def token_for(
    engine: Engine, seed: Any, username: str, role: Role, agent: str | None = None
) -> dict[str, str]:
    seed(lambda s: make_user(s, username, role, agent_id=agent))
    with session_scope(engine) as s:
        return {"Authorization": f"Bearer {tokens.issue_token(s, username, actor='test')}"}


API = "/api/calls/c-1/keypoints/{item}/override"


def test_the_api_stores_a_decision_and_answers_it(
    client: Client, seed: Any, engine: Engine
) -> None:
    seed(lambda s: build(s, None))
    auth = token_for(engine, seed, "rev", Role.REVIEWER)
    body = {"hit": False, "start": 0.5, "end": 4.0, "comment": "said another bank"}
    response = client.post(API.format(item="greeting"), json=body, headers=auth)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert {k: stored[k] for k in ("item_id", "hit", "auto_hit", "confirmed", "reviewer")} == {
        "item_id": "greeting",
        "hit": False,
        "auto_hit": True,
        "confirmed": False,
        "reviewer": "rev",
    }
    assert stored["evidence"] == "thank you for calling acme hi, my card is blocked"
    assert stored["taught"] == "miss"  # the line is a negative exemplar from now on
    schema = client.get("/schema/openapi.json").json()
    assert "/api/calls/{call_id}/keypoints/{item_id}/override" in schema["paths"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"hit": "yes", "comment": ""}, 400, "hit"),
        ({"comment": ""}, 400, "hit"),
        ({"hit": True}, 400, "comment"),
        ({"hit": False, "comment": ""}, 422, "comment"),
        ({"hit": True, "comment": "x" * 2001}, 422, "comment"),
        ({"hit": True, "comment": "", "start": 1.0}, 422, "end"),
        ({"hit": True, "comment": "", "start": 1.0, "end": 99.0}, 422, "end"),
    ],
)
def test_the_api_refuses_bad_input_naming_the_field(
    client: Client, seed: Any, engine: Engine, body: dict[str, Any], status: int, field: str
) -> None:
    seed(lambda s: build(s, None))
    auth = token_for(engine, seed, "rev", Role.REVIEWER)
    response = client.post(API.format(item="greeting"), json=body, headers=auth)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = problem.get("errors", [])
    named = problem.get("field") or " ".join(f"{e.get('key')} {e.get('message')}" for e in errors)
    assert field in named, problem


def test_the_api_refuses_agents_and_hides_other_calls(
    client: Client, seed: Any, engine: Engine
) -> None:
    seed(lambda s: build(s, None))
    own = token_for(engine, seed, "agent1", Role.AGENT, "a-1")
    other = token_for(engine, seed, "agent2", Role.AGENT, "a-2")
    body = {"hit": True, "comment": ""}
    assert client.post(API.format(item="greeting"), json=body, headers=own).status_code == 403
    assert client.post(API.format(item="greeting"), json=body, headers=other).status_code == 404
    reviewer = token_for(engine, seed, "rev", Role.REVIEWER)
    assert client.post(API.format(item="none-such"), json=body, headers=reviewer).status_code == 404
    assert client.post(API.format(item="rude"), json=body, headers=reviewer).status_code == 404
