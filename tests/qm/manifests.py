"""Helpers that write call manifests and transcripts for the ingest tests."""

import csv
import json
from pathlib import Path
from typing import Any

from qm.domain.imports.manifest import COLUMNS


def row(call_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid manifest row; `overrides` replace cells."""
    base = {
        "call_id": call_id,
        "agent_id": "a-1",
        "customer_id": "k-1",
        "queue": "billing",
        "reason": "bill question",
        "started_at": "2024-05-01T09:30:00+08:00",
        "talk_seconds": "120",
        "hold_seconds": "10",
        "wrap_seconds": "30",
        "transfers": "0",
        "resolved": "yes",
        "audio": "",
        "transcript": "",
    }
    return base | overrides


def write_manifest(
    path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS
) -> Path:
    """Write `rows` as a manifest with `columns` as header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_transcript(path: Path, call_id: str, lines: list[tuple[str, float, float, str]]) -> Path:
    """Write a DESIGN.md transcript with (speaker, start, end, text) segments."""
    doc = {
        "call_id": call_id,
        "language": "en",
        "duration": max((end for _, _, end, _ in lines), default=0.0),
        "segments": [{"speaker": s, "start": a, "end": b, "text": t} for s, a, b, t in lines],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
