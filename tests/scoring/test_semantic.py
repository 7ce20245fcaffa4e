"""The semantic stage: EmbeddingMatcher over a deterministic bag-of-concepts embedding.

The fake `embed` maps words to concepts through a synonym table (verify = confirm,
born = birth...), drops function words and counts concepts, so a paraphrase has the
same vector as the script phrase while sharing almost no words with it: exactly what
the string cascade cannot see and a sentence-embedding model can.
"""

import json
import os
import subprocess
import sys
import types
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import yaml

from scoring.keypoints import ItemResult, check_call
from scoring.matching import UNCERTAIN_BAND, prepare
from scoring.script import parse_script
from scoring.semantic import (
    EmbeddingMatcher,
    SemanticMatcherError,
    calibrate,
    load_sentence_transformer,
)
from scoring.transcript import CallTranscript, Utterance

QM = str(Path(sys.executable).with_name("qm"))
REPO = Path(__file__).resolve().parents[2]

CONCEPTS = {
    "confirm": "confirm",
    "verify": "confirm",
    "check": "confirm",
    "date": "when",
    "when": "when",
    "birth": "birth",
    "born": "birth",
    "birthday": "birth",
    "thank": "thanks",
    "thanks": "thanks",
    "calling": "call",
    "ringing": "call",
    "phoning": "call",
}
STOP = {"a", "an", "the", "of", "for", "to", "you", "your", "me", "i", "we", "were"}
STOP |= {"is", "are", "can", "could", "please", "would", "just"}
DIMENSIONS = 512


def concept_vector(text: str) -> np.ndarray:
    """Counts of the text's concepts; a word outside the table is its own concept."""
    vector = np.zeros(DIMENSIONS)
    for word in "".join(c if c.isalnum() else " " for c in text.lower()).split():
        if word in STOP:
            continue
        concept = CONCEPTS.get(word, word)
        vector[zlib.crc32(concept.encode()) % DIMENSIONS] += 1
    return vector


def embed(texts: Sequence[str]) -> np.ndarray:
    """One concept vector per text, as a sentence-embedding model's batch encode would."""
    return np.stack([concept_vector(t) for t in texts])


