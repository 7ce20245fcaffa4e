"""Benchmark: the reviewer's pages under concurrent load (issue 9: p95 under 150 ms each).

Builds, or reuses from `--data`, a SQLite database of 100,000 calls (10,000 with
`--quick`) with transcripts (a few lines each, English and Chinese queues mixed, 1% of
them corrected by a reviewer), key-point results, metrics, pipeline stages, draft
evaluations and review-queue picks; the rows are written with bulk Core inserts, the
definitions (scripts, forms, users) through the domain functions. It then starts the real
app with uvicorn in a child process on loopback, signs in as a reviewer through the login
form, and drives each route from this process with `--clients` concurrent clients (one
thread and one HTTP connection each, every client sending its next request when the last
one answered) for `--seconds`:

| route           | requests                                                        |
|-----------------|-----------------------------------------------------------------|
| review queue    | `/review`, the reviewer's queue, with and without filters       |
| calls, filtered | `/calls` with agent, queue, date, status, compliance, missed... |
| search          | `/calls?q=...`: English and Chinese words (2 to 6 characters)   |
| call page       | `/calls/{id}` of random calls                                   |
| save evaluation | `PATCH /api/evaluations/{id}` (a comment changed, version kept) |
| dashboard       | `/teams/{id}/dashboard` of November, as an admin (10 teams)     |
| scorecard       | `/me/scorecard` of November, as an agent                        |

A route that answers 404 (not built yet) is skipped with a note. Everything is run
`--runs` times; the table shows the median of the runs' p50/p95/p99 (ms) and requests/s,
and whether the median p95 meets the target. The database is the `--data` folder's
`qm.db`, built once per size and copied before each run, so that saves do not pile up.

    python benchmarks/web.py [--quick] [--calls 100000] [--data DIR] [--clients 4]
                             [--workers 1] [--seconds 15] [--runs 3] [--only search,call]
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from bs4 import BeautifulSoup

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qm import migrate  # noqa: E402
from qm.db import make_engine, session_scope  # noqa: E402
from qm.domain.repeat_contacts import refresh_all  # noqa: E402
from qm.models import (  # noqa: E402
    Agent,
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    Role,
    Segment,
    Stage,
    Team,
    Transcript,
    TranscriptKind,
)
from qm.models.transcript_search import (  # noqa: E402
    create_search_index,
    drop_search_index,
    rebuild_search_index,
)
from scoring.courtesy import courtesy_score  # noqa: E402

SECRET = "benchmark-secret-0123456789abcdef0123"
PASSWORD = "benchmark-password-1"
REVIEWER = "bench-rita"
ADMIN = "bench-ada"  # opens the team dashboards
AGENT_USER = "bench-alan"  # reads his scorecard (the first agent's)
TEAMS = [f"team-{i}" for i in range(10)]
PERIOD = "2026-11"  # the last month of the data
TARGET_P95_MS = 150.0
SCHEMA_VERSION = 3  # bump when the generated data changes, so that caches are rebuilt
CHUNK = 10_000
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAYS = 180  # calls spread over the last half year

# Queues with their script (qm/demo/scripts), evaluation form (qm/demo/forms), language.
QUEUES = {
    "en-accounts": ("en-accounts", "en-bank", "en"),
    "en-cards": ("en-cards", "en-bank", "en"),
    "zh-billing": ("zh-billing", "zh-hotline", "zh"),
    "zh-plans": ("zh-plans", "zh-hotline", "zh"),
}
REASONS = {
    "en": ["balance", "lost card", "payment", "address change", "fraud report", "fees"],
    "zh": ["话费查询", "套餐变更", "宽带故障", "退款申请", "投诉", "开通业务"],
}
# Transcript lines; {n} becomes a random number, so that the texts are not all alike.
LINES = {
    "en": {
        "agent": [
            "Thank you for calling Northwind Bank, my name is {name}, how can I help you today?",
            "I can certainly help with that, may I have your date of birth to verify you?",
            "Thank you, I have verified your account ending in {n}.",
            "I'm sorry to hear about the trouble, let me look into the charge for you.",
            "I have issued a refund of {n} dollars, it will show in three to five business days.",
            "Is there anything else I can help you with today?",
            "Your new card will arrive within seven days at the address on file.",
            "I've put a temporary hold on the card so no further charges can go through.",
            "Please note this call is recorded for quality and training purposes.",
            "To recap, we blocked the old card and ordered a replacement.",
        ],
        "customer": [
            "Hi, I was charged twice for the same purchase of {n} dollars.",
            "I lost my debit card yesterday and I think someone used it.",
            "I want to change the address on my account please.",
            "Why is there a monthly fee of {n} dollars on my statement?",
            "Can you tell me my current balance?",
            "My order number is {n}, the payment did not go through.",
            "That's all, thank you very much for your help.",
            "I would like to dispute a transaction from last week.",
            "I'd like a refund for the overdraft fee please.",
            "Can I speak to a supervisor about this complaint?",
        ],
    },
    "zh": {
        "agent": [
            "您好，这里是星河通信，工号{n}为您服务，请问有什么可以帮您？",
            "为了核实身份，请您提供一下机主的身份证后四位。",
            "好的，已经为您查询到本月话费共计{n}元。",
            "非常抱歉给您带来不便，我马上为您处理。",
            "退款已经提交，预计三到五个工作日到账。",
            "请问还有其他可以帮您的吗？",
            "您的宽带故障已登记，工单号是{n}，维修人员会在二十四小时内联系您。",
            "本次通话可能会被录音，用于提升服务质量。",
            "我帮您总结一下，套餐已经变更为每月{n}元的不限量套餐。",
            "感谢您的来电，祝您生活愉快，再见。",
        ],
        "customer": [
            "你好，我这个月的话费怎么多扣了{n}元？",
            "我想申请退款，上个月重复扣费了。",
            "我家的宽带从昨天开始就连不上了。",
            "我想把套餐换成便宜一点的。",
            "我要投诉，你们的网络信号太差了。",
            "帮我查一下流量还剩多少。",
            "好的，谢谢你，没有别的问题了。",
            "我的手机号码是一三八{n}，请帮我看一下。",
            "为什么我没有开通的业务也在扣费？",
            "能不能帮我转人工经理处理一下？",
        ],
    },
}
NAMES = ["Sam", "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie"]
# Full-text queries: common and rare words, 2 to 6 characters, both languages.
SEARCHES = ["refund", "charged twice", "supervisor", "order number", "退款", "宽带故障", "话费"]


@dataclass(frozen=True)
class Dataset:
    """The built database and what the load needs to know about it."""

    path: Path
    calls: int
    call_ids: list[str]
    agents: list[str]
    evaluation_ids: list[int]
    missed_items: list[str]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _insert(conn: sa.Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(table), rows[start : start + CHUNK])


def _lines(rng: random.Random, language: str, count: int) -> list[tuple[str, str]]:
    lines = []
    for position in range(count):
        speaker = "agent" if position % 2 == 0 else "customer"
        template = rng.choice(LINES[language][speaker])
        text = template.format(n=rng.randint(10, 99_999), name=rng.choice(NAMES))
        lines.append((speaker, text))
    return lines


def _definitions(engine: sa.Engine) -> tuple[dict[str, tuple[int, list[dict[str, Any]]]], int]:
    """Scripts, forms, queues and users through the domain; the scripts' ids and key
    points per queue, and the reviewer's user id."""
    from qm.domain import scripts
    from qm.domain.evaluations.forms import assign_form, load_form_file
    from qm.domain.users import create_user
    from qm.models import Queue, Script

    by_queue: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    with session_scope(engine) as session:
        for form in ("en-bank", "zh-hotline"):
            load_form_file(session, REPO / f"qm/demo/forms/{form}.yaml", actor="bench")
        for queue, (script_key, form, _language) in QUEUES.items():
            session.add(Queue(id=queue, aht_min_seconds=60, aht_max_seconds=900))
            session.flush()
            stored: Script = scripts.load_script_file(
                session, REPO / f"qm/demo/scripts/{script_key}.yaml", actor="bench"
            )
            scripts.assign_to_queue(session, stored.key, queue, actor="bench")
            assign_form(session, form, queue=queue, actor="bench")
            by_queue[queue] = (stored.id or 0, list(stored.body.get("key_points") or []))
        reviewer = create_user(session, username=REVIEWER, password=PASSWORD, role=Role.REVIEWER)
        create_user(session, username="bench-rob", password=PASSWORD, role=Role.REVIEWER)
        return by_queue, reviewer.id or 0


