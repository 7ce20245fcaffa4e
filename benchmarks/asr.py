"""ASR throughput on this CPU: faster-whisper int8 against openai-whisper, same audio and settings.

Prints seconds of audio per wall second (xRT, median of `--repeats` runs) at the real
tiny/base/small shapes, greedy and beam 5, and the faster-whisper/openai-whisper ratio;
then what faster-whisper's VAD saves on a half-silent channel.

The models have random weights (no model hub here). Compute cost does not depend on the
weight values, but the number of decoded tokens does, so every run does a fixed amount of
work: no timestamps (each 30 s window is decoded once), end-of-text suppressed and
exactly `--tokens` tokens per window, no temperature fallback. Real speech decodes about
that many tokens per 30 s window, so the figures are representative of real models.

Models are built on first use into benchmarks/out/models (git-ignored) by
scripts/build_tiny_whisper.py, which needs torch and transformers; openai-whisper is
measured only where it is installed. See benchmarks/README.md for the venv recipe.

    python benchmarks/asr.py [--sizes tiny,base,small] [--repeats 3] [--seconds 60]
"""

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
MODELS = ROOT / "benchmarks" / "out" / "models"
EOT = 50257  # <|endoftext|> of the multilingual vocabulary
N_VOCAB = 51865
# End-of-text and every special token after it (language, task, timestamp tokens): a random
# model emits timestamp tokens even without timestamps, and faster-whisper would then split
# windows at them and re-decode, which is not the same work as openai-whisper does.
SUPPRESS = [-1, *range(EOT, N_VOCAB)]


def _speech(seconds: float) -> np.ndarray:
    """Real speech from the fixture clips, repeated to `seconds`, 16 kHz mono float32."""
    sys.path.insert(0, str(ROOT))
    from transcripts.audio import load_audio

    clips = [load_audio(AUDIO / "jfk.wav").channels[0]]
    clips += [load_audio(p).channels[0] for p in sorted((AUDIO / "librivox").glob("*.wav"))]
    speech = np.concatenate(clips)
    reps = int(np.ceil(seconds * 16000 / len(speech)))
    return np.tile(speech, reps)[: int(seconds * 16000)].astype(np.float32)


def _ensure_models(size: str, want_openai: bool) -> tuple[Path, Path | None]:
    ct2 = MODELS / f"ct2-{size}"
    pt = MODELS / f"openai-{size}.pt"
    if ct2.is_dir() and (pt.is_file() or not want_openai):
        return ct2, pt if pt.is_file() else None
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_tiny_whisper as build

    tiktoken = os.environ.get("WHISPER_TIKTOKEN")
    if not tiktoken:
        raise SystemExit(
            f"{ct2} is missing: set WHISPER_TIKTOKEN to openai-whisper's multilingual.tiktoken "
            "and run with torch and transformers installed (see benchmarks/README.md)"
        )
    if not ct2.is_dir():
        build.build_ct2_model(Path(tiktoken), build.SHAPES[size], ct2)
    if want_openai and not pt.is_file():
        build.build_openai_checkpoint(build.SHAPES[size], pt)
    return ct2, pt


def _median_seconds(run: Callable[[], Any], repeats: int) -> float:
    run()  # warm-up: first-call allocations and lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fw_runner(
    model: Any, audio: np.ndarray, beam: int, tokens: int, vad: bool
) -> Callable[[], Any]:
    def run() -> Any:
        segments, _ = model.transcribe(
            audio,
            language="en",
            beam_size=beam,
            best_of=1,
            temperature=0.0,
            without_timestamps=True,
            # CTranslate2 4.8's Whisper generate returns (prompt + max_new_tokens) / 2 tokens
            # (measured; time is linear in the returned count), so ask for twice as many.
            max_new_tokens=2 * tokens - 4,
            suppress_tokens=SUPPRESS,
            suppress_blank=False,
            condition_on_previous_text=False,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            no_speech_threshold=None,
            vad_filter=vad,
        )
        return list(segments)

    return run


def _ow_runner(model: Any, audio: np.ndarray, beam: int, tokens: int) -> Callable[[], Any]:
    def run() -> Any:
        return model.transcribe(
            audio,
            language="en",
            temperature=0.0,
            beam_size=beam if beam > 1 else None,
            without_timestamps=True,
            sample_len=tokens,
            suppress_tokens=SUPPRESS,
            suppress_blank=False,
            condition_on_previous_text=False,
            compression_ratio_threshold=None,
            logprob_threshold=None,
            no_speech_threshold=None,
            fp16=False,
            verbose=None,
        )

    return run


