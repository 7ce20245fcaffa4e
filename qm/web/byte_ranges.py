"""Serving a file in parts (HTTP Range, RFC 9110 section 14), so that the player can seek.

Litestar's `File` response always sends the whole file (2.x has no Range support), and
a browser's `<audio>` element cannot seek in a recording served that way. Here:

- no Range header, another unit, a malformed header or several ranges: the whole file,
  200 (a server may ignore Range; browsers ask for one range at a time);
- one satisfiable range (`a-b`, `a-` or the suffix `-n`): 206 with those bytes and a
  Content-Range header;
- a range that starts past the end: 416 with `Content-Range: bytes */size`.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from litestar import Response
from litestar.response import Stream

CHUNK = 64 * 1024
_UNIT = "bytes="


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `first` to `last` of a file, both included."""

    first: int
    last: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.last - self.first + 1


class Unsatisfiable(Exception):
    """The one range asked for lies wholly past the end of the file."""


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range `header` asks for in a file of `size` bytes; None for the whole file.

    Raises:
        Unsatisfiable: the range starts at or past the end (or the file is empty).
    """
    if header is None or not header.strip().lower().startswith(_UNIT):
        return None
    spec = header.strip()[len(_UNIT) :]
    if "," in spec or "-" not in spec:
        return None
    first_text, _, last_text = spec.partition("-")
    first, last = _number(first_text), _number(last_text)
    if first_text.strip() == "":  # a suffix: the last n bytes
        if last is None:
            return None
        if last == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - last), size - 1)
    if first is None or (last_text.strip() and (last is None or last < first)):
        return None
    if first >= size:
        raise Unsatisfiable
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end)


def _read(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as stream:
        stream.seek(first)
        left = length
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:  # the file shrank while being sent
                return
            left -= len(chunk)
            yield chunk


def file_response(
    path: Path,
    *,
    size: int,
    media_type: str,
    range_header: str | None,
    headers: dict[str, str] | None = None,
) -> Response[bytes] | Stream:
    """The file, or the part of it `range_header` asks for, streamed in chunks."""
    common = {"Accept-Ranges": "bytes", **(headers or {})}
    try:
        wanted = parse_range(range_header, size)
    except Unsatisfiable:
        return Response(
            b"",
            status_code=416,
            media_type=media_type,
            headers={**common, "Content-Range": f"bytes */{size}"},
        )
    if wanted is None:
        return Stream(
            _read(path, 0, size),
            media_type=media_type,
            headers={**common, "Content-Length": str(size)},
        )
    return Stream(
        _read(path, wanted.first, wanted.length),
        status_code=206,
        media_type=media_type,
        headers={
            **common,
            "Content-Length": str(wanted.length),
            "Content-Range": f"bytes {wanted.first}-{wanted.last}/{size}",
        },
    )
