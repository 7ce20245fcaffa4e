"""Benchmark: import a generated 100,000-row call manifest (no transcripts) into SQLite.

Target (issue 2): under 60 s on a 2-core machine with peak memory under 500 MB; the
manifest is streamed, never loaded whole. Prints rows/s and peak RSS of the importer.

    python benchmarks/ingest.py [--rows 100000] [--repeat 3]

Each repeat imports into a fresh database in a fresh process (so peak RSS is the
import's own); the median time is reported.
"""

import argparse
import csv
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qm.domain.imports.manifest import COLUMNS

QUEUES = ("billing", "tech-support", "sales", "retention")
REASONS = ("bill question", "outage", "upgrade", "cancel", "payment", "password reset")


def write_manifest(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic manifest: 400 agents, 60,000 customers, a year of calls, no transcripts."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i in range(rows):
            at = start + timedelta(seconds=rng.randrange(365 * 86400))
            out.writerow(
                [
                    f"c-{i:07d}",
                    f"agent-{rng.randrange(400):03d}",
                    f"cust-{rng.randrange(60000):05d}" if rng.random() > 0.02 else "",
                    rng.choice(QUEUES),
                    rng.choice(REASONS),
                    at.isoformat(),
                    f"{rng.uniform(30, 900):.1f}",
                    f"{rng.choice([0, 0, 0, rng.uniform(5, 180)]):.1f}",
                    f"{rng.uniform(5, 120):.1f}",
                    rng.choice([0, 0, 0, 0, 0, 0, 1, 2]),
                    rng.choice(["yes", "no", ""]),
                    "",
                    "",
                ]
            )


CHILD = """
import resource, sys, time
from pathlib import Path
from qm import migrate
from qm.db import make_engine
from qm.domain.imports.ingest import ingest_manifest
engine = make_engine(sys.argv[1])
migrate.upgrade(engine)
t0 = time.perf_counter()
report = ingest_manifest(engine, Path(sys.argv[2]), actor="benchmark")
elapsed = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{report.rows} {elapsed:.3f} {peak_kb}")
"""


def main() -> None:
    """Generate the manifest, import it `--repeat` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "calls.csv"
        write_manifest(manifest, args.rows)
        size_mb = manifest.stat().st_size / 1e6
        print(f"manifest: {args.rows} rows, {size_mb:.1f} MB")
        times, peaks = [], []
        for run in range(args.repeat):
            db = Path(tmp) / f"bench-{run}.db"
            out = subprocess.run(
                [sys.executable, "-c", CHILD, f"sqlite:///{db}", str(manifest)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            rows, elapsed, peak_kb = int(out[0]), float(out[1]), int(out[2])
            assert rows == args.rows, f"imported {rows} rows, expected {args.rows}"
            times.append(elapsed)
            peaks.append(peak_kb / 1024)
            print(
                f"run {run + 1}: {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s, "
                f"peak RSS {peak_kb / 1024:.0f} MB"
            )
        median = statistics.median(times)
        peak = max(peaks)
        print(f"median: {median:.2f} s, {args.rows / median:,.0f} rows/s; peak RSS {peak:.0f} MB")
        ok = median < 60 and peak < 500
        print(f"target (< 60 s, < 500 MB): {'MET' if ok else 'NOT MET'}")
        _ = resource  # the child measures its own RSS


if __name__ == "__main__":
    main()
