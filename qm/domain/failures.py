"""Why a pipeline stage failed, told plainly.

The call page shows the stored reason to everyone who may see the call, agents included:
it must not carry server paths or SQL. The full error goes to the log under a short error
id, which the stored reason ends with, so an admin can find it.
"""

import re
from pathlib import Path

from qm.errors import QMError

# An absolute POSIX path (up to the next blank or quote): shown as its last part only.
_PATH = re.compile(r"""(?<![\w./~-])/(?:[^\s'"(),;:/]+/)+([^\s'"(),;:/]*)""")


def _without_paths(text: str) -> str:
    return _PATH.sub(lambda m: m.group(1) or "(folder)", text)


def plain_reason(exc: BaseException, error_id: str) -> str:
    """What to store on the call when a stage raised `exc`: a reason a person can act on,
    with no server paths or SQL, ending with the error id that the log has the details
    under."""
    from scoring.forms import FormError
    from scoring.script import ScriptError
    from scoring.semantic import SemanticMatcherError
    from transcripts.errors import AudioError, EngineError, TranscriptError

    # The project's own errors carry messages written for people.
    if isinstance(exc, AudioError):
        reason = f"the recording could not be read: {exc}"
    elif isinstance(exc, EngineError):
        reason = f"the transcription engine failed: {exc}"
    elif isinstance(
        exc,
        QMError | TranscriptError | ScriptError | FormError | SemanticMatcherError,
    ):
        reason = str(exc)
    elif isinstance(exc, OSError) and exc.filename:
        name = Path(str(exc.filename)).name
        reason = f"the file {name} could not be read: {exc.strerror or 'input/output error'}"
    else:
        return f"unexpected error (error id {error_id}); the server log has the details"
    return f"{_without_paths(reason)} (error id {error_id})"