def _token_counts(audio: np.ndarray, args: argparse.Namespace) -> str:
    """Check that both engines decode the same number of tokens per window."""
    from faster_whisper import WhisperModel

    size = args.sizes.split(",")[0]
    ct2, pt = _ensure_models(size, True)
    fw = WhisperModel(str(ct2), device="cpu", compute_type="int8", cpu_threads=args.threads)
    fw_tokens = [len(s.tokens) for s in _fw_runner(fw, audio, 1, args.tokens, False)()]
    text = f"faster-whisper {fw_tokens}"
    try:
        import whisper
    except ImportError:
        return text
    ow = whisper.load_model(str(pt), device="cpu")
    result = _ow_runner(ow, audio, 1, args.tokens)()
    return text + f", openai-whisper {[len(s['tokens']) for s in result['segments']]}"


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,base,small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tokens", type=int, default=100, help="decoded tokens per 30 s window")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--vad-only", action="store_true", help="only the VAD measurement")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    try:
        import torch
        import whisper
    except ImportError:
        whisper = None
        print("openai-whisper is not installed: measuring faster-whisper only", file=sys.stderr)
    else:
        torch.set_num_threads(args.threads)

    audio = _speech(args.seconds)
    print(
        f"{args.seconds:.0f} s of speech, {args.tokens} tokens per 30 s window, "
        f"{args.threads} threads, median of {args.repeats}; xRT = audio s / wall s"
    )
    print(
        f"{'model':<6} {'decoding':<8} {'faster-whisper int8':>20} "
        f"{'openai-whisper fp32':>20} {'ratio':>6}"
    )
    if not args.vad_only:
        print(
            f"tokens decoded per window ({args.sizes.split(',')[0]}, greedy): "
            f"{_token_counts(audio, args)}"
        )
    rows: list[dict[str, Any]] = []
    fw_models: dict[str, Any] = {}
    for size in [] if args.vad_only else args.sizes.split(","):
        ct2, pt = _ensure_models(size, whisper is not None)
        fw = WhisperModel(str(ct2), device="cpu", compute_type="int8", cpu_threads=args.threads)
        fw_models[size] = fw
        ow = whisper.load_model(str(pt), device="cpu") if whisper and pt else None
        for beam, label in ((1, "greedy"), (5, "beam 5")):
            fw_s = _median_seconds(_fw_runner(fw, audio, beam, args.tokens, False), args.repeats)
            ow_s = (
                _median_seconds(_ow_runner(ow, audio, beam, args.tokens), args.repeats)
                if ow is not None
                else None
            )
            fw_x = args.seconds / fw_s
            ow_x = args.seconds / ow_s if ow_s else None
            ratio = f"{fw_x / ow_x:5.2f}x" if ow_x else "   n/a"
            ow_txt = f"{ow_x:17.1f} x" if ow_x else f"{'not installed':>20}"
            print(f"{size:<6} {label:<8} {fw_x:17.1f} x {ow_txt} {ratio:>6}", flush=True)
            rows.append(
                {
                    "model": size,
                    "beam": beam,
                    "faster_whisper_xrt": fw_x,
                    "openai_whisper_xrt": ow_x,
                }
            )
        del ow

    # VAD: one side of a stereo call, talking in turns and silent while the other side talks.
    # Speech makes up a bit under half, so that it fits whole 30 s windows: the fixed work
    # per window would otherwise charge a full window for a VAD remainder of a few tenths
    # of a second, which a real model decodes in one or two tokens.
    size = args.sizes.split(",")[-1]
    n = len(audio)
    half = np.zeros_like(audio)
    for lo, hi in ((0.0, 0.21), (0.5, 0.71)):
        half[int(lo * n) : int(hi * n)] = audio[int(lo * n) : int(hi * n)]
    speech_share = float(np.mean(half != 0))
    fw = fw_models.get(size) or WhisperModel(
        str(_ensure_models(size, False)[0]),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
    )
    with_vad = _median_seconds(_fw_runner(fw, half, 5, args.tokens, True), args.repeats)
    without = _median_seconds(_fw_runner(fw, half, 5, args.tokens, False), args.repeats)
    print(
        f"VAD, {size} beam 5, channel with speech {speech_share:.0%} of the time, in two turns: "
        f"{with_vad:.2f} s with VAD, "
        f"{without:.2f} s without ({with_vad / without:.0%} of the cost; "
        f"{args.seconds / with_vad:.1f} x real time)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows.append({"vad_seconds": with_vad, "no_vad_seconds": without, "vad_model": size})
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
