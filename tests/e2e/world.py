"""The small call center the browser tests work in: real audio, real pipeline results.

One English call plays the JFK clip (11 s) as its recording; its transcript is timed to
the clip so that seeking and the "current line" can be checked. A Chinese call has no
recording. Both go through the real pipeline (key points and metrics) against the
scripts in `fixtures/`, and the English queue is assigned the review form.
"""

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.domain.pipeline import process_pending
from qm.domain.users import create_user
from qm.models import Role
from qm.settings import Settings
from tests.factories import PASSWORD, make_agent, make_call, make_transcript

FIXTURES = Path(__file__).parent / "fixtures"
JFK = Path(__file__).parents[1] / "fixtures" / "audio" / "jfk.wav"

EN_LINES = [
    ("agent", 0.0, 2.4, "Thank you for calling, and so my fellow Americans"),
    ("customer", 2.6, 5.0, "ask not what your country can do for you"),
    ("agent", 5.4, 8.0, "is there anything else I can help you with"),
    ("customer", 8.2, 11.0, "ask what you can do for your country"),
]
ZH_LINES = [
    ("agent", 0.0, 3.0, "您好，很高兴为您服务"),
    ("customer", 3.2, 6.0, "我的话费怎么这么高"),
    ("agent", 6.5, 9.0, "我帮您查一下账单明细"),
]


@dataclass(frozen=True)
class World:
    """What the tests refer to."""

    en_call: str = "call-en-1"
    zh_call: str = "call-zh-1"
    reviewer: str = "rita"
    reviewer2: str = "ravi"
    manager: str = "mona"
    agent: str = "alex"
    password: str = PASSWORD


def build_world(engine: Engine, settings: Settings, audio_dir: Path) -> World:
    """Users, two processed calls, scripts and the assigned form; returns their names."""
    world = World()
    audio_dir.mkdir(parents=True, exist_ok=True)
    audio = audio_dir / "call-en-1.wav"
    shutil.copyfile(JFK, audio)
    with session_scope(engine) as session:
        make_agent(session, "a-en", "Alex Agent")
        make_agent(session, "a-zh", "王小明")
        for path in ("script-en.yaml", "script-zh.yaml"):
            scripts.load_script_file(session, FIXTURES / path, actor="test")
        scripts.assign_to_queue(session, "e2e-en", "cards", actor="test")
        scripts.assign_to_queue(session, "e2e-zh", "billing-zh", actor="test")
        load_form_file(session, FIXTURES / "form-en.yaml", actor="test")
        assign_form(session, "e2e-form", queue="cards", actor="test")
        started = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
        call = make_call(
            session,
            world.en_call,
            agent_id="a-en",
            queue="cards",
            started_at=started,
            talk_seconds=11.0,
            customer_id="k-en",
        )
        call.audio_path = str(audio)
        make_transcript(session, world.en_call, EN_LINES)
        make_call(
            session,
            world.zh_call,
            agent_id="a-zh",
            queue="billing-zh",
            started_at=started,
            talk_seconds=9.0,
            customer_id="k-zh",
        )
        make_transcript(session, world.zh_call, ZH_LINES, language="zh")
        for name, role in (
            (world.reviewer, Role.REVIEWER),
            (world.reviewer2, Role.REVIEWER),
            (world.manager, Role.ADMIN),
        ):
            create_user(session, username=name, password=PASSWORD, role=role)
        create_user(
            session, username=world.agent, password=PASSWORD, role=Role.AGENT, agent_id="a-en"
        )
    process_pending(engine, settings, call_ids=[world.en_call, world.zh_call])
    return world
