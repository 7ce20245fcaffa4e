"""Full-text search in transcripts, and the "key point X missed" filter of the call list.

A query is looked for as typed, ignoring case, inside one line (segment) of a call's
current transcript: the reviewer's correction when there is one, else the original, so
that a corrected call is found by its new words and not by the ones it replaced. It is a
substring match, like a browser's find: "refund" finds "refunds", 退款 finds 申请退款吗,
and the characters that mean something to a search engine (quotes, `*`, `:`, `%`, `_`)
are only characters. Runs of spaces in the query count as one.

How it is looked up (`qm.models.transcript_search` holds the indexes):

| query length   | SQLite                                  | PostgreSQL                      |
|----------------|-----------------------------------------|---------------------------------|
| 3+ characters  | FTS5 trigram index, the query a phrase  | ILIKE served by a pg_trgm index |
| 2 characters   | LIKE over the segments (no trigram fits) | ILIKE over the segments        |
| 1 character    | not searched in transcripts             | same                            |

Two characters are searched, by a scan, because a Chinese word is often two (退款, 投诉);
one character would match nearly every call and is left to the call id and customer
matching that the call list does with the same text.

How the call list narrows to matches depends on how many there are, which a first,
bounded look-up tells (`PROBE_LIMIT` lines, call ids or customers). Few: the matching
calls are read out whole and the list filters on them, counted exactly. Many: each
candidate call, newest first, is checked on its own (LIKE over its current transcript's
lines), so that a page is found after a few hundred calls instead of after reading every
match; they are then not counted (the list says "50+ calls"). One limit of the second
way on SQLite: LIKE ignores case for ASCII letters only (the trigram index folds every
letter), which matters for accented Latin or Cyrillic capitals, not for Chinese.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.models import (
    Call,
    Customer,
    KeyPointResult,
    ResultKind,
    Script,
    Segment,
    Transcript,
    TranscriptKind,
)
from qm.models.overrides import KeyPointOverride
from qm.models.transcript_search import FTS_TABLE, MIN_INDEXED_LENGTH

MIN_QUERY_LENGTH = 2
# How many matching lines, call ids or customers a first look-up reads before deciding
# that there are many (see the module docstring).
PROBE_LIMIT = 2_000
# Characters of the line shown on either side of the match.
CONTEXT = 40

_SEGMENTS = Segment.__table__  # type: ignore[attr-defined]
_TRANSCRIPTS = Transcript.__table__  # type: ignore[attr-defined]
_FTS = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("text"))


@dataclass(frozen=True, slots=True)
class SearchHit:
    """The first line of a call's transcript that matches, cut around the match.

    `before` + `text` + `after` is the shown part of the line, `text` the match itself;
    `before` and `after` start or end with "…" where the line was cut.
    """

    call_id: str
    position: int
    start: float
    before: str
    text: str
    after: str

    @property
    def anchor(self) -> str:
        """The segment's anchor on the call page (as `detail.SegmentView.anchor`)."""
        return f"seg-{self.position}"

    @property
    def seek(self) -> str:
        """The start in seconds as the call page's `#t=` fragment takes it ("12.5")."""
        return f"{self.start:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class KeyPointOption:
    """A key point the "missed" filter offers: its item id and a label to show."""

    item_id: str
    label: str


def normalize_query(text: str) -> str:
    """The query as searched: surrounding spaces gone, inner runs of spaces made one."""
    return " ".join(text.split())


def searches_transcripts(text: str) -> bool:
    """Whether `text` is long enough to be looked for in transcripts."""
    return len(normalize_query(text)) >= MIN_QUERY_LENGTH


def _current(transcripts: Any) -> Any:
    """The condition that a transcript row is its call's current one."""
    corrected = _TRANSCRIPTS.alias("corrected")
    return sa.or_(
        transcripts.c.kind == TranscriptKind.CORRECTED.value,
        ~sa.exists().where(
            corrected.c.call_id == transcripts.c.call_id,
            corrected.c.kind == TranscriptKind.CORRECTED.value,
        ),
    )


