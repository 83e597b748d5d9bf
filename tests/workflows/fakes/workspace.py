"""The workspace side of the fake world: checkouts, commits, test runs, diffs and merges."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import names
from domain.agent import (
    FileSizes,
    FileSizesInput,
    RepoMap,
    RepoMapInput,
    RunToolsInput,
    RunToolsOutput,
    ToolResult,
)
from domain.change import CommitInfo, DiffSummary, TestRun
from domain.review import ChangeScan, ScanChangeInput
from domain.task import EnsureBranchInput, IntegrateInput, IntegrateResult
from domain.workspace import (
    ApplyEditsInput,
    DiffSummaryInput,
    EnvironmentRef,
    FileContents,
    PrepareEnvironmentInput,
    PrepareEnvironmentResult,
    PrepareWorkspaceInput,
    ReadFilesInput,
    RunTestsInput,
    SetupFailure,
    WorkspaceState,
)

EDIT_TOOLS = ("create", "str_replace", "insert")


@dataclass
class FakeWorkspace:
    """Scripted test results and merges; records commits, test runs and integrations."""

    test_results: list[bool] = field(default_factory=lambda: [True])
    same_failure: bool = False  # every failing run prints the same output (no progress)
    diff_files: list[str] = field(default_factory=lambda: ["shop/pricing.py"])
    conflicting_tasks: set[str] = field(default_factory=set)
    resolution_tests: list[bool] = field(default_factory=lambda: [True])
    applied: list[str] = field(default_factory=list)
    test_runs: int = 0
    integrations: list[IntegrateInput] = field(default_factory=list)
    branches_ensured: int = 0
    # Setup attempts that fail before one succeeds; each prepared environment is recorded.
    setup_failures: int = 0
    # Best of N: changed lines per branch suffix (e.g. "-c2"), and suffixes whose tests fail.
    lines_by_branch: dict[str, int] = field(default_factory=dict)
    failing_branches: set[str] = field(default_factory=set)
    sandbox_missing: bool = False
    file_size: int = 2_000  # bytes of every file the plan names
    test_run_crashes: int = 0  # test runs that die as a killed worker's would (retryable)
    test_run_hangs: bool = False  # the test run heartbeats until it is cancelled
    environments: list[EnvironmentRef] = field(default_factory=list)
    test_environments: list[EnvironmentRef | None] = field(default_factory=list)
    # What each secrets/submodule scan finds, in turn (the last repeats).
    scan_results: list[ChangeScan] = field(default_factory=lambda: [ChangeScan()])
    scans: int = 0

    def workspace_activities(self) -> list[Callable[..., Any]]:
        return [
            self.prepare,
            self.prepare_environment,
            self.run_tools,
            self.repo_map,
            self.file_sizes,
            self.read_files,
            self.apply_edits,
            self.run_tests,
            self.diff_summary,
            self.scan_change,
            self.ensure_branch,
            self.integrate,
        ]

    @activity.defn(name=names.PREPARE_WORKSPACE)
    async def prepare(self, input: PrepareWorkspaceInput) -> WorkspaceState:
        return WorkspaceState(base_sha="a" * 40, head_sha="a" * 40, files=["shop/pricing.py"])

    @activity.defn(name=names.PREPARE_ENVIRONMENT)
    async def prepare_environment(self, input: PrepareEnvironmentInput) -> PrepareEnvironmentResult:
        if self.sandbox_missing:
            raise ApplicationError(
                "bubblewrap is not installed",
                type=names.ERR_SANDBOX_UNAVAILABLE,
                non_retryable=True,
            )
        if self.setup_failures > 0:
            self.setup_failures -= 1
            failure = SetupFailure(
                command="pip install -e .[test]",
                exit_code=1,
                output_tail="ERROR: No matching distribution found for frobnicate>=9",
                seconds=3.0,
            )
            return PrepareEnvironmentResult(failure=failure)
        built = EnvironmentRef(
            key=f"env-{len(self.environments)}", path="/envs/x", built=True, seconds=1.0,
            commands=["python -m venv ."],
        )  # fmt: skip
        self.environments.append(built)
        return PrepareEnvironmentResult(environment=built)

    @activity.defn(name=names.RUN_TOOLS)
    async def run_tools(self, input: RunToolsInput) -> RunToolsOutput:
        """Every call succeeds; edits become one commit per turn, named by its change id."""
        results = [ToolResult(call_id=c.id, name=c.name, output="ok") for c in input.calls]
        edited = [str(c.arguments["path"]) for c in input.calls if c.name in EDIT_TOOLS]
        if not edited:
            return RunToolsOutput(results=results)
        self.applied.append(input.change_id)
        commit = CommitInfo(sha=f"{len(self.applied):040d}", changed=True, files=edited)
        return RunToolsOutput(results=results, commit=commit)

    @activity.defn(name=names.REPO_MAP)
    async def repo_map(self, input: RepoMapInput) -> RepoMap:
        return RepoMap(text="shop/\n  pricing.py: def price(...)", files=1)

    @activity.defn(name=names.FILE_SIZES)
    async def file_sizes(self, input: FileSizesInput) -> FileSizes:
        return FileSizes(sizes={p: self.file_size for p in input.paths})

    @activity.defn(name=names.READ_FILES)
    async def read_files(self, input: ReadFilesInput) -> FileContents:
        return FileContents(files={p: "x = 0\n" for p in input.paths})

    @activity.defn(name=names.APPLY_EDITS)
    async def apply_edits(self, input: ApplyEditsInput) -> CommitInfo:
        self.applied.append(input.change_id)
        return CommitInfo(
            sha=f"{len(self.applied):040d}",
            changed=True,
            files=[e.path for e in input.edits.edits],
        )

    @activity.defn(name=names.RUN_TESTS)
    async def run_tests(self, input: RunTestsInput) -> TestRun:
        while self.test_run_hangs:  # until the workflow cancels the call
            activity.heartbeat()
            await asyncio.sleep(0.1)
        if self.test_run_crashes > 0:
            self.test_run_crashes -= 1
            raise ApplicationError("worker lost", type="WorkerLost")
        passed = self.test_results[min(self.test_runs, len(self.test_results) - 1)]
        if any(input.workspace.branch.endswith(b) for b in self.failing_branches):
            passed = False
        self.test_runs += 1
        self.test_environments.append(input.environment)
        return TestRun(
            passed=passed,
            exit_code=0 if passed else 1,
            duration_seconds=1.5,
            output_tail="1 passed"
            if passed
            else "FAILED test_discount - assert 90 == 81"
            + ("" if self.same_failure else f" (run {self.test_runs})"),
        )

    @activity.defn(name=names.DIFF_SUMMARY)
    async def diff_summary(self, input: DiffSummaryInput) -> DiffSummary:
        branch = input.workspace.branch
        added = next((n for b, n in self.lines_by_branch.items() if branch.endswith(b)), 3)
        return DiffSummary(
            base_sha="a" * 40,
            head_sha="b" * 40,
            files=self.diff_files,
            additions=added,
            deletions=1,
            diff="--- a\n+++ b\n",
        )

    @activity.defn(name=names.SCAN_CHANGE)
    async def scan_change(self, input: ScanChangeInput) -> ChangeScan:
        self.scans += 1
        return self.scan_results[min(self.scans, len(self.scan_results)) - 1]

    @activity.defn(name=names.ENSURE_BRANCH)
    async def ensure_branch(self, input: EnsureBranchInput) -> WorkspaceState:
        self.branches_ensured += 1
        return WorkspaceState(base_sha="a" * 40, head_sha="a" * 40, files=[])

    @activity.defn(name=names.INTEGRATE)
    async def integrate(self, input: IntegrateInput) -> IntegrateResult:
        self.integrations.append(input)
        if input.task_id not in self.conflicting_tasks:
            return IntegrateResult(status="merged", head_sha="c" * 40)
        if input.resolution is None:
            return IntegrateResult(
                status="conflict", conflicts={"shop/pricing.py": "<<<<<<< ours\n"}
            )
        tried = sum(1 for i in self.integrations if i.resolution is not None)
        if self.resolution_tests[min(tried - 1, len(self.resolution_tests) - 1)]:
            return IntegrateResult(status="merged", head_sha="d" * 40)
        return IntegrateResult(status="tests_failed", test_output="FAILED test_merge")
