"""Benchmark: the monthly team report for 300 agents with six months of history.

Target (issue 11): under 15 s and under 500 MB peak on this machine. Builds the report's
data in memory (synthetic, seeded: 300 agents with English and Chinese names, the seven
headline metrics with six-month trends, 40 key points, mystery items, the scatter of every
agent), then times `render_team_report` and prints seconds, peak memory (the process's
maximum resident set, which includes the interpreter and its libraries), pages and bytes.

    python benchmarks/reports.py [--agents 300] [--repeat 3] [--locale en|zh_CN]
"""

import argparse
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# This file shares its name with the `reports` package: run as a script, its own folder
# comes first on sys.path and would shadow the package, so that folder is taken out.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from reports.monthly import (  # noqa: E402
    AgentLine,
    Coverage,
    Disputes,
    FollowUpLine,
    HandleFcr,
    ItemCount,
    MysteryComparison,
    TeamReportData,
    Training,
    render_team_report_pages,
)
from reports.pdf import METRIC_LABELS, Figure, Series, plain_gettext  # noqa: E402
from scoring.period import Period  # noqa: E402
from scoring.scorecard import Metrics, Scorecard  # noqa: E402
from scoring.stats import Estimate, proportion  # noqa: E402

MONTHS = 6
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋")


def _share(rng: random.Random, low: float, high: float, n: int) -> Estimate:
    return proportion(round(rng.uniform(low, high) * n), n)


def make_team(agents: int, seed: int = 11) -> TeamReportData:
    """A team of `agents` agents for November 2026 with six months of trends."""
    rng = random.Random(seed)
    period = Period(2026, 11)
    months = [str(period)]
    for _ in range(MONTHS - 1):
        months.insert(0, str(Period.parse(months[0]).previous()))
    lines = []
    for i in range(agents):
        contacts = rng.randrange(2, 220)
        name = f"Agent {i:03d}" if i % 2 else rng.choice(SURNAMES) + rng.choice(GIVEN) + str(i)
        metrics = Metrics(
            fcr=_share(rng, 0.6, 0.95, contacts),
            transfer_rate=_share(rng, 0.02, 0.2, contacts),
            aht_seconds=Estimate(rng.uniform(180, 600), contacts, None),
            courtesy=_share(rng, 0.7, 1.0, contacts),
            script_compliance=_share(rng, 0.5, 1.0, contacts),
            mystery_shopper=_share(rng, 0.5, 1.0, 4),
        )
        composite = _share(rng, 0.5, 0.95, contacts)
        card = Scorecard(
            agent_id=f"a{i}",
            period=str(period),
            contacts=contacts,
            metrics=metrics,
            handle_in_band=_share(rng, 0.4, 0.9, contacts),
            composite=composite,
            weights={},
            enough_data=contacts >= 10,
        )
        lines.append(AgentLine(name, card))
    headline = tuple(
        Figure(m, _share(rng, 0.6, 0.9, 5000), rng.uniform(0.6, 0.9), 0.8)
        if m != "aht_seconds"
        else Figure(m, Estimate(330.0, 5000, (320.0, 340.0)), 345.0)
        for m in METRIC_LABELS
    )
    trends = tuple(
        Series(m, tuple((month, rng.uniform(0.6, 0.9)) for month in months), 0.8)
        for m in METRIC_LABELS
        if m != "aht_seconds"
    )
    return TeamReportData(
        team_name="Billing East 账务一组",
        period=str(period),
        generated_at=datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        min_contacts=10,
        headline=headline,
        trends=trends,
        agents=tuple(lines),
        missed_key_points=tuple(
            ItemCount(f"Key point {k} 关键点", rng.randrange(0, 400), 400) for k in range(40)
        ),
        critical_failures=tuple(
            ItemCount(f"Critical {k}", rng.randrange(9), 5000) for k in range(8)
        ),
        mystery=tuple(
            MysteryComparison(f"Item {k}", _share(rng, 0.6, 1, 40), _share(rng, 0.4, 1, 900))
            for k in range(15)
        ),
        handle_vs_fcr=tuple(
            HandleFcr(
                line.name,
                line.card.metrics.aht_seconds.value or 0.0,
                line.card.metrics.fcr.value or 0.0,
            )
            for line in lines
        ),
        coverage=Coverage(calls=30000, random=600, targeted=240),
        agreement=proportion(870, 1000),
        disputes=Disputes(opened=40, still_open=6, upheld=20, changed=14),
        training=Training(
            assigned=120,
            overdue=14,
            completed=80,
            follow_ups=tuple(
                FollowUpLine(f"Key point {k}", _share(rng, 0.4, 0.7, 60), _share(rng, 0.6, 0.9, 50))
                for k in range(20)
            ),
        ),
    )


def main() -> None:
    """Build the data once, then render it `--repeat` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--locale", default="en")
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = make_team(args.agents)
    print(f"data: {args.agents} agents, {MONTHS} months, built in {time.perf_counter() - t0:.2f} s")
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rendered = render_team_report_pages(data, gettext=plain_gettext, locale=args.locale)
        timings.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"render: median {statistics.median(timings):.2f} s, max {max(timings):.2f} s "
        f"over {args.repeat} runs; peak {peak_mb:.0f} MB; "
        f"{rendered.pages} pages, {len(rendered.pdf):,} bytes"
    )
    print("target: < 15 s and < 500 MB")


if __name__ == "__main__":
    main()
