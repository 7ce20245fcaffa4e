"""Build random-weight Whisper models offline, for tests and benchmarks.

No model hub is contacted. The tokenizer is rebuilt from openai-whisper's MIT-licensed
``multilingual.tiktoken`` (shipped in its sdist on PyPI), the network is a
``transformers`` Whisper with seeded random weights, and CTranslate2 converts it for
faster-whisper. The output text of such a model is garbage; its value is that every code
path (features, VAD, decoding, word timestamps, stereo merge) runs for real, and that at
the real model shapes it costs exactly what the real model costs.

This needs torch, transformers, tokenizers and ctranslate2, which the project itself does
not depend on. Use a separate virtualenv::

    python3.11 -m venv /tmp/buildvenv
    /tmp/buildvenv/bin/pip install torch==2.13.0 transformers tokenizers ctranslate2
    (cd /tmp && /tmp/buildvenv/bin/pip download --no-deps --no-binary :all: openai-whisper \\
        && tar xzf openai_whisper-*.tar.gz)
    /tmp/buildvenv/bin/python scripts/build_tiny_whisper.py \\
        --tiktoken /tmp/openai_whisper-*/whisper/assets/multilingual.tiktoken \\
        --shape fixture --out tests/fixtures/models/whisper-random-fixture

``--shape tiny|base|small`` builds the real sizes (for ``benchmarks/asr.py``);
``--openai-pt FILE`` also writes an openai-whisper checkpoint of the same shape (needs
openai-whisper installed). The build is deterministic: the same seed and versions give the
same files.
"""

import argparse
import base64
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The 99 language tokens of the multilingual vocabulary (51865 tokens), in openai-whisper's
# order (whisper/tokenizer.py LANGUAGES, without "yue", which only large-v3 adds).
LANGUAGE_CODES = [
    "en",
    "zh",
    "de",
    "es",
    "ru",
    "ko",
    "fr",
    "ja",
    "pt",
    "tr",
    "pl",
    "ca",
    "nl",
    "ar",
    "sv",
    "it",
    "id",
    "hi",
    "fi",
    "vi",
    "he",
    "uk",
    "el",
    "ms",
    "cs",
    "ro",
    "da",
    "hu",
    "ta",
    "no",
    "th",
    "ur",
    "hr",
    "bg",
    "lt",
    "la",
    "mi",
    "ml",
    "cy",
    "sk",
    "te",
    "fa",
    "lv",
    "bn",
    "sr",
    "az",
    "sl",
    "kn",
    "et",
    "mk",
    "br",
    "eu",
    "is",
    "hy",
    "ne",
    "mn",
    "bs",
    "kk",
    "sq",
    "sw",
    "gl",
    "mr",
    "pa",
    "si",
    "km",
    "sn",
    "yo",
    "so",
    "af",
    "oc",
    "ka",
    "be",
    "tg",
    "sd",
    "gu",
    "am",
    "yi",
    "lo",
    "uz",
    "fo",
    "ht",
    "ps",
    "tk",
    "nn",
    "mt",
    "sa",
    "lb",
    "my",
    "bo",
    "tl",
    "mg",
    "as",
    "tt",
    "haw",
    "ln",
    "ha",
    "ba",
    "jw",
    "su",
]
TASK_TOKENS = (
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
)
N_VOCAB = 51865
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@dataclass(frozen=True)
class Shape:
    """Network dimensions of one Whisper size."""

    d_model: int
    layers: int
    heads: int


SHAPES = {
    # The committed test fixture: a few MB, loads and decodes in milliseconds.
    "fixture": Shape(d_model=64, layers=1, heads=2),
    "tiny": Shape(d_model=384, layers=4, heads=6),
    "base": Shape(d_model=512, layers=6, heads=8),
    "small": Shape(d_model=768, layers=12, heads=12),
}


def special_tokens() -> list[str]:
    """Whisper's special tokens in id order, starting at 50257."""
    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *[f"<|{code}|>" for code in LANGUAGE_CODES],
        *TASK_TOKENS,
        *[f"<|{i * 0.02:.2f}|>" for i in range(1501)],
    ]


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible byte -> printable character map used by byte-level BPE.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _bpe_split(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    # Re-run BPE on `token` using only merges ranked below its own rank: what remains are
    # the two parts whose merge created it (tiktoken stores ranks, not merges).
    parts = [bytes([b]) for b in token]
    while True:
        best: tuple[int, int] | None = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[1]):
                best = (i, rank)
        if best is None:
            return parts
        i = best[0]
        parts = [*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]]


