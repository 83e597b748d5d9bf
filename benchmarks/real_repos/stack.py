"""The embedded stack the benchmark runs on, started the way ``tests/e2e/conftest.py`` does.

The real Temporal dev server (in memory, with Autopilot's search attributes), the local
Gitea-compatible forge, the replay model server in gold-patch mode over the chosen cases
(``--cases DIR --repo UPSTREAM``), and one worker with every workflow and activity, configured
from files and environment variables as an operator would: ``repositories.yaml`` declares one
repository per case, with the case's ``test_command`` and a ``setup_command`` that builds a
virtualenv at ``/autopilot/env``, installs the case's ``install`` pins and runs its
``setup_commands`` with that venv's interpreter; ``run.auto_approve`` skips the plan gate.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from benchmarks.real_repos.sources import Case
from config.settings import AutopilotConfig, load_config
from devstack.forge.testing import RunningForge, free_port, running_forge
from devstack.model_server.testing import running_model_server
from devstack.seed import Seeder
from devstack.temporal_server import temporal_cli
from domain.names import SEARCH_ATTRIBUTES
from domain.sandbox import SANDBOX_ENVIRONMENT
from workers.main import running_worker

SETUP_TIMEOUT_SECONDS = 900
TEST_TIMEOUT_SECONDS = 600
_VENV_TOOLS = {"python": "bin/python", "python3": "bin/python", "pip": "bin/pip", "pip3": "bin/pip"}

# Where a run's own test command must differ from the case's (see the file's ``_why``).
RUN_TEST_COMMANDS: dict[str, str] = json.loads(
    (Path(__file__).with_name("run_test_commands.json")).read_text()
)


@dataclass
class Stack:
    client: Client
    config: AutopilotConfig
    forge: RunningForge
    seeder: Seeder
    owner: str

    def repo_of(self, case: Case) -> str:
        """The forge's ``owner/name`` that holds the case (one repository per case)."""
        return f"{self.owner}/{case.id}"


def venv_command(command: str) -> str:
    """A setup command with a leading ``python``/``pip`` made the environment's own."""
    argv = shlex.split(command)
    tool = _VENV_TOOLS.get(argv[0]) if argv else None
    if tool is not None:
        argv[0] = f"{SANDBOX_ENVIRONMENT}/{tool}"
    return shlex.join(argv)


def setup_commands(case: Case) -> list[str]:
    python = f"{SANDBOX_ENVIRONMENT}/bin/python"
    commands = [f"python3 -m venv {SANDBOX_ENVIRONMENT}"]
    if case.data["install"]:
        commands.append(shlex.join([python, "-m", "pip", "install", *case.data["install"]]))
    commands += [venv_command(c) for c in case.data["setup_commands"]]
    return commands


def repositories_yaml(cases: list[Case], owner: str) -> str:
    entries = [
        {
            "name": case.id,
            "repo": f"{owner}/{case.id}",
            "test_command": RUN_TEST_COMMANDS.get(case.id, case.data["test_command"]),
            "test_timeout_seconds": TEST_TIMEOUT_SECONDS,
            "setup_command": setup_commands(case),
            "setup_timeout_seconds": SETUP_TIMEOUT_SECONDS,
        }
        for case in cases
    ]
    return yaml.safe_dump({"repositories": entries}, sort_keys=False, width=1000)


def worker_env(
    work: Path, temporal: WorkflowEnvironment, forge: RunningForge, model_url: str
) -> dict[str, str]:
    host, _, port = temporal.client.service_client.config.target_host.rpartition(":")
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work / "home"),
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(work / "repositories.yaml"),
        "AUTOPILOT__TEMPORAL__ADDRESS": f"{host}:{port}",
        "AUTOPILOT__FORGE__URL": forge.base_url,
        "AUTOPILOT__MODEL__BASE_URL": model_url,
        "AUTOPILOT__WORKSPACE__ROOT": str(work / "workspaces"),
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(work / "environments"),
        "AUTOPILOT__RUN__AUTO_APPROVE": "true",
    }


@contextlib.asynccontextmanager
async def running_stack(
    cases: list[Case], cases_dir: Path, upstream: Path, work: Path
) -> AsyncIterator[Stack]:
    """Temporal, forge, gold-patch model and a worker, for as long as the block runs."""
    (work / "home").mkdir(parents=True, exist_ok=True)
    temporal = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=temporal_cli(),
        port=free_port(),
        ui=False,
        dev_server_log_level="error",
    )
    try:
        with (
            running_forge(work / "forge") as forge,
            running_model_server(cases=cases_dir, repo=upstream, ready_timeout=120) as model_url,
        ):
            (work / "repositories.yaml").write_text(repositories_yaml(cases, forge.admin))
            config = load_config(env=worker_env(work, temporal, forge, model_url))
            seeder = Seeder(forge.base_url, forge.token)
            try:
                async with running_worker(config, temporal.client):
                    yield Stack(temporal.client, config, forge, seeder, forge.admin)
            finally:
                await seeder.aclose()
    finally:
        await temporal.shutdown()
