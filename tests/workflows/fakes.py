"""In-memory stand-ins for the activities, registered under the real activity names.

They record what the workflow asked for, so tests assert on behaviour (comments, labels,
model calls) rather than on the workflow's internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.change import CommitInfo, DiffSummary, EditSet, FileEdit, TestRun
from domain.forge import (
    CommentRef,
    EnsureLabelsInput,
    GetIssueInput,
    GetRepoInput,
    OpenPullRequestInput,
    PullRequestInfo,
    SetIssueLabelsInput,
    UpsertCommentInput,
)
from domain.issue import IssueInfo, RepoInfo
from domain.model import (
    DraftEditsInput,
    DraftEditsOutput,
    DraftPlanInput,
    DraftPlanOutput,
    ReviewChangeInput,
    ReviewChangeOutput,
)
from domain.plan import Plan, PlanTask
from domain.review import ReviewVerdict, RubricScore
from domain.task import (
    ENSURE_BRANCH,
    INTEGRATE,
    RESOLVE_CONFLICT,
    ConflictResolution,
    EnsureBranchInput,
    IntegrateInput,
    IntegrateResult,
    ResolveConflictInput,
    ResolveConflictOutput,
    ResolvedFile,
)
from domain.usage import TokenUsage
from domain.workspace import (
    ApplyEditsInput,
    DiffSummaryInput,
    FileContents,
    PrepareWorkspaceInput,
    ReadFilesInput,
    RunTestsInput,
    WorkspaceState,
)

USAGE = TokenUsage(input_tokens=100, output_tokens=20, calls=1)
# What every fake model call costs when a run is tiered: 0.4 USD, so budgets bite quickly.
COSTED_USAGE = USAGE.model_copy(update={"cost_usd": 0.4})


def two_task_plan() -> Plan:
    return Plan(
        summary="Fix the discount and pin it with a test",
        tasks=[
            PlanTask(
                id="fix-discount",
                title="Fix the discount",
                description="Apply the discount once",
                files=["shop/pricing.py"],
                acceptance_criteria=["discount applied once"],
            ),
            PlanTask(
                id="add-test",
                title="Add a regression test",
                description="Test the discount",
                files=["tests/test_pricing.py"],
                depends_on=["fix-discount"],
                acceptance_criteria=["test fails before the fix"],
            ),
        ],
    )


@dataclass
class FakeWorld:
    """Scripted answers plus a record of every call."""

    test_results: list[bool] = field(default_factory=lambda: [True])
    usage: TokenUsage = field(default_factory=lambda: USAGE)
    archived: bool = False
    review_verdicts: list[str] = field(default_factory=lambda: ["approve"])
    invalid_plan: bool = False
    comments: dict[str, str] = field(default_factory=dict)
    comment_writes: list[str] = field(default_factory=list)
    comment_creations: list[str] = field(default_factory=list)  # markers, when first posted
    labels: set[str] = field(default_factory=set)
    plan_requests: list[DraftPlanInput] = field(default_factory=list)
    edit_requests: list[DraftEditsInput] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    test_runs: int = 0
    same_failure: bool = False  # every failing run prints the same output (no progress)
    reviews: int = 0
    pulls: list[OpenPullRequestInput] = field(default_factory=list)
    diff_files: list[str] = field(default_factory=lambda: ["shop/pricing.py"])
    # Plans answered in turn (the last repeats); None: two_task_plan().
    plans: list[Plan] | None = None
    # task id -> how many of its "task" edit requests fail permanently before one succeeds
    failing_tasks: dict[str, int] = field(default_factory=dict)
    edit_seconds: float = 0.0  # real time a "task" edit takes, to observe concurrency
    active_edits: int = 0
    max_active_edits: int = 0
    conflicting_tasks: set[str] = field(default_factory=set)
    resolution_tests: list[bool] = field(default_factory=lambda: [True])
    integrations: list[IntegrateInput] = field(default_factory=list)
    conflict_requests: list[ResolveConflictInput] = field(default_factory=list)
    branches_ensured: int = 0

    def activities(self) -> list[Callable[..., Any]]:
        world = self

        @activity.defn(name=names.GET_ISSUE)
        async def get_issue(input: GetIssueInput) -> IssueInfo:
            return IssueInfo(
                number=input.issue.number,
                title="Discount applied twice",
                body="Totals are too low.",
                state="open",
                labels=["autopilot"],
                html_url="http://forge.test/o/r/issues/1",
                author="alice",
            )

        @activity.defn(name=names.GET_REPO)
        async def get_repo(input: GetRepoInput) -> RepoInfo:
            return RepoInfo(
                full_name=input.repo.full_name,
                default_branch="main",
                clone_url="http://forge.test/o/r.git",
                html_url="http://forge.test/o/r",
                archived=world.archived,
            )

        @activity.defn(name=names.ENSURE_LABELS)
        async def ensure_labels(input: EnsureLabelsInput) -> None:
            return None

        @activity.defn(name=names.SET_ISSUE_LABELS)
        async def set_issue_labels(input: SetIssueLabelsInput) -> list[str]:
            world.labels |= set(input.add)
            world.labels -= set(input.remove)
            return sorted(world.labels)

        @activity.defn(name=names.UPSERT_COMMENT)
        async def upsert_comment(input: UpsertCommentInput) -> CommentRef:
            if world.archived:
                raise ApplicationError(
                    "o/r is archived", type=names.ERR_REPO_ARCHIVED, non_retryable=True
                )
            created = input.marker not in world.comments
            world.comments[input.marker] = input.body
            world.comment_writes.append(input.marker)
            if created:
                world.comment_creations.append(input.marker)
            return CommentRef(id=len(world.comments), html_url="http://x", created=created)

        @activity.defn(name=names.OPEN_PULL_REQUEST)
        async def open_pull_request(input: OpenPullRequestInput) -> PullRequestInfo:
            world.pulls.append(input)
            return PullRequestInfo(number=7, html_url="http://forge.test/o/r/pulls/7", state="open")

        @activity.defn(name=names.DRAFT_PLAN)
        async def draft_plan(input: DraftPlanInput) -> DraftPlanOutput:
            world.plan_requests.append(input)
            if world.invalid_plan:
                raise ApplicationError(
                    "plan: the model's answer was invalid 3 times",
                    type=names.ERR_INVALID_MODEL_OUTPUT,
                    non_retryable=True,
                )
            plans = world.plans or [two_task_plan()]
            plan = plans[min(len(world.plan_requests) - 1, len(plans) - 1)]
            return DraftPlanOutput.model_construct(plan=plan, usage=world.usage, model="fake")

        @activity.defn(name=names.DRAFT_EDITS)
        async def draft_edits(input: DraftEditsInput) -> DraftEditsOutput:
            world.edit_requests.append(input)
            if input.purpose == "task" and world.failing_tasks.get(input.task.id, 0) > 0:
                world.failing_tasks[input.task.id] -= 1
                raise ApplicationError(
                    f"edits for {input.task.id}: the model's answer was invalid",
                    type=names.ERR_INVALID_MODEL_OUTPUT,
                    non_retryable=True,
                )
            if input.purpose == "task" and world.edit_seconds:
                world.active_edits += 1
                world.max_active_edits = max(world.max_active_edits, world.active_edits)
                try:
                    await asyncio.sleep(world.edit_seconds)
                finally:
                    world.active_edits -= 1
            edits = EditSet(
                summary="edit",
                commit_message=f"{input.purpose} {input.task.id}",
                edits=[FileEdit(path=input.task.files[0], content="x = 1\n")],
            )
            return DraftEditsOutput(edits=edits, usage=world.usage, model="fake")

        @activity.defn(name=names.REVIEW_CHANGE)
        async def review_change(input: ReviewChangeInput) -> ReviewChangeOutput:
            verdict = world.review_verdicts[min(world.reviews, len(world.review_verdicts) - 1)]
            world.reviews += 1
            return ReviewChangeOutput(
                verdict=ReviewVerdict(
                    verdict=verdict,  # type: ignore[arg-type]
                    summary=f"review {world.reviews}",
                    rubric=[RubricScore(criterion="correctness", score=4)],
                    requested_changes=[] if verdict == "approve" else ["rename x"],
                ),
                usage=world.usage,
                model="fake",
            )

        @activity.defn(name=names.PREPARE_WORKSPACE)
        async def prepare(input: PrepareWorkspaceInput) -> WorkspaceState:
            return WorkspaceState(base_sha="a" * 40, head_sha="a" * 40, files=["shop/pricing.py"])

        @activity.defn(name=names.READ_FILES)
        async def read_files(input: ReadFilesInput) -> FileContents:
            return FileContents(files={p: "x = 0\n" for p in input.paths})

        @activity.defn(name=names.APPLY_EDITS)
        async def apply_edits(input: ApplyEditsInput) -> CommitInfo:
            world.applied.append(input.change_id)
            return CommitInfo(
                sha=f"{len(world.applied):040d}",
                changed=True,
                files=[e.path for e in input.edits.edits],
            )

        @activity.defn(name=names.RUN_TESTS)
        async def run_tests(input: RunTestsInput) -> TestRun:
            passed = world.test_results[min(world.test_runs, len(world.test_results) - 1)]
            world.test_runs += 1
            return TestRun(
                passed=passed,
                exit_code=0 if passed else 1,
                duration_seconds=1.5,
                output_tail="1 passed"
                if passed
                else "FAILED test_discount - assert 90 == 81"
                + ("" if world.same_failure else f" (run {world.test_runs})"),
            )

        @activity.defn(name=names.DIFF_SUMMARY)
        async def diff_summary(input: DiffSummaryInput) -> DiffSummary:
            return DiffSummary(
                base_sha="a" * 40,
                head_sha="b" * 40,
                files=world.diff_files,
                additions=3,
                deletions=1,
                diff="--- a\n+++ b\n",
            )

        @activity.defn(name=ENSURE_BRANCH)
        async def ensure_branch(input: EnsureBranchInput) -> WorkspaceState:
            world.branches_ensured += 1
            return WorkspaceState(base_sha="a" * 40, head_sha="a" * 40, files=[])

        @activity.defn(name=INTEGRATE)
        async def integrate(input: IntegrateInput) -> IntegrateResult:
            world.integrations.append(input)
            if input.task_id not in world.conflicting_tasks:
                return IntegrateResult(status="merged", head_sha="c" * 40)
            if input.resolution is None:
                return IntegrateResult(
                    status="conflict", conflicts={"shop/pricing.py": "<<<<<<< ours\n"}
                )
            tried = sum(1 for i in world.integrations if i.resolution is not None)
            if world.resolution_tests[min(tried - 1, len(world.resolution_tests) - 1)]:
                return IntegrateResult(status="merged", head_sha="d" * 40)
            return IntegrateResult(status="tests_failed", test_output="FAILED test_merge")

        @activity.defn(name=RESOLVE_CONFLICT)
        async def resolve_conflict(input: ResolveConflictInput) -> ResolveConflictOutput:
            world.conflict_requests.append(input)
            files = [ResolvedFile(path=p, content="x = 2\n") for p in input.conflicts]
            return ResolveConflictOutput(
                resolution=ConflictResolution(summary="both sides", files=files),
                usage=world.usage,
                model="fake",
            )

        return [
            ensure_branch,
            integrate,
            resolve_conflict,
            get_issue,
            get_repo,
            ensure_labels,
            set_issue_labels,
            upsert_comment,
            open_pull_request,
            draft_plan,
            draft_edits,
            review_change,
            prepare,
            read_files,
            apply_edits,
            run_tests,
            diff_summary,
        ]
