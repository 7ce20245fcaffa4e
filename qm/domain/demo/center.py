"""The synthetic demo call center's team files (qm/demo/center/<team>.yaml), read and checked.

The format is described in qm/demo/center/README.md. Reading checks what the generator
relies on -- every queue's script exists, every key point of a script has phrasings,
profiles and slots are known -- so that a mistake in a team file is reported with the
file and the field instead of surfacing as an odd call six months into the demo.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qm.errors import ValidationFailed
from scoring.script import Script, ScriptError, load_script

SLOTS = ("open", "complaint", "verify", "body", "resolve", "close")
CATEGORIES = ("opening", "identity", "compliance", "courtesy", "closing")
KINDS = ("query", "consultation", "complaint")
EXTRAS = (
    "polite",
    "empathy",
    "rude",
    "hold",
    "after_hold",
    "transfer",
    "unresolved",
    "callback",
    "card",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A demo login's person: who they are and how the product should speak to them."""

    username: str
    name: str
    email: str | None
    language: str


@dataclass(frozen=True, slots=True)
class DemoAgent:
    """One agent of a team, with the behaviour profile the generator gives them."""

    id: str
    name: str
    profile: str


@dataclass(frozen=True, slots=True)
class Customer:
    """A caller: their name and how an agent addresses them (王先生, Ms. Lindqvist)."""

    name: str
    title: str


@dataclass(frozen=True, slots=True)
class Phrasings:
    """How agents realise one key point, and what the caller says right after."""

    slot: str
    category: str
    agent: tuple[str, ...]  # the script's wording, as agents vary it
    customer: tuple[str, ...] = ()
    paraphrase: tuple[str, ...] = ()  # the same in the agent's own words


@dataclass(frozen=True, slots=True)
class Exchange:
    """One step of a call's body: an agent line and the caller's answer (variants)."""

    agent: tuple[str, ...]
    customer: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a caller rings: its kind, the caller's openings, the body and the outcome."""

    id: str
    kind: str
    weight: float
    customer: tuple[str, ...]
    body: tuple[Exchange, ...]
    resolve: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoQueue:
    """A queue with its script, its share of the team's contacts and handle-time band."""

    id: str
    name: str
    script_path: Path
    script: Script
    share: float
    aht_band: tuple[float, float]
    reasons: tuple[Reason, ...]
    card_share: float = 0.02  # calls in which the caller reads out a card number


@dataclass(frozen=True, slots=True)
class Team:
    """One team file."""

    path: Path
    id: str
    name: str
    language: str
    brand: str
    manager: Person
    reviewer: Person
    agent_login: Person
    login_agent: str
    form_path: Path
    agents: tuple[DemoAgent, ...]
    customers: tuple[Customer, ...]
    fillers: tuple[str, ...]
    asr_noise: Mapping[str, tuple[str, ...]]
    key_points: Mapping[str, Phrasings]
    extras: Mapping[str, tuple[str, ...]]
    queues: tuple[DemoQueue, ...]
    plans: tuple[str, ...]


