"""The semantic stage's calibrated anchors, stored as a site setting, and the labelled
calls a site can calibrate them from (its reviewers' key-point overrides).

`qm matcher calibrate` fits the anchors (`scoring.anchor_fit`) and stores them here,
per model: the value is ``{"model": "usem3", "low": 0.3, "high": 0.75, ...}`` under the
site setting `SEMANTIC_ANCHORS`. The keypoints stage reads them on every call
(`anchors_for`), so a new calibration applies from the next call on; anchors stored for
another model are ignored (a cosine means something else in another model's space).
QM_SEMANTIC_LOW / QM_SEMANTIC_HIGH, when set, win over the stored ones.
"""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from qm.domain.audit import record
from qm.domain.call_checks import read_call_transcript
from qm.domain.scripts import ScriptCache
from qm.domain.stored_transcripts import current_transcript_info
from qm.models import SITE_SCOPE, KeyPointOverride, KeyPointResult, SiteSetting, utcnow
from qm.settings import Settings
from scoring.anchor_fit import LabelledCall
from scoring.semantic import Anchors

SEMANTIC_ANCHORS = "semantic_anchors"


def stored_anchors(session: Session, model: str) -> Anchors | None:
    """The anchors `qm matcher calibrate` stored for `model`; None when none are."""
    row = session.get(SiteSetting, (SEMANTIC_ANCHORS, SITE_SCOPE))
    if row is None or row.value.get("model") != model:
        return None
    return Anchors(float(row.value["low"]), float(row.value["high"]))


def anchors_for(session: Session, settings: Settings) -> Anchors | None:
    """The anchors the keypoints stage uses instead of the loaded matcher's, if any.

    None means "keep the matcher's": either the settings name both anchors (they were
    given to the loader) or nothing is stored for this model.
    """
    if settings.semantic_low is not None and settings.semantic_high is not None:
        return None
    stored = stored_anchors(session, settings.semantic_model)
    if stored is None:
        return None
    low = stored.low if settings.semantic_low is None else settings.semantic_low
    high = stored.high if settings.semantic_high is None else settings.semantic_high
    return Anchors(low, high) if low < high else None


def save_anchors(
    session: Session, *, model: str, anchors: Anchors, actor: str, detail: dict[str, Any]
) -> None:
    """Store `anchors` for `model` (replacing any earlier calibration), with an audit event.

    `detail` (the fit's figures and source) is kept in the value beside the anchors.
    """
    value = {"model": model, "low": anchors.low, "high": anchors.high, **detail}
    row = session.get(SiteSetting, (SEMANTIC_ANCHORS, SITE_SCOPE))
    before = None if row is None else dict(row.value)
    if row is None:
        row = SiteSetting(
            name=SEMANTIC_ANCHORS, scope=SITE_SCOPE, value=value, updated_by=actor[:100]
        )
    else:
        row.value, row.updated_by, row.updated_at = value, actor[:100], utcnow()
    session.add(row)
    record(
        session,
        actor=actor,
        action=f"{SEMANTIC_ANCHORS}.save",
        entity="site_setting",
        entity_id="site",
        detail={"before": before, "after": value},
    )


_OVERRIDES = KeyPointOverride.__table__  # type: ignore[attr-defined]
_RESULTS = KeyPointResult.__table__  # type: ignore[attr-defined]
# The newest decision per call and item (ids grow with time).
_NEWEST = sa.select(_OVERRIDES.c.call_id, _OVERRIDES.c.item_id, _OVERRIDES.c.hit).where(
    _OVERRIDES.c.id.in_(
        sa.select(sa.func.max(_OVERRIDES.c.id)).group_by(_OVERRIDES.c.call_id, _OVERRIDES.c.item_id)
    )
)
_SCRIPT_OF_CALL = (
    sa.select(_RESULTS.c.script_id).where(_RESULTS.c.call_id == sa.bindparam("call_id")).limit(1)
)


def override_calls(session: Session) -> tuple[list[LabelledCall], int]:
    """Calls with reviewers' key-point decisions, labelled by the newest decision per item.

    A decision is the truth of its item whether it confirmed or corrected the machine.
    Each call is checked against the script version its stored results were checked
    with, on its current transcript. Returns the calls and how many calls with decisions
    were left out (no transcript, or no stored result to name the script).
    """
    labels: dict[str, dict[str, bool]] = defaultdict(dict)
    for call_id, item_id, hit in session.connection().execute(_NEWEST):
        labels[call_id][item_id] = bool(hit)
    scripts = ScriptCache()
    calls: list[LabelledCall] = []
    skipped = 0
    for call_id in sorted(labels):
        script_id = session.connection().execute(_SCRIPT_OF_CALL, {"call_id": call_id}).scalar()
        info = current_transcript_info(session, call_id)
        if script_id is None or info is None:
            skipped += 1
            continue
        script = scripts.version(session, script_id).script
        transcript = read_call_transcript(session, info)
        calls.append(LabelledCall(call_id, script, transcript, labels[call_id]))
    return calls, skipped
