"""The call page: manifest and metrics, the speaker-labelled transcript, key-point evidence,
forbidden phrases and pipeline stages."""

from typing import Any

from sqlmodel import Session

from qm.models import Stage, StageStatus
from tests.factories import make_call, make_metrics, make_results, make_stage, make_transcript
from tests.qm.web.conftest import Client, soup

SEGMENTS = [
    ("agent", 1.2, 4.8, "thank you for calling acme, this is sam"),
    ("customer", 5.0, 9.5, "hi, I want to check my balance"),
    ("agent", 10.0, 14.0, "calm down, I will look it up"),
    ("customer", 65.0, 68.0, "thanks"),
]


def build_reviewed_call(s: Session) -> None:
    """A processed call: transcript, three key-point outcomes, a forbidden phrase, metrics."""
    make_call(s, "c-1", agent_id="a-1", customer_id="k-1", transfers=1, resolved=False)
    make_transcript(s, "c-1", SEGMENTS)
    make_results(
        s,
        "c-1",
        [
            {
                "item_id": "greeting",
                "label": "Greets with company name",
                "hit": True,
                "start": 1.2,
                "end": 4.8,
                "speaker": "agent",
                "evidence": "thank you for calling acme",
                "score": 1.0,
                "method": "exact",
                "critical": True,
            },
            {
                "item_id": "verify",
                "label": "Verifies identity",
                "hit": False,
                "score": 0.2,
                "method": "fuzzy",
                "note": "not found",
            },
            {
                "item_id": "close",
                "label": "Offers more help",
                "hit": False,
                "uncertain": True,
                "start": 65.0,
                "speaker": "customer",
                "evidence": "thanks",
                "score": 0.71,
                "method": "fuzzy",
                "note": "said by the customer",
            },
            {
                "kind": "forbidden",
                "item_id": "dismissive",
                "label": "Dismissive",
                "hit": True,
                "start": 10.0,
                "speaker": "agent",
                "evidence": "calm down",
                "score": 1.0,
                "method": "exact",
            },
            {"kind": "forbidden", "item_id": "blame", "label": "Blames", "hit": False},
        ],
    )
    make_metrics(
        s,
        "c-1",
        handle_seconds=307,
        transferred=True,
        compliance=0.5,
        critical_failed=False,
        uncertain_items=1,
        courtesy={
            "polite_count": 2,
            "forbidden_count": 1,
            "interruptions": 0,
            "customer_name_used": False,
            "phrases": ["thank you"],
        },
    )
    make_stage(s, "c-1", Stage.TRANSCRIBE, StageStatus.SKIPPED, "transcript imported")
    make_stage(s, "c-1", Stage.KEYPOINTS, StageStatus.DONE, "billing-inbound v1")
    make_stage(s, "c-1", Stage.METRICS, StageStatus.DONE)


def test_header_shows_manifest_fields_and_metrics(reviewer: Client, seed: Any) -> None:
    seed(build_reviewed_call)
    page = soup(reviewer.get("/calls/c-1").text)
    assert page.select_one("h1 .call-id").text == "c-1"  # type: ignore[union-attr]
    assert page.select_one("#pipeline-status").text == "done"  # type: ignore[union-attr]
    text = {
        key: page.select_one(f"#{key}").text.strip()  # type: ignore[union-attr]
        for key in ("agent", "customer", "handle-time", "transfers", "resolved", "compliance")
    }
    assert text == {
        "agent": "a-1",
        "customer": "k-1",
        "handle-time": "05:07",
        "transfers": "1",
        "resolved": "no",
        "compliance": "50%",
    }
    assert page.select_one("#critical-failed").text.strip() == "no"  # type: ignore[union-attr]
    assert page.select_one("#uncertain-items").text == "1"  # type: ignore[union-attr]
    courtesy = {
        tr.th.text: tr.td.text  # type: ignore[union-attr]
        for tr in page.select("#courtesy tr")
    }
    assert courtesy == {
        "Polite forms": "2",
        "Forbidden phrases": "1",
        "Interruptions": "0",
        "Used the customer's name": "no",
    }


