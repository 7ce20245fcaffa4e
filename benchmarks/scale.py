"""Benchmark: scale-out on Celery workers, and scorecards over many contacts, on PostgreSQL.

Targets (issue 13): calls scored by 2 workers faster than by 1 (the ratio printed), and
the month's scorecards for 1,000,000 contacts in under 30 s.

Workers: N calls with Harper Valley transcripts (benchmarks/pipeline.py's generator and
import, not timed) in a fresh PostgreSQL schema per worker count. Every call's first stage
is queued on Redis (`enqueue_pending`, as `qm process` does with QM_BROKER_URL; timed on
its own), then W `qm worker --concurrency 1` processes are started and run every stage of
every call. calls/s is N over the time from the first stage stored to the last (stage
rows are stamped when written), so the workers' start-up is not counted; each worker count
runs `--runs` times, the counts taking turns, and the medians are printed. CPU ms/call is
the workers' own CPU time (PostgreSQL's and Redis's not included).

Scorecards: M contacts of 300 agents over two months, written with COPY into a fresh
schema (with their compliance and courtesy copies and the repeat-contact flags the
product keeps, refreshed by `refresh_all`; not timed), then `compute_scorecards` for the
later month, timed `--runs` times (median and every run).

    python benchmarks/scale.py [--calls 100000] [--workers 1,2] [--pool prefork|solo]
                               [--contacts 1000000] [--runs 3]
                               [--database-url URL] [--redis-url URL]

The database is --database-url, else $QM_BENCH_DATABASE_URL, else $QM_TEST_DATABASE_URL;
Redis is --redis-url, else $QM_TEST_REDIS_URL, else redis://127.0.0.1:6379/0 (the queues
live under a key prefix of their own, removed afterwards). --calls 0 or --contacts 0
skips that part.
"""

import argparse
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pipeline import SECRET, Database, write_calls  # benchmarks/pipeline.py

REPO = Path(__file__).resolve().parent.parent
QM = str(Path(sys.executable).with_name("qm"))
AGENTS = 300


