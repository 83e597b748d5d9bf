"""The demo really works: the replayed answers, applied to a copy of the demo repository.

The model activities ask the replay server (a subprocess) over HTTP, exactly as they would
ask a real model; edits are written into a git copy of ``devstack/demo/repo`` and judged by
running the repository's own tests with real pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.openai_compat import OpenAICompatibleProvider
from devstack.model_server.testing import running_model_server
from domain.change import DiffSummary, EditSet
from domain.change import TestRun as RunResult  # not named Test*, so pytest skips it
from domain.issue import IssueInfo
from domain.model import DraftEditsInput, DraftPlanInput, ReviewChangeInput
from domain.plan import Plan

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
FIX_TASK = "fix-bulk-discount-threshold"
TEST_TASK = "add-regression-test"


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


class DemoRepo:
    """A git copy of the demo repository that edits are applied to and tested in."""

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

    def read(self, paths: list[str]) -> dict[str, str]:
        return {p: (self.path / p).read_text() for p in paths if (self.path / p).is_file()}

    def apply(self, edits: EditSet) -> None:
        for edit in edits.edits:
            target = self.path / edit.path
            if edit.action == "delete":
                target.unlink()
            else:
                assert edit.content is not None
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(edit.content)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "-m", edits.commit_message)

    def run_tests(self) -> RunResult:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
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
            head_sha=git(self.path, "rev-parse", "HEAD").strip(),
            files=[r[2] for r in rows],
            additions=sum(int(r[0]) for r in rows),
            deletions=sum(int(r[1]) for r in rows),
            diff=git(self.path, "diff", self.base, "HEAD"),
        )


@pytest.fixture(scope="module")
def demo_model_url() -> Iterator[str]:
    with running_model_server(DEMO / "scenario.yaml") as url:
        yield url


@pytest.fixture
async def activities(demo_model_url: str) -> AsyncIterator[ModelActivities]:
    provider = OpenAICompatibleProvider(demo_model_url, "replay-demo")
    try:
        yield ModelActivities(provider)
    finally:
        await provider.aclose()


async def draft_plan(activities: ModelActivities, repo: DemoRepo) -> Plan:
    request = DraftPlanInput(issue=demo_issue(), repo_files=repo.files())
    out = await ActivityEnvironment().run(activities.draft_plan, request)
    assert out.usage.calls == 1 and out.usage.input_tokens > 0
    return out.plan


async def draft_edits(
    activities: ModelActivities,
    repo: DemoRepo,
    plan: Plan,
    purpose: str,
    task_id: str,
    feedback: str = "",
) -> EditSet:
    task = next(t for t in plan.tasks if t.id == task_id)
    request = DraftEditsInput.model_validate(
        {
            "purpose": purpose,
            "issue": demo_issue(),
            "plan": plan,
            "task": task,
            "files": repo.read([*task.files, "shop/pricing.py"]),
            "feedback": feedback,
        }
    )
    out = await ActivityEnvironment().run(activities.draft_edits, request)
    return out.edits


def test_demo_repository_fails_before_the_fix(tmp_path: Path) -> None:
    run = DemoRepo(tmp_path / "repo").run_tests()

    assert not run.passed
    assert "1 failed" in run.output_tail and "test_ten_units_get_bulk_discount" in run.output_tail


async def test_plan_has_two_tasks_the_second_after_the_first(
    activities: ModelActivities, tmp_path: Path
) -> None:
    plan = await draft_plan(activities, DemoRepo(tmp_path / "repo"))

    assert [t.id for t in plan.in_dependency_order()] == [FIX_TASK, TEST_TASK]
    assert plan.tasks[1].depends_on == [FIX_TASK]


async def test_the_workflows_order_wrong_fix_then_test_then_real_fix_then_approval(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    plan = await draft_plan(activities, repo)

    repo.apply(await draft_edits(activities, repo, plan, "task", FIX_TASK))
    assert not repo.run_tests().passed  # plausible, but still wrong
    repo.apply(await draft_edits(activities, repo, plan, "task", TEST_TASK))
    failing = repo.run_tests()
    assert not failing.passed
    assert "test_cart_badge_agrees_with_price[10]" in failing.output_tail

    # The workflow asks for a fix under the last task's id, with the test output as feedback.
    fix = await draft_edits(activities, repo, plan, "fix", TEST_TASK, failing.output_tail)
    assert [e.path for e in fix.edits] == ["shop/pricing.py"]
    repo.apply(fix)
    passing = repo.run_tests()
    assert passing.passed, passing.output_tail
    assert "42 passed" in passing.output_tail  # the original 8 tests and 34 new cases

    review = ReviewChangeInput(issue=demo_issue(), plan=plan, diff=repo.diff(), test_run=passing)
    out = await ActivityEnvironment().run(activities.review_change, review)
    assert out.verdict.verdict == "approve"
    assert {r.criterion for r in out.verdict.rubric} >= {"correctness", "tests"}


async def test_each_answer_on_its_own_wrong_fix_real_fix_regression_test(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    plan = await draft_plan(activities, repo)

    repo.apply(await draft_edits(activities, repo, plan, "task", FIX_TASK))
    assert not repo.run_tests().passed
    repo.apply(await draft_edits(activities, repo, plan, "fix", FIX_TASK, "1 failed"))
    assert repo.run_tests().passed
    repo.apply(await draft_edits(activities, repo, plan, "task", TEST_TASK))
    assert repo.run_tests().passed


async def test_the_answer_to_a_review_is_a_working_change(
    activities: ModelActivities, tmp_path: Path
) -> None:
    repo = DemoRepo(tmp_path / "repo")
    plan = await draft_plan(activities, repo)
    repo.apply(await draft_edits(activities, repo, plan, "task", TEST_TASK))
    assert not repo.run_tests().passed

    answer = await draft_edits(activities, repo, plan, "review", TEST_TASK, "Share the check")
    repo.apply(answer)
    assert repo.run_tests().passed