def build(folder: Path, calls: int, seed: int = 7) -> Dataset:
    """Build the database in `folder` unless one of this size and version is there."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"web-{calls}.db"
    meta_path = folder / f"web-{calls}.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == SCHEMA_VERSION and meta.get("head") == _head():
            log(f"reusing {path}")
            return Dataset(path=path, calls=calls, **meta["dataset"])
    for stale in (path, meta_path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    rng = random.Random(seed)
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    by_queue, reviewer_id = _definitions(engine)
    agents = [f"agent-{i:03d}" for i in range(max(20, calls // 500))]
    customers = [f"cust-{i:06d}" for i in range(max(100, calls // 3))]
    queue_ids = list(QUEUES)
    call_ids = [f"call-{i:07d}" for i in range(calls)]
    tables = {
        m.__name__: m.__table__  # type: ignore[union-attr]
        for m in (
            Agent,
            Customer,
            Call,
            Transcript,
            Segment,
            KeyPointResult,
            CallMetrics,
            CallStage,
        )
    }
    with engine.begin() as conn:
        # Loading with the index's triggers in place costs more than building it once.
        drop_search_index(conn)
        # Ten teams, the agents dealt round (the dashboard reads one team's agents).
        _insert(conn, Team.__table__, [{"id": t, "name": f"Team {t[-1]}"} for t in TEAMS])  # type: ignore[attr-defined]
        _insert(
            conn,
            tables["Agent"],
            [
                {"id": a, "name": f"Agent {a[-3:]}", "team_id": TEAMS[i % len(TEAMS)]}
                for i, a in enumerate(agents)
            ],
        )
        _insert(
            conn, tables["Customer"], [{"id": c, "name": f"Customer {c[-6:]}"} for c in customers]
        )
        call_rows, transcript_rows, segment_rows = [], [], []
        result_rows, metric_rows, stage_rows = [], [], []
        transcript_id = segment_id = 0
        for call_id in call_ids:
            queue = rng.choice(queue_ids)
            script_id, key_points = by_queue[queue]
            language = QUEUES[queue][2]
            started_at = NOW - timedelta(seconds=rng.randint(0, DAYS * 86_400))
            talk = rng.uniform(60, 900)
            call_rows.append(
                {
                    "id": call_id,
                    "agent_id": rng.choice(agents),
                    "customer_id": rng.choice(customers),
                    "queue": queue,
                    "reason": rng.choice(REASONS[language]),
                    "started_at": started_at,
                    "talk_seconds": talk,
                    "hold_seconds": rng.choice([0.0, 0.0, 30.0, 90.0]),
                    "wrap_seconds": rng.uniform(10, 120),
                    "transfers": rng.choice([0, 0, 0, 0, 1, 2]),
                    "resolved": rng.random() < 0.8,
                    "source": "benchmark",
                }
            )
            kinds = [TranscriptKind.ORIGINAL]
            if rng.random() < 0.01:
                kinds.append(TranscriptKind.CORRECTED)
            lines = _lines(rng, language, rng.randint(4, 8))
            for kind in kinds:
                transcript_id += 1
                transcript_rows.append(
                    {
                        "id": transcript_id,
                        "call_id": call_id,
                        "kind": kind.value,
                        "language": language,
                        "duration": talk,
                        "source": "import:benchmark",
                    }
                )
                step = talk / len(lines)
                for position, (speaker, text) in enumerate(lines):
                    if kind == TranscriptKind.CORRECTED and position == 1:
                        text += " (corrected)"
                    segment_id += 1
                    segment_rows.append(
                        {
                            "id": segment_id,
                            "transcript_id": transcript_id,
                            "position": position,
                            "speaker": speaker,
                            "start": round(position * step, 2),
                            "end": round((position + 1) * step - 0.3, 2),
                            "text": text,
                        }
                    )
            hits = 0
            critical_failed = False
            uncertain = 0
            for item in key_points:
                roll = rng.random()
                is_uncertain = 0.9 < roll < 0.95
                hit = roll < 0.85
                hits += hit
                uncertain += is_uncertain
                critical_failed |= bool(item.get("critical")) and not hit and not is_uncertain
                result_rows.append(
                    {
                        "call_id": call_id,
                        "script_id": script_id,
                        "kind": "key_point",
                        "item_id": item["id"],
                        "label": str(item.get("label", item["id"]))[:300],
                        "hit": hit,
                        "uncertain": is_uncertain,
                        "start": 1.0 if hit else None,
                        "end": 3.0 if hit else None,
                        "speaker": "agent" if hit else None,
                        "evidence": "",
                        "score": 0.9 if hit else 0.2,
                        "method": "benchmark",
                        "required": True,
                        "critical": bool(item.get("critical")),
                        "weight": float(item.get("weight", 1)),
                    }
                )
            compliance = 0.0 if critical_failed else hits / max(1, len(key_points))
            courtesy = {
                "polite_count": rng.choice([0, 1, 2, 3]),
                "forbidden_count": rng.choice([0, 0, 0, 1]),
                "interruptions": rng.choice([0, 0, 1, 2]),
                "long_silences": rng.choice([0, 0, 1]),
            }
            call_rows[-1]["critical_failed"] = critical_failed  # the call list's copy
            metric_rows.append(
                {
                    "call_id": call_id,
                    "handle_seconds": talk,
                    "transferred": False,
                    "compliance": compliance,
                    "critical_failed": critical_failed,
                    "uncertain_items": uncertain,
                    "courtesy": courtesy,
                    "courtesy_score": courtesy_score(courtesy),
                }
            )
            # The call's copies of its scores, as the pipeline writes them.
            call_rows[-1]["compliance"] = compliance
            call_rows[-1]["courtesy_score"] = metric_rows[-1]["courtesy_score"]
            for stage in Stage:
                stage_rows.append({"call_id": call_id, "stage": stage.value, "status": "done"})
            if len(call_rows) >= CHUNK:
                _flush(
                    conn,
                    tables,
                    call_rows,
                    transcript_rows,
                    segment_rows,
                    result_rows,
                    metric_rows,
                    stage_rows,
                )
        _flush(
            conn,
            tables,
            call_rows,
            transcript_rows,
            segment_rows,
            result_rows,
            metric_rows,
            stage_rows,
        )
        create_search_index(conn)
        rebuild_search_index(conn)
        # The rows went in with bulk inserts, past the session hook that keeps the flags.
        refresh_all(conn)
    log(f"{calls:,} calls written in {time.perf_counter() - started:.0f} s")
    _people(engine, agents[0])
    evaluation_ids = _evaluations(engine, call_ids, rng)
    _picks(engine, call_ids, reviewer_id, rng)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    missed = sorted({str(i["id"]) for _, items in by_queue.values() for i in items})
    dataset: dict[str, Any] = {
        "call_ids": rng.sample(call_ids, min(5_000, calls)),
        "agents": agents,
        "evaluation_ids": evaluation_ids,
        "missed_items": missed,
    }
    meta_path.write_text(
        json.dumps({"version": SCHEMA_VERSION, "head": _head(), "dataset": dataset})
    )
    log(f"built {path} in {time.perf_counter() - started:.0f} s")
    return Dataset(path=path, calls=calls, **dataset)


def _flush(conn: sa.Connection, tables: dict[str, Any], *batches: list[dict[str, Any]]) -> None:
    names = ("Call", "Transcript", "Segment", "KeyPointResult", "CallMetrics", "CallStage")
    for name, rows in zip(names, batches, strict=True):
        _insert(conn, tables[name], rows)
        rows.clear()


def _head() -> str:
    """The schema the database was built with: the migration head and a digest of the
    tables, columns and indexes (a changed model rebuilds the cache even before its
    migration gets a new revision)."""
    from sqlmodel import SQLModel

    shape = sorted(
        (t.name, sorted(c.name for c in t.columns), sorted(str(i.name) for i in t.indexes))
        for t in SQLModel.metadata.tables.values()
    )
    digest = hashlib.sha256(repr(shape).encode()).hexdigest()[:12]
    return f"{migrate.head_revision(make_engine('sqlite://')) or ''}-{digest}"


def _people(engine: sa.Engine, agent_id: str) -> None:
    """The admin who opens the dashboards and the agent user who reads a scorecard."""
    from qm.domain.users import create_user

    with session_scope(engine) as session:
        create_user(session, username=ADMIN, password=PASSWORD, role=Role.ADMIN)
        create_user(
            session, username=AGENT_USER, password=PASSWORD, role=Role.AGENT, agent_id=agent_id
        )


def _evaluations(engine: sa.Engine, call_ids: list[str], rng: random.Random) -> list[int]:
    """Draft evaluations by the benchmark reviewer, made as the app makes them."""
    from sqlmodel import select

    from qm.domain.evaluations.commands import start_evaluation
    from qm.models import User

    ids = []
    with session_scope(engine) as session:
        reviewer = session.exec(select(User).where(User.username == REVIEWER)).one()
        for call_id in rng.sample(call_ids, min(200, len(call_ids))):
            ids.append(start_evaluation(session, call_id, actor=reviewer).id or 0)
    return ids


def _picks(engine: sa.Engine, call_ids: list[str], reviewer_id: int, rng: random.Random) -> None:
    """Review-queue picks of the last month, half of them the benchmark reviewer's."""
    try:
        from qm.models import ReviewPick
    except ImportError:
        log("note: no review queue model yet; no picks made")
        return
    with engine.begin() as conn:
        rob = conn.execute(
            sa.text("SELECT id FROM \"user\" WHERE username = 'bench-rob'")
        ).scalar_one()
        rows = []
        for call_id in rng.sample(call_ids, min(2_000, len(call_ids))):
            reason = rng.choice(["", "critical-miss", "transfer", "uncertain-keypoints"])
            rows.append(
                {
                    "call_id": call_id,
                    "period": "2026-11",
                    "sample": f"targeted:{reason}" if reason else "random",
                    "reasons": reason,
                    "detail": "",
                    "reviewer_id": rng.choice([reviewer_id, rob]),
                    "due": date(2026, 12, rng.randint(1, 20)),
                    "state": "open",
                }
            )
        _insert(conn, ReviewPick.__table__, rows)  # type: ignore[attr-defined]


