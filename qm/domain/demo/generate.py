"""Generating the synthetic demo call center: contacts, transcripts and mystery shops.

Pure and deterministic: the same team files, seed and "today" give byte-identical files.
Every random draw comes from a `random.Random` seeded with a text naming what is drawn
(team, agent, month, call), so adding a team or an agent does not change the others.

What is generated, per team (see qm/demo/center/README.md for the team files and
`profiles` for the behaviours):

- six full calendar months of contacts ending the month before `today`, plus the days of
  `today`'s month before it (so that the last full month's contacts have their whole FCR
  window); each agent takes a profile-dependent number of contacts a month;
- per contact: queue by share, reason by weight, a caller from a pool (a few callers ring
  twice by chance, as in life), hold, wrap and transfers, and a transcript assembled
  from the team's phrasings in the order of a real call (opening, the caller's reason,
  empathy on complaints, identity check, the body, the outcome, closing), with fillers,
  recogniser-like errors and, now and then, a card number read out;
- repeat contacts: a caller whose issue was not settled rings again within a week, about
  the same reason, and gets another agent of the team;
- mystery-shopper results, about three per agent and month, answered from the profile.
"""

import csv
import json
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from qm.domain.demo.center import DemoAgent, DemoQueue, Reason, Team
from qm.domain.demo.profiles import Profile, profile_for
from qm.domain.imports.csvrows import write_safe_row
from qm.domain.imports.manifest import COLUMNS
from scoring.period import Period

DEMO_TODAY = date(2026, 11, 10)
SEED = "qm-demo-1"
MONTHS = 6
OFFSETS = {"zh": timezone(timedelta(hours=8)), "en": UTC}
# Speaking rates (words a second for English, characters for Chinese) and pauses.
RATE = {"en": 2.3, "zh": 3.6}
# Seconds between turns, before a jitter of up to 40%: never the courtesy check's 10 s
# "long silence".
PAUSES = (0.6, 4.5)
CUSTOMERS_PER_TEAM = 4000
NEW_HIRE_START_DAY = 21  # the new hire joins on this day of the last full month
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PUNCT_EN = re.compile(r"[^\w\s'-]")


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance before it is placed on the timeline."""

    speaker: str
    text: str
    overlaps: bool = False  # the agent starts before the caller has finished


@dataclass(slots=True)
class Contact:
    """One generated contact: the manifest fields and its transcript."""

    team: str
    agent_id: str
    customer_id: str
    queue: str
    reason: str
    started_at: datetime
    hold: float
    wrap: float
    transfers: int
    said_resolved: bool
    turns: list[Turn]
    language: str
    call_id: str = ""
    segments: list[dict[str, Any]] = field(default_factory=list)
    talk: float = 0.0


@dataclass(frozen=True, slots=True)
class Shop:
    """One mystery-shopper test call."""

    shop_id: str
    agent_id: str
    day: date
    scenario: str
    answers: dict[str, str]
    score: float | None


@dataclass
class Generated:
    """Everything generated for the demo, before it is written."""

    contacts: list[Contact]
    shops: dict[str, list[Shop]]  # team id -> shops
    shop_items: dict[str, list[str]]  # team id -> item columns
    periods: list[str]


def demo_periods(today: date = DEMO_TODAY, months: int = MONTHS) -> list[str]:
    """The `months` full months before `today`'s month, oldest first, as YYYY-MM."""
    periods = [Period.of_day(today)]
    for _ in range(months):
        periods.append(periods[-1].previous())
    return [str(p) for p in reversed(periods[1:])]


