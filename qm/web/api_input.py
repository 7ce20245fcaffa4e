"""Checks on what the JSON API receives before it reaches the domain.

Litestar refuses malformed JSON and wrong types (400, naming the field in `errors`); these
helpers cover what a type cannot say: row ids beyond any stored id, text the database
cannot store, and definition bodies (scripts, forms) sent as JSON or YAML.
"""

import json
from collections.abc import Mapping
from typing import Any

import yaml

from qm.domain.bounds import MAX_ROW_ID
from qm.errors import NotFound, ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _

BODY = "request body"  # the "file" a ValidationFailed about the body names
# Scripts and forms are a few kilobytes; a megabyte is far beyond any real one.
MAX_DEFINITION_BYTES = 1_000_000

# Messages people read, in one place for the translation catalogs.
UNSTORABLE = N_("contains {what}, which cannot be stored")
NOT_AN_OBJECT = N_("expected an object (a mapping of fields), got {kind}")
NOT_PARSED = "not valid {kind}: {error}"


def row_id(value: int, what: str) -> int:
    """`value` when it can be the id of a stored row, else NotFound (as for a missing one).

    Raises:
        NotFound: `value` is below 1 or beyond a 32-bit id.
    """
    if not 1 <= value <= MAX_ROW_ID:
        raise NotFound(_("no %(what)s %(value)s", what=what, value=value))
    return value


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "U+0000 (NUL)"
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"a lone surrogate (U+{ord(char):04X})"
    return None


def refuse_unstorable(value: Any, *, where: str = BODY, path: str = "") -> None:
    """Refuse NUL characters and lone surrogates anywhere in a decoded body.

    PostgreSQL refuses NUL in text and lone surrogates cannot be encoded as UTF-8, so
    either would fail only when the database is written, as a server error.

    Raises:
        ValidationFailed: naming the field (`answers.greeting.comment`) that holds one.
    """
    if isinstance(value, str):
        what = _unstorable(value)
        if what is not None:
            raise ValidationFailed(where, None, path or None, _(UNSTORABLE).format(what=what))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            field = f"{path}.{key}" if path else str(key)
            refuse_unstorable(str(key), where=where, path=field)
            refuse_unstorable(item, where=where, path=field)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            refuse_unstorable(item, where=where, path=f"{path}[{index}]")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a few hundred bytes of nested aliases ("billion laughs")
    expand to a structure far too large to walk; no script or form needs one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted", mark)
        return super().compose_node(parent, index)


def parse_definition(body: bytes, content_type: str, *, source: str = BODY) -> dict[str, Any]:
    """A script or form sent as a JSON body (`application/json`) or YAML (anything else).

    Raises:
        ValidationFailed: the body is not UTF-8, not JSON/YAML, not an object, or holds
            text that cannot be stored.
    """
    kind = "JSON" if "json" in content_type.lower() else "YAML"
    try:
        text = body.decode("utf-8")
        data = json.loads(text) if kind == "JSON" else yaml.load(text, Loader=_NoAliasLoader)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(source, None, None, _("not UTF-8 text: %(exc)s", exc=exc)) from None
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        # RecursionError: nesting deeper than any definition needs.
        error = " ".join(str(exc).split())  # YAML's messages span lines
        message = NOT_PARSED.format(kind=kind, error=error)
        raise ValidationFailed(source, None, None, message) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            source, None, None, _(NOT_AN_OBJECT).format(kind=type(data).__name__)
        )
    refuse_unstorable(data, where=source)
    return data
