"""Why a key point or forbidden phrase came out as it did: the notes of a check's results.

A result's `note` is English text (stored with the result and printed by `qm check`).
Each note is one of the templates below, with `%(name)s` placeholders; `parse_note` finds
the template and values of a note again, so that the application can show it in the
reader's language (the templates are marked for its catalogs, see `scoring.messages`),
also for results stored before a template existed.
"""

from typing import Any

from scoring.messages import N_, parse, render

NOT_FOUND = N_("not found")
LOW_CONFIDENCE = N_("low-confidence match: needs a reviewer")
WRONG_SPEAKER = N_("said by %(heard)s, not %(wanted)s")
TOO_LATE = N_("at %(start)s s, after the %(limit)s s limit")
NEVER_BEFORE = N_("%(other)s never happened before it")
TOO_EARLY = N_("before %(other)s")
UNSURE_BEFORE = N_("after %(other)s, which needs a reviewer")
REJECTED = N_("like a line a reviewer marked as not saying it")

TEMPLATES = (
    NOT_FOUND,
    LOW_CONFIDENCE,
    WRONG_SPEAKER,
    TOO_LATE,
    NEVER_BEFORE,
    TOO_EARLY,
    UNSURE_BEFORE,
    REJECTED,
)
# Values that name a speaker (translated where the note is shown, as speakers are).
SPEAKER_PARAMS = ("heard", "wanted")


def note(template: str, **params: Any) -> str:
    """The English note of `template` with `params` (one of `TEMPLATES`)."""
    return render(template, params)


def parse_note(text: str) -> tuple[str, dict[str, str]] | None:
    """The template and values of an English note, or None for any other text."""
    return parse(text, TEMPLATES)
