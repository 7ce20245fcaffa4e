"""The small call center the role matrix asks its questions in.

Two teams, each with a manager and two agents (one of them with a Chinese name); two
reviewers and an admin. Every agent has a processed call (transcript, key-point results,
metrics, a recording) and a released evaluation of it; the two `alice`/`bob` evaluations
are disputed, and rev2 has a draft of 王小明's call. Training assignments, archived
scorecard PDFs, two calibration sessions (one `rev1` scores in, one he does not), review
picks for both reviewers and a finished import job complete it.

The signed-in users are `alice` (agent of team north), `mgr-north` (manager of north),
`rev1` (reviewer) and `boss` (admin). Relative to each of them an object is `own` (of
alice, team north), `team` (of alice's teammate 王小明), `other` (of bob, team south) or
`missing` (no such object).
"""

import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.evaluations.calibration import create_calibration
from qm.domain.evaluations.commands import (
    open_dispute,
    release,
    save_answers,
    start_evaluation,
    submit,
)
from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.domain.imports.jobs import create_job
from qm.domain.report_archive import ReportKey, store_report
from qm.domain.teams import place_agent, save_team
from qm.domain.users import create_user, hash_password
from qm.models import (
    ImportKind,
    ImportState,
    ReportKind,
    ReviewPick,
    Role,
    TrainingAssignment,
    User,
)
from scoring.period import Period
from tests.factories import (
    PASSWORD,
    make_agent,
    make_call,
    make_done,
    make_metrics,
    make_results,
    make_transcript,
)

FORMS = Path(__file__).resolve().parent.parent / "evaluations" / "forms"
AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "jfk.wav"
MARCH = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
PERIOD = "2024-03"
# Every item of the bank-standard form answered (greeting comes prefilled on some calls).
ANSWERS: dict[str, Any] = {
    "greeting": {"answer": "yes"},
    "verify": {"answer": "yes"},
    "accuracy": {"answer": "partial", "comment": "fee amount was vague"},
    "tone": {"answer": 3},
}
COURTESY: dict[str, Any] = {
    "polite_count": 2,
    "empathy_count": 1,
    "forbidden_count": 0,
    "forbidden_phrases": [],
    "interruptions": 0,
    "long_silences": 0,
}


@dataclass(frozen=True)
class Person:
    """An agent with their sign-in, team and call."""

    agent_id: str
    name: str
    username: str
    team: str
    call_id: str
    language: str


# own: the signed-in agent; team: her teammate; other: an agent of the other team.
PEOPLE = {
    "own": Person("a-n1", "Alice Northwood", "alice", "north", "c-n1", "en"),
    "team": Person("a-n2", "王小明", "wang", "north", "c-n2", "zh"),
    "other": Person("a-s1", "Bob Southgate", "bob", "south", "c-s1", "en"),
    "other2": Person("a-s2", "李娜", "lina", "south", "c-s2", "zh"),
}
# Kinds of object whose ids are numbers (the path parameter is an int).
NUMBERED = frozenset({"evaluation", "dispute", "training", "pick", "calibration", "job", "report"})
SIGNED_IN = {"agent": "alice", "manager": "mgr-north", "reviewer": "rev1", "admin": "boss"}


@dataclass
class World:
    """The ids the matrix fills its paths with, by kind of object and by target."""

    ids: dict[str, dict[str, str]] = field(default_factory=dict)

    def id_of(self, kind: str, target: str) -> str:
        """The id of the `target` object (own, team, other, missing) of `kind`."""
        return self.ids[kind][target]


def _lines(person: Person) -> list[tuple[str, float, float, str]]:
    if person.language == "zh":
        return [
            ("agent", 0.0, 3.0, f"您好，我是{person.name}，很高兴为您服务"),
            ("customer", 3.2, 6.0, "我的话费怎么这么高"),
        ]
    return [
        ("agent", 0.0, 3.0, f"Thank you for calling, this is {person.name}"),
        ("customer", 3.2, 6.0, "why is my bill so high"),
    ]


def _call(session: Session, person: Person, audio: Path) -> None:
    """The person's call with transcript, results, metrics and a recording."""
    call = make_call(
        session,
        person.call_id,
        agent_id=person.agent_id,
        customer_id=f"k-{person.agent_id}",
        started_at=MARCH,
    )
    call.audio_path = str(audio)
    session.add(call)
    make_transcript(session, person.call_id, _lines(person), language=person.language)
    make_results(
        session,
        person.call_id,
        [
            {"item_id": "greeting", "hit": True, "start": 0.0, "end": 3.0, "evidence": "hello"},
            {"item_id": "verify", "hit": False, "uncertain": True},
        ],
    )
    make_done(session, person.call_id)
    make_metrics(
        session,
        person.call_id,
        handle_seconds=307.0,
        transferred=False,
        compliance=1.0,
        critical_failed=False,
        uncertain_items=0,
        courtesy=dict(COURTESY),
    )


def _released(session: Session, call_id: str, reviewer: User) -> int:
    evaluation = start_evaluation(session, call_id, actor=reviewer)
    eid = evaluation.id or 0
    save_answers(session, eid, actor=reviewer, version=1, answers=ANSWERS)
    submit(session, eid, actor=reviewer)
    release(session, eid, actor=reviewer)
    return eid


def _training(session: Session, agent_id: str) -> int:
    row = TrainingAssignment(
        agent_id=agent_id,
        module_id="greeting-basics",
        module_title="Greeting basics",
        period=PERIOD,
        criteria=[
            {
                "criterion": "key_point:greeting",
                "rate": 0.4,
                "n": 12,
                "impact": 0.6,
                "evidence": ["c-n1"],
            }
        ],
        priority=1.0,
        due_date=date(2024, 4, 30),
    )
    session.add(row)
    session.flush()
    return row.id or 0


