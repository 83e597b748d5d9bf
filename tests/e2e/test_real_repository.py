"""A real-world repository carried through the whole pipeline: ``reltime`` (data/real_repo/repo),
a src-layout package built by hatchling with its version from the release tag (hatch-vcs) and a
``test`` extra (pytest, freezegun), installed by the detected setup into an environment of its
own and tested in the sandbox. Issue 1 builds that environment; issue 2, after issue 1's pull
request is merged, reuses it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activities.workspace.environment import MARKER
from config.settings import load_config
from devstack.model_server.testing import running_model_server
from domain.run import IssueResult, IssueStatus
from domain.workspace import EnvironmentRef
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

DATA = Path(__file__).resolve().parent / "data" / "real_repo"
TAG = "v1.4.0"


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """Overrides the demo model of tests/e2e/conftest.py for this module."""
    with running_model_server(DATA / "scenario.yaml") as url:
        yield url


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "GIT_TERMINAL_PROMPT": "0", "HOME": str(cwd)}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


async def carry(stack: Stack, issue_md: str) -> IssueResult:
    """Open the issue and run it, plan approved automatically, to its end."""
    owner, name = stack.repo.split("/")
    issue = await stack.seeder.open_issue(owner, name, DATA / issue_md)
    config = load_config(env={**stack.env, "AUTOPILOT__RUN__AUTO_APPROVE": "true"})
    ref = issue_ref(config, stack.repo, issue["number"])
    await start_issue_run(stack.client, config, ref)
    handle = stack.client.get_workflow_handle(ref.workflow_id, result_type=IssueResult)
    # A run that ends up asking a person fails here, with its status, instead of hanging.
    status = await eventually(
        lambda: handle.query("status", result_type=IssueStatus),
        lambda s: s.outcome != "running" or s.waiting_for is not None,
        timeout=240,
        interval=0.5,
        what=f"the end of {ref.workflow_id}",
    )
    assert status.waiting_for is None, status
    result = await handle.result()
    assert result.outcome == "pr_opened", result.status.error
    return result


def check_green(stack: Stack, result: IssueResult) -> dict[str, Any]:
    """The tests passed in the sandbox at verify's first run; the PR's body says so."""
    status = result.status
    assert status.attempts.get("verify") == 1, status.attempts
    assert status.review is not None and status.review.verdict == "approve"
    owner, name = stack.repo.split("/")
    pull = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls/{status.pr_number}")
    assert pull["html_url"] == result.pr_url and pull["state"] == "open"
    assert "## Tests\n`passed` in " in pull["body"] and "after 1 run(s)" in pull["body"]
    return dict(pull)


def check_outside(env: EnvironmentRef, stack: Stack, environments: Path) -> Path:
    """The environment lives in the session's cache, outside every checkout, and is ready."""
    assert env.path is not None
    path = Path(env.path)
    assert path.is_relative_to(environments) and path.name == env.key
    assert not path.is_relative_to(stack.config.workspace.root)
    assert (path / MARKER).is_file() and (path / "bin" / "python").exists()
    return path


def installed_version(path: Path) -> str:
    """The version pip recorded when it built the environment (hatch-vcs, from the tag)."""
    probe = "import importlib.metadata as m; print(m.version('reltime'))"
    run = subprocess.run(
        [str(path / "bin" / "python"), "-I", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    return run.stdout.strip()


def changed_files(checkout: Path, branch: str) -> set[str]:
    git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*", cwd=checkout)
    diff = git("diff", "--name-only", f"origin/main...origin/{branch}", cwd=checkout)
    return set(diff.split())


async def test_a_real_project_builds_its_environment_once_and_reuses_it(
    stack: Stack, environments: Path, tmp_path: Path
) -> None:
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, DATA / "repo", tags=[TAG])
    checkout = tmp_path / "checkout"
    git("clone", "-q", stack.forge.clone_url(owner, name), str(checkout), cwd=tmp_path)
    assert git("tag", "--list", cwd=checkout).split() == [TAG]

    # Issue 1: the first run builds the environment: venv, hatchling + hatch-vcs, the extra.
    first = await carry(stack, "issue_1.md")
    built = first.status.environment
    assert built is not None and built.built is True, built
    assert any("pip install -e '.[test]'" in c for c in built.commands), built.commands
    assert [t.stage for t in first.status.timings][:2] == ["intake", "setup"]
    path = check_outside(built, stack, environments)
    assert installed_version(path).startswith("1.4"), "checkouts must carry the release tag"
    pull = check_green(stack, first)
    number = first.status.pr_number
    branch = str(pull["head"]["ref"])
    assert changed_files(checkout, branch) == {"src/reltime/core.py"}

    # Merged, as a maintainer would: issue 2 starts from the fixed main.
    await stack.seeder.call("POST", f"/repos/{owner}/{name}/pulls/{number}/merge", {"Do": "merge"})

    # Issue 2: the same dependency files, so the same environment, reused as it is.
    second = await carry(stack, "issue_2.md")
    reused = second.status.environment
    assert reused is not None and reused.built is False, reused
    assert reused.key == built.key and reused.path == built.path
    assert reused.seconds < built.seconds
    check_outside(reused, stack, environments)
    pull = check_green(stack, second)
    assert pull["number"] != number
    files = changed_files(checkout, str(pull["head"]["ref"]))
    assert files == {"src/reltime/core.py", "tests/test_naive.py"}
    # One environment for the repository, ever: no task or test run built another.
    assert [p.name for p in path.parent.iterdir() if p.is_dir()] == [built.key]
    print(  # the report's numbers: pytest -s shows them
        f"environment {built.key}: built in {built.seconds:.1f} s, found in {reused.seconds:.2f} s"
    )
