"""The fault suite's stack: the real Temporal dev server, the local forge, the offline model
(the demo scenario), one environment cache, and the global budget ledger on a queue of its own.

Every run has its own worker on its own task queue (its forge and model URLs are its proxies),
so the one ``BudgetLedgerWorkflow`` every worker reserves from is started here, served by a
worker that lives as long as the session: otherwise it would live on the first run's queue and
die with that run's worker.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devstack.faults import FaultProxy, running_proxy
from devstack.forge.testing import RunningForge, running_forge
from devstack.model_server.testing import running_model_server
from devstack.seed import Seeder
from devstack.stack import DEMO_SCENARIO
from domain.budget import LedgerInput, LedgerState
from domain.names import LEDGER_WORKFLOW, LEDGER_WORKFLOW_ID
from tests.dev_server import running_dev_server
from workflows.ledger import BudgetLedgerWorkflow
from workflows.runner import WORKFLOW_RUNNER

LEDGER_QUEUE = "faults-ledger"
LEDGER_LIMIT_USD = 1000.0  # budgets are not under test here
REPORT = pytest.StashKey[list[str]]()

REPO_NAME = "fault-suite"
REPOSITORIES_YAML = """repositories:
  - name: {name}
    repo: {repo}
    test_command: python -m pytest -q -p no:cacheprovider
    test_timeout_seconds: 60
"""
DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


@dataclass
class Suite:
    client: Client
    address: str  # host:port of the dev server
    forge: RunningForge
    seeder: Seeder
    # One proxy each in front of the forge and the model; every run has a route of its own
    # (``<proxy>/run-<name>``): one forge address for all, as workers of one deployment see it.
    forge_proxy: FaultProxy
    model_proxy: FaultProxy
    repo: str  # owner/name: the demo repository, one issue per run
    repositories: Path  # repositories.yaml naming it
    environments: Path
    root: Path  # a directory per run below it


@pytest.fixture(scope="session")
async def fault_temporal() -> AsyncIterator[WorkflowEnvironment]:
    async with running_dev_server() as env:
        yield env


@pytest.fixture(scope="session")
def fault_forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(tmp_path_factory.mktemp("fault-forge")) as running:
        yield running


@pytest.fixture(scope="session")
def fault_model_url() -> Iterator[str]:
    with running_model_server(DEMO_SCENARIO) as url:
        yield url


@pytest.fixture(scope="session")
def fault_proxies(
    fault_forge: RunningForge, fault_model_url: str
) -> Iterator[tuple[FaultProxy, FaultProxy]]:
    with (
        running_proxy(fault_forge.base_url, rewrite_origin=True) as forge,
        running_proxy(fault_model_url) as model,
    ):
        yield forge, model


@pytest.fixture(scope="session")
async def fault_ledger(fault_temporal: WorkflowEnvironment) -> AsyncIterator[None]:
    client = fault_temporal.client
    async with Worker(
        client,
        task_queue=LEDGER_QUEUE,
        workflows=[BudgetLedgerWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        await client.start_workflow(
            LEDGER_WORKFLOW,
            LedgerInput(state=LedgerState(limit_usd_per_hour=LEDGER_LIMIT_USD)),
            id=LEDGER_WORKFLOW_ID,
            task_queue=LEDGER_QUEUE,
        )
        yield


@pytest.fixture(scope="session")
async def suite(
    fault_temporal: WorkflowEnvironment,
    fault_forge: RunningForge,
    fault_proxies: tuple[FaultProxy, FaultProxy],
    fault_ledger: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Suite]:
    """One demo repository for every run: runs are issues of it, at the same time, as on a
    busy repository (its test environment is then built once, not once per run)."""
    root = tmp_path_factory.mktemp("faults")
    repo = f"{fault_forge.admin}/{REPO_NAME}"
    repositories = root / "repositories.yaml"
    repositories.write_text(REPOSITORIES_YAML.format(name=REPO_NAME, repo=repo))
    host, _, port = fault_temporal.client.service_client.config.target_host.rpartition(":")
    seeder = Seeder(fault_forge.base_url, fault_forge.token)
    await seeder.create_repo(REPO_NAME, DEMO / "repo")
    trigger = {"name": "autopilot", "color": "#5319e7", "description": "Carry this issue to a PR"}
    await seeder.call("POST", f"/repos/{repo}/labels", trigger)
    yield Suite(
        fault_temporal.client,
        f"{host}:{port}",
        fault_forge,
        seeder,
        *fault_proxies,
        repo,
        repositories,
        root / "environments",
        root,
    )
    await seeder.aclose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The suite's report (fault mix, outcomes, findings), even under ``-q``."""
    lines = terminalreporter.config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("fault suite")
        for line in lines:
            terminalreporter.write_line(line)
    if os.environ.get("AUTOPILOT_FAULT_REPORT") and lines:
        Path(os.environ["AUTOPILOT_FAULT_REPORT"]).write_text("\n".join(lines) + "\n")
