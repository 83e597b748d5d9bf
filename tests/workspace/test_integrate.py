"""ensure_branch and integrate against a local bare origin: merges, idempotency, conflicts."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain.change import EditSet, FileEdit
from domain.task import EnsureBranchInput, IntegrateInput, task_branch
from domain.workspace import ApplyEditsInput, WorkspaceRef
from tests.workspace.conftest import Origin

APP = "def add(a, b):\n    return a + b\n"


def task_ws(ws: WorkspaceRef, task_id: str) -> WorkspaceRef:
    return ws.model_copy(
        update={
            "base_branch": ws.branch,
            "branch": task_branch(ws.branch, task_id),
            "key": f"{ws.key}/task/{task_id}",
        }
    )


async def commit(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, path: str, text: str
) -> None:
    edits = EditSet(
        summary="s", commit_message=f"edit {path}", edits=[FileEdit(path=path, content=text)]
    )
    await env.run(acts.apply_edits, ApplyEditsInput(workspace=ws, edits=edits, change_id=ws.key))


@pytest.fixture
async def published(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> WorkspaceRef:
    await env.run(acts.ensure_branch, EnsureBranchInput(workspace=ws))
    return ws


async def test_ensure_branch_publishes_the_issue_branch_once(
    env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef, origin: Origin
) -> None:
    assert not origin.has_branch(ws.branch)
    await env.run(acts.ensure_branch, EnsureBranchInput(workspace=ws))
    assert origin.rev(ws.branch) == origin.rev("main")
    await env.run(acts.ensure_branch, EnsureBranchInput(workspace=ws))
    assert origin.rev(ws.branch) == origin.rev("main")


async def test_integrate_merges_and_is_idempotent(
    env: ActivityEnvironment, acts: WorkspaceActivities, published: WorkspaceRef, origin: Origin
) -> None:
    a, b = task_ws(published, "a"), task_ws(published, "b")
    await commit(env, acts, a, "src/a.py", "A = 1\n")
    await commit(env, acts, b, "src/b.py", "B = 1\n")
    first = IntegrateInput(workspace=published, task_id="a", task_branch=a.branch)
    merged = await env.run(acts.integrate, first)
    assert merged.status == "merged" and origin.rev(published.branch) == origin.rev(a.branch)
    again = await env.run(acts.integrate, first)
    assert again.status == "already_merged" and again.head_sha == merged.head_sha
    second = await env.run(
        acts.integrate, IntegrateInput(workspace=published, task_id="b", task_branch=b.branch)
    )
    assert second.status == "merged"
    assert origin.show(published.branch, "src/a.py") == "A = 1\n"
    assert origin.show(published.branch, "src/b.py") == "B = 1\n"
    missing = await env.run(
        acts.integrate, IntegrateInput(workspace=published, task_id="c", task_branch="nope")
    )
    assert missing.status == "nothing_to_merge"


async def test_conflict_is_reported_then_completed_with_a_tested_resolution(
    env: ActivityEnvironment, acts: WorkspaceActivities, published: WorkspaceRef, origin: Origin
) -> None:
    a, b = task_ws(published, "a"), task_ws(published, "b")
    await commit(env, acts, a, "src/app.py", APP + "\n\ndef mul(a, b):\n    return a * b\n")
    await commit(env, acts, b, "src/app.py", APP + "\n\ndef sub(a, b):\n    return a - b\n")
    await env.run(
        acts.integrate, IntegrateInput(workspace=published, task_id="a", task_branch=a.branch)
    )
    before = origin.rev(published.branch)
    request = IntegrateInput(workspace=published, task_id="b", task_branch=b.branch)

    conflict = await env.run(acts.integrate, request)
    assert conflict.status == "conflict" and list(conflict.conflicts) == ["src/app.py"]
    assert "<<<<<<<" in conflict.conflicts["src/app.py"]
    assert origin.rev(published.branch) == before

    with pytest.raises(ApplicationError, match="still has conflict markers"):
        await env.run(
            acts.integrate, request.model_copy(update={"resolution": dict(conflict.conflicts)})
        )

    both = APP + "\n\ndef mul(a, b):\n    return a * b\n\n\ndef sub(a, b):\n    return a - b\n"
    failing = request.model_copy(
        update={
            "resolution": {"src/app.py": both},
            "test_command": "python3 -c 'raise SystemExit(3)'",  # in the sandbox
        }
    )
    refused = await env.run(acts.integrate, failing)
    assert refused.status == "tests_failed" and origin.rev(published.branch) == before

    check = "import sys; sys.path[:0] = ['src']; import app; assert app.mul(2, 3) == app.sub(7, 1)"
    passing = failing.model_copy(update={"test_command": f'python3 -c "{check}"'})
    merged = await env.run(acts.integrate, passing)
    assert merged.status == "merged"
    assert origin.show(published.branch, "src/app.py") == both
    assert origin.rev(f"{published.branch}^2") == origin.rev(b.branch)