def _month_days(period: str, today: date) -> list[date]:
    return [day for day in Period.parse(period).days() if day < today]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card_number(rng: random.Random, language: str) -> str:
    """A Luhn-valid card number of a real scheme's prefix, read out in groups of four."""
    prefix = rng.choice(["62", "622848", "621700"] if language == "zh" else ["4", "51", "53"])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    digits = body + _luhn_digit(body)
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def china_id(rng: random.Random) -> str:
    """A resident ID number with a real province code, birth date and GB 11643 checksum."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    region = (
        f"{rng.choice([11, 31, 32, 33, 44, 51])}{rng.randint(1, 9):02d}{rng.randint(1, 20):02d}"
    )
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(15000))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"the {day}{suffix}"


def _phone(rng: random.Random, language: str) -> str:
    if language == "zh":
        return f"1{rng.choice([38, 39, 59, 86, 88])}{rng.randrange(10**8):08d}"
    return f"07700 9{rng.randrange(10**5):05d}"


@dataclass(frozen=True, slots=True)
class _Scene:
    """Who rings whom about what: what every step of making one contact needs."""

    team: Team
    queue: DemoQueue
    reason: Reason
    agent: DemoAgent
    profile: Profile
    rng: random.Random
    customer: int  # index into the team's caller pool


class _Call:
    """Assembles one call's turns from the team's phrasings."""

    def __init__(self, scene: _Scene) -> None:
        team, agent, rng = scene.team, scene.agent, scene.rng
        self.team, self.queue, self.profile, self.rng = team, scene.queue, scene.profile, rng
        person = team.customers[scene.customer % len(team.customers)]
        digits = "".join(ch for ch in agent.id if ch.isdigit()) or "0"
        lang = team.language
        self.values = {
            "brand": team.brand,
            "agent": agent.name,
            "agent_no": str(1000 + int(digits)),
            "customer": person.name,
            "title": person.title,
            "phone": _phone(rng, lang),
            "card": card_number(rng, lang),
            "china_id": china_id(rng),
            "amount": f"{rng.randint(8, 460)}.{rng.randrange(100):02d}",
            "date": f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
            if lang == "zh"
            else _ordinal(rng.randint(1, 28)),
            "plan": rng.choice(team.plans),
        }
        self.turns: list[Turn] = []

    def fill(self, line: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), line)

    def say(self, speaker: str, lines: Sequence[str], *, overlaps: bool = False) -> None:
        if lines:
            self.turns.append(Turn(speaker, self.fill(self.rng.choice(lines)), overlaps))

    def key_points(self, slot: str) -> None:
        """Say the script's key points of `slot` that the agent does not skip."""
        profile = self.profile
        for kp in self.queue.script.key_points:
            words = self.team.key_points[kp.id]
            if words.slot != slot or self.rng.random() < profile.skip_rate(words.category):
                continue
            own = words.paraphrase and self.rng.random() < profile.paraphrase
            self.say("agent", words.paraphrase if own else words.agent)
            if words.customer and self.rng.random() < 0.85:
                self.say("customer", words.customer)


def _compose(
    scene: _Scene, *, callback: bool, unresolved: bool, transfer: bool, hold: bool
) -> list[Turn]:
    call = _Call(scene)
    reason, profile, rng = scene.reason, scene.profile, scene.rng
    extras = scene.team.extras
    call.key_points("open")
    if callback:
        call.say("customer", extras["callback"])
    call.say("customer", reason.customer)
    if reason.kind == "complaint":
        if rng.random() < profile.empathy:
            call.say("agent", extras["empathy"])
        call.key_points("complaint")
    # The identity check; where cards are the subject, some callers read the number out.
    call.key_points("verify")
    reads_card = rng.random() < scene.queue.card_share
    if reads_card:
        call.say("customer", extras["card"])
    body = [e for e in reason.body if rng.random() < profile.body_keep] or list(reason.body[:1])
    rude_at = rng.randrange(max(len(body), 1)) if rng.random() < _rude_rate(profile, reason) else -1
    for i, exchange in enumerate(body):
        if i == rude_at:
            call.say("agent", extras["rude"])
        overlaps = (
            i > 0 and call.turns and call.turns[-1].speaker == "customer"
        ) and rng.random() < profile.interrupt
        call.say("agent", exchange.agent, overlaps=bool(overlaps))
        call.say("customer", exchange.customer)
        if hold and i == 0:
            call.say("agent", extras["hold"])
            call.say("agent", extras["after_hold"])
    call.key_points("body")
    for _ in range(_poisson(rng, profile.polite)):
        call.say("agent", extras["polite"])
    if transfer:
        call.say("agent", extras["transfer"])
    else:
        call.say("agent", extras["unresolved"] if unresolved else reason.resolve)
        call.key_points("resolve")
        call.key_points("close")
    return call.turns


