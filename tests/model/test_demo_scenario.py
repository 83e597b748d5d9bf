"""The demo really works: its scenario (``devstack.stack.DEMO_SCENARIO``) played on a copy of the
demo repository, the way the worker plays it.

The model activities ask the replay server (a subprocess) over HTTP, exactly as they would ask
a real model: each turn of the implementer's loop is a ``model.agent_turn`` with the worker's
brief and tools, and its tool calls are carried out in a git copy of ``devstack/demo/repo`` with
the worker's own view and edit tools; the repository's tests run with real pytest. The story:
the planner looks, a two-task plan, red after task 1 (and task 2), green after the fix, the
review approves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.openai_compat import OpenAICompatibleProvider
from activities.workspace.repo_map import build_repo_map
from activities.workspace.tools import edits
from activities.workspace.tools.args import ToolError, check_arguments, integer, line_range
from activities.workspace.tools.text import read_text, view_file
from devstack.model_server.testing import running_model_server
from devstack.stack import DEMO_SCENARIO
from domain.agent import (
    ALL_TOOLS,
    READ_ONLY_TOOLS,
    AgentBrief,
    AgentMessage,
    AgentPurpose,
    AgentTurnInput,
    ToolCall,
    ToolName,
    ToolResult,
)
from domain.change import DiffSummary, EditSet
from domain.change import TestRun as RunResult  # not named Test*, so pytest skips it
from domain.issue import IssueInfo
from domain.model import DraftEditsInput, DraftPlanInput, ReviewChangeInput
from domain.plan import Plan

DEMO = DEMO_SCENARIO.parent
FIX_TASK = "fix-bulk-discount-threshold"
TEST_TASK = "add-regression-test"
TEST_COMMAND = "python -m pytest -q"  # what the demo's trajectories run
MAX_TURNS = 10
MAX_BYTES = 1 << 20
EDITS = ["view", "str_replace", "run", "finish"]  # every loop of the demo that changes code


def demo_issue() -> IssueInfo:
    title, _, body = (DEMO / "issue.md").read_text().partition("\n")
    assert title.startswith("# ")
    return IssueInfo(
        number=1,
        title=title[2:].strip(),
        body=body.strip(),
        state="open",
        html_url="http://forge.test/demo/shop/issues/1",
        author="customer",
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def pytest_env() -> dict[str, str]:
    """This interpreter (which has pytest) first on PATH, for the scenario's `python -m pytest`."""
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    return {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "PYTEST_ADDOPTS": "-p no:asyncio"}


class DemoRepo:
    """A git copy of the demo repository that the model's tool calls are carried out in."""

    def __init__(self, path: Path) -> None:
        ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
        shutil.copytree(DEMO / "repo", path, ignore=ignore)
        self.path = path
        git(path, "init", "-q", "-b", "main")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "Initial demo repository")
        self.base = git(path, "rev-parse", "HEAD").strip()

    def files(self) -> list[str]:
        return git(self.path, "ls-files").split()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD").strip()

    def call(self, call: ToolCall) -> ToolResult:
        """One tool call with the worker's tools (run: the command, in this copy)."""
        try:
            output = self._dispatch(call.name, call.arguments)
            return ToolResult(call_id=call.id, name=call.name, output=output)
        except ToolError as err:
            return ToolResult(call_id=call.id, name=call.name, output=str(err), is_error=True)

    def _dispatch(self, name: str, args: dict[str, object]) -> str:
        check_arguments(name, args)
        rel = str(args.get("path", ""))
        if name == "view":
            return view_file(rel, read_text(self.path, rel), line_range(args))
        if name == "create":
            return edits.create(self.path, rel, str(args["content"]), MAX_BYTES)
        if name == "str_replace":
            old, new = str(args["old_str"]), str(args.get("new_str", ""))
            return edits.str_replace(self.path, rel, old, new, MAX_BYTES)
        if name == "insert":
            line = integer(args, "insert_line")
            return edits.insert(self.path, rel, line, str(args["new_str"]), MAX_BYTES)
        if name == "run":
            done = self._pytest(str(args["command"]).split())
            return f"exit code {done.exit_code}\n{done.output_tail}"
        if name == "finish":
            return "ok"
        raise ToolError(f"tool {name} is not played by this test")

    def commit(self, message: str) -> bool:
        """The turn's edits as one commit, as workspace.run_tools makes it; False: nothing."""
        git(self.path, "add", "-A")
        if not git(self.path, "status", "--porcelain").strip():
            return False
        git(self.path, "commit", "-q", "-m", message)
        return True

    def apply(self, edit_set: EditSet) -> None:
        """Whole-file edits, as runs started before the loop apply them."""
        for edit in edit_set.edits:
            target = self.path / edit.path
            if edit.action == "delete":
                target.unlink()
            else:
                assert edit.content is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(edit.content)
        assert self.commit(edit_set.commit_message)

    def run_tests(self) -> RunResult:
        return self._pytest([sys.executable, "-m", "pytest", "-q"])

    def _pytest(self, argv: list[str]) -> RunResult:
        started = time.monotonic()
        done = subprocess.run(
            [*argv, "-p", "no:cacheprovider"],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
            env=pytest_env(),
        )
        return RunResult(
            passed=done.returncode == 0,
            exit_code=done.returncode,
            duration_seconds=time.monotonic() - started,
            output_tail=(done.stdout + done.stderr)[-4000:],
        )

    def diff(self) -> DiffSummary:
        stat = git(self.path, "diff", "--numstat", self.base, "HEAD").splitlines()
        rows = [line.split("\t") for line in stat]
        return DiffSummary(
            base_sha=self.base,
            head_sha=self.head(),
            files=[r[2] for r in rows],
            additions=sum(int(r[0]) for r in rows),
            deletions=sum(int(r[1]) for r in rows),
            diff=git(self.path, "diff", self.base, "HEAD"),
        )


