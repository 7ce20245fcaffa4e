"""A small world for the dashboard tests: two teams with Chinese names, March 2024.

Team north (北区): 王芳 (a-1) with 12 calls, 李雷 (a-2) with 3; team south (南区): Bob
(a-3) with 2. Customer k-rep calls a-1 on 1 March and again, to south's Bob, on
3 March: a repeat inside the 7-day window, so a-1's first call is not resolved at first
contact. Key point "verify" is missed on a-1's calls c-1-0..c-1-3 (4 of 12); a-2 said
the forbidden phrase "blame" once. One mystery shop of a-1, two evaluations (one random,
one targeted), one reviewer decision confirming the machine, two training assignments
(one overdue). Managers: mgr (north), mgr-s (south), boss (admin), rita (reviewer),
wang (agent a-1).
"""

from datetime import date, timedelta

from sqlmodel import Session

from qm.domain.users import create_user
from qm.models import (
    Agent,
    Evaluation,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    KeyPointOverride,
    MysteryShop,
    Role,
    Team,
    TrainingAssignment,
)
from tests.factories import PASSWORD, T0, make_call, make_metrics, make_results

MARCH = "2024-03"


def build_dashboard_world(s: Session) -> None:
    s.add(Team(id="north", name="北区"))
    s.add(Team(id="south", name="南区"))
    s.flush()
    s.add(Agent(id="a-1", name="王芳", team_id="north"))
    s.add(Agent(id="a-2", name="李雷", team_id="north"))
    s.add(Agent(id="a-3", name="Bob", team_id="south"))
    s.flush()
    for n in range(12):
        call_id = f"c-1-{n}"
        make_call(
            s,
            call_id,
            agent_id="a-1",
            customer_id="k-rep" if n == 0 else f"k-1-{n}",
            started_at=T0 + timedelta(days=n, hours=1),
            talk_seconds=100.0 + 30 * n,
            hold_seconds=0.0,
            wrap_seconds=20.0,
            transfers=1 if n == 5 else 0,
        )
        make_metrics(
            s,
            call_id,
            compliance=0.5 if n < 4 else 1.0,
            courtesy={"polite_count": 1, "forbidden_count": 0},
        )
        make_results(s, call_id, [{"item_id": "verify", "label": "核实身份", "hit": n >= 4}])
    for n in range(3):
        call_id = f"c-2-{n}"
        make_call(s, call_id, agent_id="a-2", customer_id=f"k-2-{n}", started_at=T0 + timedelta(n))
        make_metrics(s, call_id, compliance=0.8)
        make_results(
            s,
            call_id,
            [
                {"item_id": "verify", "label": "核实身份", "hit": True},
                {"item_id": "blame", "label": "推卸责任", "kind": "forbidden", "hit": n == 0},
            ],
        )
    make_call(s, "c-3-0", agent_id="a-3", customer_id="k-rep", started_at=T0 + timedelta(days=2))
    make_call(s, "c-3-1", agent_id="a-3", customer_id="k-3", started_at=T0 + timedelta(days=3))
    # February, for the trend: one call of a-1.
    make_call(s, "c-feb", agent_id="a-1", customer_id="k-feb", started_at=T0 - timedelta(10))
    s.add(
        MysteryShop(
            id="shop-1", agent_id="a-1", date=date(2024, 3, 5), items={"verify": "yes"}, score=None
        )
    )
    reviewer = create_user(s, username="rita", password=PASSWORD, role=Role.REVIEWER)
    create_user(s, username="mgr", password=PASSWORD, role=Role.MANAGER, team_ids=("north",))
    create_user(s, username="mgr-s", password=PASSWORD, role=Role.MANAGER, team_ids=("south",))
    create_user(s, username="boss", password=PASSWORD, role=Role.ADMIN)
    create_user(s, username="wang", password=PASSWORD, role=Role.AGENT, agent_id="a-1")
    form = EvaluationForm(key="f", version=1, name="f", body={"sections": []}, created_by="t")
    s.add(form)
    s.flush()
    for call_id, sample in (("c-1-0", "random"), ("c-1-1", "targeted:critical-miss")):
        s.add(
            Evaluation(
                call_id=call_id,
                form_id=form.id or 0,
                kind=EvaluationKind.STANDARD,
                state=EvaluationState.SUBMITTED,
                reviewer_id=reviewer.id or 0,
                agent_id="a-1",
                sample=sample,
                answers={},
            )
        )
    s.add(
        KeyPointOverride(
            call_id="c-1-2",
            item_id="verify",
            hit=False,
            auto_hit=False,
            reviewer_id=reviewer.id or 0,
        )
    )
    for module, due in (("overdue-module", date(2024, 3, 10)), ("later-module", date(2099, 1, 1))):
        s.add(
            TrainingAssignment(
                agent_id="a-1",
                module_id=module,
                module_title=f"课程 {module}",
                period=MARCH,
                criteria=[],
                due_date=due,
            )
        )
    s.flush()