# --- the server and the load -------------------------------------------------------------

# Run in a child process: the real app under uvicorn (`--workers` processes, as
# `qm serve --workers N` runs it), no access log (a log line per request would be measured
# as well).
SERVER = """
import os
import sys
import uvicorn
url, secret, port, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.environ.update(QM_DATABASE_URL=url, QM_SECRET_KEY=secret, QM_SCHEDULER_ENABLED="false")
uvicorn.run(
    "qm.app:app_from_environment", factory=True, host="127.0.0.1", port=port,
    workers=workers, log_level="warning", access_log=False,
)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database: Path, workers: int = 1) -> Iterator[str]:
    """The app served on loopback over `database` by `workers` processes; yields its URL."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, f"sqlite:///{database}", SECRET, str(port), str(workers)],
        # Not the repository: a developer's qm.env there must not change what is measured.
        cwd=database.parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def sign_in(base: str) -> httpx.Cookies:
    """The session cookies of the benchmark reviewer, signed in through the login form."""
    with httpx.Client(base_url=base) as client:
        form = BeautifulSoup(client.get("/login").text, "html.parser")
        field = form.select_one('input[name="_csrf_token"]')
        assert field is not None, "no CSRF field on the login page"
        response = client.post(
            "/login",
            data={"username": REVIEWER, "password": PASSWORD, "_csrf_token": str(field["value"])},
        )
        if response.status_code not in (200, 303) or "session" not in " ".join(client.cookies):
            raise SystemExit(f"sign-in failed: {response.status_code}")
        return client.cookies


