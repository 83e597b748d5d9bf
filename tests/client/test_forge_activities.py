"""Forge activities on the local forge: results, retries, and crashes between write and return.

A "crash after write before return" is simulated by doing the activity's write directly with
the client (as the lost attempt would have) and then running the activity as the retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.forge.activities import ForgeActivities, with_marker
from activities.forge.client import GiteaClient
from devstack.forge.testing import RunningForge
from domain.forge import (
    EnsureLabelsInput,
    FindCommentInput,
    GetIssueInput,
    GetRepoInput,
    LabelSpec,
    OpenPullRequestInput,
    SetIssueLabelsInput,
    UpsertCommentInput,
)
from domain.issue import IssueRef, RepoRef
from tests.client.conftest import push_change


@pytest.fixture
async def acts(forge: RunningForge) -> AsyncIterator[ForgeActivities]:
    tokens = {forge.base_url: forge.token}
    activities = ForgeActivities(lambda url: tokens[url])
    yield activities
    await activities.aclose()


@pytest.fixture
def repo(forge: RunningForge, repo_name: str) -> RepoRef:
    return RepoRef(forge_url=forge.base_url, owner=forge.admin, name=repo_name)


@pytest.fixture
async def issue(gitea: GiteaClient, repo: RepoRef) -> IssueRef:
    made = await gitea.create_issue(repo.owner, repo.name, "Make it better", "Please.")
    return IssueRef(repo=repo, number=made.number)


env = ActivityEnvironment()


async def test_get_issue_and_repo(
    acts: ForgeActivities, forge: RunningForge, repo: RepoRef, issue: IssueRef
) -> None:
    info = await env.run(acts.get_issue, GetIssueInput(issue=issue))
    assert (info.number, info.title, info.body, info.state, info.author) == (
        issue.number,
        "Make it better",
        "Please.",
        "open",
        forge.admin,
    )
    assert info.html_url.endswith(f"/issues/{issue.number}")
    repo_info = await env.run(acts.get_repo, GetRepoInput(repo=repo))
    assert (repo_info.full_name, repo_info.default_branch, repo_info.archived) == (
        repo.full_name,
        "main",
        False,
    )
    assert repo_info.clone_url == forge.clone_url(repo.owner, repo.name)


async def test_ensure_labels_twice_and_after_a_crash(
    acts: ForgeActivities, gitea: GiteaClient, repo: RepoRef
) -> None:
    specs = [LabelSpec(name="autopilot-in-progress"), LabelSpec(name="needs-human")]
    # The lost attempt created one label before crashing.
    await gitea.create_label(repo.owner, repo.name, "needs-human", "5319e7")
    for _ in range(2):
        await env.run(acts.ensure_labels, EnsureLabelsInput(repo=repo, labels=specs))
    names = sorted(label.name for label in await gitea.list_labels(repo.owner, repo.name))
    assert names == ["autopilot-in-progress", "needs-human"]


async def test_set_issue_labels_twice_and_after_a_crash(
    acts: ForgeActivities, gitea: GiteaClient, issue: IssueRef
) -> None:
    repo = issue.repo
    await gitea.add_labels_by_name(repo.owner, repo.name, issue.number, ["autopilot-in-progress"])
    # The lost attempt already added the label; the retry must neither fail nor duplicate.
    move = SetIssueLabelsInput(issue=issue, add=["autopilot-in-progress"], remove=[])
    assert await env.run(acts.set_issue_labels, move) == ["autopilot-in-progress"]
    swap = SetIssueLabelsInput(
        issue=issue, add=["autopilot-pr-open"], remove=["autopilot-in-progress"]
    )
    assert await env.run(acts.set_issue_labels, swap) == ["autopilot-pr-open"]
    assert await env.run(acts.set_issue_labels, swap) == ["autopilot-pr-open"]
    repo_labels = [label.name for label in await gitea.list_labels(repo.owner, repo.name)]
    assert sorted(repo_labels) == ["autopilot-in-progress", "autopilot-pr-open"]


async def test_find_comment_names_its_author_on_this_issue_only(
    acts: ForgeActivities, gitea: GiteaClient, forge: RunningForge, issue: IssueRef
) -> None:
    repo = issue.repo
    said = await gitea.create_comment(repo.owner, repo.name, issue.number, "/autopilot approve")
    found = await env.run(acts.find_comment, FindCommentInput(issue=issue, comment_id=said.id))
    assert found is not None
    assert (found.id, found.author, found.body) == (said.id, forge.admin, "/autopilot approve")
    other = await gitea.create_issue(repo.owner, repo.name, "Another", "")
    elsewhere = IssueRef(repo=repo, number=other.number)
    assert (
        await env.run(acts.find_comment, FindCommentInput(issue=elsewhere, comment_id=said.id))
        is None
    )


async def test_upsert_comment_twice_and_after_a_crash(
    acts: ForgeActivities, gitea: GiteaClient, issue: IssueRef
) -> None:
    repo = issue.repo
    await gitea.create_comment(repo.owner, repo.name, issue.number, "A human says hi")
    plan = UpsertCommentInput(issue=issue, marker="plan", body="## Plan\n1. do it")
    first = await env.run(acts.upsert_comment, plan)
    second = await env.run(acts.upsert_comment, plan)
    assert (first.created, second.created, second.id) == (True, False, first.id)

    # The lost attempt created the status comment but crashed before returning.
    status = UpsertCommentInput(issue=issue, marker="status", body="Working on it")
    lost = await gitea.create_comment(
        repo.owner, repo.name, issue.number, with_marker(status.body, status.marker)
    )
    retried = await env.run(acts.upsert_comment, status)
    assert (retried.id, retried.created) == (lost.id, False)

    updated = await env.run(acts.upsert_comment, status.model_copy(update={"body": "Done"}))
    assert updated.id == lost.id
    comments = await gitea.list_comments(repo.owner, repo.name, issue.number)
    assert [c.body for c in comments] == [
        "A human says hi",
        with_marker(plan.body, "plan"),
        with_marker("Done", "status"),
    ]


async def test_upsert_comment_removes_a_copy_that_landed_late(
    acts: ForgeActivities, gitea: GiteaClient, issue: IssueRef
) -> None:
    """A create held past the client's timeout lands after the retry created its own copy:
    the next upsert keeps the oldest copy, deletes the others, and leaves other comments."""
    repo = issue.repo
    status = UpsertCommentInput(issue=issue, marker="status", body="Planning")
    retried = await env.run(acts.upsert_comment, status)
    late = await gitea.create_comment(
        repo.owner, repo.name, issue.number, with_marker("Starting", "status")
    )
    await gitea.create_comment(repo.owner, repo.name, issue.number, "A human says hi")

    updated = await env.run(acts.upsert_comment, status.model_copy(update={"body": "Done"}))
    assert (updated.id, updated.created) == (retried.id, False)
    comments = await gitea.list_comments(repo.owner, repo.name, issue.number)
    assert [c.body for c in comments] == [with_marker("Done", "status"), "A human says hi"]
    assert late.id not in {c.id for c in comments}
    # Deleting an already deleted copy (a retry after a lost answer) is not an error.
    assert await gitea.delete_comment(repo.owner, repo.name, late.id) is False


async def test_open_pull_request_twice_and_after_a_crash(
    acts: ForgeActivities, forge: RunningForge, gitea: GiteaClient, repo: RepoRef, tmp_path: Path
) -> None:
    push_change(forge, repo.name, "autopilot/issue-1", tmp_path / "one")
    request = OpenPullRequestInput(
        repo=repo, head="autopilot/issue-1", base="main", title="Fix #1", body="Closes #1"
    )
    first = await env.run(acts.open_pull_request, request)
    second = await env.run(acts.open_pull_request, request)
    assert (first.created, second.created, second.number) == (True, False, first.number)
    assert first.head_sha and first.state == "open"

    renamed = await env.run(
        acts.open_pull_request, request.model_copy(update={"title": "Fix #1 (v2)"})
    )
    assert renamed.number == first.number
    assert (await gitea.get_pull(repo.owner, repo.name, first.number)).title == "Fix #1 (v2)"

    # The lost attempt opened the PR for issue 2 and crashed before returning.
    push_change(forge, repo.name, "autopilot/issue-2", tmp_path / "two")
    lost = await gitea.create_pull(repo.owner, repo.name, "autopilot/issue-2", "main", "Fix #2")
    retried = await env.run(
        acts.open_pull_request,
        request.model_copy(update={"head": "autopilot/issue-2", "title": "Fix #2"}),
    )
    assert (retried.number, retried.created) == (lost.number, False)
    open_heads = sorted(p.head.ref for p in await gitea.list_pulls(repo.owner, repo.name))
    assert open_heads == ["autopilot/issue-1", "autopilot/issue-2"]
