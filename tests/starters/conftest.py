"""A real Temporal dev server with a stub issue workflow, and the local forge.

The starters' rules about finished runs are Temporal's ID reuse and conflict policies, so
they are checked against the real server; the stub stands in for the run itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import AutopilotConfig, load_config
from devstack.forge.testing import RunningForge, running_forge
from domain.issue import IssueRef
from starters.common import issue_ref
from tests.dev_server import running_dev_server
from tests.starters.stub import StubIssueWorkflow


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


@pytest.fixture(scope="session")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(tmp_path_factory.mktemp("forge")) as running:
        yield running


@dataclass
class Stack:
    client: Client
    config: AutopilotConfig
    env: dict[str, str]  # what a starter process gets
    forge: RunningForge
    issue: IssueRef  # a fresh issue in a fresh repository

    def new_issue(self, title: str = "another") -> IssueRef:
        repo = self.issue.repo
        made = self.forge.api("POST", f"/repos/{repo.owner}/{repo.name}/issues", {"title": title})
        return issue_ref(self.config, repo.full_name, int(made["number"]))


@pytest.fixture
async def stack(
    temporal: WorkflowEnvironment, forge: RunningForge, tmp_path: Path
) -> AsyncIterator[Stack]:
    name = f"starters-{uuid.uuid4().hex[:8]}"
    forge.api("POST", "/user/repos", {"name": name})
    number = forge.api("POST", f"/repos/{forge.admin}/{name}/issues", {"title": "an issue"})
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text(f"repositories:\n  - name: s\n    repo: {forge.admin}/{name}\n")
    host, _, port = temporal.client.service_client.config.target_host.rpartition(":")
    env = {
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__FORGE__URL": forge.base_url,
        "AUTOPILOT__TEMPORAL__ADDRESS": f"{host}:{port}",
    }
    config = load_config(env=env)
    issue = issue_ref(config, f"{forge.admin}/{name}", int(number["number"]))
    queue = config.temporal.task_queue
    async with Worker(temporal.client, task_queue=queue, workflows=[StubIssueWorkflow]):
        yield Stack(temporal.client, config, env, forge, issue)
