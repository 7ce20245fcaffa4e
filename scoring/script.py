"""Call scripts in DESIGN.md's format: parsing with field-named errors, and back.

Besides the shape, parsing enforces limits that keep a script usable by every call it
is checked on: ids are short slugs (`ID_PATTERN`), weights are finite and positive,
`within_seconds` is finite, positive and at most a day, phrases and labels are non-empty,
bounded and free of control characters. A script that passes here cannot fail a call.
"""

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scoring.messages import N_, render

SPEAKERS = ("agent", "customer", "any")
LANGUAGES = ("en", "zh")
COURTESY_KINDS = ("polite", "empathy", "forbidden")
SCRIPT_FIELDS = ("id", "name", "language", "key_points", "forbidden", "courtesy")
KEY_POINT_FIELDS = (
    "id", "label", "phrases", "speaker", "within_seconds", "after", "required", "critical",
    "weight",
)  # fmt: skip
FORBIDDEN_FIELDS = ("id", "label", "phrases", "critical")
# Script, key-point and forbidden-rule ids: a letter or digit, then up to 63 letters,
# digits, dots, underscores or hyphens (they appear in URLs, CSV headers and file names).
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_LABEL = 300  # characters of a script name or item label (the stored columns' width)
MAX_PHRASE = 200  # characters of one phrase
MAX_PHRASES = 100  # alternative phrases of one item
MAX_ITEMS = 200  # key points, or forbidden rules, in one script
MAX_WITHIN_SECONDS = 24 * 60 * 60.0
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ScriptError(ValueError):
    """A script is malformed; the message names the source and the field path.

    `source` is the file (or a description), `field` the path inside it such as
    `key_points[2].weight` ("(file)" for the file as a whole), `message` the reason.
    """

    def __init__(
        self,
        source: str,
        field: str,
        template: str,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.field = field
        # The reason as an English template and its values: the application translates
        # the template (scoring.messages); `message` is the English text.
        self.template = template
        self.params = dict(params or {})
        self.message = render(template, self.params)
        super().__init__(f"{source}: {field}: {self.message}")


@dataclass(frozen=True, slots=True)
class KeyPoint:
    """Something the script requires to be said."""

    id: str
    label: str
    phrases: tuple[str, ...]
    speaker: str = "agent"
    within_seconds: float | None = None
    after: tuple[str, ...] = ()
    required: bool = True
    critical: bool = False
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ForbiddenRule:
    """Phrases an agent must not say (服务禁语)."""

    id: str
    label: str
    phrases: tuple[str, ...]
    critical: bool = False


@dataclass(frozen=True, slots=True)
class Script:
    """A validated script."""

    id: str
    name: str
    language: str
    key_points: tuple[KeyPoint, ...]
    forbidden: tuple[ForbiddenRule, ...] = ()
    courtesy: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The script in DESIGN.md's format (defaults written out)."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "key_points": [
                {
                    "id": kp.id,
                    "label": kp.label,
                    "phrases": list(kp.phrases),
                    "speaker": kp.speaker,
                    "within_seconds": kp.within_seconds,
                    "after": list(kp.after),
                    "required": kp.required,
                    "critical": kp.critical,
                    "weight": kp.weight,
                }
                for kp in self.key_points
            ],
            "forbidden": [
                {"id": f.id, "label": f.label, "phrases": list(f.phrases), "critical": f.critical}
                for f in self.forbidden
            ],
        }
        if self.courtesy:
            data["courtesy"] = {k: list(v) for k, v in self.courtesy.items()}
        return data


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, template: str, **params: Any) -> ScriptError:
        return ScriptError(self.source, where, template, params)

    def known_fields(self, raw: Mapping[str, Any], fields: Sequence[str], where: str) -> None:
        """Refuse a field the format does not have (a typo would silently do nothing)."""
        for key in raw:
            if key not in fields:
                close = difflib.get_close_matches(str(key), fields, n=1)
                if close:
                    raise self.fail(
                        f"{where}{key}",
                        N_("unknown field; did you mean %(name)s?"),
                        name=repr(close[0]),
                    )
                raise self.fail(f"{where}{key}", N_("unknown field"))

    def label(self, raw: Mapping[str, Any], key: str, where: str, default: str) -> str:
        """An optional display text (`label`, `name`), `default` when absent."""
        value = raw.get(key)
        if value is None:
            return default[:MAX_LABEL]
        if not isinstance(value, str):
            raise self.fail(
                f"{where}{key}", N_("must be a string, got %(value)s"), value=repr(value)
            )
        self.bounded(value, f"{where}{key}", MAX_LABEL)
        return value.strip() or default[:MAX_LABEL]

    def bounded(self, value: str, where: str, max_length: int) -> None:
        """Refuse text over `max_length` characters or with control characters."""
        if len(value) > max_length:
            raise self.fail(where, N_("is longer than %(max)s characters"), max=max_length)
        bad = _CONTROL.search(value)
        if bad is not None:
            raise self.fail(
                where,
                N_("contains a control character (%(character)s)"),
                character=f"U+{ord(bad.group()):04X}",
            )

    def identifier(self, raw: Mapping[str, Any], key: str, where: str) -> str:
        """A required id matching `ID_PATTERN`."""
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", N_("required, a non-empty string"))
        value = value.strip()
        if not ID_PATTERN.fullmatch(value):
            raise self.fail(
                f"{where}{key}",
                N_(
                    "%(value)s is not an id: use 1-64 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit"
                ),
                value=repr(value[:80]),
            )
        return value

    def phrase_list(self, value: Any, where: str) -> tuple[str, ...]:
        """A non-empty list of at most MAX_PHRASES non-empty, bounded phrases."""
        if not isinstance(value, list) or not value:
            raise self.fail(where, N_("required, a non-empty list of strings"))
        if len(value) > MAX_PHRASES:
            raise self.fail(where, N_("has more than %(max)s phrases"), max=MAX_PHRASES)
        for i, phrase in enumerate(value):
            if not isinstance(phrase, str) or not phrase.strip():
                raise self.fail(f"{where}[{i}]", N_("must be a non-empty string"))
            self.bounded(phrase, f"{where}[{i}]", MAX_PHRASE)
        return tuple(p.strip() for p in value)

    def phrases(self, raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
        return self.phrase_list(raw.get("phrases"), f"{where}phrases")

    def flag(self, raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = raw.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(
                f"{where}{key}", N_("must be true or false, got %(value)s"), value=repr(value)
            )
        return value

    def positive(
        self,
        raw: Mapping[str, Any],
        key: str,
        where: str,
        default: float | None,
        *,
        high: float = math.inf,
    ) -> float | None:
        """A finite number above zero and at most `high`; `default` when absent.

        NaN and the infinities are refused: YAML spells them `.nan` and `.inf`, and either
        would turn every score of the queue into NaN.
        """
        value = raw.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(
                f"{where}{key}", N_("must be a number, got %(value)s"), value=repr(value)
            )
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        if not math.isfinite(number) or number <= 0:
            raise self.fail(
                f"{where}{key}",
                N_("must be a finite number above 0, got %(value)s"),
                value=repr(value),
            )
        if number > high:
            raise self.fail(
                f"{where}{key}",
                N_("must be %(max)s or less, got %(value)s"),
                max=f"{high:g}",
                value=repr(value),
            )
        return number

    def mapping_list(
        self, data: Mapping[str, Any], key: str, *, required: bool
    ) -> list[Mapping[str, Any]]:
        value = data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            if required:
                raise self.fail(key, N_("required, a non-empty list"))
            raise self.fail(key, N_("must be a list"))
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{key}[{i}]", N_("must be an object"))
        if len(value) > MAX_ITEMS:
            raise self.fail(key, N_("has more than %(max)s items"), max=MAX_ITEMS)
        return value


def _key_point(r: _Reader, raw: Mapping[str, Any], i: int) -> KeyPoint:
    where = f"key_points[{i}]."
    r.known_fields(raw, KEY_POINT_FIELDS, where)
    speaker = raw.get("speaker", "agent") or "agent"
    if speaker not in SPEAKERS:
        raise r.fail(
            f"{where}speaker",
            N_("must be one of %(choices)s, got %(value)s"),
            choices=", ".join(SPEAKERS),
            value=repr(speaker),
        )
    after = raw.get("after") or []
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise r.fail(f"{where}after", N_("must be a list of key-point ids"))
    kp_id = r.identifier(raw, "id", where)
    weight = r.positive(raw, "weight", where, 1.0)
    assert weight is not None
    return KeyPoint(
        id=kp_id,
        label=r.label(raw, "label", where, kp_id),
        phrases=r.phrases(raw, where),
        speaker=speaker,
        within_seconds=r.positive(raw, "within_seconds", where, None, high=MAX_WITHIN_SECONDS),
        after=tuple(after),
        required=r.flag(raw, "required", where, True),
        critical=r.flag(raw, "critical", where, False),
        weight=weight,
    )


def _courtesy(r: _Reader, data: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    raw = data.get("courtesy") or {}
    if not isinstance(raw, Mapping):
        raise r.fail("courtesy", N_("must be an object of phrase lists"))
    out: dict[str, tuple[str, ...]] = {}
    for kind, phrases in raw.items():
        if kind not in COURTESY_KINDS:
            raise r.fail(
                f"courtesy.{kind}",
                N_("unknown list; use %(choices)s"),
                choices=", ".join(COURTESY_KINDS),
            )
        out[kind] = r.phrase_list(phrases, f"courtesy.{kind}")
    return out


def parse_script(data: Mapping[str, Any], *, source: str = "<script>") -> Script:
    """Validate a decoded script and return it typed.

    Raises:
        ScriptError: naming `source` and the field path, e.g. `key_points[2].within_seconds`.
    """
    r = _Reader(source)
    if not isinstance(data, Mapping):
        raise r.fail("(document)", N_("expected an object"))
    r.known_fields(data, SCRIPT_FIELDS, "")
    language = data.get("language")
    if language not in LANGUAGES:
        raise r.fail(
            "language",
            N_("must be one of %(choices)s, got %(value)s"),
            choices=", ".join(LANGUAGES),
            value=repr(language),
        )
    key_points = tuple(
        _key_point(r, raw, i)
        for i, raw in enumerate(r.mapping_list(data, "key_points", required=True))
    )
    forbidden = []
    for i, raw in enumerate(r.mapping_list(data, "forbidden", required=False)):
        where = f"forbidden[{i}]."
        r.known_fields(raw, FORBIDDEN_FIELDS, where)
        rule_id = r.identifier(raw, "id", where)
        forbidden.append(
            ForbiddenRule(
                rule_id,
                r.label(raw, "label", where, rule_id),
                r.phrases(raw, where),
                r.flag(raw, "critical", where, False),
            )
        )
    ids = [kp.id for kp in key_points] + [f.id for f in forbidden]
    for i, item_id in enumerate(ids):
        if item_id in ids[:i]:
            kind = "key_points" if i < len(key_points) else "forbidden"
            index = i if i < len(key_points) else i - len(key_points)
            raise r.fail(f"{kind}[{index}].id", N_("%(id)s is used twice"), id=repr(item_id))
    known = {kp.id for kp in key_points}
    for i, kp in enumerate(key_points):
        for j, other in enumerate(kp.after):
            if other not in known or other == kp.id:
                raise r.fail(
                    f"key_points[{i}].after[{j}]",
                    N_("%(id)s is not another key point of this script"),
                    id=repr(other),
                )
    _check_acyclic(r, key_points)
    return Script(
        id=r.identifier(data, "id", ""),
        name=r.label(data, "name", "", str(data.get("id"))),
        language=str(language),
        key_points=key_points,
        forbidden=tuple(forbidden),
        courtesy=_courtesy(r, data),
    )


def _check_acyclic(r: _Reader, key_points: Sequence[KeyPoint]) -> None:
    after = {kp.id: kp.after for kp in key_points}
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise r.fail(
                "key_points",
                N_("'after' rules form a cycle: %(cycle)s"),
                cycle=" -> ".join((*path, node)),
            )
        state[node] = 1
        for nxt in after[node]:
            visit(nxt, (*path, node))
        state[node] = 2

    for kp in key_points:
        visit(kp.id, ())


def load_script(path: Path) -> Script:
    """Read a `.yaml`, `.yml` or `.json` script file.

    Raises:
        ScriptError: when the file is unreadable, not YAML/JSON, or not a valid script.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(
            str(path), "(file)", N_("cannot read: %(error)s"), {"error": exc}
        ) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        # RecursionError: nesting deeper than any script needs.
        kind = path.suffix.lstrip(".").upper() or "YAML"
        raise ScriptError(
            str(path), "(file)", N_("not valid %(kind)s: %(error)s"), {"kind": kind, "error": exc}
        ) from exc
    return parse_script(data, source=str(path))
