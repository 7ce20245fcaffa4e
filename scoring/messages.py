"""Messages of the libraries that reach a person, marked for the application's catalogs.

`scoring`, `transcripts` and `reports` never import the application, so they cannot
translate. An error a person reads (a malformed script or form) carries its message as
an English `template` with named `params` beside the formatted English text; the
application looks the template up in its catalogs (`make messages` extracts what `N_`
marks here) and fills in the params in the reader's language.
"""

from collections.abc import Mapping
from typing import Any


def N_(message: str) -> str:
    """Marks `message` for extraction into the catalogs; returns it unchanged."""
    return message


def render(template: str, params: Mapping[str, Any]) -> str:
    """`template` with its `%(name)s` placeholders filled (the English message)."""
    return template % dict(params) if params else template
