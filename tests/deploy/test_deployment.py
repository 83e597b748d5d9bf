"""The README's deployment steps on a fresh Temporal in mTLS mode, as an operator runs them.

A dev server without Autopilot's search attributes sits behind a TLS proxy that requires a client
certificate. The compose file's own registration job registers the attributes; a worker started
with ``autopilot worker`` and the TLS settings carries a run that ``autopilot start``, ``list``,
``status`` and ``approve`` drive. In the middle of a test run the worker gets SIGTERM: it stops
taking work, lets the test run finish, and the next worker carries the run to its pull request
without a single activity cancelled, failed, timed out or retried.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from config.settings import load_config
from config.temporal import temporal_connection
from devstack.forge.testing import RunningForge, free_port, running_forge
from devstack.model_server.testing import running_model_server
from devstack.seed import Seeder
from devstack.temporal_server import temporal_cli
from domain import names
from domain.run import IssueResult, IssueStatus
from domain.task import task_workflow_id
from tests.deploy.test_compose import registration_script
from tests.deploy.tls import SERVER_NAME, Certificates, tls_proxy
from tests.dev_server import running_dev_server
from tests.e2e.test_parallel_tasks import (
    SCENARIO,
    SLOW_ISSUE,
    SLOW_TASK,
    slow_turn_running,
    write_repo,
)
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

AUTOPILOT = str(Path(sys.executable).parent / "autopilot")
# Activity events that must never appear: a deploy cancels, fails or times out nothing.
BAD_ACTIVITY_EVENTS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
}


@pytest.fixture(scope="module")
async def fresh_server() -> AsyncIterator[str]:
    """A dev server as a new cluster is: no Autopilot search attributes yet."""
    async with running_dev_server(search_attributes=()) as env:
        yield env.client.service_client.config.target_host


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningForge]:
    with running_forge(tmp_path_factory.mktemp("forge")) as running:
        yield running


@dataclass
class Deployment:
    address: str  # the TLS endpoint
    task_queue: str
    env: dict[str, str]  # what an operator's shell holds: config paths, token, overrides
    client: Client  # the test's own view, over the same mTLS


async def run_cli(deployment: Deployment, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        AUTOPILOT,
        *args,
        env=deployment.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def start_worker(deployment: Deployment, log: Path, health_port: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [AUTOPILOT, "worker", "--health-port", str(health_port)],
            env=deployment.env,
            stdout=out,
            stderr=out,
        )


async def health(port: int) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/healthz")
    return answer.status_code, answer.json()


def temporal_yaml(address: str, certs: Certificates, task_queue: str) -> str:
    return (
        "temporal:\n"
        f"  address: '{address}'\n"
        f"  task_queue: {task_queue}\n"
        f"  server_ca_cert: {certs.ca}\n"
        f"  client_cert: {certs.client_cert}\n"
        f"  client_key: {certs.client_key}\n"
        f"  server_name: {SERVER_NAME}\n"
        "  graceful_shutdown_seconds: 120\n"
    )


async def register_search_attributes(address: str, certs: Certificates) -> None:
    """The compose file's temporal-register job, verbatim, with Temporal's TLS variables."""
    script, compose_env = registration_script()
    env = {
        **compose_env,
        "PATH": f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()


@pytest.fixture
async def deployment(
    fresh_server: str, certs: Certificates, forge: RunningForge, tmp_path: Path
) -> AsyncIterator[Deployment]:
    async with tls_proxy(fresh_server, certs, mtls=True) as address:
        await register_search_attributes(address, certs)
        config = tmp_path / "autopilot.yaml"
        task_queue = f"deploy-{uuid.uuid4().hex[:8]}"
        config.write_text(temporal_yaml(address, certs, task_queue))
        repositories = tmp_path / "repositories.yaml"
        repositories.write_text(
            f"repositories:\n  - name: calc\n    repo: {forge.admin}/calc\n"
            "    test_command: python -m pytest -q -p no:cacheprovider\n"
        )
        with running_model_server(SCENARIO) as model_url:
            env = {
                "PATH": os.environ["PATH"],
                "HOME": str(tmp_path),
                "AUTOPILOT_CONFIG": str(config),
                "AUTOPILOT_REPOSITORIES": str(repositories),
                "AUTOPILOT_FORGE_TOKEN": forge.token,
                "AUTOPILOT__FORGE__URL": forge.base_url,
                "AUTOPILOT__MODEL__BASE_URL": model_url,
                "AUTOPILOT__WORKSPACE__ROOT": str(tmp_path / "workspaces"),
                "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(tmp_path / "environments"),
                "AUTOPILOT__LOGGING__JSON_FORMAT": "false",
            }
            client = await temporal_connection(load_config(env=env)).connect()
            yield Deployment(address, task_queue, env, client)


async def activity_events(
    client: Client, workflow_id: str
) -> list[tuple[EventType.ValueType, int]]:
    """(event type, attempt) of every activity event of a run and its task children."""
    handles: list[WorkflowHandle[Any, Any]] = [client.get_workflow_handle(workflow_id)]
    async for event in handles[0].fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            child = event.child_workflow_execution_started_event_attributes.workflow_execution
            handles.append(client.get_workflow_handle(child.workflow_id))
    found = []
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                found.append(
                    (event.event_type, event.activity_task_started_event_attributes.attempt)
                )
            elif event.event_type in BAD_ACTIVITY_EVENTS:
                found.append((event.event_type, 0))
    return found


async def completed_attempt(client: Client, workflow_id: str, activity_id: str) -> int | None:
    """The attempt that completed the slow task's activity ``activity_id``; None if none did."""
    child = client.get_workflow_handle(task_workflow_id(workflow_id, SLOW_TASK))
    scheduled, attempts = None, {}
    async for event in child.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_id == activity_id:
                scheduled = event.event_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            attempts[started.scheduled_event_id] = started.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes.scheduled_event_id
            if done == scheduled:
                return attempts[done]
    return None