def build_tokenizer_json(tiktoken_path: Path) -> str:
    """A Hugging Face ``tokenizer.json`` equivalent to openai-whisper's multilingual one."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in tiktoken_path.read_text().splitlines() if line)
    }
    byte_map = _bytes_to_unicode()

    def encode(b: bytes) -> str:
        return "".join(byte_map[x] for x in b)

    # Rank 50256 is an empty placeholder in the file; give it a name BPE can never produce so
    # that the special tokens keep their ids (50257 onwards).
    vocab = {encode(token) or f"<|unused{rank}|>": rank for token, rank in ranks.items()}
    merges: list[tuple[str, str]] = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) <= 1:
            continue
        parts = _bpe_split(ranks, token, rank)
        if len(parts) != 2:
            raise SystemExit(f"cannot recover the merge for rank {rank}")
        merges.append((encode(parts[0]), encode(parts[1])))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in special_tokens()])
    if tokenizer.get_vocab_size() != N_VOCAB:
        raise SystemExit(f"vocabulary has {tokenizer.get_vocab_size()} tokens, not {N_VOCAB}")
    return str(tokenizer.to_str(pretty=False))


def _hf_model(shape: Shape, seed: int, out: Path) -> None:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    first_special = N_VOCAB - len(special_tokens())
    ids = {tok: first_special + i for i, tok in enumerate(special_tokens())}
    config = WhisperConfig(
        vocab_size=N_VOCAB,
        num_mel_bins=80,
        d_model=shape.d_model,
        encoder_layers=shape.layers,
        decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=4 * shape.d_model,
        decoder_ffn_dim=4 * shape.d_model,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    heads = [[layer, head] for layer in range(shape.layers) for head in range(shape.heads)]
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"],
        eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"],
        lang_to_id={f"<|{code}|>": ids[f"<|{code}|>"] for code in LANGUAGE_CODES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        is_multilingual=True,
        suppress_tokens=[],
        begin_suppress_tokens=[220, ids["<|endoftext|>"]],
        alignment_heads=heads[len(heads) // 2 :],
    )
    model.save_pretrained(out)


def _preprocessor_config() -> dict[str, Any]:
    return {
        "chunk_length": 30,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": 80,
        "hop_length": 160,
        "n_fft": 400,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": 16000,
    }


def build_ct2_model(
    tiktoken_path: Path, shape: Shape, out: Path, *, seed: int = 0, quantization: str = "int8"
) -> Path:
    """Write a CTranslate2 Whisper model directory loadable by faster-whisper offline."""
    from ctranslate2.converters import TransformersConverter

    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(tmp) / "hf"
        _hf_model(shape, seed, hf_dir)
        (hf_dir / "tokenizer.json").write_text(build_tokenizer_json(tiktoken_path))
        (hf_dir / "preprocessor_config.json").write_text(
            json.dumps(_preprocessor_config(), indent=2) + "\n"
        )
        if out.exists():
            shutil.rmtree(out)
        TransformersConverter(
            str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"]
        ).convert(str(out), quantization=quantization)
    return out


def build_openai_checkpoint(shape: Shape, out: Path, *, seed: int = 0) -> Path:
    """Write an openai-whisper ``.pt`` checkpoint with random weights of the same shape."""
    import dataclasses

    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=shape.d_model,
        n_audio_head=shape.heads,
        n_audio_layer=shape.layers,
        n_vocab=N_VOCAB,
        n_text_ctx=448,
        n_text_state=shape.d_model,
        n_text_head=shape.heads,
        n_text_layer=shape.layers,
    )
    torch.manual_seed(seed)
    model = Whisper(dims)
    # The positional embedding is created with torch.empty(): uninitialised memory would
    # give NaN logits.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.state_dict()}, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiktoken", type=Path, required=True, help="multilingual.tiktoken")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="fixture")
    parser.add_argument("--out", type=Path, required=True, help="CTranslate2 model directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantization", default="int8")
    parser.add_argument("--openai-pt", type=Path, help="also write an openai-whisper .pt")
    args = parser.parse_args(argv)
    shape = SHAPES[args.shape]
    build_ct2_model(args.tiktoken, shape, args.out, seed=args.seed, quantization=args.quantization)
    print(f"wrote {args.out}", file=sys.stderr)
    if args.openai_pt:
        build_openai_checkpoint(shape, args.openai_pt, seed=args.seed)
        print(f"wrote {args.openai_pt}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