@dataclass
class Played:
    """One loop as the workflow would record it."""

    steps: list[str]  # the tool calls, in order
    summary: str  # finish's summary
    commits: int  # turns whose edits changed files
    results: list[ToolResult]


@pytest.fixture(scope="module")
def demo_model_url() -> Iterator[str]:
    with running_model_server(DEMO_SCENARIO) as url:
        yield url


@pytest.fixture
async def activities(demo_model_url: str) -> AsyncIterator[ModelActivities]:
    provider = OpenAICompatibleProvider(demo_model_url, "replay-demo-agent")
    try:
        yield ModelActivities(provider)
    finally:
        await provider.aclose()


async def play(
    activities: ModelActivities,
    repo: DemoRepo,
    brief: AgentBrief,
    tools: tuple[ToolName, ...] = ALL_TOOLS,
) -> Played:
    """Turns of ``model.agent_turn``, each one's calls carried out and committed, to finish."""
    messages: list[AgentMessage] = []
    played = Played([], "", 0, [])
    for _ in range(MAX_TURNS):
        turn = AgentTurnInput(brief=brief, messages=messages, tools=list(tools))
        out = await ActivityEnvironment().run(activities.agent_turn, turn)
        assert out.usage.calls == 1 and out.usage.input_tokens > 0
        calls = out.message.tool_calls
        assert calls, out.message.text  # the demo's model always acts through its tools
        messages.append(out.message)
        results = [repo.call(c) for c in calls]
        assert not any(r.is_error for r in results), results
        messages.append(AgentMessage(role="tool", results=results))
        played.steps += [c.name for c in calls]
        played.results += results
        played.commits += repo.commit(f"Autopilot {brief.purpose} turn")
        finish = [c for c in calls if c.name == "finish"]
        if finish:
            played.summary = str(finish[0].arguments.get("summary", ""))
            return played
    raise AssertionError(f"the {brief.purpose} loop did not finish in {MAX_TURNS} turns")


def brief(
    purpose: AgentPurpose,
    plan: Plan | None,
    task_id: str | None = None,
    feedback: str = "",
    repo_map: str = "",
) -> AgentBrief:
    """The brief as the workflows write it: a task's loops name the task; the issue's fix and
    answer to a review (workflows/issue_changes.py) name none."""
    task = next(t for t in plan.tasks if t.id == task_id) if plan and task_id else None
    return AgentBrief(
        purpose=purpose,
        issue=demo_issue(),
        plan=plan,
        task=task,
        feedback=feedback,
        repo_map=repo_map,
        test_command=TEST_COMMAND,
    )


async def explore_and_plan(activities: ModelActivities, repo: DemoRepo) -> tuple[Played, Plan]:
    """The plan stage: the repository's map, the planner's read-only look, the plan request."""
    repo_map = build_repo_map(repo.path, repo.files(), 6000).text
    looked = await play(activities, repo, brief("plan", None, repo_map=repo_map), READ_ONLY_TOOLS)
    request = DraftPlanInput(
        issue=demo_issue(), repo_files=repo.files(), repo_map=repo_map, notes=looked.summary
    )
    out = await ActivityEnvironment().run(activities.draft_plan, request)
    assert out.usage.calls == 1 and out.usage.input_tokens > 0
    return looked, out.plan


