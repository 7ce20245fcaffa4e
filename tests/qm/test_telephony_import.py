"""Telephony imports: Asterisk (Master.csv + queue_log + recordings), FreeSWITCH (JSON and
CSV CDRs), and any CDR CSV through a YAML mapping. Fixtures are written here in the real
formats; contacts are checked field by field, stored and not stored."""

import csv
import json
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from qm.domain.imports.asterisk import ingest_asterisk, read_asterisk
from qm.domain.imports.cdr_mapping import ingest_cdr
from qm.domain.imports.freeswitch import ingest_freeswitch, read_freeswitch
from qm.domain.imports.telephony import NO_AGENT_NAMED, ContactKind, TelephonyContact
from qm.errors import ValidationFailed
from qm.models import Agent, Call, Queue, UnansweredContact
from tests.qm.commands.cli import invoke

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def epoch(local: str, zone: ZoneInfo) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=zone).timestamp())


def write_wav(path: Path, seconds: float = 0.5, channels: int = 1, value: int = 1000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(value.to_bytes(2, "little", signed=True) * frames * channels)
    return path


def cdr(
    uniqueid: str,
    *,
    src: str,
    dst: str,
    channel: str,
    dstchannel: str,
    lastapp: str,
    start: str,
    answer: str,
    end: str,
    duration: int,
    billsec: int,
    disposition: str = "ANSWERED",
    clid: str = "",
    linkedid: str | None = None,
    sequence: int = 0,
) -> list[str]:
    """A Master.csv row in cdr_csv's order; with `linkedid` the 21-column form."""
    row = [
        "",  # accountcode
        src,
        dst,
        "from-pstn",
        clid or f'"" <{src}>',
        channel,
        dstchannel,
        lastapp,
        "",
        start,
        answer,
        end,
        str(duration),
        str(billsec),
        disposition,
        "DOCUMENTATION",
        uniqueid,
        "",  # userfield
    ]
    if linkedid is not None:
        row += ["", linkedid, str(sequence)]
    return row


def write_master(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        # cdr_csv quotes every text cell and leaves numbers bare; csv reads both the same.
        csv.writer(handle, quoting=csv.QUOTE_ALL).writerows(rows)
    return path


def write_queue_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def asterisk_export(root: Path) -> Path:
    """A day around Berlin's spring-forward (2024-03-31 02:00 -> 03:00) on one PBX."""
    d = root / "asterisk"
    e1 = epoch("2024-03-30T10:00:00", BERLIN)
    e2 = epoch("2024-03-31T01:50:00", BERLIN)
    e3 = epoch("2024-03-31T10:00:00", BERLIN)
    e4 = epoch("2024-03-31T11:00:00", BERLIN)
    rows = [
        # 1: answered by 张伟 in 售后服务, blind-transferred to billing, then an attended
        # transfer by the billing agent (1002), who first consulted 1003.
        cdr(
            "1711789200.1",
            src="13800138000",
            dst="600",
            clid='"王小明" <13800138000>',
            channel="SIP/trunk-00000001",
            dstchannel="SIP/1001-00000002",
            lastapp="Queue",
            start="2024-03-30 10:00:00",
            answer="2024-03-30 10:00:00",
            end="2024-03-30 10:03:40",
            duration=220,
            billsec=220,
            linkedid="1711789200.1",
            sequence=1,
        ),
        cdr(
            "1711789212.2",
            src="1001",
            dst="13800138000",
            channel="SIP/1001-00000002",
            dstchannel="SIP/trunk-00000001",
            lastapp="AppQueue",
            start="2024-03-30 10:00:00",
            answer="2024-03-30 10:00:12",
            end="2024-03-30 10:01:12",
            duration=72,
            billsec=60,
            linkedid="1711789200.1",
            sequence=2,
        ),
        # The consult call 1002 -> 1003, a call of its own (own linkedid) from an agent.
        cdr(
            "1711789320.6",
            src="1002",
            dst="1003",
            channel="SIP/1002-00000006",
            dstchannel="SIP/1003-00000007",
            lastapp="Dial",
            start="2024-03-30 10:02:00",
            answer="2024-03-30 10:02:05",
            end="2024-03-30 10:02:30",
            duration=30,
            billsec=25,
            linkedid="1711789320.6",
            sequence=6,
        ),
        # 2: starts at 01:50 CET, runs past the jump to 03:00 CEST (1,200 s of talk).
        cdr(
            "1711846200.3",
            src="15900001111",
            dst="600",
            channel="SIP/trunk-00000003",
            dstchannel="SIP/1001-00000004",
            lastapp="Queue",
            start="2024-03-31 01:50:00",
            answer="2024-03-31 01:50:00",
            end="2024-03-31 03:10:30",
            duration=1230,
            billsec=1230,
            linkedid="1711846200.3",
        ),
        # 3: after the change (CEST, +02:00), recorded as a Monitor -in/-out pair.
        cdr(
            "1711872000.9",
            src="15900002222",
            dst="600",
            channel="SIP/trunk-00000009",
            dstchannel="SIP/1002-0000000a",
            lastapp="Queue",
            start="2024-03-31 10:00:00",
            answer="2024-03-31 10:00:00",
            end="2024-03-31 10:05:05",
            duration=305,
            billsec=305,
            linkedid="1711872000.9",
        ),
        # 4: abandoned in the queue after 45 s.
        cdr(
            "1711875600.11",
            src="15900003333",
            dst="600",
            channel="SIP/trunk-0000000b",
            dstchannel="",
            lastapp="Queue",
            start="2024-03-31 11:00:00",
            answer="2024-03-31 11:00:00",
            end="2024-03-31 11:00:45",
            duration=45,
            billsec=45,
            linkedid="1711875600.11",
        ),
        # 5: IVR only: listened to the opening hours and hung up.
        cdr(
            "1711879200.12",
            src="15900004444",
            dst="600",
            channel="SIP/trunk-0000000c",
            dstchannel="",
            lastapp="BackGround",
            start="2024-03-31 12:00:00",
            answer="2024-03-31 12:00:00",
            end="2024-03-31 12:00:40",
            duration=40,
            billsec=40,
            linkedid="1711879200.12",
        ),
    ]
    write_master(d / "cdr-csv" / "Master.csv", rows)
    write_queue_log(
        d / "queue_log",
        [
            f"{e1 - 100}|NONE|售后服务|张伟|ADDMEMBER|",
            f"{e1}|1711789200.1|售后服务|NONE|ENTERQUEUE||13800138000|1",
            f"{e1 + 12}|1711789200.1|售后服务|张伟|CONNECT|12|1711789212.2|3",
            f"{e1 + 72}|1711789200.1|售后服务|张伟|BLINDTRANSFER|700|from-queue|12|60|1",
            f"{e1 + 72}|1711789200.1|billing|NONE|ENTERQUEUE||13800138000|1",
            f"{e1 + 80}|1711789200.1|billing|SIP/1002|CONNECT|8|1711789280.5|2",
            f"{e1 + 170}|1711789200.1|billing|SIP/1002|ATTENDEDTRANSFER|BRIDGE|abc|8|90|1",
            f"{e2}|1711846200.3|售后服务|NONE|ENTERQUEUE||15900001111|1",
            f"{e2 + 30}|1711846200.3|售后服务|SIP/1001|CONNECT|30|1711846230.4|2",
            f"{e2 + 1230}|1711846200.3|售后服务|SIP/1001|COMPLETECALLER|30|1200|1",
            f"{e3}|1711872000.9|billing|NONE|ENTERQUEUE||15900002222|1",
            f"{e3 + 5}|1711872000.9|billing|SIP/1002|CONNECT|5|1711872005.10|1",
            f"{e3 + 305}|1711872000.9|billing|SIP/1002|COMPLETEAGENT|5|300|1",
            f"{e4}|1711875600.11|billing|NONE|ENTERQUEUE||15900003333|1",
            f"{e4 + 45}|1711875600.11|billing|NONE|ABANDON|1|1|45",
        ],
    )
    write_wav(d / "monitor" / "1711789200.1.wav", channels=2)
    write_wav(d / "monitor" / "q-billing-20240331-100000-1711872000.9-in.wav", value=200)
    write_wav(d / "monitor" / "q-billing-20240331-100000-1711872000.9-out.wav", value=-300)
    return d


def by_id(contacts: list[TelephonyContact]) -> dict[str, TelephonyContact]:
    return {c.call_id: c for c in contacts}


def test_asterisk_contacts_field_by_field(tmp_path: Path) -> None:
    directory = asterisk_export(tmp_path)
    contacts, folded, master = read_asterisk(directory, BERLIN)
    assert master == directory / "cdr-csv" / "Master.csv"
    found = by_id(contacts)
    # The agent leg and the consult call are folded, never contacts.
    assert sorted(found) == [
        "1711789200.1",
        "1711846200.3",
        "1711872000.9",
        "1711875600.11",
        "1711879200.12",
    ]
    assert folded == 2
    twice = found["1711789200.1"]
    assert twice.kind is ContactKind.AGENT
    assert (twice.agent_id, twice.queue) == ("张伟", "售后服务")
    assert (twice.customer_id, twice.customer_name) == ("13800138000", "王小明")
    assert twice.started_at == utc(2024, 3, 30, 9, 0)  # CET, +01:00
    assert twice.transfers == 2
    assert twice.queue_wait_seconds == 20  # 12 s in 售后服务, 8 s in billing
    assert twice.talk_seconds == 150  # 60 s before the first transfer, 90 s before the second
    assert (twice.hold_seconds, twice.wrap_seconds) == (None, None)
    assert twice.recordings == (directory / "monitor" / "1711789200.1.wav",)

    across = found["1711846200.3"]
    assert across.started_at == utc(2024, 3, 31, 0, 50)  # still CET at 01:50
    assert (across.agent_id, across.talk_seconds, across.queue_wait_seconds) == ("1001", 1200, 30)
    assert across.transfers == 0 and across.recordings == ()

    after = found["1711872000.9"]
    assert after.started_at == utc(2024, 3, 31, 8, 0)  # CEST, +02:00
    out, inn = after.recordings
    assert out.name.endswith("-out.wav") and inn.name.endswith("-in.wav")

    abandoned = found["1711875600.11"]
    assert abandoned.kind is ContactKind.ABANDONED
    assert (abandoned.agent_id, abandoned.queue, abandoned.queue_wait_seconds) == (
        None,
        "billing",
        45,
    )
    ivr = found["1711879200.12"]
    assert ivr.kind is ContactKind.IVR and ivr.queue is None and ivr.agent_id is None


def test_asterisk_import_stores_agent_contacts_and_reports_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    directory = asterisk_export(tmp_path)
    report = ingest_asterisk(engine, directory, timezone="Europe/Berlin", merge_dir=tmp_path / "m")
    assert (report.stored.rows, report.stored.created) == (3, 3)
    assert report.kinds == {"agent": 3, "abandoned": 1, "ivr": 1}
    assert report.unanswered == {"abandoned": 1, "ivr": 1} and report.not_stored == {}
    assert report.legs_folded == 2
    assert report.missing_recordings == ["1711846200.3"]
    assert report.merged_recordings == 1
    assert sorted(report.queue_waits) == [5, 20, 30, 45]
    text = "\n".join(report.summary_lines())
    assert "abandoned 1, ivr 1" in text and "first-contact resolution" in text
    with Session(engine) as session:
        first = session.get(Call, "1711789200.1")
        assert first is not None
        assert (first.agent_id, first.queue, first.customer_id) == (
            "张伟",
            "售后服务",
            "13800138000",
        )
        assert first.started_at == utc(2024, 3, 30, 9, 0)
        assert (first.talk_seconds, first.hold_seconds, first.wrap_seconds) == (150, None, None)
        assert first.transfers == 2 and first.resolved is None
        assert first.queue_seconds == 20  # 12 s in 售后服务, 8 s in billing
        assert first.audio_path == str((directory / "monitor" / "1711789200.1.wav").resolve())
        assert first.agent_channel is None and first.source == "asterisk:Master.csv"
        missing = session.get(Call, "1711846200.3")
        assert missing is not None and missing.audio_path is None
        assert missing.started_at == utc(2024, 3, 31, 0, 50)
        paired = session.get(Call, "1711872000.9")
        assert paired is not None and paired.agent_channel == "left"
        assert paired.audio_path is not None
        with wave.open(paired.audio_path, "rb") as stereo:
            assert (stereo.getnchannels(), stereo.getframerate()) == (2, 8000)
            left_right = stereo.readframes(1)
        # The agent's -out side is on the left, the customer's -in side on the right.
        assert int.from_bytes(left_right[:2], "little", signed=True) == -300
        assert int.from_bytes(left_right[2:], "little", signed=True) == 200
        assert session.get(Call, "1711875600.11") is None  # abandoned: not an agent's call
        abandoned_row = session.get(UnansweredContact, "1711875600.11")
        assert abandoned_row is not None
        assert (abandoned_row.kind, abandoned_row.queue, abandoned_row.queue_seconds) == (
            "abandoned",
            "billing",
            45,
        )
        assert abandoned_row.customer_id == "15900003333"
        ivr_row = session.get(UnansweredContact, "1711879200.12")
        assert ivr_row is not None and (ivr_row.kind, ivr_row.queue) == ("ivr", None)
        assert session.get(Call, "1711789320.6") is None  # the consult leg
        agent = session.get(Agent, "张伟")
        assert agent is not None and agent.name == "张伟"
        assert session.get(Queue, "售后服务") is not None
    # Importing the same export again updates, never duplicates.
    again = ingest_asterisk(engine, directory, timezone="Europe/Berlin", merge_dir=tmp_path / "m")
    assert (again.stored.created, again.stored.updated) == (0, 3)


def test_asterisk_without_linkedid_folds_the_agent_leg(engine: Engine, tmp_path: Path) -> None:
    d = tmp_path / "old"
    start = epoch("2024-05-01T09:30:00", SHANGHAI)
    write_master(
        d / "Master.csv",
        [
            cdr(
                "1714527000.1",
                src="13800000001",
                dst="600",
                channel="SIP/trunk-00000001",
                dstchannel="SIP/8001-00000002",
                lastapp="Queue",
                start="2024-05-01 09:30:00",
                answer="2024-05-01 09:30:00",
                end="2024-05-01 09:32:00",
                duration=120,
                billsec=120,
            ),
            cdr(
                "1714527010.2",
                src="8001",
                dst="13800000001",
                channel="SIP/8001-00000002",
                dstchannel="SIP/trunk-00000001",
                lastapp="AppQueue",
                start="2024-05-01 09:30:00",
                answer="2024-05-01 09:30:10",
                end="2024-05-01 09:32:00",
                duration=120,
                billsec=110,
            ),
        ],
    )
    write_queue_log(
        d / "queue_log",
        [
            f"{start}|1714527000.1|投诉|NONE|ENTERQUEUE||13800000001|1",
            f"{start + 10}|1714527000.1|投诉|李娜|CONNECT|10|1714527010.2|4",
            f"{start + 120}|1714527000.1|投诉|李娜|COMPLETEAGENT|10|110|1",
        ],
    )
    report = ingest_asterisk(engine, d, timezone="Asia/Shanghai")
    assert report.stored.rows == 1 and report.legs_folded == 1
    with Session(engine) as session:
        call = session.get(Call, "1714527000.1")
        assert call is not None
        assert (call.agent_id, call.queue, call.talk_seconds) == ("李娜", "投诉", 110)
        assert call.started_at == utc(2024, 5, 1, 1, 30)  # +08:00


def test_a_bad_row_names_file_row_field_and_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    directory = asterisk_export(tmp_path)
    master = directory / "cdr-csv" / "Master.csv"
    lines = master.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("2024-03-31 01:50:00", "2024-03-31 1:50 AM", 1)
    master.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        ingest_asterisk(engine, directory, timezone="Europe/Berlin")
    assert (info.value.file, info.value.row, info.value.field) == (str(master), 4, "start")
    assert f"{master}, row 4, field start" in str(info.value)
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == 0

    queue_log = directory / "queue_log"
    master.write_text("\n".join(lines).replace("1:50 AM", "01:50:00") + "\n", encoding="utf-8")
    text = queue_log.read_text(encoding="utf-8").replace("CONNECT|30|", "CONNECT|thirty|")
    queue_log.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        ingest_asterisk(engine, directory, timezone="Europe/Berlin")
    assert (info.value.file, info.value.row, info.value.field) == (str(queue_log), 9, "data1")


def test_a_master_csv_with_the_wrong_column_count_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    d = tmp_path / "x"
    write_master(d / "Master.csv", [["a", "b", "c"]])
    with pytest.raises(ValidationFailed, match="18") as info:
        ingest_asterisk(engine, d)
    assert info.value.row == 1


def json_cdr(variables: dict[str, str], direction: str = "inbound") -> dict[str, Any]:
    """A mod_json_cdr document; values URL-encoded as with encode-values = true."""
    return {
        "core-uuid": "6e3b1f7c-0000-4000-8000-000000000000",
        "switchname": "fs1",
        "channel_data": {"state": "CS_REPORTING", "direction": direction},
        "variables": {k: quote(v, safe="") for k, v in variables.items()},
        "callflow": [
            {
                "caller_profile": {
                    "caller_id_number": variables.get("caller_id_number", ""),
                    "uuid": variables.get("uuid", ""),
                }
            }
        ],
    }


def freeswitch_export(root: Path) -> Path:
    d = root / "fs"
    (d / "json").mkdir(parents=True)
    start = epoch("2024-11-03T00:30:00", NEW_YORK)  # EDT; clocks go back at 02:00
    answered = {
        "uuid": "a1b2c3d4-0001-4000-8000-000000000001",
        "caller_id_number": "13912345678",
        "caller_id_name": "李四",
        "start_epoch": str(start),
        "start_stamp": "2024-11-03 00:30:00",
        "end_epoch": str(start + 400),
        "billsec": "400",
        "cc_queue": "技术支持@default",
        "cc_agent": "王芳@default",
        "cc_side": "member",
        "cc_cause": "answered",
        "cc_queue_joined_epoch": str(start + 10),
        "cc_queue_answered_epoch": str(start + 40),
        "cc_queue_terminated_epoch": str(start + 400),
        "hold_accum_seconds": "15",
        "transfer_history": (
            f"ARRAY::{start + 100}:a1b2:bl_xfer:1002/default/XML|:"
            f"{start + 200}:a1b2:bl_xfer:1003/default/XML"
        ),
    }
    agent_leg = {
        "uuid": "a1b2c3d4-0002-4000-8000-000000000002",
        "caller_id_number": "13912345678",
        "start_epoch": str(start + 38),
        "cc_side": "agent",
        "cc_agent": "王芳@default",
        "cc_queue": "技术支持@default",
        "originating_leg_uuid": answered["uuid"],
    }
    abandoned = {
        "uuid": "a1b2c3d4-0003-4000-8000-000000000003",
        "caller_id_number": "13900000003",
        # No epoch: the local stamp is read in the given zone (EST after the change).
        "start_stamp": "2024-11-03 12:00:00",
        "cc_queue": "技术支持@default",
        "cc_side": "member",
        "cc_cause": "cancel",
        "cc_cancel_reason": "BREAK_OUT",
        "cc_queue_joined_epoch": str(epoch("2024-11-03T12:00:05", NEW_YORK)),
        "cc_queue_canceled_epoch": str(epoch("2024-11-03T12:01:05", NEW_YORK)),
    }
    ivr = {
        "uuid": "a1b2c3d4-0004-4000-8000-000000000004",
        "caller_id_number": "13900000004",
        "start_epoch": str(start + 3600 * 5),
        "billsec": "30",
    }
    # 王芳 rings a colleague during the call: a consult leg, not a contact.
    consult = {
        "uuid": "a1b2c3d4-0005-4000-8000-000000000005",
        "caller_id_number": "王芳",
        "start_epoch": str(start + 150),
        "billsec": "20",
    }
    for name, variables, direction in (
        ("a_answered", answered, "inbound"),
        ("b_agent", agent_leg, "outbound"),
        ("a_abandoned", abandoned, "inbound"),
        ("a_ivr", ivr, "inbound"),
        ("a_consult", consult, "inbound"),
    ):
        doc = json_cdr(variables, direction)
        (d / "json" / f"{name}.cdr.json").write_text(json.dumps(doc), encoding="utf-8")
    write_wav(d / "recordings" / f"{answered['uuid']}.wav", channels=2)
    return d


def test_freeswitch_json_contacts_field_by_field(engine: Engine, tmp_path: Path) -> None:
    directory = freeswitch_export(tmp_path)
    contacts, folded = read_freeswitch(directory, NEW_YORK)
    found = by_id(contacts)
    assert folded == 2  # the agent leg and the consult call
    assert len(found) == 3
    answered = found["a1b2c3d4-0001-4000-8000-000000000001"]
    assert answered.kind is ContactKind.AGENT
    assert (answered.agent_id, answered.queue) == ("王芳", "技术支持")
    assert (answered.customer_id, answered.customer_name) == ("13912345678", "李四")
    assert answered.started_at == utc(2024, 11, 3, 4, 30)  # EDT, -04:00
    assert answered.queue_wait_seconds == 30
    assert (answered.talk_seconds, answered.hold_seconds) == (345, 15)  # 360 s less hold
    assert answered.transfers == 2
    assert answered.recordings[0].name == "a1b2c3d4-0001-4000-8000-000000000001.wav"
    abandoned = found["a1b2c3d4-0003-4000-8000-000000000003"]
    assert abandoned.kind is ContactKind.ABANDONED
    assert abandoned.started_at == utc(2024, 11, 3, 17, 0)  # EST, -05:00
    assert abandoned.queue_wait_seconds == 60
    assert found["a1b2c3d4-0004-4000-8000-000000000004"].kind is ContactKind.IVR

    report = ingest_freeswitch(engine, directory, timezone="America/New_York")
    assert report.stored.rows == 1
    assert report.unanswered == {"abandoned": 1, "ivr": 1}
    with Session(engine) as session:
        call = session.get(Call, answered.call_id)
        assert call is not None
        assert (call.agent_id, call.queue, call.customer_id) == ("王芳", "技术支持", "13912345678")
        assert (call.talk_seconds, call.hold_seconds, call.transfers) == (345, 15, 2)
        assert call.started_at == utc(2024, 11, 3, 4, 30)
        assert call.source == "freeswitch"


def test_freeswitch_csv_default_template(engine: Engine, tmp_path: Path) -> None:
    d = tmp_path / "fscsv"
    (d / "cdr-csv").mkdir(parents=True)
    rows = [
        # a-leg and its b-leg to agent 1001 (legs = ab)
        [
            "Wang",
            "13800000010",
            "4000",
            "default",
            "2024-05-01 09:30:00",
            "2024-05-01 09:30:02",
            "2024-05-01 09:35:00",
            "300",
            "298",
            "NORMAL_CLEARING",
            "f0000000-0000-4000-8000-00000000000a",
            "f0000000-0000-4000-8000-00000000000b",
            "",
            "PCMA",
            "PCMA",
        ],
        [
            "Wang",
            "13800000010",
            "1001",
            "default",
            "2024-05-01 09:30:20",
            "2024-05-01 09:30:25",
            "2024-05-01 09:35:00",
            "280",
            "275",
            "NORMAL_CLEARING",
            "f0000000-0000-4000-8000-00000000000b",
            "",
            "",
            "PCMA",
            "PCMA",
        ],
        # hung up before anyone answered
        [
            "",
            "13800000011",
            "4000",
            "default",
            "2024-05-01 10:00:00",
            "",
            "2024-05-01 10:00:30",
            "30",
            "0",
            "ORIGINATOR_CANCEL",
            "f0000000-0000-4000-8000-00000000000c",
            "",
            "",
            "PCMA",
            "PCMA",
        ],
        # answered and bridged, but the b-leg is not in the file: agent unknown
        [
            "",
            "13800000012",
            "4000",
            "default",
            "2024-05-01 11:00:00",
            "2024-05-01 11:00:01",
            "2024-05-01 11:02:00",
            "120",
            "119",
            "NORMAL_CLEARING",
            "f0000000-0000-4000-8000-00000000000d",
            "f0000000-0000-4000-8000-00000000000e",
            "",
            "PCMA",
            "PCMA",
        ],
    ]
    write_master(d / "cdr-csv" / "Master.csv", rows)
    write_wav(d / "recordings" / "f0000000-0000-4000-8000-00000000000a-in.wav")
    write_wav(d / "recordings" / "f0000000-0000-4000-8000-00000000000a-out.wav")
    report = ingest_freeswitch(engine, d, timezone="Asia/Shanghai", merge_dir=tmp_path / "m")
    assert report.stored.rows == 1 and report.legs_folded == 1
    assert report.not_stored == {NO_AGENT_NAMED: 1} and report.unanswered == {"abandoned": 1}
    assert report.merged_recordings == 1
    with Session(engine) as session:
        call = session.get(Call, "f0000000-0000-4000-8000-00000000000a")
        assert call is not None
        assert (call.agent_id, call.customer_id, call.talk_seconds) == ("1001", "13800000010", 275)
        assert call.started_at == utc(2024, 5, 1, 1, 30)
        assert call.agent_channel == "left" and call.audio_path is not None


MAPPING = """\
header: true
timezone: Asia/Shanghai
time_format: "%Y/%m/%d %H:%M:%S"
columns:
  call_id: 通话ID
  agent_id: 坐席通道
  started_at: 开始时间
  customer_id: 主叫
  queue: 队列
  talk_seconds: 通话秒数
  hold_seconds: 保持秒数
  queue_wait_seconds: 排队秒数
agent_pattern: '^(?:SIP|PJSIP)/(?P<agent>[^-]+)'
recording: "rec/{call_id}.wav"
"""


def test_cdr_with_a_mapping_file(engine: Engine, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "话单.csv"
    header = ["通话ID", "坐席通道", "开始时间", "主叫", "队列", "通话秒数", "保持秒数", "排队秒数"]
    rows = [
        ["x-1", "PJSIP/赵敏-0001", "2024/05/01 09:30:00", "13800000020", "售前", "200", "5", "12"],
        ["x-2", "", "2024/05/01 09:40:00", "13800000021", "售前", "0", "", "50"],
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    write_wav(tmp_path / "rec" / "x-1.wav")
    report = ingest_cdr(engine, path, mapping)
    assert report.stored.rows == 1 and report.unanswered == {"abandoned": 1}
    assert sorted(report.queue_waits) == [12, 50]
    with Session(engine) as session:
        call = session.get(Call, "x-1")
        assert call is not None
        assert (call.agent_id, call.queue, call.customer_id) == ("赵敏", "售前", "13800000020")
        assert (call.talk_seconds, call.hold_seconds) == (200, 5)
        assert call.started_at == utc(2024, 5, 1, 1, 30)
        assert call.audio_path == str((tmp_path / "rec" / "x-1.wav").resolve())

    rows.append(["x-3", "SIP/1-0001", "2024/05/01 10:00:00", "1", "售前", "abc", "", ""])
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    with pytest.raises(ValidationFailed) as info:
        ingest_cdr(engine, path, mapping)
    assert (info.value.file, info.value.row, info.value.field) == (
        str(path),
        4,
        "通话秒数 (talk_seconds)",
    )


def test_a_bad_mapping_names_the_setting(engine: Engine, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING.replace("Asia/Shanghai", "Mars/Olympus"), encoding="utf-8")
    (tmp_path / "c.csv").write_text("a\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="time zone") as info:
        ingest_cdr(engine, tmp_path / "c.csv", mapping)
    assert info.value.field == "timezone"
    mapping.write_text(MAPPING.replace("  call_id: 通话ID\n", ""), encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        ingest_cdr(engine, tmp_path / "c.csv", mapping)
    assert info.value.field == "columns.call_id"


def test_cli_imports_an_asterisk_export(db_url: str, tmp_path: Path) -> None:
    assert invoke(db_url, "init").exit_code == 0
    directory = asterisk_export(tmp_path)
    result = invoke(
        db_url,
        "ingest",
        "--asterisk",
        str(directory),
        "--timezone",
        "Europe/Berlin",
        QM_UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    assert result.exit_code == 0, result.output
    assert "Stored 3 agent contact(s)" in result.output
    assert "Stored abandoned 1, ivr 1 contact(s) that reached no agent" in result.output
    assert "median 25 s" in result.output
    assert list((tmp_path / "uploads" / "telephony").glob("*-stereo.wav"))
    result = invoke(db_url, "ingest", "--cdr", str(tmp_path / "c.csv"))
    assert result.exit_code == 2 and "--mapping" in result.output


def test_a_pair_that_cannot_be_joined_costs_only_that_calls_audio(
    engine: Engine, tmp_path: Path
) -> None:
    directory = asterisk_export(tmp_path)
    out = next((directory / "monitor").glob("*-out.wav"))
    with wave.open(str(out), "wb") as other_rate:
        other_rate.setnchannels(1)
        other_rate.setsampwidth(2)
        other_rate.setframerate(16000)
        other_rate.writeframes(b"\x00\x00" * 100)
    report = ingest_asterisk(engine, directory, timezone="Europe/Berlin", merge_dir=tmp_path / "m")
    assert report.stored.rows == 3 and report.merged_recordings == 0
    assert len(report.unjoined_recordings) == 1
    assert report.unjoined_recordings[0].startswith("1711872000.9 (")
    assert "could not be joined" in "\n".join(report.summary_lines())
    with Session(engine) as session:
        call = session.get(Call, "1711872000.9")
        assert call is not None and call.audio_path is None and call.agent_channel is None


def test_contacts_that_reached_no_agent_count_for_first_contact_resolution(
    engine: Engine, tmp_path: Path
) -> None:
    """A call followed within its window by the same customer's abandoned contact was not
    resolved at first contact; an IVR-only contact before a call changes nothing; both
    ways of computing the scorecards agree."""
    from datetime import timedelta

    from qm.domain.imports.telephony import store_contacts
    from qm.domain.scorecards import ScorecardRequest, compute_scorecards
    from scoring.scorecard import ScorecardConfig

    t0 = utc(2024, 5, 6, 9, 0)

    def contact(call_id: str, kind: ContactKind, start: datetime, **kw: Any) -> TelephonyContact:
        return TelephonyContact(Path("x.csv"), 2, call_id, kind, start, **kw)

    contacts = [
        contact("c-1", ContactKind.AGENT, t0, agent_id="1001", customer_id="139", queue="q",
                queue_wait_seconds=12, talk_seconds=60),
        contact("ab-1", ContactKind.ABANDONED, t0 + timedelta(days=2), customer_id="139",
                queue="q", queue_wait_seconds=40),
        contact("c-2", ContactKind.AGENT, t0, agent_id="1001", customer_id="138", queue="q",
                talk_seconds=60),
        contact("ivr-1", ContactKind.IVR, t0 - timedelta(days=1), customer_id="138"),
        contact("c-3", ContactKind.AGENT, t0 + timedelta(days=20), agent_id="1001",
                customer_id="137", queue="q", talk_seconds=60),
    ]  # fmt: skip
    report = store_contacts(
        engine, contacts, file="x.csv", source="test", action="ingest.test", root=tmp_path
    )
    assert report.unanswered == {"abandoned": 1, "ivr": 1} and report.stored.rows == 3
    with Session(engine) as session:
        flags = {c: session.get(Call, c).repeat_contact for c in ("c-1", "c-2")}  # type: ignore[union-attr]
        assert flags == {"c-1": True, "c-2": False}
        assert session.get(Call, "c-1").queue_seconds == 12  # type: ignore[union-attr]
        config = ScorecardConfig(min_contacts=1)
        tz = ZoneInfo("UTC")
        fast = compute_scorecards(session, ScorecardRequest("2024-05"), tz=tz, config=config)
        slow = compute_scorecards(
            session, ScorecardRequest("2024-05", fcr_window_days=7), tz=tz, config=config
        )
    (card,) = fast
    (other,) = slow
    # c-1 was followed by a contact (not resolved), c-2 was not; c-3 is the as-of.
    assert card.metrics.fcr.value == other.metrics.fcr.value == 0.5
