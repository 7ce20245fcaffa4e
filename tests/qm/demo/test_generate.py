"""The demo call center's generator: deterministic, within the issue's sizes, importable."""

import hashlib
import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from qm.domain.demo.build import CENTER, load_teams
from qm.domain.demo.center import load_team
from qm.domain.demo.generate import (
    DEMO_TODAY,
    card_number,
    china_id,
    demo_periods,
    generate,
    write_files,
)
from qm.domain.imports.manifest import read_manifest
from qm.errors import ValidationFailed
from transcripts.format import load_transcript
from transcripts.numbers import is_card_number, is_china_id

FIXTURES = Path(__file__).parent / "fixtures"


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated():  # type: ignore[no-untyped-def]
    return generate(load_teams())


def test_same_seed_and_today_give_identical_files(tmp_path: Path) -> None:
    teams = [load_team(FIXTURES / "center" / "mini.yaml")]
    write_files(generate(teams, months=2), tmp_path / "a")
    write_files(generate(teams, months=2), tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    write_files(generate(teams, months=2, seed="another"), tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_two_teams_two_languages_six_months_and_enough_calls(generated) -> None:  # type: ignore[no-untyped-def]
    teams = load_teams()
    assert {t.language for t in teams} == {"en", "zh"}
    assert sum(len(t.agents) for t in teams) == 24
    assert generated.periods == demo_periods(DEMO_TODAY) == [
        "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
    ]  # fmt: skip
    assert len(generated.contacts) >= 5000
    assert all(c.started_at.date() < DEMO_TODAY for c in generated.contacts)
    per_month = Counter((c.agent_id, c.started_at.strftime("%Y-%m")) for c in generated.contacts)
    profiles = {a.id: a.profile for t in teams for a in t.agents}
    for agent, profile in profiles.items():
        months = [per_month[(agent, p)] for p in generated.periods]
        if profile == "new_hire":
            assert months[:-1] == [0] * 5 and 0 < months[-1] < 10  # too few to be ranked
        else:
            # 30-60 of their own contacts, plus the repeat contacts other agents leave.
            assert all(30 <= n <= 75 for n in months), (agent, months)


def test_repeat_contacts_transfers_hold_and_queues(generated) -> None:  # type: ignore[no-untyped-def]
    contacts = generated.contacts
    by_customer: dict[str, list] = {}  # type: ignore[type-arg]
    for c in contacts:
        by_customer.setdefault(c.customer_id, []).append(c)
    repeats = sum(
        1
        for calls in by_customer.values()
        for a, b in pairwise(calls)
        if 0 < (b.started_at - a.started_at).total_seconds() <= 7 * 86400
    )
    assert repeats > 300
    assert 0.03 < sum(c.transfers for c in contacts) / len(contacts) < 0.2
    assert 0.2 < sum(c.hold > 0 for c in contacts) / len(contacts) < 0.5
    assert len({c.queue for c in contacts}) == 8
    kinds = {r.kind for t in load_teams() for q in t.queues for r in q.reasons}
    assert kinds == {"query", "consultation", "complaint"}


def test_files_pass_the_importers_checks(generated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest, mystery = write_files(generated, tmp_path)
    rows = list(read_manifest(manifest))
    assert len(rows) == len(generated.contacts)
    zh = next(r for r in rows if r.call_id.startswith("zh-"))
    assert zh.transcript is not None  # read and checked by read_manifest
    assert zh.transcript.language == "zh" and zh.transcript.segments
    assert load_transcript(tmp_path / "transcripts" / f"{zh.call_id}.json") == zh.transcript
    assert set(mystery) == {"en-bank", "zh-hotline"}
    header = mystery["zh-hotline"].read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:4] == ["shop_id", "agent_id", "date", "scenario"] and "verify" in header


def test_callers_read_out_valid_card_and_id_numbers(generated) -> None:  # type: ignore[no-untyped-def]
    texts = [s["text"] for c in generated.contacts for s in c.segments]
    cards = [m.group().replace(" ", "") for t in texts for m in re.finditer(r"\d{4}( \d{4}){3}", t)]
    assert len(cards) > 50 and all(is_card_number(c) for c in cards)
    ids = [m.group() for t in texts for m in re.finditer(r"\d{17}[\dX]", t)]
    assert ids and all(is_china_id(i) for i in ids)


def test_number_helpers() -> None:
    import random

    rng = random.Random(1)
    for language in ("en", "zh"):
        for _ in range(50):
            assert is_card_number(card_number(rng, language).replace(" ", ""))
    assert all(is_china_id(china_id(rng)) for _ in range(50))


def test_profiles_show_in_the_generated_calls(generated) -> None:  # type: ignore[no-untyped-def]
    profiles = {a.id: a.profile for t in load_teams() for a in t.agents}
    talk: dict[str, list[float]] = {}
    overlaps: Counter[str] = Counter()
    for c in generated.contacts:
        talk.setdefault(profiles[c.agent_id], []).append(c.talk)
        overlaps[profiles[c.agent_id]] += any(
            b["start"] < a["end"] - 0.3
            for a, b in pairwise(c.segments)
            if a["speaker"] == "customer" and b["speaker"] == "agent"
        )

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    assert mean(talk["fast"]) < 0.7 * mean(talk["steady"]) < mean(talk["thorough"])
    assert overlaps["rude"] > 5 * max(overlaps["steady"], 1) / 6  # six steady agents share


def test_a_broken_team_file_names_the_file_and_field(tmp_path: Path) -> None:
    text = (FIXTURES / "center" / "mini.yaml").read_text(encoding="utf-8")
    (tmp_path / "center").mkdir()
    for sub in ("scripts", "forms"):
        (tmp_path / sub).mkdir()
        for f in (FIXTURES / sub).iterdir():
            (tmp_path / sub / f.name).write_bytes(f.read_bytes())
    broken = tmp_path / "center" / "mini.yaml"
    broken.write_text(text.replace("kind: complaint", "kind: grumble"), encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_team(broken)
    assert str(broken) in str(err.value) and "queues[0].reasons[1].kind" in str(err.value)
    broken.write_text(text.replace("  recap:", "  recap_gone:"), encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"key point 'recap' of mini-cards\.yaml"):
        load_team(broken)


def test_the_shipped_team_files_load() -> None:
    teams = load_teams(CENTER)
    assert [t.id for t in teams] == ["en-bank", "zh-hotline"]
    for team in teams:
        assert json.dumps([q.id for q in team.queues])
        assert {a.profile for a in team.agents} == {
            "steady", "fast", "thorough", "improver", "courteous", "rude", "new_hire",
        }  # fmt: skip


def test_the_demo_docs_state_the_generated_counts(generated) -> None:  # type: ignore[no-untyped-def]
    """docs/demo.md says how many contacts, files and shops there are: keep it true."""
    doc = (CENTER.parents[2] / "docs" / "demo.md").read_text(encoding="utf-8")
    per_team = Counter(c.team for c in generated.contacts)
    assert f"{per_team['en-bank']:,} contacts, English" in doc
    assert f"{per_team['zh-hotline']:,} contacts, Chinese" in doc
    assert f"{len(generated.contacts):,} transcript files" in doc
    assert f"({sum(len(s) for s in generated.shops.values())} in all)" in doc
    texts = [s["text"] for c in generated.contacts for s in c.segments]
    cards = sum(1 for t in texts if re.search(r"\d{4}( \d{4}){3}", t))
    ids = sum(1 for t in texts if re.search(r"\d{17}[\dX]", t))
    assert f"card numbers ({cards:,} segments)" in doc
    assert f"numbers ({ids:,} segments)" in doc
