"""The real thing on loopback: Temporal dev server, local forge, offline model, git, pytest."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config.settings import AutopilotConfig, load_config
from devstack.forge.testing import RunningForge, running_forge
from devstack.model_server.testing import running_model_server
from devstack.seed import Seeder
from devstack.stack import DEMO_SCENARIO
from tests.dev_server import running_dev_server
from workers.main import running_worker

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


@pytest.fixture(scope="session")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(tmp_path_factory.mktemp("forge")) as running:
        yield running


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the whole session, never the repository's own .autopilot/."""
    return tmp_path_factory.mktemp("environments")


@pytest.fixture(scope="session")
def model_url() -> Iterator[str]:
    with running_model_server(DEMO_SCENARIO) as url:
        yield url


@dataclass
class Stack:
    client: Client
    config: AutopilotConfig
    env: dict[str, str]
    forge: RunningForge
    seeder: Seeder
    repo: str  # owner/name of this test's own repository, declared in its config


REPOSITORIES_YAML = """
repositories:
  - name: under-test
    repo: {repo}
    test_command: python -m pytest -q -p no:cacheprovider
    test_timeout_seconds: 120
"""


@pytest.fixture
async def stack(
    temporal: WorkflowEnvironment,
    forge: RunningForge,
    model_url: str,
    environments: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stack]:
    """A worker on the real stack, configured the way an operator would: files and env."""
    repo = f"{forge.admin}/{request.node.name.replace('_', '-')[:60]}"
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text(REPOSITORIES_YAML.format(repo=repo))
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
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(environments),
    }
    config = load_config(env=env)
    seeder = Seeder(forge.base_url, forge.token)
    async with running_worker(config, temporal.client):
        yield Stack(temporal.client, config, env, forge, seeder, repo)
    await seeder.aclose()
    await asyncio.sleep(0)
