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
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.models import KeyPointResult, ResultKind, Script, Segment, Transcript, TranscriptKind
from qm.models.overrides import KeyPointOverride
from qm.models.transcript_search import FTS_TABLE, MIN_INDEXED_LENGTH

MIN_QUERY_LENGTH = 2
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


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching_calls(query: str, dialect: str) -> sa.Select[Any]:
    """The ids of calls whose current transcript has a line containing `query`.

    Args:
        query: the text to find; it must pass `searches_transcripts`.
        dialect: the database's dialect name ("sqlite" or "postgresql").
    """
    query = normalize_query(query)
    segments = _SEGMENTS.alias("s")
    transcripts = _TRANSCRIPTS.alias("t")
    by_transcript = transcripts.c.id == segments.c.transcript_id
    if dialect == "sqlite" and len(query) >= MIN_INDEXED_LENGTH:
        # A quoted FTS5 string is a phrase: with the trigram tokenizer, the exact substring.
        phrase = '"' + query.replace('"', '""') + '"'
        return (
            sa.select(transcripts.c.call_id)
            .select_from(
                _FTS.join(segments, segments.c.id == _FTS.c.rowid).join(transcripts, by_transcript)
            )
            .where(_FTS.c.text.match(phrase), _current(transcripts))
        )
    return (
        sa.select(transcripts.c.call_id)
        .select_from(segments.join(transcripts, by_transcript))
        .where(segments.c.text.ilike(_like_pattern(query), escape="\\"), _current(transcripts))
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


def missed_calls(item_id: str) -> sa.CompoundSelect[Any]:
    """The ids of calls on which key point `item_id` was missed.

    A reviewer's decision counts where there is one (the newest override of the call's
    item); otherwise the automatic result, when it is a miss the machine is sure of (an
    uncertain result is not counted as missed: it waits for a person).
    """
    override = KeyPointOverride.__table__.alias("o")  # type: ignore[attr-defined]
    newer = KeyPointOverride.__table__.alias("newer")  # type: ignore[attr-defined]
    human_miss = sa.select(override.c.call_id).where(
        override.c.item_id == item_id,
        override.c.hit.is_(False),
        ~sa.exists().where(
            newer.c.call_id == override.c.call_id,
            newer.c.item_id == item_id,
            newer.c.id > override.c.id,
        ),
    )
    result = KeyPointResult.__table__.alias("r")  # type: ignore[attr-defined]
    machine_miss = sa.select(result.c.call_id).where(
        result.c.kind == ResultKind.KEY_POINT.value,
        result.c.item_id == item_id,
        result.c.hit.is_(False),
        result.c.uncertain.is_(False),
        ~sa.exists().where(override.c.call_id == result.c.call_id, override.c.item_id == item_id),
    )
    return sa.union(human_miss, machine_miss)


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

