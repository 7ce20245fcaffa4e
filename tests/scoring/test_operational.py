"""FCR, transfer rate and handle time, against hand-computed expectations."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scoring.operational import (
    Contact,
    FcrRules,
    HandleBand,
    HandleTarget,
    first_contact_resolution,
    monthly_tallies,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def c(call_id: str, day: float, customer: str | None = "k", **kw: object) -> Contact:
    return Contact(call_id, kw.pop("agent", "a"), T0 + timedelta(days=day), customer, **kw)  # type: ignore[arg-type]


FCR_CASES = [
    # (contacts, as_of, rules, expected) -- W = 7 days unless stated
    (
        "repeat inside window; last one provisional",
        [c("c0", 0), c("c3", 3), c("c12", 12)],
        None,
        FcrRules(),
        [False, True, None],  # c3: next at day 12 > 3 + 7; c12: 12 + 7 > as-of (day 12)
    ),
    (
        "repeat exactly at t + W counts; same instant does not",
        [c("a", 0), c("b", 7), c("b2", 7), c("z", 30)],
        None,
        FcrRules(),
        [False, True, True, None],
    ),
    (
        "unknown customer is never eligible",
        [c("x", 0, None), c("y", 20, None)],
        None,
        FcrRules(),
        [None, None],
    ),
    (
        "other customers do not count",
        [c("a", 0, "k1"), c("b", 1, "k2"), c("z", 30, "k3")],
        None,
        FcrRules(),
        [True, True, None],
    ),
    (
        "only same-reason repeats count when asked",
        [c("a", 0, reason="bill"), c("b", 2, reason="outage"), c("z", 30, "other")],
        None,
        FcrRules(same_reason=True),
        [True, True, None],
    ),
    (
        "any reason counts by default",
        [c("a", 0, reason="bill"), c("b", 2, reason="outage"), c("z", 30, "other")],
        None,
        FcrRules(),
        [False, True, None],
    ),
    (
        "per-queue window",
        [c("a", 0, queue="fast"), c("b", 2, queue="fast"), c("z", 30, "other")],
        None,
        FcrRules(queue_windows={"fast": timedelta(days=1)}),
        [True, True, None],
    ),
    (
        "explicit as-of makes late contacts provisional",
        [c("a", 0), c("b", 10)],
        T0 + timedelta(days=6),
        FcrRules(),
        [None, None],
    ),
    (
        "input order does not matter",
        [c("c12", 12), c("c0", 0), c("c3", 3)],
        None,
        FcrRules(),
        [None, False, True],
    ),
]


@pytest.mark.parametrize(
    ("name", "contacts", "as_of", "rules", "expected"), FCR_CASES, ids=[x[0] for x in FCR_CASES]
)
def test_first_contact_resolution(name, contacts, as_of, rules, expected) -> None:
    assert first_contact_resolution(contacts, as_of=as_of, rules=rules) == expected


def test_handle_time_is_unknown_when_any_part_is() -> None:
    assert c("a", 0, talk_seconds=100, hold_seconds=20, wrap_seconds=30).handle_seconds == 150
    assert c("a", 0, talk_seconds=100, hold_seconds=None, wrap_seconds=30).handle_seconds is None


@pytest.mark.parametrize(
    ("seconds", "band"),
    [
        (None, None),
        (59.9, HandleBand.SHORT),
        (60, HandleBand.OK),
        (600, HandleBand.OK),
        (600.1, HandleBand.LONG),
    ],
)
def test_handle_target_flags_short_and_long(seconds, band) -> None:
    assert HandleTarget(60, 600).classify(seconds) == band


def test_monthly_tallies_by_agent_in_site_time_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    late_jan = datetime(2024, 1, 31, 20, 0, tzinfo=UTC)  # 04:00 on 1 February in Shanghai
    contacts = [
        Contact(
            "1",
            "a",
            late_jan,
            "k1",
            queue="q",
            talk_seconds=30,
            hold_seconds=0,
            wrap_seconds=10,
            transfers=0,
            resolved=True,
        ),
        Contact(
            "2",
            "a",
            late_jan + timedelta(days=1),
            "k2",
            queue="q",
            talk_seconds=300,
            hold_seconds=60,
            wrap_seconds=40,
            transfers=2,
            resolved=False,
        ),
        Contact("3", "a", late_jan + timedelta(days=2), "k1", queue="q", transfers=None),
        Contact("4", "b", datetime(2024, 1, 10, tzinfo=UTC), "k9", queue="q", transfers=1),
        Contact("5", "b", datetime(2024, 3, 1, tzinfo=UTC), "k8"),
    ]
    fcr = first_contact_resolution(contacts)
    assert fcr == [False, True, True, True, None]
    tallies = monthly_tallies(contacts, fcr, tz=shanghai, targets={"q": HandleTarget(60, 360)})
    assert set(tallies) == {("a", "2024-02"), ("b", "2024-01"), ("b", "2024-03")}
    a = tallies[("a", "2024-02")]
    assert a.contacts == 3
    assert (a.fcr_eligible, a.fcr_resolved, a.fcr) == (3, 2, pytest.approx(2 / 3))
    assert (a.transfer_known, a.transferred, a.transfer_rate) == (2, 1, 0.5)
    assert (a.handle_n, a.aht) == (2, pytest.approx((40 + 400) / 2))
    assert (a.handle_short, a.handle_long) == (1, 1)
    assert (a.declared_n, a.declared_resolution) == (2, 0.5)
    assert tallies[("b", "2024-03")].fcr is None  # no eligible contacts: no value, not 0


def test_team_figures_group_contacts_by_team() -> None:
    teams = {"a": "t1", "b": "t1", "c": None}
    contacts = [
        c("1", 0, "k1", agent="a"),
        c("2", 1, "k2", agent="b"),
        c("3", 2, "k3", agent="c"),
        c("z", 31, "k4", agent="a"),
    ]
    fcr = first_contact_resolution(contacts)
    tallies = monthly_tallies(
        contacts, fcr, tz=ZoneInfo("UTC"), group_of=lambda x: teams.get(x.agent_id)
    )
    assert tallies[("t1", "2024-03")].contacts == 2
    assert tallies[("t1", "2024-04")].contacts == 1  # day 31 is 1 April 09:00 UTC
