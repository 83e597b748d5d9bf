"""The lessons and experiments commands, run as a person runs them, against the real dev server
holding a repository's learning workflow."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.learning import LearningActivities, learning_state
from domain.learning import OutcomeRecord, assign_variant
from domain.usage import TokenUsage
from starters import experiments, lessons
from starters.common import StarterError
from tests.polling import eventually
from workflows.learning import RepoLearningWorkflow
from workflows.runner import WORKFLOW_RUNNER

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
temporal:
  address: "{address}"
  task_queue: "{queue}"
run:
  experiments:
    - name: plan-style
      min_samples: 5
      variants:
        - name: a
        - name: b
          plan_prompt: Plan exactly one task.
"""


@contextlib.contextmanager
def patched_env(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Setup:
    config: Path
    env: dict[str, str]
    repo: str
    learning: LearningActivities

    async def call(self, module: str, *args: str) -> str:
        """The command in this process (as the ``autopilot`` CLI calls it): what it printed."""
        command = lessons if module == "starters.lessons" else experiments
        parsed = command.parser().parse_args([*args, "--config", str(self.config)])
        with contextlib.redirect_stdout(io.StringIO()) as out:
            run = lessons.lessons_command if command is lessons else experiments.experiments_command
            with patched_env(self.env):
                assert await run(parsed) == 0
        return out.getvalue()

    async def run(self, *args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, "--config", str(self.config),
            cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def setup(dev_server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Setup]:
    client, queue = dev_server.client, f"cli-{uuid.uuid4()}"
    repo = f"o/cli-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "autopilot.yaml"
    config.write_text(CONFIG.format(address=client.service_client.config.target_host, queue=queue))
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text(f"repositories:\n  - name: r\n    repo: {repo}\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AUTOPILOT_FORGE_TOKEN": "t",
        "AUTOPILOT_REPOSITORIES": str(repositories),
    }
    async with Worker(
        client, task_queue=queue, workflows=[RepoLearningWorkflow], workflow_runner=WORKFLOW_RUNNER
    ):
        yield Setup(config, env, repo, LearningActivities(client, queue))


def record(repo: str, n: int, won: bool, **fields: object) -> OutcomeRecord:
    return OutcomeRecord.model_validate(
        {
            "repo": repo,
            "issue": n,
            "workflow_id": f"wf-{n}",
            "run_id": f"run-{n}",
            "ended_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n),
            "outcome": "pr_opened" if won else "failed",
            "usage": TokenUsage(cost_usd=0.25),
            "variants": {"plan-style": assign_variant(repo, n, "plan-style", ["a", "b"])},
            **fields,
        }
    )


async def test_people_list_edit_and_delete_lessons(setup: Setup) -> None:
    repo = setup.repo
    assert await setup.call("starters.lessons", "list", "--repo", repo) == (
        f"{repo}: no lessons yet\n"
    )
    await setup.learning.record_outcome(
        record(repo, 1, True, rejections=["Add type hints"], objections=["Log, not print"])
    )
    await eventually(
        lambda: learning_state(setup.learning._client, repo),
        lambda s: s is not None and len(s.lessons) == 2,
    )
    out = await setup.call("starters.lessons", "list", "--repo", repo)
    assert "L1  plan-feedback seen 1: People asked plans here to: Add type hints" in out

    out = await setup.call(
        "starters.lessons", "edit", "--repo", repo, "L2", "Use logging", "--as", "ada"
    )
    assert out == "L2 edited: Use logging\n"
    # As a person runs it: a refusal is one line on stderr and status 2.
    code, out, err = await setup.run("-m", "starters.lessons", "delete", "--repo", repo, "L9")
    assert (code, out) == (2, "")
    assert err == f"python -m starters.lessons: refused: no lesson 'L9' in {repo}\n"
    out = await setup.call("starters.lessons", "delete", "--repo", repo, "L1")
    assert out == "L1 deleted: People asked plans here to: Add type hints\n"
    out = await setup.call("starters.lessons", "list", "--repo", repo)
    assert "L1" not in out and "L2  review        seen 1, edited by ada: Use logging" in out

    out = await setup.call("starters.lessons", "outcomes", "--repo", repo)
    assert out.startswith(f"{repo}: 1 runs (pr_opened 1); $0.2500 in all")
    with pytest.raises(StarterError, match="unknown repository 'x/unknown'"):
        await setup.call("starters.lessons", "list", "--repo", "x/unknown")


async def test_experiments_show_each_variant_and_no_winner_before_the_sample_size(
    setup: Setup,
) -> None:
    # The first four issues the workflow's assignment gives each variant; even ones succeed.
    drawn: dict[str, list[int]] = {"a": [], "b": []}
    n = 0
    while min(len(issues) for issues in drawn.values()) < 4:
        n += 1
        chosen = drawn[assign_variant(setup.repo, n, "plan-style", ["a", "b"])]
        if len(chosen) < 4:
            chosen.append(n)
    for issues in drawn.values():
        for n in issues:
            await setup.learning.record_outcome(record(setup.repo, n, won=n % 2 == 0))
    await eventually(
        lambda: learning_state(setup.learning._client, setup.repo),
        lambda s: s is not None and s.aggregates.runs == 8,
    )
    lines = (await setup.call("starters.experiments")).splitlines()
    assert lines[0] == "Experiment plan-style (confidence 95%, at least 5 runs per variant)"
    for name, issues in drawn.items():
        row = next(line for line in lines if line.startswith(f"  {name} ")).split()
        assert row[1] == "4"
        assert row[2] == f"{sum(n % 2 == 0 for n in issues) / 4:.1%}"
        assert row[-1] == "$0.2500"
    assert lines[-1] == "  no winner yet: fewer than 5 runs for a, b"
    with pytest.raises(StarterError, match="no experiment named 'nope'"):
        await setup.call("starters.experiments", "--experiment", "nope")