def _pick(session: Session, call_id: str, reviewer: User) -> int:
    pick = ReviewPick(
        call_id=call_id,
        period=PERIOD,
        sample="random",
        reviewer_id=reviewer.id,
        due=date(2024, 4, 9),
    )
    session.add(pick)
    session.flush()
    return pick.id or 0


def _report(session: Session, folder: Path, person: Person) -> int:
    """The person's archived scorecard PDF (filed under their team, as delivery files it)."""
    key = ReportKey(ReportKind.AGENT, Period.parse(PERIOD), person.team, person.agent_id, "en")
    pdf = f"%PDF-1.4 scorecard of {person.name}".encode()
    return store_report(session, folder=folder, key=key, pdf=pdf).id or 0


def _import_job(session: Session, folder: Path) -> int:
    """A finished upload (a queued one would start importing when the app starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "calls.csv"
    manifest.write_text("call_id,agent_id\n", encoding="utf-8")
    job = create_job(session, kind=ImportKind.MANIFEST, folder=folder, file=manifest, actor="boss")
    job.state = ImportState.DONE
    session.add(job)
    session.flush()
    return job.id or 0


def build_world(engine: Engine, directory: Path, report_dir: Path) -> World:
    """Build everything above in `engine`'s database (files under `directory`, PDFs in
    `report_dir`); returns the ids by kind and target."""
    audio_dir = directory / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    audio = audio_dir / "call.wav"
    shutil.copyfile(AUDIO, audio)
    world = World()
    # Nine users with one password: hash it once (argon2 is slow on purpose).
    one_hash = hash_password(PASSWORD)
    with session_scope(engine) as s, patch("qm.domain.users.hash_password", return_value=one_hash):
        save_team(s, "north", name="North 北区", actor="test")
        save_team(s, "south", name="South 南区", actor="test")
        users: dict[str, User] = {}
        for person in PEOPLE.values():
            make_agent(s, person.agent_id, person.name)
            place_agent(s, person.agent_id, team_id=person.team, actor="test")
            users[person.username] = create_user(
                s,
                username=person.username,
                password=PASSWORD,
                role=Role.AGENT,
                agent_id=person.agent_id,
                display_name=person.name,
                language="zh-CN" if person.language == "zh" else None,
            )
        for name, role, teams in (
            ("mgr-north", Role.MANAGER, ("north",)),
            ("mgr-south", Role.MANAGER, ("south",)),
            ("rev1", Role.REVIEWER, ()),
            ("rev2", Role.REVIEWER, ()),
            ("boss", Role.ADMIN, ()),
        ):
            users[name] = create_user(
                s, username=name, password=PASSWORD, role=role, team_ids=teams
            )
        for person in PEOPLE.values():
            _call(s, person, audio)
        load_form_file(s, FORMS / "bank-standard.yaml", actor="test")
        assign_form(s, "bank-standard", queue="billing", actor="test")
        evaluations = {
            target: _released(s, person.call_id, users["rev1" if target == "own" else "rev2"])
            for target, person in PEOPLE.items()
        }
        # rev2's draft of the teammate's call: only rev2 may change or submit it.
        draft = start_evaluation(s, PEOPLE["team"].call_id, actor=users["rev2"]).id or 0
        disputes = {
            target: open_dispute(
                s,
                evaluations[target],
                actor=users[PEOPLE[target].username],
                items=["accuracy"],
                comment="我说的费用是对的 / the fee I gave was right",
                dispute_days=36500,
            ).id
            or 0
            for target in ("own", "other")
        }
        training = {
            target: _training(s, PEOPLE[target].agent_id) for target in ("own", "team", "other")
        }
        own_session = create_calibration(
            s,
            actor=users["mgr-north"],
            name="March calibration",
            form_key="bank-standard",
            call_ids=["c-n1", "c-n2"],
            reviewers=[users["rev1"], users["rev2"]],
            expert=None,
        )
        other_session = create_calibration(
            s,
            actor=users["boss"],
            name="Experts only",
            form_key="bank-standard",
            call_ids=["c-s1"],
            reviewers=[users["rev2"], users["boss"]],
            expert=None,
        )
        picks = {
            "own": _pick(s, "c-n1", users["rev1"]),
            "team": _pick(s, "c-n2", users["rev2"]),
            "other": _pick(s, "c-s1", users["rev2"]),
        }
        people = {t: PEOPLE[t] for t in ("own", "team", "other")}
        reports = {t: _report(s, report_dir, p) for t, p in people.items()}
        job = _import_job(s, directory / "upload")
        world.ids = {
            "call": {t: p.call_id for t, p in people.items()},
            "agent": {t: p.agent_id for t, p in people.items()},
            "user": {t: p.username for t, p in people.items()},
            "evaluation": {t: str(evaluations[t]) for t in people},
            "dispute": {t: str(i) for t, i in disputes.items()},
            "training": {t: str(i) for t, i in training.items()},
            "pick": {t: str(i) for t, i in picks.items()},
            "calibration": {"own": str(own_session.id), "other": str(other_session.id)},
            "team": {"own": "north", "other": "south"},
            "script": {"own": "billing-inbound"},
            "form": {"own": "bank-standard"},
            "item": {"own": "greeting"},
            "job": {"own": str(job)},
            "draft": {"team": str(draft)},
            "report": {t: str(i) for t, i in reports.items()},
        }
        for kind, ids in world.ids.items():
            # An id of the right shape that no object has.
            ids["missing"] = "999999" if kind in NUMBERED else f"no-such-{kind}"
    return world