def like_pattern(query: str) -> str:
    """A LIKE pattern finding `query` anywhere, its `%`, `_` and `\\` taken literally."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column: Any, pattern: str, dialect: str) -> Any:
    """`column` matches the LIKE `pattern` ignoring case (SQLite's LIKE already does, for
    ASCII letters; PostgreSQL needs ILIKE)."""
    if dialect == "postgresql":
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


@dataclass(frozen=True, slots=True)
class Narrowing:
    """A condition on `Call` rows; `per_call` when it is checked call by call (many
    matches), in which case counting every match would read them all."""

    condition: Any
    per_call: bool


def _narrow(
    session: Session, probe: sa.Select[Any], listed: Callable[[list[Any]], Any], per_call: Any
) -> Narrowing:
    """`listed(ids)` when `probe` finds fewer than PROBE_LIMIT ids, else `per_call`."""
    ids = list(session.execute(probe.limit(PROBE_LIMIT)).scalars().all())
    if len(ids) < PROBE_LIMIT:
        return Narrowing(listed(ids), per_call=False)
    return Narrowing(per_call, per_call=True)


def transcript_narrowing(session: Session, query: str) -> Narrowing:
    """Calls whose current transcript has a line containing `query`.

    `query` must pass `searches_transcripts`.
    """
    query = normalize_query(query)
    dialect = session.get_bind().dialect.name
    pattern = like_pattern(query)
    segments = _SEGMENTS.alias("s")
    transcripts = _TRANSCRIPTS.alias("t")
    probe: sa.Select[Any]
    if dialect == "sqlite" and len(query) >= MIN_INDEXED_LENGTH:
        # A quoted FTS5 string is a phrase: with the trigram tokenizer, the exact substring.
        phrase = '"' + query.replace('"', '""') + '"'
        probe = sa.select(_FTS.c.rowid).where(_FTS.c.text.match(phrase))
    else:
        probe = sa.select(segments.c.id).where(contains(segments.c.text, pattern, dialect))
    lines = segments.join(transcripts, transcripts.c.id == segments.c.transcript_id)

    def listed(segment_ids: list[Any]) -> Any:
        calls = session.execute(
            sa.select(transcripts.c.call_id)
            .distinct()
            .select_from(lines)
            .where(segments.c.id.in_(segment_ids), _current(transcripts))
        ).scalars()
        return col(Call.id).in_(list(calls))

    said = (
        sa.exists()
        .select_from(lines)
        .where(
            transcripts.c.call_id == col(Call.id),
            _current(transcripts),
            contains(segments.c.text, pattern, dialect),
        )
    )
    return _narrow(session, probe, listed, said)


def starts_with(column: Any, text: str, dialect: str) -> Any:
    """`column` starts with `text` as typed, in lower case or in upper case.

    On SQLite, ranges over the column's index (a LIKE ignoring case could use none); on
    PostgreSQL an ILIKE prefix.
    """
    if dialect == "postgresql":
        return column.ilike(like_pattern(text)[1:], escape="\\")
    # U+10FFFF sorts after every character, so the range holds exactly the prefixed ids.
    return sa.or_(
        *(
            sa.and_(column >= v, column < v + "\U0010ffff")
            for v in sorted({text, text.lower(), text.upper()})
        )
    )


def id_narrowing(session: Session, query: str) -> Narrowing:
    """Calls whose id or customer id starts with `query` (as typed, in lower or in upper
    case), or whose customer's name contains it (ignoring case).

    Ids are matched by their start so that the look-up is one index range, not a read
    of every call id: ids are typed from their start, names by any part.
    """
    dialect = session.get_bind().dialect.name
    text = query.strip()
    by_id = _narrow(
        session,
        sa.select(col(Call.id)).where(starts_with(col(Call.id), text, dialect)),
        lambda ids: col(Call.id).in_(ids),
        starts_with(col(Call.id), text, dialect),
    )
    customers = sa.select(col(Customer.id)).where(
        sa.or_(
            starts_with(col(Customer.id), text, dialect),
            contains(col(Customer.name), like_pattern(text), dialect),
        )
    )
    by_customer = _narrow(
        session,
        customers,
        lambda ids: col(Call.customer_id).in_(ids),
        col(Call.customer_id).in_(customers),
    )
    return Narrowing(
        sa.or_(by_id.condition, by_customer.condition), by_id.per_call or by_customer.per_call
    )


def _finder(query: str) -> re.Pattern[str]:
    """The query as a case-blind pattern in which a space matches any run of spaces."""
    words = normalize_query(query).split(" ")
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def _cut(line: str, match: re.Match[str]) -> tuple[str, str, str]:
    start, end = match.span()
    before = line[max(0, start - CONTEXT) : start]
    after = line[end : end + CONTEXT]
    if start > CONTEXT:
        before = "…" + before.lstrip()
    if end + CONTEXT < len(line):
        after = after.rstrip() + "…"
    return before, match.group(), after


def first_hits(session: Session, *, call_ids: Sequence[str], query: str) -> dict[str, SearchHit]:
    """For each of `call_ids` whose current transcript contains `query`, the first such line.

    Meant for one page of the call list: it reads those calls' current transcripts whole
    and finds the match in Python, so the shown line and the marked text are exact.
    """
    if not call_ids or not searches_transcripts(query):
        return {}
    segments = _SEGMENTS.alias("s")
    transcripts = _TRANSCRIPTS.alias("t")
    rows = session.execute(
        sa.select(transcripts.c.call_id, segments.c.position, segments.c.start, segments.c.text)
        .select_from(segments.join(transcripts, transcripts.c.id == segments.c.transcript_id))
        .where(transcripts.c.call_id.in_(list(call_ids)), _current(transcripts))
        .order_by(transcripts.c.call_id, segments.c.position)
    )
    finder = _finder(query)
    hits: dict[str, SearchHit] = {}
    for call_id, position, start, text in rows:
        if call_id in hits:
            continue
        found = finder.search(text)
        if found is not None:
            hits[call_id] = SearchHit(call_id, position, start, *_cut(text, found))
    return hits


def missed_narrowing(item_id: str) -> Narrowing:
    """Calls on which key point `item_id` was missed, checked call by call (each check
    is one or two index look-ups: the overrides' (call, item) index and the results'
    (call, kind, item) key).

    A reviewer's decision counts where there is one (the newest override of the call's
    item); otherwise the automatic result, when it is a miss the machine is sure of (an
    uncertain result is not counted as missed: it waits for a person).
    """
    override = KeyPointOverride.__table__.alias("o")  # type: ignore[attr-defined]
    newest = (
        sa.select(override.c.hit)
        .where(override.c.call_id == col(Call.id), override.c.item_id == item_id)
        .order_by(override.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    result = KeyPointResult.__table__.alias("r")  # type: ignore[attr-defined]
    machine_miss = sa.exists().where(
        result.c.call_id == col(Call.id),
        result.c.kind == ResultKind.KEY_POINT.value,
        result.c.item_id == item_id,
        result.c.hit.is_(False),
        result.c.uncertain.is_(False),
    )
    # NOT NULL is NULL: with no override, the machine's answer decides.
    return Narrowing(sa.func.coalesce(sa.not_(newest), machine_miss), per_call=True)


def key_point_options(session: Session) -> list[KeyPointOption]:
    """Every key point of the stored scripts (by item id, labelled as in its newest
    version), for the "missed" filter; sorted by label."""
    labels: dict[str, str] = {}
    for (body,) in session.execute(sa.select(col(Script.body)).order_by(col(Script.id))):
        for item in body.get("key_points") or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                labels[item["id"]] = str(item.get("label") or item["id"])
    options = [KeyPointOption(item_id, label) for item_id, label in labels.items()]
    return sorted(options, key=lambda o: (o.label.casefold(), o.item_id))