def _rude_rate(profile: Profile, reason: Reason) -> float:
    return min(1.0, profile.rude * (1.5 if reason.kind == "complaint" else 1.0))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; means here are small.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _noisy(text: str, team: Team, rng: random.Random, level: float) -> str:
    """The text as a recogniser might write it: misheard words, dropped words or characters;
    English in lower case without punctuation, as the engines write it."""
    for word, wrong in team.asr_noise.items():
        if word in text and rng.random() < level * 2:
            if team.language == "zh":
                text = text.replace(word, rng.choice(wrong), 1)
            else:  # whole words only: "for" -> "four" must not make "before" "befoure"
                pattern = rf"\b{re.escape(word)}\b"
                text = re.sub(pattern, rng.choice(wrong), text, count=1, flags=re.IGNORECASE)
    if team.language == "en":
        words = _PUNCT_EN.sub(" ", text.lower()).split()
        words = [w for w in words if rng.random() >= level / 4 or len(words) < 4]
        return " ".join(words)
    if rng.random() < level:
        cut = rng.randrange(len(text))
        if not text[cut].isdigit():
            text = text[:cut] + text[cut + 1 :]
    return text


def _units(text: str, language: str) -> float:
    if language == "en":
        return len(text.split())
    return sum(1 for ch in text if not ch.isspace() and ch not in "，。？！、,.?!~")


def _timeline(contact: Contact, team: Team, rng: random.Random, target: float) -> None:
    """Place the turns on a timeline that lasts about `target` seconds."""
    level = rng.uniform(0.0, 0.12)
    texts = []
    for turn in contact.turns:
        text = turn.text
        if turn.speaker == "customer" and rng.random() < 0.3:
            filler = rng.choice(team.fillers)
            text = f"{filler} {text}" if team.language == "en" else f"{filler}，{text}"
        texts.append(_noisy(text, team, rng, level))
    speed = RATE[team.language] * rng.uniform(0.85, 1.15)
    spoken = [max(_units(t, team.language), 1.0) / speed for t in texts]
    gaps = len(texts)
    pause = min(PAUSES[1], max(PAUSES[0], (target - sum(spoken)) / gaps))
    now = rng.uniform(0.5, 2.0)
    segments: list[dict[str, Any]] = []
    for turn, text, length in zip(contact.turns, texts, spoken, strict=True):
        start = now
        if turn.overlaps and segments:
            prev = segments[-1]
            start = prev["start"] + 0.6 * (prev["end"] - prev["start"])
        end = start + length
        segments.append(
            {"speaker": turn.speaker, "start": round(start, 2), "end": round(end, 2), "text": text}
        )
        now = max(now, end) + pause * rng.uniform(0.6, 1.4)
    contact.segments = segments
    contact.talk = round(max(s["end"] for s in segments) + rng.uniform(1.0, 3.0), 1)


def _start(rng: random.Random, day: date, language: str) -> datetime:
    hour = min(21, max(8, int(rng.gauss(14, 3.2))))
    return datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60),
        tzinfo=OFFSETS[language],
    )  # fmt: skip


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(list(items), weights=list(weights), k=1)[0]


