"""What a pipeline stage says about a call it ran or skipped (`CallStage.detail`).

Details are stored in English (the log and `qm process` print them as they are) and shown
on the call page in the reader's language (`qm.i18n.stage_detail`): each is one of the
templates below, marked for the catalogs, and read back into its template and values. A
failed stage's reason is the error's own text (`qm.domain.failures`) and is shown as it is.
"""

from typing import Any

from qm.i18n import N_
from scoring.messages import render

COMPUTED = N_("computed")
NO_TRANSCRIPT = N_("no transcript")
NO_AUDIO = N_("no audio and no transcript")
TRANSCRIPT_PRESENT = N_("transcript already present (%(source)s)")
TRANSCRIPT_PRESENT_BEEPED = N_(
    "transcript already present (%(source)s); recording redacted (%(spans)s span(s) beeped)"
)
TRANSCRIBED = N_("%(segments)s segment(s) by %(engine)s")
TRANSCRIBED_BEEPED = N_(
    "%(segments)s segment(s) by %(engine)s; recording redacted (%(spans)s span(s) beeped)"
)
PURGED = N_("recording and transcript removed (%(reason)s) on %(day)s; earlier results are kept")
NO_SCRIPT = N_(
    "no script for queue %(queue)s: assign one with `qm script load FILE --queue Q` or set "
    "QM_DEFAULT_SCRIPT"
)
KEY_POINTS_HIT = N_("%(hits)s/%(total)s key points hit with %(version)s")

# Longer templates first: one that another is the start of must be tried before it.
TEMPLATES = (
    TRANSCRIPT_PRESENT_BEEPED,
    TRANSCRIPT_PRESENT,
    NO_AUDIO,
    NO_TRANSCRIPT,
    COMPUTED,
    TRANSCRIBED_BEEPED,
    TRANSCRIBED,
    PURGED,
    NO_SCRIPT,
    KEY_POINTS_HIT,
)
# Values that are words of the application (translated where the detail is shown): why
# a call's content was removed (`qm.domain.privacy.PurgeReason`).
TRANSLATED_PARAMS = ("reason",)
PURGE_REASONS = (N_("retention"), N_("erasure"))


def detail(template: str, **params: Any) -> str:
    """The English detail of `template` (one of `TEMPLATES`) with `params`."""
    return render(template, params)
