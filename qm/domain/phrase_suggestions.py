"""Phrase variants that reviewers' decisions suggest for a script, and an admin's answer.

Every positive exemplar (`qm.domain.exemplars`: a line a reviewer said says a key point
the checker missed) is a suggested phrase variant of its key point until an admin
accepts it into a new version of the script or dismisses it (it keeps teaching the
checker either way). The phrase suggested is the sentence of the line closest to the key
point's phrases (`scoring.exemplars.exemplar_phrase`); lines giving the same sentence
are one suggestion. `qm script suggest SCRIPT` is the command line to this.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.scripts import latest_parsed, save_script
from qm.errors import NotFound, ValidationFailed
from qm.i18n import N_, library_message
from qm.i18n import gettext as _
from qm.models import ExemplarSuggestion, KeyPointExemplar, Script, utcnow
from scoring.exemplars import exemplar_phrase, others_of
from scoring.matching import Matcher
from scoring.normalize import normalize
from scoring.script import MAX_PHRASE, MAX_PHRASES, ScriptError, parse_script

NO_SUGGESTION = N_("script {key!r} has no pending suggestion {id}")
TOO_LONG = N_("the suggested phrase is longer than {max} characters; shorten it in the script")
TOO_MANY = N_("key point {item!r} already has {max} phrases")
NO_KEY_POINT = N_("the latest version of script {key!r} has no key point {item!r}")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A phrase variant reviewers' decisions suggest for one key point of a script.

    `ids` are the pending exemplars that suggest it (accept or dismiss by any of them),
    `sources` the (call id, transcript line) each came from.
    """

    item_id: str
    label: str
    phrase: str
    ids: tuple[int, ...]
    sources: tuple[tuple[str, str], ...] = field(default=())

    @property
    def id(self) -> int:
        """The id that names the suggestion (its oldest exemplar's)."""
        return min(self.ids)

    @property
    def count(self) -> int:
        """How many decisions suggest it."""
        return len(self.ids)


def _pending(session: Session, script_key: str) -> list[KeyPointExemplar]:
    return list(
        session.exec(
            select(KeyPointExemplar)
            .where(
                col(KeyPointExemplar.script_key) == script_key,
                col(KeyPointExemplar.positive).is_(True),
                col(KeyPointExemplar.suggestion) == ExemplarSuggestion.PENDING,
            )
            .order_by(col(KeyPointExemplar.id))
        ).all()
    )


def suggestions(
    session: Session, script_key: str, *, matcher: Matcher | None = None
) -> list[Suggestion]:
    """The pending phrase variants of script `script_key`, most suggested first.

    Each is the sentence of a reviewer's line closest to the key point's phrases (by
    `matcher` when given, else by the characters they share); lines giving the same
    sentence are one suggestion. Key points no longer in the latest version, and
    sentences already among its phrases, are left out.

    Raises:
        NotFound: no version of the script is stored.
    """
    _, script = latest_parsed(session, script_key)
    by_id = {kp.id: kp for kp in script.key_points}
    grouped: dict[tuple[str, str], list[tuple[KeyPointExemplar, str]]] = {}
    for row in _pending(session, script_key):
        kp = by_id.get(row.item_id)
        if kp is None:
            continue
        phrase = exemplar_phrase(kp.phrases, row.text, matcher, others_of(script, kp.id))
        if normalize(phrase) in {normalize(p) for p in kp.phrases}:
            continue
        grouped.setdefault((kp.id, normalize(phrase)), []).append((row, phrase))
    out = [
        Suggestion(
            item_id=item_id,
            label=by_id[item_id].label,
            phrase=rows[0][1],
            ids=tuple(row.id or 0 for row, _ in rows),
            sources=tuple((row.call_id, row.text) for row, _ in rows),
        )
        for (item_id, _), rows in grouped.items()
    ]
    return sorted(out, key=lambda s: (-s.count, s.item_id, s.id))