def test_transcript_is_speaker_labelled_with_timestamps(reviewer: Client, seed: Any) -> None:
    seed(build_reviewed_call)
    page = soup(reviewer.get("/calls/c-1").text)
    segments = page.select("#transcript li.seg")
    assert [s.select_one(".speaker").text for s in segments] == [  # type: ignore[union-attr]
        "agent",
        "customer",
        "agent",
        "customer",
    ]
    assert [s.select_one(".ts").text for s in segments] == ["00:01", "00:05", "00:10", "01:05"]  # type: ignore[union-attr]
    assert "speaker-agent" in segments[0]["class"]
    assert "speaker-customer" in segments[1]["class"]
    assert segments[1].select_one(".text").text == "hi, I want to check my balance"  # type: ignore[union-attr]
    assert page.select_one("#transcript")["lang"] == "en"  # type: ignore[index]


def test_key_points_show_outcome_and_evidence_linked_to_the_segment(
    reviewer: Client, seed: Any
) -> None:
    seed(build_reviewed_call)
    page = soup(reviewer.get("/calls/c-1").text)
    items = {li["data-item"]: li for li in page.select("#key-points li.result")}
    assert {k: v["data-outcome"] for k, v in items.items()} == {
        "greeting": "hit",
        "verify": "miss",
        "close": "uncertain",
    }
    greeting = items["greeting"]
    link = greeting.select_one("a.evidence-link")
    assert link is not None and link.text == "“thank you for calling acme”"
    target = page.select_one(str(link["href"]))
    assert target is not None and target["id"] == "seg-0"
    assert greeting.select_one(".time").text == "00:01"  # type: ignore[union-attr]
    assert greeting.select_one(".method").text == "exact"  # type: ignore[union-attr]
    assert greeting.select_one(".score").text == "1.00"  # type: ignore[union-attr]
    assert greeting.select_one(".flag.critical") is not None
    assert items["verify"].select_one(".evidence") is None
    assert items["verify"].select_one(".note").text == "not found"  # type: ignore[union-attr]
    close = items["close"]
    assert close.select_one("a.evidence-link")["href"] == "#seg-3"  # type: ignore[index]
    assert close.select_one(".note").text == "said by the customer"  # type: ignore[union-attr]
    # The transcript marks the segment where a hit's evidence was found.
    marks = page.select_one("#seg-0 .marks a")
    assert marks is not None and marks["href"] == "#kp-key_point-greeting"


def test_forbidden_phrases_found_are_listed(reviewer: Client, seed: Any) -> None:
    seed(build_reviewed_call)
    page = soup(reviewer.get("/calls/c-1").text)
    found = page.select("#forbidden li.result")
    assert [li["data-item"] for li in found] == ["dismissive"]
    assert found[0].select_one("a.evidence-link")["href"] == "#seg-2"  # type: ignore[index]
    assert page.select_one("#seg-2 .mark.forbidden") is not None


def test_stages_show_status_and_the_error_of_a_failed_one(reviewer: Client, seed: Any) -> None:
    def build(s: Session) -> None:
        make_call(s, "c-9")
        make_stage(
            s, "c-9", Stage.TRANSCRIBE, StageStatus.FAILED, "EngineError: model 'small' not found"
        )

    seed(build)
    page = soup(reviewer.get("/calls/c-9").text)
    assert page.select_one("#pipeline-status").text == "failed"  # type: ignore[union-attr]
    rows = {tr["data-stage"]: tr for tr in page.select("#stages tbody tr")}
    assert list(rows) == ["transcribe", "keypoints", "metrics"]
    failed = rows["transcribe"]
    assert failed.select_one(".badge").text == "failed"  # type: ignore[union-attr]
    assert failed.select_one(".error-detail").text == "EngineError: model 'small' not found"  # type: ignore[union-attr]
    assert rows["keypoints"].select_one(".badge").text == "pending"  # type: ignore[union-attr]
    # Nothing processed yet: the page says so instead of showing empty tables.
    assert page.select_one("#transcript .empty") is not None
    assert page.select_one("#key-points .empty") is not None
    assert page.select_one("#compliance").text == "—"  # type: ignore[union-attr]
    assert page.select_one("#handle-time").text == "05:07"  # type: ignore[union-attr]