def issue_token(database: Path, username: str = REVIEWER) -> str:
    """A fresh API token of `username` (the reviewer's for the JSON saves; the admin's
    and the agent's for the dashboard and the scorecard)."""
    from qm.domain.tokens import issue_token as issue

    engine = make_engine(f"sqlite:///{database}")
    with session_scope(engine) as session:
        token = issue(session, username, actor="bench")
    engine.dispose()
    return token


Request = Callable[[httpx.Client, random.Random, int], httpx.Response]


def routes(data: Dataset, token: str, tokens: dict[str, str] | None = None) -> dict[str, Request]:
    """Each measured route: a function sending one request as client number `n`."""
    first_day = (NOW - timedelta(days=DAYS)).date()

    def review_queue(client: httpx.Client, rng: random.Random, _n: int) -> httpx.Response:
        params = rng.choice([{}, {"state": "open"}, {"reason": "critical-miss"}])
        return client.get("/review", params=params)

    def call_list(client: httpx.Client, rng: random.Random, _n: int) -> httpx.Response:
        day = first_day + timedelta(days=rng.randint(0, DAYS - 30))
        params = rng.choice(
            [
                {},
                {"agent": rng.choice(data.agents)},
                {"queue": rng.choice(list(QUEUES))},
                {"from": day.isoformat(), "to": (day + timedelta(days=7)).isoformat()},
                {"compliance_below": "60", "status": "done"},
                {"critical": "yes", "queue": rng.choice(list(QUEUES))},
                {"missed": rng.choice(data.missed_items)},
                {"agent": rng.choice(data.agents), "page": "2"},
            ]
        )
        return client.get("/calls", params=params)

    def search(client: httpx.Client, rng: random.Random, _n: int) -> httpx.Response:
        params = {"q": rng.choice(SEARCHES)}
        if rng.random() < 0.3:
            params["agent"] = rng.choice(data.agents)
        return client.get("/calls", params=params)

    def call_page(client: httpx.Client, rng: random.Random, _n: int) -> httpx.Response:
        return client.get(f"/calls/{rng.choice(data.call_ids)}")

    versions: dict[int, int] = {}

    def save(client: httpx.Client, rng: random.Random, n: int) -> httpx.Response:
        # Each client saves its own evaluations, so that no save meets another's version.
        mine = data.evaluation_ids[n :: max(1, CLIENTS_SEEN[0])]
        evaluation_id = rng.choice(mine)
        url = f"/api/evaluations/{evaluation_id}"
        headers = {"Authorization": f"Bearer {token}"}
        if evaluation_id not in versions:
            found = client.get(url, headers=headers)
            if found.status_code != 200:
                return found
            versions[evaluation_id] = int(found.json()["version"])
        body = {
            "version": versions[evaluation_id],
            "answers": {"greeting": {"comment": f"checked {rng.randint(0, 10**9)}"}},
        }
        response = client.patch(url, json=body, headers=headers)
        if response.status_code == 200:
            versions[evaluation_id] = int(response.json()["version"])
        return response

    def dashboard(client: httpx.Client, rng: random.Random, _n: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {(tokens or {})[ADMIN]}"}
        team = rng.choice(TEAMS)
        return client.get(f"/teams/{team}/dashboard", params={"period": PERIOD}, headers=headers)

    def scorecard(client: httpx.Client, _rng: random.Random, _n: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {(tokens or {})[AGENT_USER]}"}
        return client.get("/me/scorecard", params={"period": PERIOD}, headers=headers)

    return {
        "review queue": review_queue,
        "calls, filtered": call_list,
        "search": search,
        "call page": call_page,
        "save evaluation": save,
        "dashboard": dashboard,
        "scorecard": scorecard,
    }


CLIENTS_SEEN = [1]  # how many clients share the evaluations (set by `drive`)


@dataclass
class Outcome:
    """One route's latencies in one run."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def drive(
    base: str, cookies: httpx.Cookies, request: Request, clients: int, seconds: float
) -> Outcome:
    """`clients` threads sending `request` back to back for `seconds`."""
    CLIENTS_SEEN[0] = clients
    outcome = Outcome()
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client_loop(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
            request(client, rng, n)  # warm the connection (not counted)
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = request(client, rng, n)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code == 200:
                        outcome.latencies.append(elapsed)
                    else:
                        outcome.errors[response.status_code] = (
                            outcome.errors.get(response.status_code, 0) + 1
                        )

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - started
    return outcome


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0-1) of `values`, by the nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 calls, shorter runs")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "qm-bench-web")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="web processes (qm serve --workers N)"
    )
    parser.add_argument("--only", default="", help="comma-separated route names (substrings)")
    args = parser.parse_args()
    calls = 10_000 if args.quick else args.calls
    seconds = min(args.seconds, 5.0) if args.quick else args.seconds
    data = build(args.data, calls)
    token = issue_token(data.path)
    tokens = {name: issue_token(data.path, name) for name in (ADMIN, AGENT_USER)}
    results: dict[str, list[Outcome]] = {}
    skipped: dict[str, str] = {}
    for run in range(1, args.runs + 1):
        # A fresh copy per run: the saves of one run do not weigh on the next.
        work = args.data / "run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(data.path, work)
        with serving(work, args.workers) as base:
            cookies = sign_in(base)
            for name, request in routes(data, token, tokens).items():
                if args.only and not any(part in name for part in args.only.split(",")):
                    continue
                if name in skipped:
                    continue
                with httpx.Client(base_url=base, cookies=cookies, timeout=60) as probe:
                    status = request(probe, random.Random(0), 0).status_code
                if status in (404, 405):
                    skipped[name] = f"answers {status}: not built yet"
                    log(f"note: {name} skipped ({skipped[name]})")
                    continue
                outcome = drive(base, cookies, request, args.clients, seconds)
                results.setdefault(name, []).append(outcome)
                log(
                    f"run {run} {name}: {len(outcome.latencies)} ok, errors {outcome.errors}, "
                    f"p95 {percentile(outcome.latencies, 0.95):.0f} ms"
                    if outcome.latencies
                    else f"run {run} {name}: no successful request, errors {outcome.errors}"
                )
    report(results, skipped, calls, args.clients, seconds, args.runs, args.workers)


def report(
    results: dict[str, list[Outcome]],
    skipped: dict[str, str],
    calls: int,
    clients: int,
    seconds: float,
    runs: int,
    workers: int = 1,
) -> None:
    """Print the table of medians over the runs."""
    print(
        f"\n{calls:,} calls in SQLite; {workers} web process(es); {clients} concurrent "
        f"clients for {seconds:.0f} s per "
        f"route; median of {runs} run(s); {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    columns = f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}"
    header = f"{'route':<18}{columns}  p95 < {TARGET_P95_MS:.0f} ms"
    print(header)
    print("-" * len(header))
    for name, outcomes in results.items():
        ok = [o for o in outcomes if o.latencies]
        if not ok:
            print(f"{name:<18}  no successful request: {outcomes[0].errors}")
            continue

        def median(pick: Callable[[Outcome], float], runs: list[Outcome] = ok) -> float:
            return statistics.median(pick(o) for o in runs)

        p95 = median(lambda o: percentile(o.latencies, 0.95))
        errors = sum(sum(o.errors.values()) for o in outcomes)
        print(
            f"{name:<18}{median(lambda o: percentile(o.latencies, 0.50)):>9.1f}{p95:>9.1f}"
            f"{median(lambda o: percentile(o.latencies, 0.99)):>9.1f}"
            f"{median(lambda o: len(o.latencies) / o.seconds):>9.1f}{errors:>8}  "
            f"{'yes' if p95 < TARGET_P95_MS else 'NO'}"
        )
    for name, why in skipped.items():
        print(f"{name:<18}  skipped: {why}")


if __name__ == "__main__":
    main()
