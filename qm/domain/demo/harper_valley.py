"""The real Harper Valley calls of the demo, and the fields the dataset lacks.

The real calls are imported as they are; the fields the dataset lacks are synthesised
deterministically and written to a plain call manifest (`enrichment.csv`) that is then
imported like any other, so what is made up can be read in one file. See
qm/demo/ATTRIBUTION.md.
"""

import csv
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from qm.domain.imports.csvrows import write_safe_row
from qm.domain.imports.harper_valley import read_conversation, sids
from qm.domain.imports.manifest import COLUMNS
from qm.models import Role

DEMO_ROOT = Path(__file__).resolve().parents[2] / "demo"
HARPER_VALLEY = DEMO_ROOT / "harper_valley"
SCRIPT = DEMO_ROOT / "scripts" / "hvnb-retail.yaml"
AUDIO_CALLS = DEMO_ROOT / "audio-calls.csv"
QUEUE = "hvnb-retail"


@dataclass(frozen=True)
class DemoLogin:
    """A demo account printed by `qm demo`."""

    username: str
    password: str
    role: Role
    agent_id: str | None = None


def _unit(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: the same call always gets the same synthetic value."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _seconds(low: float, high: float, *parts: str) -> str:
    return f"{low + (high - low) * _unit(*parts):.1f}"


def write_enrichment(directory: Path, out: Path) -> int:
    """Write the synthetic hold/wrap/transfer fields and repeat contacts as a manifest."""
    records = [read_conversation(directory, sid, queue=QUEUE) for sid in sids(directory)]
    agents = sorted({r.values["agent_id"] for r in records})
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for rec in records:
            v = rec.values
            cid = v["id"]
            base = {
                "call_id": cid,
                "agent_id": v["agent_id"],
                "customer_id": v["customer_id"] or "",
                "queue": QUEUE,
                "reason": v["reason"] or "",
                "started_at": v["started_at"].isoformat(),
                "talk_seconds": f"{v['talk_seconds']:.3f}",
                "hold_seconds": "0.0"
                if _unit(cid, "hold?") < 0.65
                else _seconds(10, 120, cid, "hold"),
                "wrap_seconds": _seconds(15, 75, cid, "wrap"),
                "transfers": "1" if _unit(cid, "transfer") < 1 / 12 else "0",
                "resolved": "",
                "audio": "",
                "transcript": "",
            }
            write_safe_row(writer, base)
            rows += 1
            if v["customer_id"] and _unit(cid, "repeat?") < 0.2:
                later = v["started_at"] + timedelta(days=1 + 5 * _unit(cid, "repeat-day"))
                other = [a for a in agents if a != v["agent_id"]]
                agent = other[int(_unit(cid, "repeat-agent") * len(other))]
                write_safe_row(
                    writer,
                    base
                    | {
                        "call_id": f"{cid}-f1",
                        "agent_id": agent,
                        "started_at": later.isoformat(),
                        "talk_seconds": _seconds(60, 240, cid, "repeat-talk"),
                        "hold_seconds": "0.0",
                        "wrap_seconds": _seconds(15, 75, cid, "repeat-wrap"),
                        "transfers": "0",
                    },
                )
                rows += 1
    return rows