def test_chinese_transcript_renders(reviewer: Client, seed: Any) -> None:
    def build(s: Session) -> None:
        make_call(s, "zh-1")
        segments = [("agent", 0.5, 3.0, "您好，欢迎致电"), ("customer", 3.5, 5.0, "我想查话费")]
        make_transcript(s, "zh-1", segments, language="zh")

    seed(build)
    response = reviewer.get("/calls/zh-1")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = soup(response.text)
    assert page.select_one('meta[charset="utf-8"]') is not None
    assert page.select_one("#transcript")["lang"] == "zh"  # type: ignore[index]
    assert [t.text for t in page.select("#transcript .text")] == ["您好，欢迎致电", "我想查话费"]


def test_a_corrected_transcript_replaces_the_original(reviewer: Client, seed: Any) -> None:
    def build(s: Session) -> None:
        make_call(s, "c-1")
        make_transcript(s, "c-1", [("agent", 0.0, 1.0, "helo")])
        make_transcript(s, "c-1", [("agent", 0.0, 1.0, "hello")], kind="corrected")

    seed(build)
    page = soup(reviewer.get("/calls/c-1").text)
    assert [t.text for t in page.select("#transcript .text")] == ["hello"]


def test_unknown_call_is_a_404_page(reviewer: Client) -> None:
    response = reviewer.get("/calls/none-such")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    page = soup(response.text)
    assert page.select_one("h1 .status").text == "404"  # type: ignore[union-attr]
    assert "none-such" in page.select_one(".detail").text  # type: ignore[union-attr]


def test_a_corrected_machine_transcript_shows_the_engine_accuracy(
    reviewer: Client, seed: Any
) -> None:
    from qm.domain.corrections import store_correction
    from transcripts import Segment as DocSegment
    from transcripts import Transcript as DocTranscript

    def build(s: Session) -> None:
        make_call(s, "c-1")
        machine = make_transcript(s, "c-1", [("agent", 0.0, 2.0, "thank you for colling")])
        machine.source = "asr:faster-whisper/small"
        fixed = DocTranscript(
            "c-1", "en", 2.0, (DocSegment("agent", 0.0, 2.0, "thank you for calling"),)
        )
        store_correction(s, "c-1", fixed, reviewer="rita", source="fix.json")

    seed(build)
    page = soup(reviewer.get("/calls/c-1").text)
    assert page.select_one("#transcript .source").text == "reviewer:rita"  # type: ignore[union-attr]
    accuracy = page.select_one("#transcript .asr-accuracy").text  # type: ignore[union-attr]
    assert "faster-whisper/small: WER 25.0% against the correction by rita" in accuracy
    assert "(1 substituted, 0 deleted, 0 inserted of 4)" in accuracy


def test_the_queue_wait_of_a_telephony_call_is_shown_when_known(
    reviewer: Client, seed: Any
) -> None:
    def build(s: Session) -> None:
        build_reviewed_call(s)
        make_call(s, "c-2", agent_id="a-1").queue_seconds = 95.0

    seed(build)
    assert soup(reviewer.get("/calls/c-1").text).select_one("#queue-wait") is None
    page = soup(reviewer.get("/calls/c-2?lang=zh-CN").text)
    wait = page.select_one("#queue-wait")
    assert wait is not None and wait.text == "01:35"
    assert wait.find_previous("dt").text == "排队等待"  # type: ignore[union-attr]
