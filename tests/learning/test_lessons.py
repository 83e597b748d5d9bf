"""Lessons from outcome records, by the deterministic rules; which reach a prompt, and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.model.agent_prompts import brief_message
from activities.model.prompts import LESSONS_TITLE, plan_messages, review_messages
from domain.agent import AgentBrief
from domain.change import DiffSummary
from domain.change import TestRun as RunOfTests
from domain.issue import IssueInfo
from domain.learning import (
    MAX_LESSONS,
    LearningState,
    Lesson,
    OutcomeRecord,
    failure_lines,
    learn,
    relevant,
)
from domain.model import DraftPlanInput, ReviewChangeInput
from domain.plan import Plan, PlanTask

START = datetime(2026, 1, 1, tzinfo=UTC)
ISSUE = IssueInfo(
    number=3,
    title="Discount rounding",
    body="The discount is rounded wrong for cents.",
    state="open",
    html_url="http://forge/o/r/issues/3",
    author="ada",
)


def record(n: int, **fields: object) -> OutcomeRecord:
    return OutcomeRecord.model_validate(
        {
            "repo": "o/r",
            "issue": n,
            "workflow_id": f"wf-{n}",
            "run_id": f"run-{n}",
            "ended_at": START + timedelta(hours=n),
            "outcome": "pr_opened",
            **fields,
        }
    )


def test_each_rule_turns_what_a_run_met_into_a_lesson_and_repeats_count() -> None:
    state = LearningState(repo="o/r")
    learn(state, record(1, rejections=["Add type hints"], objections=["Add a test for cents"]))
    learn(
        state,
        record(
            2,
            outcome="failed",
            error="verify: Tests still fail",
            objections=["add a test  for CENTS"],  # the same objection, written otherwise
            test_failures=["FAILED tests/test_price.py::test_cents - assert 3 == 2"],
        ),
    )
    texts = {lesson.kind: lesson.text for lesson in state.lessons}
    assert texts == {
        "plan-feedback": "People asked plans here to: Add type hints",
        "review": "Reviewers here asked: Add a test for cents",
        "failure": "A run failed: verify: Tests still fail",
        "test-failure": "Tests here have failed with: "
        "FAILED tests/test_price.py::test_cents - assert 3 == 2",
    }
    review = next(lesson for lesson in state.lessons if lesson.kind == "review")
    assert (review.seen, review.issues, review.last_seen) == (2, [1, 2], START + timedelta(hours=2))
    assert [lesson.id for lesson in state.lessons] == ["L1", "L2", "L3", "L4"]


def test_a_deleted_lesson_is_not_derived_again_and_an_edited_one_keeps_its_text() -> None:
    state = LearningState(repo="o/r")
    learn(state, record(1, rejections=["Add type hints"], objections=["Use logging"]))
    hints, logging = state.lessons
    state.lessons = [logging]
    state.deleted.append(hints.key)
    logging.text, logging.edited_by = "Use the project's logger, not print", "ada"
    learn(state, record(2, rejections=["Add type hints"], objections=["Use logging"]))
    assert [(x.text, x.seen) for x in state.lessons] == [("Use the project's logger, not print", 2)]


def test_lessons_are_bounded_and_the_least_seen_go_first() -> None:
    state = LearningState(repo="o/r")
    learn(state, record(1, objections=["keep me"]))
    learn(state, record(2, objections=["keep me"]))
    for n in range(3, MAX_LESSONS + 10):
        learn(state, record(n, objections=[f"objection {n}"]))
    assert len(state.lessons) == MAX_LESSONS
    assert state.lessons[0].text == "Reviewers here asked: keep me"
    texts = {x.text for x in state.lessons}
    assert "Reviewers here asked: objection 3" not in texts  # the oldest seen once
    assert f"Reviewers here asked: objection {MAX_LESSONS + 9}" in texts


def lesson(n: int, kind: str, text: str, seen: int = 1) -> Lesson:
    return Lesson.model_validate(
        {
            "id": f"L{n}",
            "kind": kind,
            "key": f"k{n}",
            "text": text,
            "seen": seen,
            "last_seen": START + timedelta(hours=n),
        }
    )


def test_the_most_relevant_lessons_fit_the_token_budget_of_their_prompt() -> None:
    lessons = [
        lesson(1, "review", "Reviewers here asked: add type hints", seen=3),
        lesson(2, "review", "Reviewers here asked: test the discount rounding of cents"),
        lesson(3, "plan-feedback", "People asked plans here to: keep one task"),
        lesson(4, "review", "x" * 390, seen=9),  # the most seen, but ~100 tokens
    ]
    context = f"{ISSUE.title}\n{ISSUE.body}"
    # Shares "discount", "rounding", "cents" with the issue: 1 + 2·3 beats seen=3.
    assert relevant(lessons, "review", context, budget_tokens=30) == [
        "Reviewers here asked: test the discount rounding of cents",
        "Reviewers here asked: add type hints",
    ]
    assert relevant(lessons, "review", context, budget_tokens=200)[0] == "x" * 390
    assert relevant(lessons, "plan", context, 200) == ["People asked plans here to: keep one task"]
    assert relevant(lessons, "review", context, budget_tokens=0) == []


def test_failure_lines_keep_which_tests_failed_and_why() -> None:
    output = (
        "...F\n=== FAILURES ===\nE   assert 3 == 2\n"
        "FAILED tests/test_price.py::test_cents - assert 3 == 2\n1 failed in 0.1s\n"
    )
    assert failure_lines(output) == [
        "E assert 3 == 2",
        "FAILED tests/test_price.py::test_cents - assert 3 == 2",
    ]


PLAN = Plan(
    summary="Fix rounding",
    tasks=[PlanTask(id="fix", title="Fix", description="d", acceptance_criteria=["ok"])],
)
LESSONS = ["Reviewers here asked: add type hints", "Tests here need -p no:cacheprovider"]


def test_lessons_reach_plan_implement_and_review_prompts_as_fenced_advisory_data() -> None:
    plan = plan_messages(DraftPlanInput(issue=ISSUE, lessons=LESSONS), {})[1].content
    brief = brief_message(AgentBrief(purpose="task", issue=ISSUE, plan=PLAN, lessons=LESSONS))
    review = review_messages(
        ReviewChangeInput(
            issue=ISSUE,
            plan=PLAN,
            diff=DiffSummary(
                base_sha="a", head_sha="b", diff="", files=[], additions=0, deletions=0
            ),
            test_run=RunOfTests(passed=True, exit_code=0, output_tail="", duration_seconds=1.0),
            lessons=LESSONS,
        ),
        {},
    )[1].content
    for prompt in (plan, brief.text, review):
        block = prompt.split(LESSONS_TITLE, 1)[1]
        assert "advisory only" in block and "never change the rules" in block
        assert "```\n- Reviewers here asked: add type hints\n- Tests here need" in block


def test_prompts_without_lessons_are_unchanged() -> None:
    plan = plan_messages(DraftPlanInput(issue=ISSUE), {})[1].content
    brief = brief_message(AgentBrief(purpose="task", issue=ISSUE, plan=PLAN))
    assert LESSONS_TITLE not in plan and LESSONS_TITLE not in brief.text


def test_an_experiment_variant_adds_its_planning_approach() -> None:
    plan = plan_messages(DraftPlanInput(issue=ISSUE, approach="Plan exactly one task."), {})
    assert "## Planning approach\nPlan exactly one task." in plan[1].content
