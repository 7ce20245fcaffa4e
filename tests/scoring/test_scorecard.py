"""Scorecards and mystery-shopper figures against hand-computed values."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scoring.courtesy import courtesy_score
from scoring.mystery import Shop, item_gaps, mystery_component, shop_score
from scoring.operational import Contact, HandleTarget, first_contact_resolution
from scoring.scorecard import (
    CallQuality,
    ScorecardConfig,
    Weights,
    build_scorecards,
)

MARCH = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return MARCH + timedelta(days=n)


def contact(
    cid: str, agent: str, when: datetime, customer: str, talk: float, wrap: float, transfers: int
) -> Contact:
    return Contact(cid, agent, when, customer, "q", None, talk, 0.0, wrap, transfers)


CONTACTS = [
    contact("feb", "a", datetime(2024, 2, 20, tzinfo=UTC), "k3", 100, 20, 0),
    contact("1", "a", day(1), "k1", 100, 20, 0),  # 120 s, in band; repeated by #2 -> not FCR
    contact("2", "a", day(3), "k1", 30, 10, 1),  # 40 s, too short; transferred
    contact("3", "a", day(5), "k2", 700, 0, 0),  # 700 s, too long
    contact("z1", "z", day(24), "k9", 200, 0, 0),  # sets as-of to 25 March
]
QUALITY = [
    CallQuality("1", "a", day(1), compliance=1.0, courtesy=1.0),
    CallQuality("2", "a", day(3), compliance=0.5, courtesy=0.75),
]
SHOPS = [Shop("m1", "a", date(2024, 3, 9), {"greeting": "yes", "verify": "no", "closing": "na"})]


def cards() -> dict[str, dict]:
    fcr = first_contact_resolution(CONTACTS)
    assert fcr == [True, False, True, True, None]
    built = build_scorecards(
        "2024-03",
        contacts=CONTACTS,
        fcr=fcr,
        quality=QUALITY,
        shops=SHOPS,
        tz=ZoneInfo("UTC"),
        config=ScorecardConfig(min_contacts=2, targets={"q": HandleTarget(60, 600)}),
    )
    return {c.agent_id: c.to_dict() for c in built}


def test_agent_metrics_by_hand() -> None:
    a = cards()["a"]
    m = a["metrics"]
    assert a["contacts"] == 3 and a["period"] == "2024-03"
    assert (m["fcr"]["value"], m["fcr"]["n"]) == (pytest.approx(2 / 3), 3)
    assert (m["transfer_rate"]["value"], m["transfer_rate"]["n"]) == (pytest.approx(1 / 3), 3)
    assert m["aht_seconds"]["value"] == pytest.approx((120 + 40 + 700) / 3)
    assert (
        m["script_compliance"]["value"] == pytest.approx(0.75) and m["script_compliance"]["n"] == 2
    )
    assert m["courtesy"]["value"] == pytest.approx(0.875)
    assert (m["mystery_shopper"]["value"], m["mystery_shopper"]["n"]) == (0.5, 1)
    assert a["handle_time_in_band"]["value"] == pytest.approx(1 / 3)
    for name in ("fcr", "transfer_rate", "aht_seconds", "courtesy", "script_compliance"):
        lo, hi = m[name]["ci95"]
        assert lo <= m[name]["value"] <= hi


def test_composite_is_the_weighted_goodness_and_publishes_weights() -> None:
    a = cards()["a"]
    # 0.25*2/3 + 0.10*(1 - 1/3) + 0.10*(1/3 in band) + 0.15*0.875 + 0.30*0.75 + 0.10*0.5
    expected = 0.25 * 2 / 3 + 0.10 * 2 / 3 + 0.10 / 3 + 0.15 * 0.875 + 0.30 * 0.75 + 0.10 * 0.5
    assert a["composite"]["value"] == pytest.approx(expected)
    assert a["composite"]["weights"] == pytest.approx(Weights().as_dict())
    lo, hi = a["composite"]["ci95"]
    assert 0 <= lo < expected < hi <= 1


def test_too_few_contacts_are_not_ranked_and_trend_compares_previous_month() -> None:
    all_cards = cards()
    assert all_cards["a"]["status"] == "ok" and all_cards["a"]["rank"] == 1
    z = all_cards["z"]
    assert z["status"] == "not enough data" and z["rank"] is None
    assert z["metrics"]["fcr"] == {
        "value": None,
        "n": 0,
        "ci95": None,
    }  # its only contact is provisional
    trend = all_cards["a"]["trend"]
    assert trend["fcr"] == {"previous": 1.0, "change": pytest.approx(2 / 3 - 1)}
    assert trend["aht_seconds"]["previous"] == 120
    assert trend["script_compliance"] == {"previous": None, "change": None}
    assert z["trend"] is None


def test_weights_of_missing_components_are_renormalised() -> None:
    built = build_scorecards(
        "2024-03",
        contacts=[],
        fcr=[],
        quality=[CallQuality("x", "b", day(2), compliance=0.8)],
        shops=[],
        tz=ZoneInfo("UTC"),
    )
    (card,) = built
    assert card.composite.value == pytest.approx(0.8)
    assert card.weights == {"script_compliance": 1.0}
    assert card.rank is None  # 0 contacts < min_contacts


@pytest.mark.parametrize(
    ("courtesy", "score"),
    [
        (
            {
                "polite_count": 2,
                "forbidden_count": 0,
                "interruptions": 0,
                "long_silences": 0,
                "customer_name_used": True,
            },
            1.0,
        ),
        (
            {
                "polite_count": 0,
                "forbidden_count": 1,
                "interruptions": 3,
                "long_silences": 1,
                "customer_name_used": False,
            },
            0.0,
        ),
        (
            {
                "polite_count": 1,
                "forbidden_count": 0,
                "interruptions": 1,
                "long_silences": 2,
                "customer_name_used": None,
            },
            0.75,
        ),
        ({}, None),
    ],
)
def test_courtesy_score(courtesy, score) -> None:
    assert courtesy_score(courtesy) == score


def test_shop_score_and_gaps() -> None:
    assert shop_score(SHOPS[0]) == 0.5
    assert shop_score(Shop("m", "a", date(2024, 3, 1), {"x": "na"})) is None
    assert shop_score(Shop("m", "a", date(2024, 3, 1), {"x": "no"}, score=90)) == 0.9
    assert mystery_component(SHOPS).value == 0.5
    gaps = {
        (g.agent_id, g.item_id): g
        for g in item_gaps(SHOPS, {("a", "verify"): (9, 10), ("b", "greeting"): (1, 2)})
    }
    assert gaps[("a", "verify")].mystery.value == 0.0 and gaps[("a", "verify")].real.value == 0.9
    assert gaps[("a", "verify")].gap == pytest.approx(-0.9)
    assert gaps[("a", "greeting")].real.n == 0 and gaps[("a", "greeting")].gap is None
    assert ("a", "closing") not in gaps  # "na" is not scored
    assert gaps[("b", "greeting")].mystery.n == 0


def test_period_must_be_a_month() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        build_scorecards("2024-3", contacts=[], fcr=[], quality=[], shops=[], tz=ZoneInfo("UTC"))


def test_mystery_gaps_beside_real_calls() -> None:
    fcr = first_contact_resolution(CONTACTS)
    (a,) = [
        c
        for c in build_scorecards(
            "2024-03",
            contacts=CONTACTS,
            fcr=fcr,
            quality=QUALITY,
            shops=SHOPS,
            tz=ZoneInfo("UTC"),
            real_hits={("a", "verify"): (8, 10)},
        )
        if c.agent_id == "a"
    ]
    gaps = {g["item_id"]: g for g in a.to_dict()["mystery_gaps"]}
    assert set(gaps) == {"greeting", "verify"}  # "closing" was n/a on the shop
    assert gaps["verify"]["mystery"]["value"] == 0.0 and gaps["verify"]["real"]["value"] == 0.8
    assert gaps["verify"]["gap"] == pytest.approx(-0.8)
    assert gaps["greeting"]["real"]["n"] == 0 and gaps["greeting"]["gap"] is None
