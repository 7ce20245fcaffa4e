"""`qm calibrate`: agreement statistics for calls scored independently by several reviewers."""

import json
from pathlib import Path

import click


@click.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--expert", default=None, help="Reviewer whose scores are the baseline (default: consensus)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calibrate(path: Path, expert: str | None, as_json: bool) -> None:
    """Agreement of reviewers who scored the same calls (a calibration session).

    PATH is a CSV with columns call_id, reviewer, optional total (0-100), then one
    column per form item or key point with the reviewer's answer (yes, no, na,
    partial or 1-5). Without a total column, a reviewer's total is the share of yes
    among their yes/no answers. Prints per-item agreement and Cohen's (two reviewers)
    or Fleiss' kappa, ICC(2,1) of the totals and each reviewer's deviation from the
    expert or the consensus.
    """
    from qm.domain.imports.csvrows import RowReader, csv_rows
    from scoring.calibration import item_agreement, reviewer_deviations, totals_icc

    answers: dict[str, dict[str, dict[str, str]]] = {}
    totals: dict[str, dict[str, float]] = {}
    for header, row, cells in csv_rows(
        path, required=("call_id", "reviewer"), optional=("total",), extra=lambda _c: None
    ):
        r = RowReader(path, row, cells)
        call = r.text("call_id", required=True) or ""
        reviewer = r.text("reviewer", required=True) or ""
        items = {
            c: (cells[c] or "").strip().lower()
            for c in header
            if c not in ("call_id", "reviewer", "total")
        }
        if reviewer in answers.setdefault(call, {}):
            raise r.fail("reviewer", f"{reviewer!r} scored call {call!r} twice")
        answers[call][reviewer] = {k: v for k, v in items.items() if v}
        total = r.number("total", high=100) if "total" in cells else None
        if total is None:
            answered = [v for v in items.values() if v in ("yes", "no")]
            total = 100 * sum(v == "yes" for v in answered) / len(answered) if answered else None
        if total is not None:
            totals.setdefault(call, {})[reviewer] = total
    agreement = item_agreement(answers)
    icc, icc_calls = totals_icc(totals)
    deviations = reviewer_deviations(totals, expert=expert)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "calls": len(answers),
                    "items": [_asdict(a) for a in agreement],
                    "icc_2_1": icc,
                    "icc_calls": icc_calls,
                    "baseline": expert or "consensus",
                    "reviewers": [_asdict(d) for d in deviations],
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{len(answers)} call(s); ICC(2,1) of totals: {_fmt(icc)} over {icc_calls} call(s)")
    click.echo(f"{'item':<24} {'calls':>5} {'agree':>6} {'kappa':>6}")
    for a in agreement:
        click.echo(
            f"{a.item_id:<24} {a.calls:>5} {_fmt(a.observed):>6} {_fmt(a.kappa):>6} {a.method}"
        )
    click.echo(f"Deviation from {expert or 'the consensus'} (points, + is more lenient):")
    for d in deviations:
        click.echo(
            f"  {d.reviewer:<20} mean {_fmt(d.mean_signed, 1)}  "
            f"abs {_fmt(d.mean_absolute, 1)}  n={d.calls}"
        )


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _asdict(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in getattr(value, "__slots__", ())}