async def seed_issue(forge: RunningForge, tmp_path: Path) -> tuple[int, list[str]]:
    """The calculator repository and an issue asking for a slow test run; the CLI's arguments."""
    seeder = Seeder(forge.base_url, forge.token)
    await seeder.create_repo("calc", write_repo(tmp_path / "seed"))
    issue_md = tmp_path / "issue.md"
    issue_md.write_text(f"# Add sub and mul\n\n{SLOW_ISSUE}\n")
    number = (await seeder.open_issue(forge.admin, "calc", issue_md))["number"]
    await seeder.aclose()
    return number, ["--repo", f"{forge.admin}/calc", "--issue", str(number)]


async def check_waiting_at_approval(
    deployment: Deployment, issue: list[str], workflow_id: str, health_port: int
) -> None:
    """What an operator sees of a run waiting at the gate: health, status, list."""
    assert await health(health_port) == (
        200,
        {
            "status": "serving",
            "task_queue": deployment.task_queue,
            "temporal": f"{deployment.address} (namespace default, mTLS)",
        },
    )
    code, out, err = await run_cli(deployment, "status", *issue)
    assert code == 0, err
    assert "stage     approval" in out and "waiting   for approval" in out, out

    async def listed() -> list[dict[str, Any]]:
        code, out, err = await run_cli(
            deployment, "list", "--repo", issue[1], "--stage", "approval", "--json"
        )
        assert code == 0, err
        return list(json.loads(out))

    runs = await eventually(listed, bool, timeout=30, interval=0.5, what="the run listed")
    assert [(r["workflow_id"], r["issue"], r["outcome"]) for r in runs] == [
        (workflow_id, int(issue[3]), "running")
    ]


async def test_deploy_with_mtls_and_a_worker_stopped_mid_test_run(
    deployment: Deployment, forge: RunningForge, tmp_path: Path
) -> None:
    number, issue = await seed_issue(forge, tmp_path)
    log = tmp_path / "worker.log"
    first_port, second_port = free_port(), free_port()
    first = start_worker(deployment, log, first_port)
    second: subprocess.Popen[bytes] | None = None
    try:
        code, out, err = await run_cli(deployment, "start", *issue, "--json")
        assert code == 0, err
        workflow_id = json.loads(out)["workflow_id"]
        handle = deployment.client.get_workflow_handle(workflow_id, result_type=IssueResult)
        await eventually(
            lambda: handle.query("status", result_type=IssueStatus),
            lambda status: status.waiting_for == "approval",
            timeout=60,
            interval=0.2,
            what=lambda: "the plan waiting for approval; worker log:\n" + log.read_text()[-3000:],
        )
        await check_waiting_at_approval(deployment, issue, workflow_id, first_port)
        code, out, err = await run_cli(deployment, "approve", *issue, "--as", "ops")
        assert code == 0, err

        # Inside the slow turn: `sleep 5; python -m pytest -q` is running on the first worker.
        slow = await eventually(
            lambda: slow_turn_running(deployment.client, workflow_id),
            lambda scheduled: scheduled is not None,
            timeout=60,
            interval=0.1,
            what=lambda: "the slow test run; worker log:\n" + log.read_text()[-3000:],
        )
        assert slow is not None
        first.send_signal(signal.SIGTERM)
        second = start_worker(deployment, log, second_port)
        await asyncio.sleep(0.5)
        code, body = await health(first_port)
        assert (code, body["status"]) == (200, "draining")  # finishing, not killed
        assert await asyncio.to_thread(first.wait, 60) == 0

        result = await asyncio.wait_for(handle.result(), 120)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                await asyncio.to_thread(worker.wait, 60)
    assert result.outcome == "pr_opened", result.status.error
    worker_log = log.read_text()
    assert worker_log.count("worker started") == 2 and "worker stopping" in worker_log

    # The test run the SIGTERM landed in completed at its first attempt (on the first worker:
    # the second one never ran it), and nothing anywhere was cancelled, failed or retried.
    assert slow.activity_type == names.RUN_TOOLS
    assert await completed_attempt(deployment.client, workflow_id, slow.activity_id) == 1
    events = await activity_events(deployment.client, workflow_id)
    assert [e for e in events if e[0] in BAD_ACTIVITY_EVENTS] == []
    assert {attempt for _, attempt in events} == {1}, "an activity was retried"

    code, out, err = await run_cli(deployment, "status", *issue, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert (status["issue"], status["stage"], status["outcome"], status["pr_url"]) == (
        number,
        "done",
        "pr_opened",
        result.pr_url,
    )
