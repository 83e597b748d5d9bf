"""One faulted run: its proxies, its worker (killed on cue), the run, and how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from config.settings import load_config
from devstack.faults import Fault, FaultPlan
from devstack.faults.proxy import Route
from domain import names
from domain.run import IssueStatus
from domain.task import CancelRequest
from starters.common import issue_ref, start_issue_run
from tests.faults.conftest import DEMO, Suite
from tests.faults.evidence import Evidence, collect
from tests.faults.runs import FORGE_TIMEOUT, MODEL_TIMEOUT, Kill, RunSpec

PROJECT = Path(__file__).resolve().parents[2]
RUN_DEADLINE = 300.0  # seconds a run may take to open its PR or end, faults and kills included
CANCEL_DEADLINE = 60.0


@dataclass
class Watched:
    """The run as Temporal shows it when the watch stopped."""

    status: str  # WorkflowExecutionStatus name
    outcome: str | None  # the Outcome search attribute
    waiting_for: str | None = None
    stage: str | None = None
    error: str | None = None
    timed_out: bool = False  # still running at the deadline, waiting for nobody
    pending: list[str] = field(default_factory=list)  # what it was doing then, for the report
    timings: str = ""  # seconds per stage


@dataclass
class RunRecord:
    spec: RunSpec
    repo: str
    number: int
    workflow_id: str = ""
    first: Watched | None = None  # how the run ended, or stopped to wait for a person
    after_cancel: Watched | None = None  # a run that waited for a person, once cancelled
    evidence_waiting: Evidence | None = None  # the issue while it waited for a person
    evidence: Evidence | None = None  # the forge once the run ended
    faults: list[tuple[str, Fault]] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)  # seconds into the run
    seconds: float = 0.0


def worker_env(suite: Suite, spec: RunSpec, forge_url: str, model_url: str) -> dict[str, str]:
    home = suite.root / spec.name
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONPATH": str(PROJECT),
        "AUTOPILOT_FORGE_TOKEN": suite.forge.token,
        "AUTOPILOT_REPOSITORIES": str(suite.repositories),
        "AUTOPILOT__TEMPORAL__ADDRESS": suite.address,
        "AUTOPILOT__TEMPORAL__TASK_QUEUE": f"faults-{spec.name}",
        "AUTOPILOT__FORGE__URL": forge_url,
        "AUTOPILOT__MODEL__BASE_URL": model_url,
        "AUTOPILOT__MODEL__TIMEOUT_SECONDS": str(MODEL_TIMEOUT),
        "AUTOPILOT__FORGE__TIMEOUT_SECONDS": str(FORGE_TIMEOUT),
        # One worker per run: the deployment's schedules are not what this suite tests, and
        # the repository's learning workflow lives on the queue of the run that started it.
        "AUTOPILOT__OPERATIONS__SCHEDULES": "false",
        "AUTOPILOT__RUN__LESSONS__ENABLED": "false",
        "AUTOPILOT__WORKSPACE__ROOT": str(home / "workspaces"),
        "AUTOPILOT__WORKSPACE__ENVIRONMENTS": str(suite.environments),
        "AUTOPILOT__RUN__AUTO_APPROVE": "true",
        "AUTOPILOT__LOGGING__LEVEL": "WARNING",
        **dict(spec.settings),
    }


class WorkerProcess:
    """``python -m workers`` as a deployment runs it; SIGKILLed and started again on cue."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "workers"], cwd=PROJECT, env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@contextlib.asynccontextmanager
