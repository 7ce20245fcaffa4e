"""Agent behaviour profiles of the demo: what each kind of agent does on a call.

Each profile is a set of probabilities and multipliers the generator draws from. They are
chosen so that the balanced-metrics story shows in the scorecards: the fast agent's
short calls come back as repeat contacts and skip the identity check; the thorough one
takes long calls that stay resolved; the improver's misses fall after the training
assignment of the third month; the courteous agent is polite but skips what the script
requires; the rude agent says forbidden phrases and talks over callers; the new hire
has too few calls to be ranked.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

# The month (1-based, of the six) whose gaps produce the improver's training assignment;
# the behaviour changes from the month after it.
TRAINING_MONTH = 3


@dataclass(frozen=True, slots=True)
class Profile:
    """How an agent behaves on a call; probabilities are per call."""

    name: str
    # Probability of leaving out a key point, by category (see center.CATEGORIES).
    skip: Mapping[str, float] = field(default_factory=dict)
    skip_default: float = 0.06
    # Probability of saying a key point in one's own words rather than the script's.
    paraphrase: float = 0.15
    talk: float = 1.0  # multiplier of the queue's typical talk time
    body_keep: float = 0.9  # share of the reason's body exchanges the agent goes through
    repeat: float = 0.14  # the caller has to ring again within the FCR window
    transfer: float = 0.07
    hold: float = 0.35
    wrap: tuple[float, float] = (20.0, 75.0)
    polite: float = 0.5  # expected courteous asides per call
    empathy: float = 0.6  # says an empathy line on a complaint
    rude: float = 0.0  # says a forbidden phrase
    interrupt: float = 0.03  # talks over the caller at one turn
    volume: tuple[int, int] = (30, 38)  # contacts per month

    def skip_rate(self, category: str) -> float:
        """Probability of leaving out a key point of `category`."""
        return self.skip.get(category, self.skip_default)


def _frozen(values: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(values)


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "steady": Profile("steady"),
        "fast": Profile(
            "fast",
            skip=_frozen({"identity": 0.7, "compliance": 0.5, "closing": 0.45, "courtesy": 0.7}),
            paraphrase=0.3,
            talk=0.5,
            body_keep=0.5,
            repeat=0.55,
            transfer=0.14,
            hold=0.1,
            wrap=(5.0, 20.0),
            polite=0.1,
            empathy=0.2,
            volume=(42, 54),
        ),
        "thorough": Profile(
            "thorough",
            skip_default=0.015,
            paraphrase=0.05,
            talk=1.5,
            body_keep=1.0,
            repeat=0.04,
            transfer=0.03,
            hold=0.5,
            wrap=(45.0, 120.0),
            polite=1.2,
            empathy=0.95,
            volume=(30, 34),
        ),
        "improver": Profile(
            "improver",
            skip=_frozen({"identity": 0.55, "compliance": 0.55}),
            paraphrase=0.25,
            repeat=0.22,
        ),
        "courteous": Profile(
            "courteous",
            skip=_frozen({"identity": 0.6, "compliance": 0.6, "opening": 0.25}),
            paraphrase=0.35,
            polite=2.5,
            empathy=1.0,
            repeat=0.15,
        ),
        "rude": Profile(
            "rude",
            skip=_frozen({"courtesy": 0.9}),
            polite=0.0,
            empathy=0.1,
            rude=0.6,
            interrupt=0.6,
            repeat=0.25,
            transfer=0.1,
        ),
        "new_hire": Profile(
            "new_hire",
            skip_default=0.15,
            paraphrase=0.35,
            talk=1.2,
            repeat=0.2,
            transfer=0.15,
            volume=(7, 9),
        ),
    }
)


def profile_for(name: str, month: int) -> Profile:
    """The profile an agent follows in `month` (1-based over the demo's months).

    The improver follows the plan of the training assigned for month `TRAINING_MONTH`:
    half-way there the month after, then as good as the steady agents.
    """
    base = PROFILES[name]
    if name != "improver" or month <= TRAINING_MONTH:
        return base
    if month == TRAINING_MONTH + 1:
        return replace(
            base, skip=_frozen({"identity": 0.25, "compliance": 0.25}), paraphrase=0.2, repeat=0.17
        )
    return replace(base, skip=_frozen({}), skip_default=0.04, paraphrase=0.12, repeat=0.12)
