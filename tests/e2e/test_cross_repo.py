"""A cross-repository change on the real stack: three repositories in the local forge
(frontend depends on backend; infrastructure is triggered by both), approved by a second user
through the forge API and merged in dependency order; and a set held and compensated."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from config.settings import AutopilotConfig, load_config
from devstack.forge.testing import RunningForge
from devstack.model_server.testing import running_model_server
from devstack.seed import Seeder
from domain.cross_repo import CrossRepoDecision, CrossRepoResult, CrossRepoStatus
from starters.common import issue_ref
from starters.cross_repo import start_cross_repo_run
from tests.e2e.histories import save_history
from tests.polling import eventually
from workers.main import running_worker
from workflows.cross_repo import CrossRepoWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SCENARIO = Path(__file__).resolve().parent / "data" / "cross_repo" / "scenario.yaml"
REPOS = {"backend": "api", "frontend": "web", "infrastructure": "infra"}
REVIEWER = "carol"


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """Overrides the demo model of tests/e2e/conftest.py for this module."""
    with running_model_server(SCENARIO) as url:
        yield url


def repositories_yaml(owner: str, prefix: str, on_failure: str) -> str:
    entries = {
        "backend": "triggers: [infrastructure]",
        "frontend": "depends_on: [backend]\n    triggers: [infrastructure]",
        "infrastructure": "",
    }
    text = "repositories:\n"
    for name, extra in entries.items():
        text += (
            f"  - name: {name}\n    repo: {owner}/{prefix}-{name}\n"
            "    test_command: python -m pytest -q -p no:cacheprovider\n"
            f"    test_timeout_seconds: 60\n    {extra}\n"
        )
    return text + (
        "cross_repo_workflows:\n  currency:\n"
        "    repositories: [backend, frontend, infrastructure]\n"
        f"    coordination: parallel\n    on_failure: {on_failure}\n"
        "    poll_seconds: 1\n    max_poll_seconds: 2\n    needs_human_grace_seconds: 1\n"
    )


def write_repo(root: Path, marker_dir: str, impossible: bool) -> Path:
    files = {
        f"{marker_dir}/__init__.py": "",
        f"{marker_dir}/money.py": 'CURRENCY = "USD"\n',
        "tests/test_money.py": f"from {marker_dir}.money import CURRENCY\n\n\n"
        'def test_currency():\n    assert CURRENCY == "EUR"\n',
    }
    if impossible:  # a test no edit of money.py can fix: the run ends up needing a human
        files["tests/test_clock.py"] = "def test_clock():\n    assert 1 == 2\n"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@dataclass
class CrossStack:
    client: Client
    config: AutopilotConfig
    forge: RunningForge
    seeder: Seeder
    prefix: str
    reviewer_token: str

    def repo(self, name: str) -> str:
        return f"{self.forge.admin}/{self.prefix}-{name}"


async def reviewer_token(seeder: Seeder) -> str:
    password = "r3view-pass"
    try:
        await seeder.call(
            "POST",
            "/admin/users",
            {"username": REVIEWER, "email": "carol@example.com", "password": password},
        )
    except Exception as exists:  # a second test in the session: the user is there already
        if "422" not in str(exists):
            raise
    basic = base64.b64encode(f"{REVIEWER}:{password}".encode()).decode()
    response = await seeder._http.post(
        f"/users/{REVIEWER}/tokens",
        json={"name": f"t-{uuid.uuid4().hex[:8]}", "scopes": ["all"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["sha1"])


@asynccontextmanager
async def make_stack(
    temporal: WorkflowEnvironment,
    forge: RunningForge,
    model_url: str,
    tmp_path: Path,
    on_failure: str,
    impossible: str = "",
) -> AsyncIterator[CrossStack]:
    prefix = f"x{uuid.uuid4().hex[:6]}"
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text(repositories_yaml(forge.admin, prefix, on_failure))
    host, _, port = temporal.client.service_client.config.target_host.rpartition(":")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__TEMPORAL__ADDRESS": f"{host}:{port}",
        "AUTOPILOT__FORGE__URL": forge.base_url,
        "AUTOPILOT__MODEL__BASE_URL": model_url,
        "AUTOPILOT__WORKSPACE__ROOT": str(tmp_path / "workspaces"),
        # Outside the repository's own .autopilot/, and gone with the test.
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(tmp_path / "environments"),
        "AUTOPILOT__RUN__AUTO_APPROVE": "true",
        "AUTOPILOT__RUN__MAX_VERIFY_ATTEMPTS": "1",
    }
    config = load_config(env=env)
    seeder = Seeder(forge.base_url, forge.token)
    for name, marker in REPOS.items():
        source = write_repo(tmp_path / "seed" / name, marker, name == impossible)
        await seeder.create_repo(f"{prefix}-{name}", source)
    token = await reviewer_token(seeder)
    try:
        async with running_worker(config, temporal.client):
            yield CrossStack(temporal.client, config, forge, seeder, prefix, token)
    finally:
        await seeder.aclose()
    await asyncio.sleep(0)


async def start(stack: CrossStack) -> str:
    owner, name = stack.repo("backend").split("/")
    issue = await stack.seeder.call(
        "POST",
        f"/repos/{owner}/{name}/issues",
        {"title": "Use EUR everywhere", "body": "Every service must report prices in EUR."},
    )
    trigger = issue_ref(stack.config, stack.repo("backend"), issue["number"])
    run = await start_cross_repo_run(stack.client, stack.config, "currency", trigger)
    return run.workflow_id


def typed_handle(
    stack: CrossStack, workflow_id: str
) -> WorkflowHandle[CrossRepoWorkflow, CrossRepoResult]:
    return stack.client.get_workflow_handle(workflow_id, result_type=CrossRepoResult)


async def wait_for(
    stack: CrossStack, workflow_id: str, check: Callable[[CrossRepoStatus], bool], seconds: float
) -> CrossRepoStatus:
    handle = typed_handle(stack, workflow_id)
    return await eventually(
        lambda: handle.query(CrossRepoWorkflow.status),
        check,
        timeout=seconds,
        interval=0.3,
        what=f"a status of {workflow_id}",
    )


async def approve(stack: CrossStack, name: str, number: int) -> None:
    response = await stack.seeder._http.post(
        f"/repos/{stack.repo(name)}/pulls/{number}/reviews",
        json={"event": "APPROVED", "body": "LGTM"},
        headers={"Authorization": f"token {stack.reviewer_token}"},
    )
    assert response.status_code == 200, response.text


async def test_three_repositories_are_approved_and_merged_in_dependency_order(
    temporal: WorkflowEnvironment, forge: RunningForge, model_url: str, tmp_path: Path
) -> None:
    async with make_stack(temporal, forge, model_url, tmp_path, "hold") as stack:
        workflow_id = await start(stack)
        await wait_for(stack, workflow_id, lambda s: all(r.pr_number for r in s.repos.values()), 50)
        handle = typed_handle(stack, workflow_id)
        status = await handle.query(CrossRepoWorkflow.status)
        # Approve out of order: the merge order comes from depends_on and triggers.
        for name in ("infrastructure", "frontend", "backend"):
            for other in REPOS:  # nothing merges while any PR lacks its approval
                pull = await stack.seeder.call(
                    "GET", f"/repos/{stack.repo(other)}/pulls/{status.repos[other].pr_number}"
                )
                assert not pull["merged"]
            await approve(stack, name, status.repos[name].pr_number or 0)
        await handle.signal(CrossRepoWorkflow.pr_approved)
        result = await handle.result()
        assert result.outcome == "merged"
        merged_at = {}
        for name in REPOS:
            pull = await stack.seeder.call(
                "GET", f"/repos/{stack.repo(name)}/pulls/{status.repos[name].pr_number}"
            )
            assert pull["merged"], name
            assert "Cross-repository change `currency`" in pull["body"]
            merged_at[name] = pull["merged_at"]
        assert merged_at["backend"] <= merged_at["frontend"] <= merged_at["infrastructure"]
        frontend = await stack.seeder.call(
            "GET", f"/repos/{stack.repo('frontend')}/pulls/{status.repos['frontend'].pr_number}"
        )
        assert f"Depends-On: {stack.repo('backend')}#" in frontend["body"]
        await save_history(stack.client, workflow_id, "merged")


async def test_an_unfixable_repository_holds_the_set_then_compensation_cleans_the_forge(
    temporal: WorkflowEnvironment, forge: RunningForge, model_url: str, tmp_path: Path
) -> None:
    async with make_stack(
        temporal, forge, model_url, tmp_path, "hold", impossible="infrastructure"
    ) as stack:
        workflow_id = await start(stack)
        await wait_for(stack, workflow_id, lambda s: s.phase == "held", 50)
        handle = typed_handle(stack, workflow_id)
        status = await handle.query(CrossRepoWorkflow.status)
        assert "infrastructure" in (status.failure or "") and "human" in (status.failure or "")
        await handle.signal(CrossRepoWorkflow.compensate, CrossRepoDecision(by="alice"))
        result = await handle.result()
        assert result.outcome == "compensated"
        for name in REPOS:  # exactly what compensation promises: no open PR, no work branch
            pulls = await stack.seeder.call("GET", f"/repos/{stack.repo(name)}/pulls?state=open")
            assert pulls == [], name
            branches = await stack.seeder.call("GET", f"/repos/{stack.repo(name)}/branches")
            assert [b["name"] for b in branches] == ["main"], name
        await save_history(stack.client, workflow_id, "compensated")