def worker_env(url: str, redis_url: str, prefix: str) -> dict[str, str]:
    """The workers' settings: this database and broker, no other QM_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    return env | {
        "QM_DATABASE_URL": url,
        "QM_SECRET_KEY": SECRET,
        "QM_BROKER_URL": redis_url,
        "QM_BROKER_KEY_PREFIX": prefix,
        # The demo's default; the semantic stage's own cost is measured by semantic_speed.py.
        "QM_SEMANTIC_MODEL": os.environ.get("QM_SEMANTIC_MODEL", "off"),
    }


def drop_prefix(redis_url: str, prefix: str) -> None:
    """Delete the Redis keys of one run's queues."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def run_workers(
    url: str, redis_url: str, workers: int, calls: int, pool: str
) -> tuple[float, float, float]:
    """Queue every call and run `workers` worker processes until all are done; returns
    (seconds to queue, seconds from the first stage stored to the last, the workers' CPU
    seconds)."""
    from qm.db import make_engine
    from qm.settings import Settings
    from qm.workers import enqueue_pending, make_celery

    prefix = f"qmbench-{uuid.uuid4().hex[:8]}:"
    env = worker_env(url, redis_url, prefix)
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        broker_url=redis_url,
        broker_key_prefix=prefix,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(url)
    started = time.perf_counter()
    queued = enqueue_pending(make_celery(settings), engine)
    queue_seconds = time.perf_counter() - started
    assert sum(queued.values()) == calls, queued
    cpu_before = _children_cpu()
    procs = [
        subprocess.Popen(
            [QM, "worker", "--concurrency", "1", "--pool", pool, "--loglevel", "WARNING"],
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
    done = sa.text(
        "SELECT count(*) FROM call_stage WHERE stage = 'metrics' AND status IN ('done', 'skipped')"
    )
    failed = sa.text("SELECT count(*) FROM call_stage WHERE status = 'failed'")
    try:
        while True:
            with engine.connect() as conn:
                if conn.execute(failed).scalar_one():
                    raise SystemExit("a stage failed: see the workers' log")
                if conn.execute(done).scalar_one() >= calls:
                    break
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker stopped")
            time.sleep(0.5)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        drop_prefix(redis_url, prefix)
    cpu = _children_cpu() - cpu_before
    with engine.connect() as conn:
        first, last = conn.execute(
            sa.text("SELECT min(updated_at), max(updated_at) FROM call_stage")
        ).one()
    engine.dispose()
    return queue_seconds, (last - first).total_seconds(), cpu


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the workers and their pools)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_workers(
    base_url: str, redis_url: str, calls: int, counts: list[int], pool: str, runs: int
) -> None:
    """Print, per worker count, the median calls/s of `runs` runs (the counts taking
    turns, so that a machine busy for a while weighs on each alike) and its ratio to the
    first count's."""
    with tempfile.TemporaryDirectory(prefix="qm-scale-") as tmp:
        folder = Path(tmp)
        write_calls(folder, calls)
        db = Database(base_url, folder, REPO)
        print(
            f"workers ({pool} pool): {calls} calls on PostgreSQL, {os.cpu_count()} CPUs",
            flush=True,
        )
        measured: dict[int, list[tuple[float, float, float]]] = {w: [] for w in counts}
        try:
            for _ in range(runs):
                for workers in counts:
                    measured[workers].append(
                        run_workers(db.fresh(), redis_url, workers, calls, pool)
                    )
        finally:
            db.close()
    print(
        f"{'workers':>7} {'calls/s':>8} {'ratio':>6} {'queued/s':>9} {'CPU ms/call':>12}"
        "   calls/s of each run"
    )
    base: float | None = None
    for workers, results in measured.items():
        rates = [calls / run_s for _, run_s, _ in results]
        rate = statistics.median(rates)
        base = base or rate
        queued = statistics.median(calls / queue_s for queue_s, _, _ in results)
        cpu = statistics.median(cpu * 1000 / calls for _, _, cpu in results)
        print(
            f"{workers:>7} {rate:>8.0f} {rate / base:>6.2f} {queued:>9.0f} {cpu:>12.2f}   "
            + ", ".join(f"{r:.0f}" for r in rates),
            flush=True,
        )


def _fresh_schema(base_url: str) -> tuple[str, str]:
    """A new schema with every table (migrated); returns (its name, a URL on it)."""
    from qm import migrate
    from qm.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = (
        sa.engine.make_url(base_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return schema, url


def _copy(conn: sa.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY `rows` into `table` (tab-separated text; None is \\N)."""
    buffer = io.StringIO()
    for values in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in values) + "\n")
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
    ):
        cp.write(buffer.getvalue())


def build_contacts(url: str, contacts: int, seed: int = 13) -> float:
    """Write `contacts` calls over March and April 2025; returns the seconds it took."""
    from qm.db import make_engine
    from qm.domain.repeat_contacts import refresh_all

    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(url)
    customers = max(1, contacts // 3)
    imported = datetime(2025, 5, 1, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        _copy(
            conn,
            "agent",
            ["id", "name", "created_at"],
            [(f"a{n}", f"Agent {n}", imported) for n in range(AGENTS)],
        )
        _copy(conn, "customer", ["id", "name"], [(f"k{n}", f"k{n}") for n in range(customers)])
        _copy(
            conn,
            "queue",
            ["id", "fcr_window_days", "aht_min_seconds", "aht_max_seconds"],
            [("retail", 7, 60, 900), ("cards", 7, None, None)],
        )
        columns = [
            "id", "agent_id", "customer_id", "queue", "reason", "started_at", "talk_seconds",
            "hold_seconds", "wrap_seconds", "transfers", "resolved", "source", "imported_at",
            "compliance", "courtesy_score", "critical_failed",
        ]  # fmt: skip
        start = datetime(2025, 3, 1, tzinfo=UTC)
        span = 61 * 24 * 3600
        batch: list[tuple[Any, ...]] = []
        for n in range(contacts):
            at = start + timedelta(seconds=rng.randrange(span))
            scored = rng.random() < 0.9
            batch.append(
                (
                    f"c{n:07d}",
                    f"a{rng.randrange(AGENTS)}",
                    f"k{rng.randrange(customers)}",
                    "retail" if n % 4 else "cards",
                    rng.choice(("bill", "card", "loan", "address")),
                    at.isoformat(),
                    rng.randint(30, 900),
                    rng.choice((0, 0, 0, 15, 60)),
                    rng.randint(0, 120),
                    int(rng.random() < 0.08),
                    None,
                    "bench",
                    imported,
                    round(rng.random(), 3) if scored else None,
                    round(rng.random(), 3) if scored else None,
                    (rng.random() < 0.03) if scored else None,
                )
            )
            if len(batch) == 100_000:
                _copy(conn, "call", columns, batch)
                batch = []
        _copy(conn, "call", columns, batch)
        refresh_all(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def bench_scorecards(base_url: str, contacts: int, runs: int) -> None:
    """Print the seconds `compute_scorecards` takes for April over `contacts` contacts."""
    from sqlmodel import Session

    from qm.db import make_engine
    from qm.domain.scorecards import ScorecardRequest, compute_scorecards
    from scoring.scorecard import ScorecardConfig

    schema, url = _fresh_schema(base_url)
    try:
        built = build_contacts(url, contacts)
        engine = make_engine(url)
        times = []
        cards = 0
        for _ in range(runs):
            with Session(engine) as session:
                started = time.perf_counter()
                result = compute_scorecards(
                    session,
                    ScorecardRequest("2025-04"),
                    tz=ZoneInfo("UTC"),
                    config=ScorecardConfig(),
                )
                times.append(time.perf_counter() - started)
            cards = len(result)
        engine.dispose()
        print(
            f"scorecards: {contacts} contacts (written in {built:.0f} s), {cards} cards: "
            f"median {statistics.median(times):.2f} s; runs "
            + ", ".join(f"{t:.2f}" for t in times),
            flush=True,
        )
    finally:
        admin = sa.create_engine(base_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    """Run the two parts with the options given."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--pool", choices=("prefork", "solo"), default="prefork")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    base = (
        args.database_url
        or os.environ.get("QM_BENCH_DATABASE_URL")
        or os.environ.get("QM_TEST_DATABASE_URL")
    )
    if not base or not base.startswith("postgresql"):
        raise SystemExit("a PostgreSQL URL is needed: --database-url or QM_BENCH_DATABASE_URL")
    redis_url = args.redis_url or os.environ.get("QM_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    if args.calls:
        workers = [int(w) for w in args.workers.split(",")]
        bench_workers(base, redis_url, args.calls, workers, args.pool, args.runs)
    if args.contacts:
        bench_scorecards(base, args.contacts, args.runs)


if __name__ == "__main__":
    main()
