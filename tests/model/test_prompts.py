"""Prompts: deterministic, with the marker lines the replay server matches on."""

from __future__ import annotations

import pytest

from activities.model.agent_prompts import brief_message, system_prompt
from activities.model.prompts import (
    SYSTEM_PROMPT,
    edits_messages,
    fence,
    plan_messages,
    review_messages,
)
from domain.agent import AgentBrief
from domain.model import DraftEditsInput, DraftPlanInput, ReviewChangeInput
from tests.model.samples import DIFF, ISSUE, PLAN, TEST_RUN

SCHEMA = {"type": "object", "title": "S"}


def user_text(messages: list) -> str:
    assert messages[0].role == "system" and messages[0].content == SYSTEM_PROMPT
    assert [m.role for m in messages[1:]] == ["user"]
    return messages[1].content


def test_plan_prompt_has_marker_issue_files_and_feedback() -> None:
    request = DraftPlanInput(
        issue=ISSUE, repo_files=["app/parser.py", "README.md"], feedback=["Split into two tasks"]
    )
    text = user_text(plan_messages(request, SCHEMA))

    assert text.splitlines()[0] == "Stage: plan"
    assert "Parser drops the last line" in text and ISSUE.body in text
    assert "- app/parser.py" in text
    assert "1. Split into two tasks" in text
    assert '{"title":"S","type":"object"}' in text
    assert plan_messages(request, SCHEMA) == plan_messages(request, SCHEMA)


@pytest.mark.parametrize("purpose", ["task", "fix", "review"])
def test_edits_prompt_has_markers_for_exactly_its_task(purpose: str) -> None:
    request = DraftEditsInput(
        purpose=purpose,
        issue=ISSUE,
        plan=PLAN,
        task=PLAN.tasks[1],
        files={"app/parser.py": "def parse(text):\n    return text.split('\\n')\n"},
        feedback="FAILED tests/test_parser.py::test_tail",
    )
    text = user_text(edits_messages(request, SCHEMA))
    lines = text.splitlines()

    assert lines[:3] == ["Stage: edits", f"Purpose: {purpose}", "Task: add-test"]
    # The other task is listed in the plan, but never as a marker line.
    assert "Task: fix-parser" not in text
    assert text.count("Purpose: ") == 1 and text.count("Stage: ") == 1
    assert "- fix-parser: Keep a last line without newline" in text
    assert "### app/parser.py\n```\ndef parse(text):" in text
    assert "FAILED tests/test_parser.py::test_tail" in text
    assert "The test fails before the fix" in text


def test_review_prompt_has_marker_diff_and_test_result() -> None:
    request = ReviewChangeInput(issue=ISSUE, plan=PLAN, diff=DIFF, test_run=TEST_RUN)
    text = user_text(review_messages(request, SCHEMA))

    assert text.splitlines()[0] == "Stage: review"
    assert "```diff\n--- a/app/parser.py" in text
    assert "(1 files, +2 -1)" in text
    assert "passed (exit code 0)" in text and "3 passed in 0.01s" in text


def test_fence_outgrows_backticks_in_the_content() -> None:
    content = "text\n```python\ncode\n```\n"
    fenced = fence(content)

    assert fenced.startswith("````\n") and fenced.endswith("\n````")
    assert content in fenced
    assert fence("plain") == "```\nplain\n```"


@pytest.mark.parametrize(
    ("purpose", "title"),
    [("task", "Guidance"), ("fix", "Failing test output"), ("review", "Review comments")],
)
def test_agent_brief_has_markers_first_and_the_purposes_feedback(purpose: str, title: str) -> None:
    brief = AgentBrief.model_validate(
        {"purpose": purpose, "issue": ISSUE, "plan": PLAN, "task": PLAN.tasks[1], "feedback": "F"}
    )
    message = brief_message(brief)

    assert message.role == "user"
    assert message.text.splitlines()[:3] == [
        "Stage: agent",
        f"Purpose: {purpose}",
        "Task: add-test",
    ]
    assert f"## {title}\n```\nF\n```" in message.text
    assert "## Repository map" not in message.text and "## Tests" not in message.text
    assert brief_message(brief) == message


def test_agent_system_prompt_depends_only_on_the_tools() -> None:
    assert system_prompt(["view", "finish"]) == system_prompt(["view", "finish"])
    assert "run tool" not in system_prompt(["view", "create", "finish"])
    assert "run tool" in system_prompt(["view", "create", "run", "finish"])
    assert "Stage:" not in system_prompt(["view", "create", "run", "finish"])
