"""Benchmark: FCR and monthly per-agent/per-team tallies over 1,000,000 contacts.

Target (issue 4): under 20 s and under 2 GB peak on a 2-core machine; sort-based, never
pairwise. Builds the contacts in memory (a year of calls, 60,000 customers, 400 agents in
20 teams), then times the FCR pass and the monthly aggregation separately.

    python benchmarks/metrics.py [--contacts 1000000] [--repeat 3]
"""

import argparse
import random
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scoring.operational import (
    Contact,
    FcrRules,
    HandleTarget,
    first_contact_resolution,
    monthly_tallies,
)

QUEUES = ("billing", "tech-support", "sales", "retention")


def make_contacts(n: int, seed: int = 11) -> list[Contact]:
    """`n` contacts spread over 2025, with realistic repeat callers."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    contacts = []
    for i in range(n):
        talk = rng.uniform(30, 900)
        contacts.append(
            Contact(
                call_id=f"c{i}",
                agent_id=f"agent-{rng.randrange(400):03d}",
                started_at=start + timedelta(seconds=rng.randrange(365 * 86400)),
                customer_id=f"k{rng.randrange(60000)}" if rng.random() > 0.02 else None,
                queue=QUEUES[rng.randrange(4)],
                reason=None,
                talk_seconds=talk,
                hold_seconds=0.0 if rng.random() < 0.7 else rng.uniform(5, 180),
                wrap_seconds=rng.uniform(5, 120),
                transfers=rng.choice((0, 0, 0, 0, 0, 1, 2)),
                resolved=None,
            )
        )
    return contacts


def main() -> None:
    """Build the contacts once, then time FCR + tallies `--repeat` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    contacts = make_contacts(args.contacts)
    print(f"built {len(contacts):,} contacts in {time.perf_counter() - t0:.1f} s (not timed below)")
    tz = ZoneInfo("Asia/Shanghai")
    rules = FcrRules(queue_windows={"sales": timedelta(days=3)})
    targets = {q: HandleTarget(60, 900) for q in QUEUES}
    teams = {f"agent-{i:03d}": f"team-{i % 20:02d}" for i in range(400)}
    totals = []
    for run in range(args.repeat):
        t1 = time.perf_counter()
        fcr = first_contact_resolution(contacts, rules=rules)
        t2 = time.perf_counter()
        by_agent = monthly_tallies(contacts, fcr, tz=tz, targets=targets)
        by_team = monthly_tallies(
            contacts, fcr, tz=tz, targets=targets, group_of=lambda c: teams[c.agent_id]
        )
        t3 = time.perf_counter()
        totals.append(t3 - t1)
        eligible = sum(1 for x in fcr if x is not None)
        resolved = sum(1 for x in fcr if x)
        print(
            f"run {run + 1}: FCR {t2 - t1:.2f} s, monthly tallies {t3 - t2:.2f} s, "
            f"total {t3 - t1:.2f} s; {len(by_agent)} agent-months, "
            f"{len(by_team)} team-months, FCR {resolved / eligible:.3f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(totals)
    print(
        f"median: {median:.2f} s for {args.contacts:,} contacts; "
        f"peak RSS {peak:.0f} MB (incl. the contacts)"
    )
    print(f"target (< 20 s, < 2048 MB): {'MET' if median < 20 and peak < 2048 else 'NOT MET'}")


if __name__ == "__main__":
    main()
