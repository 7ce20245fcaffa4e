"""The demo's review history: evaluations, a dispute, calibration sessions.

Made the way people would make them, through the evaluation domain's own functions
(`qm.domain.evaluations`), by the demo's reviewers, managers and agent logins:

- each team's reviewer evaluates two random calls per agent in each of the last two
  months, plus one targeted call per agent of the last month where the check found a
  forbidden phrase or a critical miss; the answers the machine could not give (tone,
  accuracy, uncertain key points) are the reviewer's, drawn from the agent's profile;
- evaluations of earlier months are released; of the last month, a few stay draft or
  submitted (work in progress); the agent logins acknowledge theirs, and each disputes
  one, which the team's manager resolves (the English one changed, the Chinese upheld);
- each team runs a calibration session: its reviewer, its manager and (English) a QA
  lead as the expert score the same calls blind, then the session is closed.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from qm.domain.demo.center import Team
from qm.domain.demo.generate import SEED
from qm.domain.evaluations import commands as evaluations
from qm.domain.evaluations.calibration import close_calibration, create_calibration
from qm.domain.evaluations.forms import assign_form, load_form_file, parsed_form
from qm.models import (
    Call,
    CallStage,
    DisputeOutcome,
    Evaluation,
    EvaluationForm,
    FormAssignment,
    KeyPointResult,
    ResultKind,
    Stage,
    StageStatus,
    User,
)
from scoring.forms import Form, FormItem

ACTOR = "demo"
RANDOM_PER_MONTH = 2  # random picks per agent and month
TONE = {"rude": 2, "fast": 3, "courteous": 5, "thorough": 5}


@dataclass(frozen=True)
class People:
    """The users who do a team's reviewing."""

    reviewer: User
    manager: User
    agent: User
    expert: User | None


def load_forms(session: Session, teams: Sequence[Team]) -> None:
    """Store each team's evaluation form and assign it to the team."""
    for team in teams:
        row = load_form_file(session, team.form_path, actor=ACTOR)
        assign_form(session, row.key, team_id=team.id, actor=ACTOR)


def _checked_calls(session: Session, agent_id: str, start: datetime, end: datetime) -> list[str]:
    """The agent's calls of [start, end) whose key points were checked, by id."""
    return list(
        session.exec(
            select(Call.id)
            .join(CallStage, col(CallStage.call_id) == col(Call.id))
            .where(
                col(Call.agent_id) == agent_id,
                col(Call.started_at) >= start,
                col(Call.started_at) < end,
                col(CallStage.stage) == Stage.KEYPOINTS,
                col(CallStage.status) == StageStatus.DONE,
            )
            .order_by(col(Call.id))
        ).all()
    )


def _targeted(session: Session, call_ids: list[str]) -> tuple[str, str] | None:
    """The first call with a forbidden phrase said or a critical key point missed."""
    if not call_ids:
        return None
    rows = session.exec(
        select(KeyPointResult).where(
            col(KeyPointResult.call_id).in_(call_ids),
            ((col(KeyPointResult.kind) == ResultKind.FORBIDDEN) & col(KeyPointResult.hit))
            | (
                (col(KeyPointResult.kind) == ResultKind.KEY_POINT)
                & col(KeyPointResult.critical)
                & ~col(KeyPointResult.hit)
            ),
        )
    ).all()
    if not rows:
        return None
    first = min(rows, key=lambda r: r.call_id)
    reason = "forbidden-phrase" if first.kind == ResultKind.FORBIDDEN else "critical-miss"
    return first.call_id, reason


def _answer(item: FormItem, entry: dict[str, object], profile: str, rng: random.Random) -> object:
    """The reviewer's answer to an item the machine left open, or to check the machine's."""
    auto = entry.get("auto")
    if auto is not None and rng.random() < 0.93:
        return auto  # the reviewer agrees with the check most of the time
    if item.type == "scale":
        base = TONE.get(profile, 4)
        return max(1, min(5, base + rng.choice([-1, 0, 0, 1])))
    if item.type == "partial":
        return rng.choice(["partial", "no"] if profile == "fast" else ["yes", "yes", "partial"])
    if item.type == "count":
        return 1 if profile == "rude" else 0
    return "yes" if rng.random() < (0.4 if profile in ("fast", "courteous") else 0.8) else "no"


def _fill(
    session: Session, evaluation: Evaluation, form: Form, people: People, profile: str, seed: str
) -> None:
    rng = random.Random(seed)
    answers = {}
    for item_id, item in form.items().items():
        entry = evaluation.answers[item_id]
        answer = _answer(item, entry, profile, rng)
        if answer != entry.get("answer"):
            answers[item_id] = {"answer": answer}
    if answers:
        evaluations.save_answers(
            session,
            evaluation.id or 0,
            actor=people.reviewer,
            version=evaluation.version,
            answers=answers,
            why="",
        )


