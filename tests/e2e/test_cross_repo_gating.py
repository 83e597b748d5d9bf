"""The cross-repository gate checks every sibling before the first merge: a set whose PRs are
all approved and green but one of which no longer merges cleanly merges nothing and is held."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack.forge.testing import RunningForge, push_files
from devstack.model_server.testing import running_model_server
from domain.cross_repo import CrossRepoDecision
from tests.e2e.histories import save_history
from tests.e2e.test_cross_repo import (
    REPOS,
    SCENARIO,
    approve,
    make_stack,
    start,
    typed_handle,
    wait_for,
)
from workflows.cross_repo import CrossRepoWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with running_model_server(SCENARIO) as url:
        yield url


async def test_a_set_with_one_unmergeable_sibling_merges_nothing(
    temporal: WorkflowEnvironment, forge: RunningForge, model_url: str, tmp_path: Path
) -> None:
    async with make_stack(temporal, forge, model_url, tmp_path, "hold") as stack:
        workflow_id = await start(stack)
        status = await wait_for(
            stack, workflow_id, lambda s: all(r.pr_number for r in s.repos.values()), 60
        )
        # Somebody changes the same line on the main of the repository that merges last: its
        # PR no longer merges, and the two merged before it would be a half-change.
        owner, name = stack.repo("infrastructure").split("/")
        push_files(
            forge, owner, name, "main", {"infra/money.py": 'CURRENCY = "GBP"\n'}, base="main"
        )
        for repo in REPOS:
            await approve(stack, repo, status.repos[repo].pr_number or 0)
        handle = typed_handle(stack, workflow_id)
        await handle.signal(CrossRepoWorkflow.pr_approved)
        held = await wait_for(stack, workflow_id, lambda s: s.phase == "held", 60)
        assert "nothing was merged" in (held.failure or ""), held.failure
        assert held.order[-1] == "infrastructure"
        assert "not mergeable" in (held.repos["infrastructure"].error or "")
        assert held.partial_merge == []
        for repo in REPOS:
            pull = await stack.seeder.call(
                "GET", f"/repos/{stack.repo(repo)}/pulls/{status.repos[repo].pr_number}"
            )
            assert not pull["merged"] and pull["state"] == "open", repo
        await handle.signal(CrossRepoWorkflow.abandon, CrossRepoDecision(by="alice"))
        assert (await handle.result()).outcome == "abandoned"
        await save_history(stack.client, workflow_id, "unmergeable_sibling_held")
