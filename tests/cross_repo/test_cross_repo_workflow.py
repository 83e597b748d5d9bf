"""CrossRepoWorkflow on the time-skipping server: ordering, the gate, compensation and hold."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.cross_repo import (
    CrossRepoDecision,
    CrossRepoInput,
    CrossRepoResult,
    CrossRepoStatus,
    CrossRepoTarget,
)
from domain.issue import IssueRef, RepoRef
from tests.cross_repo.fakes import ChildScript, FakeForge, FakeIssueWorkflow
from tests.dev_server import running_dev_server
from tests.polling import eventually
from workflows.cross_repo import CrossRepoWorkflow
from workflows.runner import WORKFLOW_RUNNER

FORGE = "http://forge.test"
BACKEND, FRONTEND, INFRA = "acme/backend", "acme/frontend", "acme/infrastructure"


def target(name: str, full: str, depends_on: list[str]) -> CrossRepoTarget:
    owner, repo = full.split("/")
    ref = RepoRef(forge_url=FORGE, owner=owner, name=repo)
    return CrossRepoTarget(name=name, repo=ref, depends_on=depends_on)


def cross_input(**overrides: object) -> CrossRepoInput:
    trigger = IssueRef(repo=RepoRef(forge_url=FORGE, owner="acme", name="backend"), number=1)
    return CrossRepoInput.model_validate(
        {
            "workflow_name": "currency",
            "trigger": trigger,
            # Configured out of order on purpose: the merge order comes from the dependencies.
            "targets": [
                target("infrastructure", INFRA, ["backend", "frontend"]),
                target("frontend", FRONTEND, ["backend"]),
                target("backend", BACKEND, []),
            ],
            **overrides,
        }
    )


@dataclass
class Run:
    env: WorkflowEnvironment
    forge: FakeForge
    handle: WorkflowHandle[CrossRepoWorkflow, CrossRepoResult]

    async def status(self) -> CrossRepoStatus:
        return await self.handle.query(CrossRepoWorkflow.status)

    async def until(
        self, check: Callable[[CrossRepoStatus], bool], seconds: float = 30
    ) -> CrossRepoStatus:
        return await eventually(
            self.status, check, timeout=seconds, what=f"a status of {self.handle.id}"
        )

    async def approve(self, *repos: str) -> None:
        self.forge.approved |= set(repos)
        await self.handle.signal(CrossRepoWorkflow.pr_approved)


@asynccontextmanager
async def starting(
    env: WorkflowEnvironment,
) -> AsyncIterator[Callable[[CrossRepoInput, FakeForge], object]]:
    workers: list[Worker] = []
    queue = f"cross-{uuid.uuid4()}"

    async def starter(input: CrossRepoInput, forge: FakeForge) -> Run:
        worker = Worker(
            env.client,
            task_queue=queue,
            workflows=[CrossRepoWorkflow, FakeIssueWorkflow],
            activities=forge.activities(),
            workflow_runner=WORKFLOW_RUNNER,
        )
        workers.append(worker)
        asyncio.get_running_loop().create_task(worker.run())
        handle = await env.client.start_workflow(
            CrossRepoWorkflow.run, input, id=f"cross-{uuid.uuid4()}", task_queue=queue
        )
        return Run(env, forge, handle)

    yield starter
    for worker in workers:
        await worker.shutdown()


@pytest.fixture
async def start(
    time_skipping_env: WorkflowEnvironment,
) -> AsyncIterator[Callable[[CrossRepoInput, FakeForge], object]]:
    async with starting(time_skipping_env) as starter:
        yield starter


@pytest.fixture
async def start_on_dev_server() -> AsyncIterator[Callable[[CrossRepoInput, FakeForge], object]]:
    """For cancelling a set: the time-skipping server answers a cancelled activity that has not
    started yet with ACTIVITY_UNKNOWN and, when the run waits for that activity, wedges."""
    async with running_dev_server() as env, starting(env) as starter:
        yield starter


def scripts(**by_repo: ChildScript) -> dict[str, ChildScript]:
    base = {BACKEND: ChildScript(pr_number=1), FRONTEND: ChildScript(pr_number=2)}
    return {**base, INFRA: ChildScript(pr_number=3), **by_repo}


async def test_sequential_waits_for_approved_green_then_merges_in_dependency_order(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts())
    run: Run = await start(cross_input(coordination="sequential"), forge)  # type: ignore[misc]

    await run.until(lambda s: s.repos["backend"].stage == "pr_open")
    assert forge.started == [BACKEND]
    assert (await run.status()).repos["frontend"].stage == "waiting"

    await run.approve(BACKEND)
    await run.until(lambda s: s.repos["frontend"].stage == "pr_open")
    assert forge.started == [BACKEND, FRONTEND]  # infrastructure also waits for frontend

    await run.approve(FRONTEND)
    await run.until(lambda s: s.repos["infrastructure"].stage == "pr_open")
    assert forge.merged == []  # the gate: nothing merges before every PR is approved

    await run.approve(INFRA)
    result = await run.handle.result()
    assert result.outcome == "merged"
    assert forge.merged == [BACKEND, FRONTEND, INFRA]
    assert forge.merges_before_all_approved == 0
    assert "Depends-On: acme/backend#1" in forge.sections[FRONTEND]
    assert "Depends-On: acme/frontend#2" in forge.sections[INFRA]
    assert result.status.order == ["backend", "frontend", "infrastructure"]


async def test_parallel_starts_all_but_merges_in_dependency_order(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts())
    run: Run = await start(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.until(lambda s: all(r.stage == "pr_open" for r in s.repos.values()))
    assert sorted(forge.started) == sorted([BACKEND, FRONTEND, INFRA])

    await run.approve(INFRA, FRONTEND)
    await run.until(lambda s: s.repos["frontend"].verdict == "approved")
    assert forge.merged == []
    await run.approve(BACKEND)
    result = await run.handle.result()
    assert result.outcome == "merged"
    assert forge.merged == [BACKEND, FRONTEND, INFRA]


async def test_a_failed_child_stops_the_others_and_compensates(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(
        scripts=scripts(
            **{FRONTEND: ChildScript(outcome="failed"), INFRA: ChildScript(outcome="slow")}
        )
    )
    input = cross_input(coordination="parallel", on_failure="compensate")
    run: Run = await start(input, forge)  # type: ignore[misc]
    result = await run.handle.result()

    assert result.outcome == "compensated"
    assert forge.merged == []
    assert forge.closed == [BACKEND]  # the only PR that was opened
    status = result.status
    assert status.repos["frontend"].stage == "closed" and "failed" in (status.failure or "")
    assert status.repos["infrastructure"].stage == "closed"  # cancelled, then cleaned up
    # Where no PR number was reported, a PR the run may have opened is looked for by branch.
    assert sorted(forge.searched_for_pulls) == sorted([FRONTEND, INFRA])
    assert sorted(forge.deleted_branches) == sorted(
        f"{repo}:autopilot/issue-{n}"
        for repo, n in (
            (BACKEND, 1),
            (FRONTEND, forge.linked[FRONTEND]),
            (INFRA, forge.linked[INFRA]),
        )
    )


async def test_hold_on_needs_human_past_grace_then_compensate_on_signal(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(**{FRONTEND: ChildScript(outcome="needs_human")}))
    input = cross_input(coordination="sequential", needs_human_grace_seconds=600)
    run: Run = await start(input, forge)  # type: ignore[misc]
    await run.until(lambda s: s.repos["backend"].stage == "pr_open")
    await run.approve(BACKEND)
    await run.until(lambda s: s.repos["frontend"].stage == "running")
    await run.env.sleep(700)  # past the grace: the set fails and is held
    await run.until(lambda s: s.phase == "held")
    status = await run.status()
    assert status.waiting_for == "decision" and "human" in (status.failure or "")
    assert forge.closed == [] and forge.merged == []
    assert "compensate" in forge.comments[f"{BACKEND}:cross-repo:summary"]

    await run.handle.signal(CrossRepoWorkflow.compensate, CrossRepoDecision(by="alice"))
    result = await run.handle.result()
    assert result.outcome == "compensated"
    assert forge.closed == [BACKEND]
    assert result.status.repos["frontend"].stage == "closed"


async def test_a_refused_merge_is_reported_as_partial_and_reverted(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), refuse_merge={FRONTEND})
    forge.approved = {BACKEND, FRONTEND, INFRA}
    input = cross_input(coordination="parallel", on_failure="compensate")
    run: Run = await start(input, forge)  # type: ignore[misc]
    result = await run.handle.result()

    assert result.outcome == "compensated"
    assert forge.merged == [BACKEND]
    assert result.status.partial_merge == [BACKEND]
    assert forge.reverted == [BACKEND]
    assert forge.revert_pulls == [f"{BACKEND}:autopilot/revert-1"]
    assert sorted(forge.closed) == sorted([FRONTEND, INFRA])
    assert result.status.repos["backend"].stage == "reverted"


async def test_changes_requested_holds_and_abandon_leaves_everything(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), changes_requested={FRONTEND})
    run: Run = await start(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.until(lambda s: s.phase == "held")
    assert "changes requested by dave" in ((await run.status()).failure or "")
    await run.handle.signal(CrossRepoWorkflow.abandon, CrossRepoDecision(by="alice"))
    result = await run.handle.result()
    assert result.outcome == "abandoned"
    assert forge.closed == [] and forge.merged == [] and forge.deleted_branches == []


async def test_hold_then_retry_runs_the_failed_repository_again(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(**{FRONTEND: ChildScript(outcome="needs_human")}))
    input = cross_input(coordination="sequential", needs_human_grace_seconds=600)
    run: Run = await start(input, forge)  # type: ignore[misc]
    await run.until(lambda s: s.repos["backend"].stage == "pr_open")
    await run.approve(BACKEND)
    await run.until(lambda s: s.repos["frontend"].stage == "running")
    await run.env.sleep(700)
    await run.until(lambda s: s.phase == "held")
    assert (await run.status()).repos["frontend"].stage == "failed"

    forge.scripts[FRONTEND] = ChildScript(pr_number=2)  # the person fixed what the run needed
    await run.handle.signal(CrossRepoWorkflow.retry, CrossRepoDecision(by="alice"))
    await run.until(lambda s: s.repos["frontend"].stage == "pr_open")
    assert (await run.status()).failure is None
    await run.approve(FRONTEND, INFRA)
    result = await run.handle.result()
    assert result.outcome == "merged"
    assert forge.started == [BACKEND, FRONTEND, FRONTEND, INFRA]
    assert forge.merged == [BACKEND, FRONTEND, INFRA]
