"""Learning from reviewers: key-point decisions become exemplars and phrase suggestions.

A reviewer's decision on a key point (`qm.domain.overrides`) teaches the checker when
it corrects it:

- the checker missed the key point (or was unsure) and the reviewer says it was said,
  choosing the evidence span that said it: that span's text is a **positive exemplar**
  (without a span nothing is learnt: an uncertain match's line may be the wrong one, a
  closing found in the greeting, and a wrong positive exemplar makes false hits);
- the checker found it (or was unsure) and the reviewer says it was not said: the
  reviewer's span, or else the line the checker matched, is a **negative exemplar**
  (not that line when it says the key point's own words nearly verbatim: then the
  answer is about order or timing, `scoring.exemplars.teaches_negative`).

Confirmations teach nothing. Exemplars belong to the script (its `key`, every version)
and apply from the next check on (`script_exemplars`, read by the pipeline's keypoints
stage and the script preview): `scoring.exemplars` says how they match. A newer decision
on the same call and key point replaces what the older one taught, and a call removed
for privacy takes its exemplars with it.

A positive exemplar is also a suggested phrase variant (`qm.domain.phrase_suggestions`).
"""

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.models import KeyPointExemplar, KeyPointOverride, KeyPointResult, Script
from scoring.exemplars import Exemplar, teaches_negative
from scoring.normalize import normalize

# Exemplars of each key point and kind the checker reads, newest first: enough to learn
# a site's common wordings, few enough that a call's check stays fast (with 10 of each
# kind for every key point, 83 three-minute calls of the benchmark check at about 100 a
# second on one core, string matchers alone; scripts' phrases alone, about 500).
MAX_PER_ITEM = 10
# Rows read per script for a check (the newest), before the per-item cap.
MAX_READ = 2000


def learn(session: Session, decision: KeyPointOverride, result: KeyPointResult) -> None:
    """Record what `decision` (just stored) teaches about its key point, replacing what
    earlier decisions on the same call and key point taught (see the module's rules).

    `result` is the checker's result the decision was taken on.
    """
    session.execute(
        sa.delete(KeyPointExemplar).where(
            col(KeyPointExemplar.call_id) == decision.call_id,
            col(KeyPointExemplar.item_id) == decision.item_id,
        )
    )
    auto = None if result.uncertain else result.hit
    if auto is decision.hit:
        return  # a confirmation
    if decision.hit or decision.evidence:
        text = decision.evidence
    else:
        # The line the checker matched, when its wording is what was wrong.
        text = result.evidence if teaches_negative(result.method, result.score) else ""
    script = session.get(Script, result.script_id)
    if not normalize(text) or script is None or decision.id is None:
        return
    session.add(
        KeyPointExemplar(
            script_key=script.key,
            item_id=decision.item_id,
            text=text,
            positive=decision.hit,
            override_id=decision.id,
            call_id=decision.call_id,
        )
    )
    session.flush()


def script_exemplars(session: Session, script_key: str) -> tuple[Exemplar, ...]:
    """The exemplars the checker uses for script `script_key`: per key point the newest
    `MAX_PER_ITEM` positive and negative ones, each text once."""
    rows = session.execute(
        sa.select(
            col(KeyPointExemplar.item_id),
            col(KeyPointExemplar.text),
            col(KeyPointExemplar.positive),
        )
        .where(col(KeyPointExemplar.script_key) == script_key)
        .order_by(col(KeyPointExemplar.id).desc())
        .limit(MAX_READ)
    ).all()
    kept: dict[tuple[str, bool], dict[str, Exemplar]] = {}
    for item_id, text, positive in rows:
        texts = kept.setdefault((item_id, positive), {})
        if len(texts) < MAX_PER_ITEM:
            texts.setdefault(text, Exemplar(item_id, text, positive))
    return tuple(e for texts in kept.values() for e in texts.values())
