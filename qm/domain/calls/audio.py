"""A call's recording, for the player on the call page.

Only the file the call itself points at is ever served: the path comes from the stored
`Call.audio_path` (set by an import, or by redaction to the beeped copy), never from the
request. A call the viewer may not see, a call without a recording, or one whose file is
gone (purged, moved) is the same NotFound.
"""

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from qm.domain.calls.visibility import visible_call
from qm.errors import NotFound
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import User

# What a browser's <audio> element plays, by file suffix; anything else is plain bytes.
MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
}
FALLBACK_MEDIA_TYPE = "application/octet-stream"
NO_RECORDING = N_("call {call_id!r} has no recording")


@dataclass(frozen=True, slots=True)
class Recording:
    """A call's recording on disk."""

    path: Path
    size: int
    media_type: str


def media_type(path: Path) -> str:
    """The content type of a recording, from its suffix."""
    return MEDIA_TYPES.get(path.suffix.lower(), FALLBACK_MEDIA_TYPE)


def call_recording(session: Session, call_id: str, viewer: User) -> Recording:
    """The recording of a call `viewer` may see.

    Raises:
        NotFound: no such call, not visible to `viewer`, no recording, or no file there.
    """
    call = visible_call(session, call_id, viewer)
    if not call.audio_path or call.purged_at is not None:
        raise NotFound(_(NO_RECORDING).format(call_id=call.id))
    path = Path(call.audio_path)
    try:
        stat = path.stat()
    except (OSError, ValueError):  # gone, unreadable, or a name no file can have
        raise NotFound(_(NO_RECORDING).format(call_id=call.id)) from None
    if not path.is_file():
        raise NotFound(_(NO_RECORDING).format(call_id=call.id))
    return Recording(path=path, size=stat.st_size, media_type=media_type(path))


def has_recording(audio_path: str | None) -> bool:
    """Whether a stored audio path points at a file (for showing the player at all)."""
    if not audio_path:
        return False
    try:
        return Path(audio_path).is_file()
    except (OSError, ValueError):
        return False
