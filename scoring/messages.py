"""Messages of the libraries that reach a person, marked for the application's catalogs.

`scoring`, `transcripts` and `reports` never import the application, so they cannot
translate. An error a person reads (a malformed script or form) carries its message as
an English `template` with named `params` beside the formatted English text; the
application looks the template up in its catalogs (`make messages` extracts what `N_`
marks here) and fills in the params in the reader's language.
"""

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any


def N_(message: str) -> str:
    """Marks `message` for extraction into the catalogs; returns it unchanged."""
    return message


def render(template: str, params: Mapping[str, Any]) -> str:
    """`template` with its `%(name)s` placeholders filled (the English message)."""
    return template % dict(params) if params else template


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=256)
def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    # split() alternates literal text and placeholder names.
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$", re.DOTALL)


def parse(text: str, templates: Sequence[str]) -> tuple[str, dict[str, str]] | None:
    """The first of `templates` that `text` is an English rendering of, with the values
    of its placeholders; None for any other text. For messages stored in English and
    shown later in the reader's language."""
    for template in templates:
        found = _pattern(template).match(text)
        if found:
            return template, found.groupdict()
    return None