def test_demo_repository_fails_before_the_fix(tmp_path: Path) -> None:
    run = DemoRepo(tmp_path / "repo").run_tests()

    assert not run.passed
    assert "1 failed" in run.output_tail and "test_ten_units_get_bulk_discount" in run.output_tail


async def test_the_planner_looks_at_the_pricing_module_then_plans_two_tasks(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    looked, plan = await explore_and_plan(activities, repo)

    assert looked.steps == ["view", "finish"] and looked.commits == 0
    assert "shop/pricing.py" in looked.summary and "line_total" in looked.summary
    assert repo.head() == repo.base  # the planner only looks
    assert [t.id for t in plan.in_dependency_order()] == [FIX_TASK, TEST_TASK]
    assert plan.tasks[1].depends_on == [FIX_TASK]


async def test_the_workflows_order_wrong_fix_then_test_then_real_fix_then_approval(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    _, plan = await explore_and_plan(activities, repo)

    first = await play(activities, repo, brief("task", plan, FIX_TASK))
    assert (first.steps, first.commits) == (EDITS, 1)
    assert "exit code 1" in first.results[2].output  # the loop's own test run sees it red
    assert not repo.run_tests().passed  # plausible, but still wrong
    second = await play(activities, repo, brief("task", plan, TEST_TASK))
    assert (second.steps, second.commits) == (EDITS, 1)
    failing = repo.run_tests()
    assert not failing.passed
    assert "test_cart_badge_agrees_with_price[10]" in failing.output_tail

    # verify fails: the issue run's fix loop, with the test output as feedback.
    fix = await play(activities, repo, brief("fix", plan, feedback=failing.output_tail))
    assert (fix.steps, fix.commits) == (EDITS, 1)
    assert "shop/pricing.py" in repo.diff().files
    passing = repo.run_tests()
    assert passing.passed, passing.output_tail
    assert "42 passed" in passing.output_tail  # the original 8 tests and 34 new cases

    review = ReviewChangeInput(issue=demo_issue(), plan=plan, diff=repo.diff(), test_run=passing)
    out = await ActivityEnvironment().run(activities.review_change, review)
    assert out.verdict.verdict == "approve"
    assert {r.criterion for r in out.verdict.rubric} >= {"correctness", "tests"}


async def test_each_loop_on_its_own_wrong_fix_real_fix_regression_test(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    _, plan = await explore_and_plan(activities, repo)

    await play(activities, repo, brief("task", plan, FIX_TASK))
    assert not repo.run_tests().passed
    # A task's own fix loop (run.task_test_attempts) names the task.
    await play(activities, repo, brief("fix", plan, FIX_TASK, "1 failed"))
    assert repo.run_tests().passed
    await play(activities, repo, brief("task", plan, TEST_TASK))
    assert repo.run_tests().passed


async def test_the_answer_to_a_review_is_a_working_change_and_is_not_made_twice(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    _, plan = await explore_and_plan(activities, repo)
    # Where implement leaves the branch: both tasks done, still red.
    await play(activities, repo, brief("task", plan, FIX_TASK))
    await play(activities, repo, brief("task", plan, TEST_TASK))
    assert not repo.run_tests().passed

    answer = await play(activities, repo, brief("review", plan, feedback="Share the check"))
    assert (answer.steps, answer.commits) == (EDITS, 1)
    assert repo.run_tests().passed

    # Asked again (another review round, another fix): it sees the shared check and stops.
    again = await play(activities, repo, brief("review", plan, feedback="Share the check"))
    assert (again.steps, again.commits) == (["view", "finish"], 0)


async def test_runs_started_before_the_loop_get_the_same_story_in_whole_files(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    _, plan = await explore_and_plan(activities, repo)

    async def draft_edits(purpose: str, task_id: str, feedback: str = "") -> EditSet:
        task = next(t for t in plan.tasks if t.id == task_id)
        request = DraftEditsInput.model_validate(
            {
                "purpose": purpose,
                "issue": demo_issue(),
                "plan": plan,
                "task": task,
                "files": {p: (repo.path / p).read_text() for p in [*task.files, "shop/pricing.py"]},
                "feedback": feedback,
            }
        )
        return (await ActivityEnvironment().run(activities.draft_edits, request)).edits

    repo.apply(await draft_edits("task", FIX_TASK))
    assert not repo.run_tests().passed
    repo.apply(await draft_edits("task", TEST_TASK))
    failing = repo.run_tests()
    assert not failing.passed
    # Those runs ask for the fix under the last task's id.
    repo.apply(await draft_edits("fix", TEST_TASK, failing.output_tail))
    passing = repo.run_tests()
    assert passing.passed and "42 passed" in passing.output_tail, passing.output_tail