def _agent_months(
    agent: DemoAgent, periods: list[str], today: date
) -> Iterator[tuple[int, str, list[date], float]]:
    """(month number, period, working days, volume share) for every month the agent works."""
    current = str(Period.of_day(today))
    for number, period in enumerate([*periods, current], start=1):
        days = _month_days(period, today)
        share = 1.0
        if period == current:
            share = len(days) / 30
        if agent.profile == "new_hire":
            if number < len(periods):
                continue
            if number == len(periods):
                days = [d for d in days if d.day >= NEW_HIRE_START_DAY]
        if days:
            yield min(number, len(periods)), period, days, share


def _contacts(team: Team, periods: list[str], today: date, seed: str) -> list[Contact]:
    contacts: list[Contact] = []
    pending_repeats: list[tuple[Contact, DemoQueue, Reason, int]] = []
    for agent in team.agents:
        for month, period, days, share in _agent_months(agent, periods, today):
            rng = random.Random(f"{seed}/{team.id}/{agent.id}/{period}")
            profile = profile_for(agent.profile, month)
            count = round(rng.randint(*profile.volume) * share)
            for _ in range(count):
                queue = _weighted(rng, team.queues, [q.share for q in team.queues])
                reason = _weighted(rng, queue.reasons, [r.weight for r in queue.reasons])
                customer = rng.randrange(CUSTOMERS_PER_TEAM)
                scene = _Scene(team, queue, reason, agent, profile, rng, customer)
                contact = _one(scene, rng.choice(days), callback=False)
                contacts.append(contact)
                if rng.random() < profile.repeat and contact.transfers == 0:
                    pending_repeats.append((contact, queue, reason, customer))
    # Repeat contacts: the same caller, about the same thing, to another agent.
    for original, queue, reason, customer in pending_repeats:
        rng = random.Random(f"{seed}/{team.id}/repeat/{original.started_at.isoformat()}")
        later = original.started_at + timedelta(hours=rng.uniform(10, 6 * 24))
        if later.date() >= today:
            continue
        period = str(Period.of_day(later))
        month = periods.index(period) + 1 if period in periods else len(periods)
        others = [a for a in team.agents if a.id != original.agent_id and a.profile != "new_hire"]
        agent = rng.choice(others)
        profile = profile_for(agent.profile, month)
        scene = _Scene(team, queue, reason, agent, profile, rng, customer)
        contact = _one(scene, later.date(), callback=True, started=later)
        contacts.append(contact)
    return contacts


def _one(scene: _Scene, day: date, *, callback: bool, started: datetime | None = None) -> Contact:
    team, queue, profile, rng = scene.team, scene.queue, scene.profile, scene.rng
    transfer = rng.random() < profile.transfer
    # Agents who close too fast say it is solved; others say when it is not.
    unresolved = not transfer and profile.name != "fast" and rng.random() < 0.08
    hold = rng.random() < profile.hold
    turns = _compose(scene, callback=callback, unresolved=unresolved, transfer=transfer, hold=hold)
    contact = Contact(
        team=team.id,
        agent_id=scene.agent.id,
        customer_id=f"{team.id}-c{scene.customer:05d}",
        queue=queue.id,
        reason=scene.reason.id,
        started_at=started or _start(rng, day, team.language),
        hold=round(rng.uniform(20, 150), 1) if hold else 0.0,
        wrap=round(rng.uniform(*profile.wrap), 1),
        transfers=1 if transfer else 0,
        said_resolved=not (transfer or unresolved),
        turns=turns,
        language=team.language,
    )
    low, high = queue.aht_band
    typical = (low + high) / 2 * 0.75
    target = typical * profile.talk * math.exp(rng.gauss(0, 0.25))
    _timeline(contact, team, rng, target)
    return contact


