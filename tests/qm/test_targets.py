"""Targets, composite weights and the training catalog as admins store them: fallbacks
(team -> site -> default), validation naming the field, audit, and their readers (the
scorecard configuration, the training plan)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.domain.targets import (
    clear_team_settings,
    composite_weights,
    save_targets,
    save_weights,
    scorecard_config,
    site_targets,
    training_rules,
    weights_source,
)
from qm.domain.teams import save_team
from qm.domain.training import build_training_plan
from qm.domain.training_catalog import (
    is_edited,
    reset_catalog,
    save_catalog,
    site_catalog,
)
from qm.errors import NotFound, ValidationFailed
from qm.models import Agent, AuditEvent, Call, KeyPointResult, ResultKind, Script
from qm.settings import Settings
from scoring.scorecard import Weights

WEIGHTS = {
    "fcr": 0.3,
    "transfer_rate": 0.1,
    "aht_seconds": 0.1,
    "courtesy": 0.1,
    "script_compliance": 0.3,
    "mystery_shopper": 0.1,
}


def test_targets_fall_back_from_team_to_site_to_default(engine: Engine) -> None:
    with session_scope(engine) as session:
        save_team(session, "north", name="北区", actor="ada")
        assert site_targets(session)["fcr"].value == pytest.approx(0.70)
        assert site_targets(session)["fcr"].source == "default"
        save_targets(session, {"fcr": 0.8, "transfer_rate": 0.1}, actor="ada")
        save_targets(session, {"fcr": 0.9}, actor="ada", team_id="north")
    with session_scope(engine) as session:
        site = site_targets(session)
        team = site_targets(session, "north")
        assert (site["fcr"].value, site["fcr"].source) == (0.8, "site")
        assert (team["fcr"].value, team["fcr"].source) == (0.9, "team")
        assert (team["transfer_rate"].value, team["transfer_rate"].source) == (0.1, "site")
        assert team["transfer_rate"].direction == "max"
        assert team["transfer_rate"].met(0.05) is True and team["fcr"].met(0.85) is False
        actions = session.exec(select(AuditEvent.action)).all()
        assert actions.count("targets.save") == 2


@pytest.mark.parametrize(
    ("values", "field"),
    [({"fcr": 1.5}, "fcr"), ({"courtesy": float("nan")}, "courtesy"), ({"speed": 0.5}, "speed")],
)
def test_bad_targets_name_the_metric(engine: Engine, values: dict[str, float], field: str) -> None:
    with session_scope(engine) as session, pytest.raises(ValidationFailed) as raised:
        save_targets(session, values, actor="ada")
    assert raised.value.field == field


def test_targets_for_an_unknown_team_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(NotFound):
        save_targets(session, {"fcr": 0.5}, actor="ada", team_id="nowhere")


def test_weights_must_sum_to_one(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(ValidationFailed) as raised:
            save_weights(session, {**WEIGHTS, "fcr": 0.5}, actor="ada")
        assert raised.value.field == "weights" and "sum to 1" in raised.value.message
        with pytest.raises(ValidationFailed) as raised:
            save_weights(session, {**WEIGHTS, "courtesy": -0.1}, actor="ada")
        assert raised.value.field == "courtesy"
        missing = {k: v for k, v in WEIGHTS.items() if k != "fcr"}
        with pytest.raises(ValidationFailed) as raised:
            save_weights(session, missing, actor="ada")
        assert raised.value.field == "fcr"
        assert weights_source(session) == "default"


def test_stored_weights_feed_the_scorecard_config(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        assert scorecard_config(session, settings).weights == Weights(**settings.scorecard_weights)
        save_team(session, "north", name="North", actor="ada")
        save_weights(session, WEIGHTS, actor="ada")
        team_weights = {**WEIGHTS, "fcr": 0.1, "courtesy": 0.3}
        save_weights(session, team_weights, actor="ada", team_id="north")
    with session_scope(engine) as session:
        assert scorecard_config(session, settings).weights == Weights(**WEIGHTS)
        assert scorecard_config(session, settings, "north").weights == Weights(**team_weights)
        assert scorecard_config(session, settings).min_contacts == settings.min_contacts
        clear_team_settings(session, "north", actor="ada")
    with session_scope(engine) as session:
        assert composite_weights(session, "north") == Weights(**WEIGHTS)
        assert weights_source(session, "north") == "site"


def test_training_rules_use_the_site_targets(engine: Engine) -> None:
    with session_scope(engine) as session:
        save_targets(session, {"courtesy": 0.9, "composite": 0.6}, actor="ada")
        rules = training_rules(session)
    assert rules.targets["courtesy"] == (0.9, "min")
    assert rules.targets["transfer_rate"] == (0.15, "max")
    assert "composite" not in rules.targets


def test_catalog_edits_replace_the_shipped_one_until_reset(engine: Engine) -> None:
    modules: list[dict[str, Any]] = [
        {
            "id": "verify-zh",
            "title": "身份核实（新版）",
            "minutes": 15,
            "criteria": ["key_point:verify"],
        },
        {"id": "all-else", "title": "Everything else", "criteria": ["key_point:*", "metric:fcr"]},
    ]
    with session_scope(engine) as session:
        shipped = site_catalog(session)
        save_catalog(session, modules, actor="ada")
    with session_scope(engine) as session:
        assert is_edited(session)
        catalog = site_catalog(session)
        assert [m.id for m in catalog.modules] == ["verify-zh", "all-else"]
        assert catalog.module_for("key_point:verify").title == "身份核实（新版）"  # type: ignore[union-attr]
        reset_catalog(session, actor="ada")
    with session_scope(engine) as session:
        assert site_catalog(session) == shipped and not is_edited(session)


@pytest.mark.parametrize(
    ("module", "field"),
    [
        ({"id": "", "title": "x", "criteria": ["metric:fcr"]}, "modules[0].id"),
        ({"id": "m", "title": " ", "criteria": ["metric:fcr"]}, "modules[0].title"),
        (
            {"id": "m", "title": "x", "minutes": -5, "criteria": ["metric:fcr"]},
            "modules[0].minutes",
        ),
        ({"id": "m", "title": "x", "criteria": []}, "modules[0].criteria"),
        ({"id": "m", "title": "x", "criteria": ["fcr"]}, "modules[0].criteria[0]"),
    ],
)
def test_bad_catalog_names_the_field(engine: Engine, module: dict[str, object], field: str) -> None:
    with session_scope(engine) as session, pytest.raises(ValidationFailed) as raised:
        save_catalog(session, [module], actor="ada")
    assert raised.value.field == field


def test_training_plan_reads_the_site_catalog(engine: Engine) -> None:
    start = datetime(2024, 3, 5, tzinfo=UTC)
    with session_scope(engine) as session:
        session.add(Agent(id="a", name="Ann"))
        session.add(Script(id=1, key="s", version=1, name="s", language="en", body={}))
        session.flush()
        for i in range(6):
            session.add(Call(id=f"c{i}", agent_id="a", started_at=start + timedelta(hours=i)))
            session.flush()
            session.add(
                KeyPointResult(
                    call_id=f"c{i}",
                    script_id=1,
                    kind=ResultKind.KEY_POINT,
                    item_id="verify",
                    hit=i == 0,
                    critical=True,
                )
            )
        save_catalog(
            session,
            [{"id": "site-verify", "title": "核实身份", "criteria": ["key_point:verify"]}],
            actor="ada",
        )
    with session_scope(engine, immediate=True) as session:
        entries = build_training_plan(session, "2024-03", tz=ZoneInfo("UTC"))
    assert [e.assignment.module.id for e in entries] == ["site-verify"]