async def run_worker(
    suite: Suite, spec: RunSpec, env: dict[str, str]
) -> AsyncIterator[WorkerProcess]:
    """A worker process of the run's own, as a deployment runs it (and as one is killed)."""
    worker = WorkerProcess(env, suite.root / spec.name / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


async def kill_on_cue(
    client: Client, record: RunRecord, worker: WorkerProcess, proxies: dict[str, Route]
) -> None:
    started = time.monotonic()
    for kill in record.spec.kills:
        await _cue(client, record.workflow_id, kill, proxies)
        await asyncio.sleep(kill.delay)
        worker.kill()
        record.kills.append(round(time.monotonic() - started, 1))
        await asyncio.sleep(1.0)
        worker.start()


async def _cue(client: Client, workflow_id: str, kill: Kill, proxies: dict[str, Route]) -> None:
    while True:
        if kill.on == "stage":
            status = await _status(client, workflow_id)
            if status is not None and status.stage == kill.what:
                return
        elif proxies[kill.on].count(kill.what, kill.methods) >= kill.nth:
            return
        await asyncio.sleep(0.1)


async def watch(client: Client, workflow_id: str, deadline: float) -> Watched:
    """Poll until the run ends, waits for a person (``resume``) or the deadline passes."""
    handle = client.get_workflow_handle(workflow_id)
    limit = time.monotonic() + deadline
    while True:
        described = await handle.describe()
        outcome = described.typed_search_attributes.get(names.SA_OUTCOME)
        status = await _status(client, workflow_id)
        watched = Watched(
            described.status.name if described.status else "UNKNOWN",
            outcome,
            status.waiting_for if status else None,
            status.stage if status else None,
            status.error if status else None,
            timings=_timings(status),
        )
        if described.status != WorkflowExecutionStatus.RUNNING:
            if described.status == WorkflowExecutionStatus.FAILED:
                watched.error = await _failure(client, workflow_id)
            return watched
        if watched.waiting_for == "resume":
            return watched
        if time.monotonic() > limit:
            watched.timed_out = True
            watched.pending = await pending_work(client, workflow_id)
            return watched
        await asyncio.sleep(0.5)


async def _failure(client: Client, workflow_id: str) -> str:
    """Why the workflow failed: its failure and the causes below it."""
    try:
        await client.get_workflow_handle(workflow_id).result()
    except WorkflowFailureError as failed:
        parts: list[str] = []
        cause: BaseException | None = failed.cause
        while cause is not None:
            parts.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__
        return " <- ".join(parts)
    return ""


async def pending_work(client: Client, workflow_id: str, depth: int = 0) -> list[str]:
    """Pending activities (attempt, last failure) and children of a run, children's too."""
    described = await client.get_workflow_handle(workflow_id).describe()
    raw = described.raw_description
    lines = []
    for act in raw.pending_activities:
        failure = act.last_failure.message[:160] if act.HasField("last_failure") else ""
        lines.append(
            f"{'  ' * depth}{workflow_id.rsplit(':', 1)[-1]}: {act.activity_type.name} "
            f"attempt {act.attempt} state {act.state} {failure}"
        )
    for child in raw.pending_children:
        lines.append(f"{'  ' * depth}child {child.workflow_id}")
        if depth < 2:
            lines += await pending_work(client, child.workflow_id, depth + 1)
    return lines


def _timings(status: IssueStatus | None) -> str:
    if status is None:
        return ""
    return " ".join(f"{t.stage} {t.seconds:.0f}" for t in status.timings if t.seconds is not None)


async def _status(client: Client, workflow_id: str) -> IssueStatus | None:
    """The ``status`` query; None while no worker answers (one was just killed)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await asyncio.wait_for(handle.query("status", result_type=IssueStatus), 5)
    except (RPCError, TimeoutError, WorkflowQueryFailedError):
        return None


async def open_issue(suite: Suite) -> int:
    """The demo issue, opened again and labelled with the trigger label, as a user would."""
    owner, name = suite.repo.split("/")
    issue = await suite.seeder.open_issue(owner, name, DEMO / "issue.md")
    path = f"/repos/{suite.repo}/issues/{issue['number']}/labels"
    await suite.seeder.call("POST", path, {"labels": ["autopilot"]})
    return int(issue["number"])


async def carry_out(suite: Suite, spec: RunSpec, seed_value: int) -> RunRecord:
    """Open the issue, start its run with its worker behind its routes, and watch it end."""
    started = time.monotonic()
    record = RunRecord(spec, suite.repo, await open_issue(suite))
    routes = {
        "forge": suite.forge_proxy.route(f"run-{spec.name}", FaultPlan(spec.forge, seed_value)),
        "model": suite.model_proxy.route(f"run-{spec.name}", FaultPlan(spec.model, seed_value)),
    }
    env = worker_env(suite, spec, routes["forge"].url, routes["model"].url + "/v1")
    config = load_config(env=env)
    ref = issue_ref(config, record.repo, record.number)
    record.workflow_id = ref.workflow_id
    async with run_worker(suite, spec, env) as worker:
        killer = asyncio.create_task(kill_on_cue(suite.client, record, worker, routes))
        await start_issue_run(suite.client, config, ref)
        record.first = await watch(suite.client, ref.workflow_id, RUN_DEADLINE)
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killer  # its own errors are the harness's
        worker.ensure_running()  # a cancelled run needs a worker to end
        if record.first.waiting_for == "resume" and record.first.status == "RUNNING":
            await cancel_waiting(suite, record)
    for route in routes.values():  # late writes land before the evidence is read
        for _ in range(300):
            if not route.in_flight:
                break
            await asyncio.sleep(0.2)
    record.faults = [(name, fault) for name, route in routes.items() for fault in route.faults]
    record.evidence = await collect(suite, record.repo, record.number)
    record.seconds = round(time.monotonic() - started, 1)
    return record


async def cancel_waiting(suite: Suite, record: RunRecord) -> None:
    """A run waiting for a person: read the issue as it is, then cancel as a person would."""
    record.evidence_waiting = await collect(suite, record.repo, record.number)
    handle = suite.client.get_workflow_handle(record.workflow_id)
    await handle.signal("cancel", CancelRequest(by="fault-suite", reason="fault suite"))
    record.after_cancel = await watch(suite.client, record.workflow_id, CANCEL_DEADLINE)
