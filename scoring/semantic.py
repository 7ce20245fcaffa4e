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

`load_sentence_transformer` loads a local sentence-transformers model directory
(``QM_SEMANTIC_MODEL``); the package is an optional extra (``pip install .[semantic]``)
and is imported only there. Nothing downloads a model.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scoring.matching import windows
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

    def warm_call(self, script: Script, transcript: CallTranscript) -> None:
        """Embed a script's phrases and every window of a transcript in batches.

        The cascade asks about every (phrase, window) pair one at a time; without this
        each first sight of a text would cost one `embed` call of its own.
        """
        phrases = [p for kp in script.key_points for p in kp.phrases]
        phrases += [p for rule in script.forbidden for p in rule.phrases]
        self.warm([*phrases, *(w.text for w in windows(transcript.utterances))])

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