class _Fields:
    """Typed access to one YAML mapping, with errors naming the file and the field."""

    def __init__(self, path: Path, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ValidationFailed(str(path), None, where or "(document)", "expected a mapping")
        self.path, self.data, self.where = path, data, where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> ValidationFailed:
        return ValidationFailed(str(self.path), None, self._name(key), message)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty text")
        return value

    def texts(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None and not required:
            return ()
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.fail(key, "expected a non-empty list of texts")
        return tuple(value)

    def number(self, key: str, default: float | None = None) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key, "expected a number above 0")
        return float(value)

    def child(self, key: str) -> "_Fields":
        return _Fields(self.path, self.data.get(key), self._name(key))

    def items(self, key: str) -> list["_Fields"]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a non-empty list")
        return [_Fields(self.path, v, f"{self._name(key)}[{i}]") for i, v in enumerate(value)]

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value


def _person(f: _Fields) -> Person:
    email = f.data.get("email")
    return Person(
        username=f.text("username"),
        name=f.text("name", f.data.get("username")),
        email=str(email) if email else None,
        language=f.text("language"),
    )


def _share(f: _Fields, key: str, default: float) -> float:
    value = f.data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise f.fail(key, "expected a share from 0 to 1")
    return float(value)


def _queue(f: _Fields, scripts_dir: Path, key_points: Mapping[str, Phrasings]) -> DemoQueue:
    script_path = scripts_dir / f.text("script")
    try:
        script = load_script(script_path)
    except (OSError, ScriptError) as exc:
        raise f.fail("script", str(exc)) from exc
    for kp in script.key_points:
        if kp.id not in key_points:
            raise f.fail("script", f"key point {kp.id!r} of {script_path.name} has no phrasings")
    band = f.data.get("aht_band")
    if (
        not isinstance(band, list)
        or len(band) != 2
        or not all(isinstance(b, int | float) and b > 0 for b in band)
        or band[0] >= band[1]
    ):
        raise f.fail("aht_band", "expected [low, high] seconds with low < high")
    reasons = tuple(
        Reason(
            id=r.text("id"),
            kind=r.choice("kind", KINDS),
            weight=r.number("weight", 1.0),
            customer=r.texts("customer"),
            body=tuple(
                Exchange(e.texts("agent"), e.texts("customer", required=False))
                for e in (r.items("body") if r.data.get("body") else [])
            ),
            resolve=r.texts("resolve"),
        )
        for r in f.items("reasons")
    )
    return DemoQueue(
        id=f.text("id"),
        name=f.text("name"),
        script_path=script_path,
        script=script,
        share=f.number("share"),
        aht_band=(float(band[0]), float(band[1])),
        reasons=reasons,
        card_share=_share(f, "card_share", 0.02),
    )


def load_team(path: Path) -> Team:
    """Read and check one team file.

    Raises:
        ValidationFailed: naming the file and the field that is wrong.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(str(path), None, None, f"cannot read: {exc}") from exc
    f = _Fields(path, data, "")
    demo_root = path.parent.parent
    team = f.child("team")
    key_points = {}
    kp_fields = f.child("key_points")
    for kp_id in kp_fields.data:
        k = kp_fields.child(str(kp_id))
        key_points[str(kp_id)] = Phrasings(
            slot=k.choice("slot", SLOTS),
            category=k.choice("category", CATEGORIES),
            agent=k.texts("agent"),
            customer=k.texts("customer", required=False),
            paraphrase=k.texts("paraphrase", required=False),
        )
    extras_f = f.child("extras")
    extras = {name: extras_f.texts(name) for name in EXTRAS}
    noise_f = f.child("asr_noise")
    noise = {str(word): noise_f.texts(str(word)) for word in noise_f.data}
    agents = tuple(
        DemoAgent(a.text("id"), a.text("name"), a.text("profile")) for a in f.items("agents")
    )
    login = f.child("agent_login")
    login_agent = login.text("agent")
    if login_agent not in {a.id for a in agents}:
        raise login.fail("agent", f"{login_agent!r} is not one of the team's agents")
    return Team(
        path=path,
        id=team.text("id"),
        name=team.text("name"),
        language=team.choice("language", ("en", "zh")),
        brand=f.text("brand"),
        manager=_person(f.child("manager")),
        reviewer=_person(f.child("reviewer")),
        agent_login=_person(login),
        login_agent=login_agent,
        form_path=demo_root / "forms" / f.text("form"),
        agents=agents,
        customers=tuple(Customer(c.text("name"), c.text("title")) for c in f.items("customers")),
        fillers=f.texts("fillers"),
        asr_noise=noise,
        key_points=key_points,
        extras=extras,
        queues=tuple(_queue(q, demo_root / "scripts", key_points) for q in f.items("queues")),
        plans=f.texts("plans"),
    )