class CountingEmbed:
    """`embed`, recording each batch it is given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return embed(texts)

    @property
    def texts(self) -> Counter[str]:
        return Counter(t for batch in self.batches for t in batch)


PHRASE = "can you please confirm your date of birth"
SCRIPT = parse_script(
    {
        "id": "verify-only",
        "name": "Verify",
        "language": "en",
        "key_points": [{"id": "verify", "phrases": [PHRASE], "critical": True}],
    }
)
PARAPHRASE = "Could you verify when you were born?"
# The three concepts of the phrase plus two others: cosine 3 / sqrt(3 * 5) = 0.775.
HEDGED = "Could you verify when you were born, account holder?"
UNRELATED = "The weather is lovely today, isn't it?"


def call(*lines: tuple[str, float, str], call_id: str = "c1") -> CallTranscript:
    return CallTranscript(
        call_id, "en", None, tuple(Utterance(s, t, t + 2.0, text) for s, t, text in lines)
    )


def verify_item(transcript: CallTranscript, matcher: EmbeddingMatcher | None) -> ItemResult:
    return check_call(SCRIPT, transcript, matcher=matcher).key_points[0]


def test_the_fake_embedding_sees_paraphrases_and_nothing_else() -> None:
    # The premises of the tests below, checked rather than assumed (hash collisions).
    m = EmbeddingMatcher(embed, "concepts")
    assert m.similarity(PHRASE, PARAPHRASE, "en") == pytest.approx(1.0)
    assert m.similarity(PHRASE, UNRELATED, "en") == 0.0
    cosine = 3 / np.sqrt(15)
    assert m.similarity(PHRASE, HEDGED, "en") == pytest.approx((cosine - 0.5) / 0.4)


def test_a_paraphrase_missed_by_the_strings_is_a_semantic_hit() -> None:
    transcript = call(("agent", 5, PARAPHRASE), ("customer", 8, "May fifth."))
    without = verify_item(transcript, None)
    assert not without.hit and not without.uncertain and without.method == ""
    with_matcher = verify_item(transcript, EmbeddingMatcher(embed, "concepts"))
    assert with_matcher.hit and not with_matcher.uncertain
    assert with_matcher.method == "semantic"
    assert with_matcher.evidence == PARAPHRASE and with_matcher.start == 5
    assert with_matcher.score == pytest.approx(1.0)
    # The rules still hold for semantic matches: the customer saying it is no hit (the
    # stage does not even read the customer's lines when every item is the agent's).
    customer = verify_item(call(("customer", 5, PARAPHRASE)), EmbeddingMatcher(embed, "c"))
    assert not customer.hit and customer.note == "not found"


def test_an_unrelated_line_stays_a_miss() -> None:
    result = check_call(
        SCRIPT,
        call(("agent", 1, UNRELATED), ("agent", 30, "Your bill is ready.")),
        matcher=EmbeddingMatcher(embed, "concepts"),
    )
    item = result.key_points[0]
    assert not item.hit and not item.uncertain and item.note == "not found"
    assert result.critical_failed and result.compliance == 0.0


def test_a_score_in_the_grey_band_goes_to_a_reviewer() -> None:
    matcher = EmbeddingMatcher(embed, "concepts")
    threshold = prepare(PHRASE).threshold
    score = matcher.similarity(PHRASE, HEDGED, "en")
    assert threshold - UNCERTAIN_BAND <= score < threshold  # the premise
    result = check_call(SCRIPT, call(("agent", 5, HEDGED)), matcher=matcher)
    item = result.key_points[0]
    assert not item.hit and item.uncertain and item.method == "semantic"
    assert item.note == "low-confidence match: needs a reviewer"
    assert item.score == pytest.approx(score)
    # An uncertain critical key point does not fail the call on its own.
    assert not result.critical_failed
    # Tighter anchors make the same cosine a hit: the mapping is what decides.
    generous = EmbeddingMatcher(embed, "concepts", low=0.3, high=0.8)
    assert verify_item(call(("agent", 5, HEDGED)), generous).hit


def test_each_distinct_text_is_embedded_once_across_checks() -> None:
    counting = CountingEmbed()
    matcher = EmbeddingMatcher(counting, "concepts")
    lines = (("agent", 1, UNRELATED), ("agent", 5, PARAPHRASE), ("customer", 9, "May fifth."))
    first, second = call(*lines, call_id="a"), call(*lines[1:], call_id="b")
    for transcript in (first, second, first):
        assert verify_item(transcript, matcher).hit
    embedded = counting.texts
    assert max(embedded.values()) == 1
    # The phrase and the agent's two utterances: not the customer's line (the script's
    # only item is the agent's) nor the two-utterance window.
    assert set(embedded) == {PHRASE, UNRELATED, PARAPHRASE}
    assert matcher.cached() == 3


def test_warm_call_embeds_a_call_in_one_batch() -> None:
    counting = CountingEmbed()
    matcher = EmbeddingMatcher(counting, "concepts")
    transcript = call(("agent", 1, UNRELATED), ("agent", 5, PARAPHRASE), ("customer", 9, "Ok."))
    matcher.warm_call(SCRIPT, transcript)
    # The phrase and the agent's two lines (`semantic_texts`).
    assert len(counting.batches) == 1 and len(counting.batches[0]) == 3
    assert verify_item(transcript, matcher).hit
    assert len(counting.batches) == 1  # the check itself only looked vectors up


def test_the_cache_is_bounded_and_batches_are_split() -> None:
    counting = CountingEmbed()
    matcher = EmbeddingMatcher(counting, "concepts", cache_size=2, batch_size=2)
    matcher.warm(["one", "two", "three", "two"])
    assert counting.batches == [["one", "two"], ["three"]]
    assert matcher.cached() == 2
    matcher.warm(["three"])  # still cached
    matcher.warm(["one"])  # evicted, least recently used
    assert counting.batches[-1] == ["one"] and len(counting.batches) == 3


def test_the_score_mapping_clamps_to_the_unit_interval() -> None:
    assert calibrate(1.0, 0.5, 0.9) == 1.0
    assert calibrate(0.9, 0.5, 0.9) == 1.0
    assert calibrate(0.7, 0.5, 0.9) == pytest.approx(0.5)
    assert calibrate(0.5, 0.5, 0.9) == 0.0
    assert calibrate(-1.0, 0.5, 0.9) == 0.0

    def axes(texts: Sequence[str]) -> np.ndarray:
        rows = {"x": [1.0, 0.0], "-x": [-1.0, 0.0], "y": [0.0, 1.0], "2x": [2.0, 0.0], "0": [0, 0]}
        return np.array([rows[t] for t in texts])

    m = EmbeddingMatcher(axes, "axes")
    assert m.similarity("x", "2x", "en") == 1.0  # length does not matter, only direction
    assert m.similarity("x", "-x", "en") == 0.0  # cosine -1
    assert m.similarity("x", "y", "en") == 0.0
    assert m.similarity("x", "0", "en") == 0.0  # a zero vector has no direction


@pytest.mark.parametrize(("low", "high"), [(0.9, 0.5), (0.5, 0.5), (-2.0, 0.9), (0.5, 1.5)])
def test_anchors_must_be_ordered_cosines(low: float, high: float) -> None:
    with pytest.raises(SemanticMatcherError, match="low < high"):
        EmbeddingMatcher(embed, "concepts", low=low, high=high)


def test_an_embed_returning_the_wrong_shape_is_named() -> None:
    m = EmbeddingMatcher(lambda texts: np.zeros((1, 3)), "broken")
    with pytest.raises(SemanticMatcherError, match=r"broken: embed returned shape \(1, 3\)"):
        m.similarity("a", "b", "en")


def test_loading_a_missing_directory_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    with pytest.raises(SemanticMatcherError) as err:
        load_sentence_transformer(missing)
    assert "QM_SEMANTIC_MODEL" in str(err.value) and str(missing) in str(err.value)
    assert "never downloaded" in str(err.value)


def test_without_sentence_transformers_the_error_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail even where the package is installed.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(SemanticMatcherError) as err:
        load_sentence_transformer(tmp_path)
    message = str(err.value)
    assert "QM_SEMANTIC_MODEL" in message and "pip install .[semantic]" in message
    assert "benchmarks/README.md" in message


class FakeSentenceTransformer:
    """The two calls load_sentence_transformer makes, with sentence-transformers' signatures."""

    loaded: ClassVar[list[dict[str, object]]] = []

    def __init__(
        self, model_name_or_path: str, *, device: str | None = None, local_files_only: bool
    ) -> None:
        if not (Path(model_name_or_path) / "modules.json").is_file():
            raise OSError(f"{model_name_or_path} is not a sentence-transformers model")
        self.loaded.append(
            {"path": model_name_or_path, "device": device, "local_files_only": local_files_only}
        )

    def encode(
        self,
        sentences: list[str],
        *,
        batch_size: int,
        convert_to_numpy: bool,
        normalize_embeddings: bool,
        show_progress_bar: bool,
    ) -> np.ndarray:
        assert convert_to_numpy and not show_progress_bar and len(sentences) <= batch_size
        vectors = embed(sentences)
        if normalize_embeddings:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1)
        return vectors


