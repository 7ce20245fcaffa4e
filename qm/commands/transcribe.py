"""`qm transcribe` and `qm wer`: one recording to a transcript, and its accuracy."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qm.commands.common import pass_settings

if TYPE_CHECKING:
    from qm.settings import Settings

LOW_ACCURACY = (
    "falling back to pocketsphinx (offline, English only, LOW ACCURACY: expect 30-70% word errors)"
)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


@click.command()
@click.argument("audio", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--engine",
    type=click.Choice(["faster-whisper", "openai-whisper", "pocketsphinx"]),
    default=None,
    help="ASR engine (default: QM_ASR_ENGINE).",
)
@click.option("--model", default=None, help="Whisper model name or local path (QM_WHISPER_MODEL).")
@click.option(
    "--language", type=click.Choice(["auto", "en", "zh"]), default=None, help="QM_ASR_LANGUAGE."
)
@click.option(
    "--agent-channel",
    type=click.Choice(["left", "right"]),
    default=None,
    help="Channel of the agent in a stereo recording (default: QM_AGENT_CHANNEL, left).",
)
@click.option(
    "--beam-size",
    type=click.IntRange(1, 20),
    default=None,
    help="1 is greedy (QM_ASR_BEAM_SIZE, 5).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(0, 1),
    default=None,
    help="Decode at this one temperature (default: Whisper's fallback schedule 0.0-1.0).",
)
@click.option(
    "--prompt", default=None, help="Initial prompt / hot words for Whisper (QM_ASR_INITIAL_PROMPT)."
)
@click.option("--call-id", default=None, help="Call id to store (default: the file name).")
@click.option(
    "--fallback", is_flag=True, help="Use pocketsphinx when the Whisper model cannot be loaded."
)
@click.option("--json", "as_json", is_flag=True, help="Print DESIGN.md's transcript JSON.")
@pass_settings
def transcribe(
    settings: "Settings",
    audio: Path,
    engine: str | None,
    model: str | None,
    language: str | None,
    agent_channel: str | None,
    beam_size: int | None,
    temperature: float | None,
    prompt: str | None,
    call_id: str | None,
    fallback: bool,
    as_json: bool,
) -> None:
    """Transcribe AUDIO into a speaker-labelled, redacted transcript.

    A stereo recording is split into agent and customer channels, each transcribed on
    its own and merged by time; a mono one gives speaker "unknown". Card numbers, security
    codes and ID numbers are replaced by [PAN], [CVV] and [ID].
    """
    from transcripts.asr import AsrConfig, load_engine
    from transcripts.errors import TranscriptError
    from transcripts.format import transcript_to_dict

    try:
        config = settings.asr_config(
            engine=engine,
            model=model,
            language=language,
            beam_size=beam_size,
            initial_prompt=prompt,
            temperature=None if temperature is None else (temperature,),
        )
        try:
            asr = load_engine(config)
        except TranscriptError as exc:
            if not fallback or config.engine == "pocketsphinx":
                raise
            click.secho(f"WARNING: {exc} — {LOW_ACCURACY}", fg="yellow", err=True)
            asr = load_engine(AsrConfig(engine="pocketsphinx", language="en"))
        transcript = asr.transcribe_file(
            audio,
            call_id=call_id or audio.stem,
            agent_channel=agent_channel or settings.agent_channel,
        )
    except TranscriptError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(transcript_to_dict(transcript), ensure_ascii=False))
        return
    duration = f"{transcript.duration:.1f} s" if transcript.duration is not None else "?"
    click.echo(
        f"{transcript.call_id}: {duration}, language {transcript.language}, "
        f"{len(transcript.segments)} segment(s), engine {asr.name}"
    )
    for seg in transcript.segments:
        click.echo(f"[{_clock(seg.start)} - {_clock(seg.end)}] {seg.speaker:<8} {seg.text}")


@click.command()
@click.argument("reference")
@click.argument("hypothesis")
@click.option(
    "--language",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Normalisation and headline figure (default: detected from the reference).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def wer(reference: str, hypothesis: str, language: str | None, as_json: bool) -> None:
    """Word and character error rates of HYPOTHESIS against REFERENCE.

    Each argument is a transcript JSON file, a text file, or the text itself. Both are
    normalised the same way (NFKC full-width folding, lower case, numbers as words,
    punctuation removed). For Chinese the headline figure is the CER.
    """
    from transcripts.errors import TranscriptError
    from transcripts.wer import read_text_or_transcript, wer_report

    try:
        ref_text, ref_language = read_text_or_transcript(reference)
        hyp_text, _ = read_text_or_transcript(hypothesis)
    except (TranscriptError, OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    report = wer_report(ref_text, hyp_text, language=language or ref_language)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "language": report.language,
                    "wer": report.wer.rate,
                    "cer": report.cer.rate,
                    "words": _counts(report.wer),
                    "characters": _counts(report.cer),
                },
                ensure_ascii=False,
                allow_nan=False,  # strict JSON, which every reader accepts
            )
        )
        return
    for label, counts in (("WER", report.wer), ("CER", report.cer)):
        if label == "WER" and report.language == "zh":
            continue  # over characters it is the CER
        unit = "characters" if label == "CER" else "words"
        click.echo(
            f"{label} {counts.rate:.2%}  ({counts.reference_length} reference {unit}: "
            f"{counts.substitutions} substitutions, {counts.deletions} deletions, "
            f"{counts.insertions} insertions)"
        )


def _counts(counts: object) -> dict[str, int]:
    return {
        name: getattr(counts, name)
        for name in ("substitutions", "deletions", "insertions", "hits", "reference_length")
    }
