"""The cross-repository gate before and after merging: pending is never green, every sibling
is checked before the first merge, compensation merges its reverts (or holds saying which main
still carries the change), and a cancelled set says so on the forge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowFailureError

from domain import names
from domain.cross_repo import CrossRepoDecision
from domain.merge import MergePolicy
from tests.cross_repo.fakes import FakeForge
from tests.cross_repo.test_cross_repo_workflow import (
    BACKEND,
    FRONTEND,
    INFRA,
    Run,
    cross_input,
    scripts,
    start,
    start_on_dev_server,
)
from tests.polling import eventually
from workflows.cross_repo import CrossRepoWorkflow

__all__ = ["start", "start_on_dev_server"]  # fixtures shared with the other CrossRepoWorkflow tests

ALL = {BACKEND, FRONTEND, INFRA}
SUMMARY = f"{BACKEND}:cross-repo:summary"
VERDICT_READ_SECONDS = 30


async def summary_says(forge: FakeForge, text: str) -> str:
    """The summary comment once it says ``text`` (the status query can be a write ahead)."""

    async def read() -> str:
        return forge.comments.get(SUMMARY, "")

    return await eventually(read, lambda body: text in body, what=f"a summary saying {text!r}")


async def test_a_pending_status_is_not_green_until_it_succeeds(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), statuses={INFRA: {"ci": "pending"}})
    run: Run = await start(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.approve(*ALL)
    status = await run.until(lambda s: s.repos["backend"].stage == "ready")
    assert status.repos["infrastructure"].green is False and forge.merged == []
    forge.statuses[INFRA] = {"ci": "success"}
    await run.handle.signal(CrossRepoWorkflow.pr_approved)
    result = await run.handle.result()
    assert result.outcome == "merged" and forge.merged == [BACKEND, FRONTEND, INFRA]
    # Each merged PR's work branch is deleted.
    assert [b.split(":")[0] for b in forge.deleted_branches] == [BACKEND, FRONTEND, INFRA]
    assert all(":autopilot/issue-" in b for b in forge.deleted_branches)


async def test_an_unmergeable_sibling_merges_nothing_and_holds(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), unmergeable={INFRA})
    forge.approved = set(ALL)
    run: Run = await start(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    held = await run.until(lambda s: s.phase == "held")
    assert forge.merged == [] and held.partial_merge == []
    assert "nothing was merged" in (held.failure or "")
    assert "not mergeable" in (held.repos["infrastructure"].error or "")
    await summary_says(forge, "nothing was merged")
    # The PR tables were rewritten when the set was held: infrastructure is no longer ready.
    for section in forge.sections.values():
        (row,) = [line for line in section.splitlines() if line.startswith(f"| {INFRA} |")]
        assert "| pr_open |" in row, row
    await run.handle.signal(CrossRepoWorkflow.abandon, CrossRepoDecision(by="alice"))
    assert (await run.handle.result()).outcome == "abandoned"


async def test_compensation_merges_its_revert_and_clears_the_linked_labels(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), refuse_merge={FRONTEND})
    forge.approved = set(ALL)
    input = cross_input(coordination="parallel", on_failure="compensate")
    run: Run = await start(input, forge)  # type: ignore[misc]
    result = await run.handle.result()
    assert result.outcome == "compensated"
    assert forge.revert_merges == [BACKEND] and result.status.repos["backend"].revert_merged
    for removed in forge.labels_removed.values():
        assert names.LABEL_PR_OPEN in removed
    assert len(forge.labels_removed) == 3  # every linked issue
    assert "Still on main" not in forge.comments[SUMMARY]


async def test_a_revert_the_forge_refuses_holds_the_set_naming_the_main(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), refuse_merge={FRONTEND}, refuse_revert={BACKEND})
    forge.approved = set(ALL)
    input = cross_input(coordination="parallel", on_failure="compensate")
    run: Run = await start(input, forge)  # type: ignore[misc]
    held = await run.until(lambda s: s.phase == "held")
    assert "compensation is incomplete" in (held.failure or "")
    await summary_says(forge, f"{BACKEND}: main still carries #1 (merge mmmmmmmmmm)")
    # A person merged it by hand (or allowed it): compensate again finishes the job.
    forge.refuse_revert.clear()
    await run.handle.signal(CrossRepoWorkflow.compensate, CrossRepoDecision(by="alice"))
    result = await run.handle.result()
    assert result.outcome == "compensated" and forge.revert_merges == [BACKEND]
    assert forge.reverted == [BACKEND, BACKEND]  # found again, never a second revert PR


async def test_a_cancelled_set_says_so_in_its_summary(
    start_on_dev_server: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts())
    run: Run = await start_on_dev_server(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.until(lambda s: all(r.pr_number for r in s.repos.values()))
    await run.handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await run.handle.result()
    assert forge.comments[SUMMARY].splitlines()[0].endswith(": done (cancelled)")


async def test_a_set_cancelled_while_it_reads_a_verdict_says_so_in_its_summary(
    start_on_dev_server: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts())
    run: Run = await start_on_dev_server(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.until(lambda s: all(r.pr_number for r in s.repos.values()))
    forge.verdicts_wait = asyncio.Event()  # the next verdict read is in flight, and stays
    forge.verdict_asked.clear()
    await run.handle.signal(CrossRepoWorkflow.pr_approved)  # the set reads the verdicts again
    await asyncio.wait_for(forge.verdict_asked.wait(), VERDICT_READ_SECONDS)
    await run.handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await run.handle.result()
    forge.verdicts_wait.set()
    assert forge.comments[SUMMARY].splitlines()[0].endswith(": done (cancelled)")


async def test_retry_after_changes_requested_plans_with_the_review_and_waits_for_its_author(
    start: Callable[..., object],
) -> None:
    forge = FakeForge(scripts=scripts(), changes_requested={FRONTEND})
    forge.approved = set(ALL)
    run: Run = await start(cross_input(coordination="parallel"), forge)  # type: ignore[misc]
    await run.until(lambda s: s.phase == "held")
    assert forge.planned_for[FRONTEND] == []
    forge.stale_requests.add(FRONTEND)  # the retried run will push its answer
    await run.handle.signal(CrossRepoWorkflow.retry, CrossRepoDecision(by="alice"))
    # The frontend's next run plans with the review; the old request no longer fails the set.
    status = await run.until(lambda s: s.repos["frontend"].stage == "pr_open", seconds=30)
    (said,) = forge.planned_for[FRONTEND]
    assert "dave requested changes" in said and "name it amount" in said
    assert status.phase == "running" and forge.merged == []
    forge.changes_requested.clear()  # dave approves the answer
    await run.handle.signal(CrossRepoWorkflow.pr_approved)
    assert (await run.handle.result()).outcome == "merged"


async def test_a_child_never_merges_or_watches_its_own_pr(start: Callable[..., object]) -> None:
    input = cross_input(coordination="parallel")
    for target in input.targets:
        target.repo_settings.merge = MergePolicy(mode="when-approved")
        target.settings.max_review_iterations = 3
    forge = FakeForge(scripts=scripts())
    forge.approved = set(ALL)
    run: Run = await start(input, forge)  # type: ignore[misc]
    assert (await run.handle.result()).outcome == "merged"
    assert forge.child_inputs and all(
        i.repo_settings.merge.mode == "never" and i.settings.max_review_iterations == 0
        for i in forge.child_inputs
    )