def test_a_local_model_is_loaded_offline_and_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = FakeSentenceTransformer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    monkeypatch.setattr(FakeSentenceTransformer, "loaded", [])
    with pytest.raises(SemanticMatcherError, match="QM_SEMANTIC_MODEL: cannot load"):
        load_sentence_transformer(tmp_path)
    (tmp_path / "modules.json").write_text("[]")
    matcher = load_sentence_transformer(tmp_path, device="cpu")
    assert FakeSentenceTransformer.loaded == [
        {"path": str(tmp_path), "device": "cpu", "local_files_only": True}
    ]
    assert matcher.name == f"sentence-transformers:{tmp_path.name}"
    item = verify_item(call(("agent", 5, PARAPHRASE)), matcher)
    assert item.hit and item.method == "semantic"


# The command line, through the installed `qm` entry point.


def qm(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    return subprocess.run(
        [QM, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_call(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "verify.yaml"
    script.write_text(yaml.safe_dump(SCRIPT.to_dict()))
    transcript = tmp_path / "c1.json"
    transcript.write_text(
        json.dumps(
            {
                "call_id": "c1",
                "language": "en",
                "segments": [{"speaker": "agent", "start": 5, "end": 7, "text": PARAPHRASE}],
            }
        )
    )
    return script, transcript


def test_cli_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    script, transcript = write_call(tmp_path)
    result = qm(
        "check", "--script", str(script), str(transcript), "--semantic-model", "/nonexistent",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0 and result.stdout == ""
    assert "QM_SEMANTIC_MODEL: no model directory at /nonexistent" in result.stderr
    assert "Traceback" not in result.stderr
    # The same through the environment variable, the option's default.
    result = qm(
        "check", "--script", str(script), str(transcript), cwd=tmp_path,
        QM_SEMANTIC_MODEL="/nonexistent",
    )  # fmt: skip
    assert result.returncode != 0 and "no model directory at /nonexistent" in result.stderr


def test_cli_without_the_package_prints_the_install_hint(tmp_path: Path) -> None:
    script, transcript = write_call(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    # A package that fails to import, ahead on the path: absent even where it is installed.
    broken = tmp_path / "site" / "sentence_transformers.py"
    broken.parent.mkdir()
    broken.write_text("raise ImportError('No module named sentence_transformers')\n")
    result = qm(
        "check", "--script", str(script), str(transcript), "--semantic-model", str(model),
        cwd=tmp_path, PYTHONPATH=str(broken.parent),
    )  # fmt: skip
    assert result.returncode != 0 and result.stdout == ""
    assert f"QM_SEMANTIC_MODEL={model}: the optional package sentence-transformers" in (
        result.stderr
    )
    assert "pip install .[semantic]" in result.stderr


def test_cli_semantic_model_turns_a_paraphrase_into_a_hit(tmp_path: Path) -> None:
    script, transcript = write_call(tmp_path)
    plain = qm("check", "--script", str(script), str(transcript), "--json", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert not json.loads(plain.stdout)["key_points"][0]["hit"]
    # A sentence_transformers package of this test's fake model, ahead on the path.
    package = tmp_path / "site" / "sentence_transformers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from tests.scoring.test_semantic import FakeSentenceTransformer as SentenceTransformer\n"
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "modules.json").write_text("[]")
    result = qm(
        "check", "--script", str(script), str(transcript), "--json",
        "--semantic-model", str(model),
        cwd=tmp_path, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(REPO)]),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["key_points"][0]
    assert (item["hit"], item["method"], item["evidence"]) == (True, "semantic", PARAPHRASE)