def _chosen(
    session: Session, script_key: str, ids: Iterable[int], matcher: Matcher | None
) -> list[Suggestion]:
    found = {s_id: s for s in suggestions(session, script_key, matcher=matcher) for s_id in s.ids}
    chosen: dict[int, Suggestion] = {}
    for wanted in ids:
        suggestion = found.get(wanted)
        if suggestion is None:
            raise NotFound(_(NO_SUGGESTION).format(key=script_key, id=wanted))
        chosen[suggestion.id] = suggestion
    return list(chosen.values())


def _decide(
    session: Session,
    chosen: Sequence[Suggestion],
    state: ExemplarSuggestion,
    *,
    actor: str,
    version: int | None,
) -> None:
    ids = [i for s in chosen for i in s.ids]
    session.execute(
        sa.update(KeyPointExemplar)
        .where(col(KeyPointExemplar.id).in_(ids))
        .values(suggestion=state, version=version, decided_by=actor, decided_at=utcnow())
    )


def accept_suggestions(
    session: Session,
    script_key: str,
    ids: Sequence[int],
    *,
    actor: str,
    matcher: Matcher | None = None,
) -> Script:
    """Add the suggestions named by `ids` to a new version of the script, as phrases of
    their key points, and mark them accepted. Calls are checked with the new version from
    the next check on (as for any new version; nothing is re-checked here).

    Raises:
        NotFound: the script is not stored, or an id is not a pending suggestion.
        ValidationFailed: a phrase would break the script's limits (`field` names it).
    """
    row, script = latest_parsed(session, script_key)
    chosen = _chosen(session, script_key, ids, matcher)
    body = script.to_dict()
    items = {kp["id"]: kp for kp in body["key_points"]}
    where = f"script {script_key} v{row.version}"
    for suggestion in chosen:
        kp = items.get(suggestion.item_id)
        field_name = f"suggestion {suggestion.id}"
        if kp is None:
            message = _(NO_KEY_POINT).format(key=script_key, item=suggestion.item_id)
            raise ValidationFailed(where, None, field_name, message)
        if len(suggestion.phrase) > MAX_PHRASE:
            raise ValidationFailed(where, None, field_name, _(TOO_LONG).format(max=MAX_PHRASE))
        if len(kp["phrases"]) >= MAX_PHRASES:
            message = _(TOO_MANY).format(item=suggestion.item_id, max=MAX_PHRASES)
            raise ValidationFailed(where, None, field_name, message)
        kp["phrases"].append(suggestion.phrase)
    try:
        parsed = parse_script(body, source=where)
    except ScriptError as exc:  # a limit the checks above do not know of
        raise ValidationFailed(where, None, exc.field, library_message(exc)) from exc
    saved = save_script(session, parsed, actor=actor)
    _decide(session, chosen, ExemplarSuggestion.ACCEPTED, actor=actor, version=saved.version)
    record(
        session,
        actor=actor,
        action="script.suggestions.accept",
        entity="script",
        entity_id=f"{saved.key}@{saved.version}",
        detail={"suggestions": [s.id for s in chosen], "phrases": [s.phrase for s in chosen]},
    )
    return saved


def dismiss_suggestions(
    session: Session,
    script_key: str,
    ids: Sequence[int],
    *,
    actor: str,
    matcher: Matcher | None = None,
) -> int:
    """Mark the suggestions named by `ids` dismissed (they keep teaching the checker);
    returns how many exemplars that covers.

    Raises:
        NotFound: the script is not stored, or an id is not a pending suggestion.
    """
    chosen = _chosen(session, script_key, ids, matcher)
    _decide(session, chosen, ExemplarSuggestion.DISMISSED, actor=actor, version=None)
    record(
        session,
        actor=actor,
        action="script.suggestions.dismiss",
        entity="script",
        entity_id=script_key,
        detail={"suggestions": [s.id for s in chosen]},
    )
    return sum(s.count for s in chosen)
