"""Benchmark: `qm process` throughput on calls with imported transcripts.

Target (issue 8): the demo call center (about 6,000 calls) is built and processed in
under 60 s on a 2-core machine; here, at most 5 ms per call for the key-point and
metrics stages in one process, and `--jobs 2` faster than one.

Builds N calls whose transcripts are copies of the Harper Valley bank calls shipped in
qm/demo/harper_valley (60 conversations, a few hundred words each), a manifest with
agents, customers and handle-time fields, and the demo's hvnb-retail script assigned to
their queue; imports them (`ingest_manifest`, not timed) into a SQLite file in a
temporary folder, or into a fresh schema of the PostgreSQL database given with
`--database-url`. Then, for each job count, runs the pipeline on a fresh copy of that
database `--runs` times and prints the median (and every run) in calls/s and ms per call,
and the CPU time per call of the processing (workers included), which a machine shared
with other work does not inflate as it does the wall time.
Only the processing is timed, in a child process whose imports are done; with several
jobs the time includes starting the worker processes, as `qm process --jobs N` does.

    python benchmarks/pipeline.py [--calls 2000] [--runs 3] [--jobs 1,2]
                                  [--database-url postgresql+psycopg://...] [--repo PATH]

`--repo` runs another checkout of the code (e.g. `git worktree add /tmp/old <commit>`)
with this venv, to measure the code before a change the same way (one job only, where
that code has no `process_parallel`).
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-0123456789abcdef0123"
QUEUE = "hvnb-retail"

# Run in the measured checkout: the schema, the script and the import (not timed).
SETUP = """
import sys
from pathlib import Path
from qm import migrate
from qm.db import make_engine, session_scope
from qm.domain import scripts
from qm.domain.imports.ingest import ingest_manifest
url, folder, repo = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)
migrate.upgrade(engine)
with session_scope(engine) as session:
    stored = scripts.load_script_file(
        session, repo / "qm/demo/scripts/hvnb-retail.yaml", actor="bench"
    )
    scripts.assign_to_queue(session, stored.key, "hvnb-retail", actor="bench")
ingest_manifest(engine, folder / "calls.csv")
engine.dispose()
"""

# Run in the measured checkout: the timed part, after the imports.
PROCESS = """
import json, resource, sys, time
from qm.db import make_engine
from qm.domain.pipeline import process_pending
from qm.settings import Settings
url, secret, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings(database_url=url, secret_key=secret, _env_file=None)
if __name__ == "__main__":
    if jobs == 1:
        engine = make_engine(url)
        cpu_before = time.process_time()
        started = time.perf_counter()
        report = process_pending(engine, settings)
        elapsed = time.perf_counter() - started
        engine.dispose()
    else:
        try:
            from qm.domain.pipeline import process_parallel
        except ImportError:  # a checkout from before the pipeline became a package
            from qm.domain.pipeline_jobs import process_parallel
        cpu_before = time.process_time()
        started = time.perf_counter()
        report = process_parallel(settings, jobs=jobs)
        elapsed = time.perf_counter() - started
    # CPU seconds of this process and of its finished workers (the machine may be shared).
    cpu = time.process_time() - cpu_before
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += workers.ru_utime + workers.ru_stime
    result = {"seconds": elapsed, "cpu": cpu, "calls": report.calls, "failed": len(report.failed)}
    print(json.dumps(result))
