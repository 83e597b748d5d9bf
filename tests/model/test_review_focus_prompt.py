"""A panel reviewer's prompt names its focus; the lone general reviewer's prompt has none."""

from __future__ import annotations

from activities.model.prompts import review_messages
from domain.model import ReviewChangeInput
from tests.model.samples import DIFF, ISSUE, PLAN, TEST_RUN

SCHEMA = {"type": "object", "title": "S"}


def review_text(focus: str) -> str:
    request = ReviewChangeInput(issue=ISSUE, plan=PLAN, diff=DIFF, test_run=TEST_RUN, focus=focus)
    return review_messages(request, SCHEMA)[1].content


def test_a_known_focus_gets_its_instruction_and_its_marker_line() -> None:
    text = review_text("security")
    assert "\nFocus: security. You are one reviewer of several" in text
    assert "leaked credentials" in text


def test_another_focus_is_named_as_is() -> None:
    assert "Focus: performance. " in review_text("performance")
    assert "judge the change above all on performance." in review_text("performance")


def test_the_general_reviewer_has_no_focus_line() -> None:
    text = review_text("general")
    assert "Focus:" not in text and text.splitlines()[0] == "Stage: review"
