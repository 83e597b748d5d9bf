"""Domain values the model tests share."""

from __future__ import annotations

from domain.change import DiffSummary, TestRun
from domain.issue import IssueInfo
from domain.plan import Plan, PlanTask

ISSUE = IssueInfo(
    number=7,
    title="Parser drops the last line",
    body="When the file has no trailing newline the last line is lost.",
    state="open",
    html_url="http://forge.test/acme/app/issues/7",
    author="ana",
)

PLAN = Plan(
    summary="Keep the last line, then test it.",
    tasks=[
        PlanTask(
            id="fix-parser",
            title="Keep a last line without newline",
            description="Split lines without losing the tail.",
            files=["app/parser.py"],
            acceptance_criteria=["The last line is kept"],
        ),
        PlanTask(
            id="add-test",
            title="Test the tail",
            description="A regression test.",
            depends_on=["fix-parser"],
            acceptance_criteria=["The test fails before the fix"],
        ),
    ],
)

TEST_RUN = TestRun(passed=True, exit_code=0, duration_seconds=1.25, output_tail="3 passed in 0.01s")

DIFF = DiffSummary(
    base_sha="a" * 40,
    head_sha="b" * 40,
    files=["app/parser.py"],
    additions=2,
    deletions=1,
    diff="--- a/app/parser.py\n+++ b/app/parser.py\n@@ -1 +1,2 @@\n-x\n+y\n+z\n",
)
