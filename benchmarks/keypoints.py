"""Benchmark: key-point detection precision / recall / F1 and throughput.

Runs the checker (the same code path as `qm check`) on a labelled set -- by default
../shared/benchmarks/keypoints: scripts, transcripts with 0/10/20% simulated ASR noise,
truth labels -- and prints micro P/R/F1 per language x noise level and overall, beside
an exact-substring baseline (normalised transcript contains a script phrase, said by
the right speaker, timing ignored), and the share of items marked uncertain (sent to a
reviewer) with the recall once reviewers accept the true ones among them. Then times
the checker on one core: the set as it is, and the same calls stitched end to end into
three-minute calls; every cache is cleared before each timed run, as in a fresh process.

    python benchmarks/keypoints.py [DATASET_DIR] [--repeat 5] [--errors]

Targets (issue 4): F1 >= 0.95 overall and >= 0.90 in every bucket;
>= 300 three-minute transcripts per second per core.
"""

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from qm.domain.call_checks import transcript_view
from scoring.keypoints import CheckResult, check_call, clear_caches
from scoring.normalize import is_chinese, normalize
from scoring.script import Script, load_script
from scoring.transcript import CallTranscript, Utterance
from transcripts.format import load_transcript

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "keypoints"
THREE_MINUTES = 180.0

Call = tuple[str, Script, CallTranscript, dict[str, bool]]


def baseline(script: Script, transcript: CallTranscript) -> dict[str, bool]:
    """Exact substring of a normalised phrase in a normalised utterance by the right speaker."""
    labels = {}
    items = [(kp.id, kp.phrases, kp.speaker) for kp in script.key_points]
    items += [(f.id, f.phrases, "agent") for f in script.forbidden]
    for item_id, phrases, speaker in items:
        texts = [normalize(u.text) for u in transcript.utterances if speaker in ("any", u.speaker)]
        found = False
        for phrase in map(normalize, phrases):
            pad = "" if is_chinese(phrase) else " "
            if any(f"{pad}{phrase}{pad}" in f"{pad}{t}{pad}" for t in texts):
                found = True
        labels[item_id] = found
    return labels


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load(dataset: Path) -> list[Call]:
    """The labelled calls of the set, with their scripts."""
    truth = json.loads((dataset / "truth.json").read_text(encoding="utf-8"))
    names = {entry["script"] for entry in truth.values()}
    scripts = {name: load_script(dataset / name) for name in names}
    calls = []
    for call_id, entry in sorted(truth.items()):
        path = dataset / "transcripts" / f"{call_id}.json"
        transcript = transcript_view(load_transcript(path), call_id=call_id)
        calls.append((call_id, scripts[entry["script"]], transcript, entry["labels"]))
    return calls


def explain(call_id: str, item: str, truth: bool, result: CheckResult) -> str:
    """One line on a wrong label."""
    r = next(x for x in (*result.key_points, *result.forbidden) if x.id == item)
    return (
        f"  {call_id} {item}: truth {truth}, got {r.hit} "
        f"(score {r.score:.2f} {r.method} {r.note!r}) {r.evidence!r}"
    )


def score(calls: Sequence[Call], *, errors: bool) -> None:
    """Print P/R/F1 per bucket for the checker and the baseline."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for call_id, script, transcript, labels in calls:
        result = check_call(script, transcript)
        checked = {r.id: r for r in (*result.key_points, *result.forbidden)}
        ours = {item: r.hit for item, r in checked.items()}
        base = baseline(script, transcript)
        lang, noise = call_id.split("-")[0], call_id.rsplit("-", 1)[1]
        for method, predicted in (("checker", ours), ("baseline", base)):
            for item, truth in labels.items():
                guess = predicted[item]
                unsure = method == "checker" and checked[item].uncertain
                for bucket in ((lang, noise), (lang, "all"), ("all", "all")):
                    c = counts[(method, *bucket)]
                    c[0] += guess and truth
                    c[1] += guess and not truth
                    c[2] += truth and not guess
                    c[3] += unsure
                    c[4] += unsure and truth
                    c[5] += 1
                if errors and method == "checker" and guess != truth:
                    print(explain(call_id, item, truth, result))
    print(
        f"{'bucket':<12} {'checker P/R/F1':>22}   {'exact baseline P/R/F1':>24}"
        f"   {'to review':>9} {'R after review':>14}"
    )
    buckets = sorted(
        {k[1:] for k in counts}, key=lambda b: (b[0] == "all", b[0], b[1] == "all", b[1])
    )
    for bucket in buckets:
        ours, base = counts[("checker", *bucket)], counts[("baseline", *bucket)]
        ours_prf = " ".join(f"{x:.3f}" for x in prf(*ours[:3]))
        base_prf = " ".join(f"{x:.3f}" for x in prf(*base[:3]))
        # Uncertain items go to a reviewer: the share of items sent, and the recall once
        # reviewers accept the true ones among them.
        review = f"{ours[3] / ours[5]:.1%}"
        reviewed = (ours[0] + ours[4]) / (ours[0] + ours[2])
        print(
            f"{' '.join(bucket):<12} {ours_prf}        {base_prf}   {review:>9} {reviewed:>14.3f}"
        )


def stitched(calls: Sequence[Call], seconds: float) -> list[tuple[Script, CallTranscript]]:
    """The calls of each script joined end to end into calls of at least `seconds`."""
    out = []
    for script in {id(c[1]): c[1] for c in calls}.values():
        parts: list[Utterance] = []
        offset = 0.0
        for _, s, t, _ in calls:
            if s is not script:
                continue
            parts += [
                Utterance(u.speaker, u.start + offset, u.end + offset, u.text) for u in t.utterances
            ]
            offset += t.duration or max((u.end for u in t.utterances), default=0.0)
            if offset >= seconds:
                transcript = CallTranscript(f"long-{len(out)}", t.language, offset, tuple(parts))
                out.append((script, transcript))
                parts, offset = [], 0.0
    return out


def throughput(pairs: Sequence[tuple[Script, CallTranscript]], repeat: int) -> float:
    """Median transcripts per second on one core, caches cleared before each run."""
    rates = []
    for _ in range(repeat):
        clear_caches()
        start = time.perf_counter()
        for script, transcript in pairs:
            check_call(script, transcript)
        rates.append(len(pairs) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Score the set, print the table and the throughput."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--errors", action="store_true", help="list every wrong label")
    args = parser.parse_args()
    calls = load(args.dataset)
    score(calls, errors=args.errors)

    mean = statistics.mean((t.duration or 0.0) for _, _, t, _ in calls)
    rate = throughput([(s, t) for _, s, t, _ in calls], args.repeat)
    print(
        f"throughput: {rate:,.0f} transcripts/s of {mean:.0f} s on one core "
        f"(median of {args.repeat}) -> about {rate * mean / THREE_MINUTES:,.0f} "
        "three-minute transcripts/s"
    )
    long_calls = stitched(calls, THREE_MINUTES)
    long_mean = statistics.mean((t.duration or 0.0) for _, t in long_calls)
    long_rate = throughput(long_calls, args.repeat)
    print(
        f"measured on {len(long_calls)} stitched calls of {long_mean:.0f} s: "
        f"{long_rate:,.0f} transcripts/s on one core "
        f"-> {long_rate * long_mean / THREE_MINUTES:,.0f} three-minute transcripts/s"
    )


if __name__ == "__main__":
    main()