"""


def write_calls(folder: Path, count: int) -> None:
    """`count` calls with Harper Valley transcripts and a manifest naming them."""
    from qm.domain.imports.harper_valley import read_conversation, sids
    from qm.domain.imports.manifest import COLUMNS
    from transcripts.format import transcript_to_dict

    source = REPO / "qm" / "demo" / "harper_valley"
    records = [read_conversation(source, sid, queue=QUEUE) for sid in sids(source)]
    (folder / "t").mkdir(parents=True)
    with (folder / "calls.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for n in range(count):
            record = records[n % len(records)]
            doc = transcript_to_dict(record.transcript)
            doc["call_id"] = f"c{n:05d}"
            (folder / "t" / f"c{n:05d}.json").write_text(json.dumps(doc), encoding="utf-8")
            values = record.values
            started = values["started_at"] + timedelta(hours=n)
            out.writerow(
                [
                    f"c{n:05d}",
                    f"a{n % 24}",
                    f"k{n % 900}",
                    QUEUE,
                    values["reason"] or "",
                    started.isoformat(),
                    values["talk_seconds"],
                    10,
                    20,
                    int(n % 7 == 0),
                    "",
                    "",
                    f"t/c{n:05d}.json",
                ]
            )


def child_env(repo: Path) -> dict[str, str]:
    """The environment of the measured code: its checkout first, no QM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    return env | {"PYTHONPATH": str(repo)}


class Database:
    """Fresh copies of the imported database: SQLite files, or PostgreSQL schemas."""

    def __init__(self, base_url: str | None, folder: Path, repo: Path) -> None:
        self.base_url, self.folder, self.repo = base_url, folder, repo
        self.schemas: list[str] = []
        self.template = folder / "template.db"
        if base_url is None:
            self._setup(f"sqlite:///{self.template}")

    def _setup(self, url: str) -> None:
        subprocess.run(
            [sys.executable, "-c", SETUP, url, str(self.folder), str(self.repo)],
            cwd=self.repo,
            env=child_env(self.repo),
            check=True,
        )

    def fresh(self) -> str:
        """The URL of a new copy of the imported calls, none processed."""
        if self.base_url is None:
            copy = self.folder / f"run-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(self.template, copy)
            return f"sqlite:///{copy}"
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.base_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        self.schemas.append(schema)
        url = sa.engine.make_url(self.base_url).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        rendered = url.render_as_string(hide_password=False)
        self._setup(rendered)
        return rendered

    def close(self) -> None:
        """Drop the PostgreSQL schemas made for the runs."""
        if not self.schemas:
            return
        admin = sa.create_engine(str(self.base_url))
        with admin.begin() as conn:
            for schema in self.schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_once(url: str, repo: Path, jobs: int, calls: int) -> tuple[float, float]:
    """Wall and CPU seconds the pipeline took on a fresh copy of the calls."""
    done = subprocess.run(
        [sys.executable, "-c", PROCESS, url, SECRET, str(jobs)],
        cwd=repo,
        env=child_env(repo),
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["calls"] != calls or result["failed"]:
        raise SystemExit(f"run processed {result['calls']} of {calls} calls: {done.stderr}")
    return float(result["seconds"]), float(result["cpu"])


def main() -> None:
    """Build the calls, run the pipeline per job count, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", default="1,2", help="job counts, comma-separated")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure")
    args = parser.parse_args()
    repo = args.repo.resolve()
    jobs_list = [int(j) for j in args.jobs.split(",")]
    with tempfile.TemporaryDirectory(prefix="qm-bench-") as tmp:
        folder = Path(tmp)
        write_calls(folder, args.calls)
        db = Database(args.database_url, folder, repo)
        kind = "PostgreSQL" if args.database_url else "SQLite"
        print(f"code: {repo}; {args.calls} calls on {kind}; {os.cpu_count()} CPUs")
        print(f"{'jobs':>4} {'calls/s':>8} {'ms/call':>8} {'CPU ms/call':>12}   runs (s)")
        try:
            for jobs in jobs_list:
                runs = [run_once(db.fresh(), repo, jobs, args.calls) for _ in range(args.runs)]
                median = statistics.median(wall for wall, _ in runs)
                cpu = statistics.median(cpu for _, cpu in runs)
                print(
                    f"{jobs:>4} {args.calls / median:>8.0f} {median * 1000 / args.calls:>8.2f}"
                    f" {cpu * 1000 / args.calls:>12.2f}   "
                    + ", ".join(f"{wall:.2f}" for wall, _ in runs),
                    flush=True,
                )
        finally:
            db.close()


if __name__ == "__main__":
    main()
