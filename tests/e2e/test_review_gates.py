"""The review on the real stack: a panel of three model reviewers decided by a 2-of-3 quorum,
and the secrets gate stopping a change that writes credentials (local forge, offline model,
real git, the real detect-secrets scan)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import load_config
from devstack.model_server.testing import running_model_server
from domain.run import IssueResult, IssueStatus
from starters.common import issue_ref, start_issue_run
from tests.e2e.conftest import Stack
from tests.e2e.histories import save_history
from tests.e2e.test_issue_to_pull_request import wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SCENARIO = Path(__file__).resolve().parent / "data" / "review_scenario.yaml"
FOCUSES = ("correctness", "tests", "security")
PANEL = {
    "AUTOPILOT__REVIEW__REVIEWERS": "[{focus: correctness}, {focus: tests}, {focus: security}]",
    "AUTOPILOT__REVIEW__QUORUM": "2",
}
AWS_EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"  # what the scenario's credentials task writes


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """Overrides the demo model of tests/e2e/conftest.py for this module."""
    with running_model_server(SCENARIO) as url:
        yield url


def write_repo(root: Path) -> Path:
    files = {
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        "greet/__init__.py": "",
        "greet/core.py": 'def hello(name: str) -> str:\n    return f"Hello, {name}"\n',
        "tests/test_core.py": "from greet.core import hello\n\n\ndef test_hello():\n"
        '    assert hello("Ann") == "Hello, Ann"\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


async def start_run(stack: Stack, tmp_path: Path, body: str, **env: str) -> str:
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, write_repo(tmp_path / "seed"))
    issue_md = tmp_path / "issue.md"
    issue_md.write_text(f"# Say goodbye\n\nAdd farewell(name). {body}\n")
    issue = await stack.seeder.open_issue(owner, name, issue_md)
    config = load_config(env={**stack.env, "AUTOPILOT__RUN__AUTO_APPROVE": "true", **env})
    ref = issue_ref(config, stack.repo, issue["number"])
    await start_issue_run(stack.client, config, ref)
    return ref.workflow_id


def issue_comments(stack: Stack, workflow_id: str) -> list[dict[str, Any]]:
    owner, name = stack.repo.split("/")
    number = int(workflow_id.rsplit(":", 1)[1])
    comments: list[dict[str, Any]] = stack.forge.api(
        "GET", f"/repos/{owner}/{name}/issues/{number}/comments"
    )
    return comments


def pulls(stack: Stack) -> list[dict[str, Any]]:
    owner, name = stack.repo.split("/")
    found: list[dict[str, Any]] = stack.forge.api("GET", f"/repos/{owner}/{name}/pulls?state=all")
    return found


async def test_two_of_three_reviewers_approving_opens_the_pull_request(
    stack: Stack, tmp_path: Path
) -> None:
    workflow_id = await start_run(stack, tmp_path, "Panel: two approve.", **PANEL)
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.outcome == "pr_opened", result.status.error
    assert result.status.usage["review"].calls == 3  # one answer per reviewer, one round

    (pull,) = pulls(stack)
    body = pull["body"]
    assert "Verdict: **approve** — Approved by quorum (2 of 2 required approvals)" in body
    assert "security dissent" in body
    for focus in FOCUSES:
        assert f"| {focus} | {focus} |" in body
    assert "| security | security | fast | ❌ request changes |" in body
    for gate in ("tests green", "diff size", "protected paths", "secrets", "submodules"):
        assert f"✅ {gate}:" in body
    await save_history(stack.client, workflow_id, "review_quorum")


async def test_one_of_three_approving_holds_the_change_for_a_person(
    stack: Stack, tmp_path: Path
) -> None:
    env = {**PANEL, "AUTOPILOT__RUN__MAX_REVIEW_ROUNDS": "1"}
    workflow_id = await start_run(stack, tmp_path, "Panel: one approves.", **env)
    status = await wait_for_status(stack, workflow_id, "resume")
    await stack.client.get_workflow_handle(workflow_id).terminate("test over")

    assert status.review is not None and status.review.verdict == "request_changes"
    assert "Quorum not reached (1 of 2 required approvals)" in status.review.summary
    assert status.review.requested_changes == [
        "[tests] Add a test for farewell.",
        "[security] Reject names with control characters.",
    ]
    assert pulls(stack) == []
    (asked,) = [c for c in issue_comments(stack, workflow_id) if "needs a human" in c["body"]]
    assert "[security] Reject names with control characters." in asked["body"]


async def test_a_secret_in_the_diff_blocks_the_pull_request_naming_the_gate(
    stack: Stack, tmp_path: Path
) -> None:
    body = "Keep the deploy credentials next to the code."
    workflow_id = await start_run(
        stack, tmp_path, body, **PANEL, AUTOPILOT__RUN__MAX_REVIEW_ROUNDS="1"
    )
    status: IssueStatus = await wait_for_status(stack, workflow_id, "resume")
    await save_history(stack.client, workflow_id, "secret_blocked", settle=True)
    await stack.client.get_workflow_handle(workflow_id).terminate("test over")

    assert status.review is not None
    assert status.review.summary == "Deterministic gates failed: secrets"
    (gate,) = status.review.requested_changes
    assert "greet/deploy.py:3 (AWS Access Key)" in gate
    assert "greet/deploy.py:5 (Private Key)" in gate
    assert "review" not in status.usage  # no reviewer was asked
    assert pulls(stack) == []
    comments = issue_comments(stack, workflow_id)
    (asked,) = [c for c in comments if "needs a human" in c["body"]]
    assert "secrets: 2 likely secret(s)" in asked["body"]
    # Where and what kind, never the secret itself: not in any comment.
    assert not [c for c in comments if AWS_EXAMPLE_KEY in c["body"] or "MIIE" in c["body"]]