def _shops(team: Team, periods: list[str], today: date, seed: str) -> tuple[list[Shop], list[str]]:
    items = sorted({kp.id for q in team.queues for kp in q.script.key_points})
    shops = []
    for agent in team.agents:
        for month, period, days, _share in _agent_months(agent, periods, today):
            if period not in periods:
                continue
            rng = random.Random(f"{seed}/{team.id}/{agent.id}/{period}/shops")
            profile = profile_for(agent.profile, month)
            for n in range(rng.randint(2, 4) if agent.profile != "new_hire" else 1):
                queue = _weighted(rng, team.queues, [q.share for q in team.queues])
                reason = _weighted(rng, queue.reasons, [r.weight for r in queue.reasons])
                own = {kp.id for kp in queue.script.key_points}
                answers = {}
                for item in items:
                    if item not in own:
                        answers[item] = "na"
                        continue
                    category = team.key_points[item].category
                    answers[item] = "no" if rng.random() < profile.skip_rate(category) else "yes"
                scored = [a for a in answers.values() if a != "na"]
                score = round(100 * scored.count("yes") / len(scored), 1) if scored else None
                shops.append(
                    Shop(
                        f"ms-{agent.id}-{period}-{n + 1}",
                        agent.id,
                        rng.choice(days),
                        f"{queue.name}: {reason.id}",
                        answers,
                        score,
                    )
                )
    return shops, items


def generate(
    teams: Sequence[Team], *, today: date = DEMO_TODAY, seed: str = SEED, months: int = MONTHS
) -> Generated:
    """Generate every team's contacts and mystery shops (deterministic)."""
    periods = demo_periods(today, months)
    contacts: list[Contact] = []
    shops: dict[str, list[Shop]] = {}
    items: dict[str, list[str]] = {}
    for team in teams:
        team_contacts = _contacts(team, periods, today, seed)
        team_contacts.sort(key=lambda c: (c.started_at, c.agent_id))
        for number, contact in enumerate(team_contacts, start=1):
            contact.call_id = f"{team.id}-{number:05d}"
        contacts.extend(team_contacts)
        shops[team.id], items[team.id] = _shops(team, periods, today, seed)
    return Generated(contacts, shops, items, periods)


def write_files(generated: Generated, out: Path) -> tuple[Path, dict[str, Path]]:
    """Write the call manifest, one transcript file per contact and a mystery CSV per team.

    Returns:
        The manifest's path and each team's mystery-shopper CSV.
    """
    transcripts = out / "transcripts"
    transcripts.mkdir(parents=True, exist_ok=True)
    manifest = out / "calls.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for c in generated.contacts:
            name = f"transcripts/{c.call_id}.json"
            doc = {
                "call_id": c.call_id,
                "language": c.language,
                "duration": c.talk,
                "segments": c.segments,
            }
            (out / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            write_safe_row(
                writer,
                {
                    "call_id": c.call_id,
                    "agent_id": c.agent_id,
                    "customer_id": c.customer_id,
                    "queue": c.queue,
                    "reason": c.reason,
                    "started_at": c.started_at.isoformat(),
                    "talk_seconds": f"{c.talk:.1f}",
                    "hold_seconds": f"{c.hold:.1f}",
                    "wrap_seconds": f"{c.wrap:.1f}",
                    "transfers": str(c.transfers),
                    "resolved": "yes" if c.said_resolved else "no",
                    "audio": "",
                    "transcript": name,
                },
            )
    mystery = {}
    for team_id, shops in generated.shops.items():
        path = out / f"mystery-{team_id}.csv"
        columns = ["shop_id", "agent_id", "date", "scenario", *generated.shop_items[team_id]]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*columns, "score"])
            writer.writeheader()
            for s in shops:
                write_safe_row(
                    writer,
                    {
                        "shop_id": s.shop_id,
                        "agent_id": s.agent_id,
                        "date": s.day.isoformat(),
                        "scenario": s.scenario,
                        **s.answers,
                        "score": "" if s.score is None else f"{s.score:.1f}",
                    },
                )
        mystery[team_id] = path
    return manifest, mystery