def evaluate_team(
    session: Session,
    team: Team,
    people: People,
    periods: Sequence[tuple[str, datetime, datetime]],
    *,
    dispute_days: int,
) -> list[Evaluation]:
    """The team's evaluations over `periods` (the last two months), in their states."""
    made: list[Evaluation] = []
    profiles = {a.id: a.profile for a in team.agents}
    last = periods[-1][0]
    draft_of, submitted_of = _in_progress(team)
    for period, start, end in periods:
        for agent in team.agents:
            calls = _checked_calls(session, agent.id, start, end)
            rng = random.Random(f"{SEED}/reviews/{agent.id}/{period}")
            picks = [(c, "random") for c in rng.sample(calls, min(RANDOM_PER_MONTH, len(calls)))]
            if period == last:
                picked = {c for c, _ in picks}
                targeted = _targeted(session, [c for c in calls if c not in picked])
                if targeted is not None:
                    picks.append((targeted[0], f"targeted:{targeted[1]}"))
            for n, (call_id, sample) in enumerate(picks):
                evaluation = evaluations.start_evaluation(
                    session, call_id, actor=people.reviewer, sample=sample
                )
                made.append(evaluation)
                row = session.get(EvaluationForm, evaluation.form_id)
                assert row is not None
                _fill(
                    session, evaluation, parsed_form(row), people, profiles[agent.id],
                    f"{SEED}/answers/{call_id}",
                )  # fmt: skip
                # Work in progress: the last month's last pick of two agents.
                newest = period == last and n == len(picks) - 1
                if newest and agent.id == draft_of:
                    continue
                evaluations.submit(session, evaluation.id or 0, actor=people.reviewer)
                if newest and agent.id == submitted_of:
                    continue
                evaluations.release(session, evaluation.id or 0, actor=people.reviewer)
    _agent_responses(session, team, people, made, dispute_days)
    return made


def _in_progress(team: Team) -> tuple[str, str]:
    """Two agents whose latest evaluation is still a draft, and submitted, respectively."""
    others = [a for a in team.agents if a.id != team.login_agent]
    ordered = sorted(others, key=lambda a: (a.profile != "steady", a.id))
    return ordered[0].id, ordered[1].id


def _agent_responses(
    session: Session, team: Team, people: People, made: list[Evaluation], dispute_days: int
) -> None:
    """The agent login reads their evaluations: acknowledges all but one, disputes that one."""
    own = [e for e in made if e.agent_id == team.login_agent and e.released_at is not None]
    if not own:
        return
    disputed = min(own, key=lambda e: (e.total if e.total is not None else 100.0, e.id or 0))
    for evaluation in own:
        if evaluation is not disputed:
            evaluations.acknowledge(session, evaluation.id or 0, actor=people.agent)
    form = session.get(EvaluationForm, disputed.form_id)
    assert form is not None
    items = parsed_form(form).items()
    # The agent disputes an item they were marked down on (or the first one).
    against = next(
        (i for i, a in disputed.answers.items() if a.get("answer") in ("no", "partial", 1, 2)),
        next(iter(items)),
    )
    comment = (
        "我在通话开头已经核实过客户身份，请重新听一下录音。"
        if team.language == "zh"
        else "I did check this on the call - please listen to the recording again."
    )
    dispute = evaluations.open_dispute(
        session,
        disputed.id or 0,
        actor=people.agent,
        items=[against],
        comment=comment,
        dispute_days=dispute_days,
    )
    best = {"yes_no": "yes", "partial": "yes", "scale": 5, "count": 0}[items[against].type]
    if team.language == "en" and disputed.answers[against].get("answer") != best:
        evaluations.resolve_dispute(
            session,
            dispute.id or 0,
            actor=people.manager,
            outcome=DisputeOutcome.CHANGED,
            comment="Listened again: the agent is right, the answer is corrected.",
            answers={against: {"answer": best}},
        )
    else:
        evaluations.resolve_dispute(
            session,
            dispute.id or 0,
            actor=people.manager,
            outcome=DisputeOutcome.UPHELD,
            comment="复听录音：身份核实不完整，维持原评分。"
            if team.language == "zh"
            else "Listened again: the answer stands.",
        )


def calibrate_team(
    session: Session, team: Team, people: People, period: tuple[str, datetime, datetime]
) -> None:
    """A closed calibration session by the reviewer, manager and expert on four calls of
    `period`, each of another agent."""
    rng = random.Random(f"{SEED}/calibration/{team.id}")
    call_ids = []
    for agent in rng.sample([a for a in team.agents if a.profile != "new_hire"], 4):
        calls = _checked_calls(session, agent.id, period[1], period[2])
        if calls:
            call_ids.append(rng.choice(calls))
    participants = [people.reviewer, people.manager]
    form_key = _team_form_key(session, team)
    calibration = create_calibration(
        session,
        actor=people.manager,
        name="月度校准" if team.language == "zh" else "Monthly calibration",
        form_key=form_key,
        call_ids=call_ids,
        reviewers=participants,
        expert=people.expert,
    )
    drafts = session.exec(
        select(Evaluation).where(col(Evaluation.calibration_id) == calibration.id)
    ).all()
    by_id = {u.id: u for u in [*participants, *([people.expert] if people.expert else [])]}
    for draft in drafts:
        scorer = by_id[draft.reviewer_id]
        row = session.get(EvaluationForm, draft.form_id)
        assert row is not None
        rng = random.Random(f"{SEED}/calibration/{draft.call_id}/{scorer.username}")
        answers = {}
        for item_id, item in parsed_form(row).items().items():
            answers[item_id] = {"answer": _answer(item, draft.answers[item_id], "steady", rng)}
        evaluations.save_answers(
            session, draft.id or 0, actor=scorer, version=draft.version, answers=answers
        )
        evaluations.submit(session, draft.id or 0, actor=scorer)
    close_calibration(session, calibration.id or 0, actor=people.manager)


def _team_form_key(session: Session, team: Team) -> str:
    assignment = session.exec(
        select(FormAssignment).where(col(FormAssignment.team_id) == team.id)
    ).one()
    return assignment.form_key
