"""Every client method against the local Gitea-compatible forge."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from devstack.forge.testing import RunningForge
from domain import names
from domain.forge import LabelSpec
from domain.names import ERR_FORGE_CONFLICT
from tests.client.conftest import push_change


async def test_server_user_repo_and_branches(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    assert await gitea.version()
    assert (await gitea.current_user()).login == owner
    repo = await gitea.get_repo(owner, repo_name)
    assert (repo.full_name, repo.default_branch, repo.archived) == (
        f"{owner}/{repo_name}",
        "main",
        False,
    )
    main = await gitea.get_branch(owner, repo_name, "main")
    created = await gitea.create_branch(owner, repo_name, "autopilot/issue-1", "main")
    assert (created.name, created.commit.id) == ("autopilot/issue-1", main.commit.id)
    fetched = await gitea.get_branch(owner, repo_name, "autopilot/issue-1")
    assert fetched.commit.id == main.commit.id
    assert {b.name for b in await gitea.list_branches(owner, repo_name)} == {
        "main",
        "autopilot/issue-1",
    }
    with pytest.raises(GiteaError) as caught:
        await gitea.create_branch(owner, repo_name, "autopilot/issue-1")
    assert caught.value.type == ERR_FORGE_CONFLICT
    file = await gitea.get_contents(owner, repo_name, "src/app.py", ref="autopilot/issue-1")
    assert file.decoded() == b"print(1)\n"


async def test_issues_lifecycle(forge: RunningForge, gitea: GiteaClient, repo_name: str) -> None:
    owner = forge.admin
    [bug] = await gitea.ensure_labels(owner, repo_name, [LabelSpec(name="bug")])
    first = await gitea.create_issue(owner, repo_name, "First", "body one", [bug.id])
    second = await gitea.create_issue(owner, repo_name, "Second")
    got = await gitea.get_issue(owner, repo_name, first.number)
    assert (got.title, got.body, got.label_names, got.user.login) == (
        "First",
        "body one",
        ["bug"],
        owner,
    )
    labelled = await gitea.list_issues(owner, repo_name, labels=["bug"])
    assert [i.number for i in labelled] == [first.number]
    closed = await gitea.edit_issue(owner, repo_name, second.number, state="closed", title="2nd")
    assert (closed.state, closed.title) == ("closed", "2nd")
    assert [i.number for i in await gitea.list_issues(owner, repo_name, state="closed")] == [
        second.number
    ]
    assert {i.number for i in await gitea.list_issues(owner, repo_name, state="all")} == {
        first.number,
        second.number,
    }


async def test_labels_and_issue_labels(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    specs = [LabelSpec(name="needs-human", color="#D93F0B"), LabelSpec(name="ui")]
    await gitea.ensure_labels(owner, repo_name, specs)
    await gitea.ensure_labels(owner, repo_name, specs)
    labels = await gitea.list_labels(owner, repo_name)
    assert sorted(label.name for label in labels) == ["needs-human", "ui"]
    human = next(label for label in labels if label.name == "needs-human")
    assert human.color.lower() == "d93f0b"
    issue = await gitea.create_issue(owner, repo_name, "Labels")
    after = await gitea.add_labels_by_name(owner, repo_name, issue.number, ["ui", "brand-new"])
    assert sorted(label.name for label in after) == ["brand-new", "ui"]
    await gitea.remove_label(owner, repo_name, issue.number, "ui")
    await gitea.remove_label(owner, repo_name, issue.number, "ui")  # absent: no-op
    current = await gitea.list_issue_labels(owner, repo_name, issue.number)
    assert [label.name for label in current] == ["brand-new"]


async def test_comments(forge: RunningForge, gitea: GiteaClient, repo_name: str) -> None:
    owner = forge.admin
    issue = await gitea.create_issue(owner, repo_name, "Talk")
    made = await gitea.create_comment(owner, repo_name, issue.number, "one")
    await gitea.create_comment(owner, repo_name, issue.number, "two")
    edited = await gitea.edit_comment(owner, repo_name, made.id, "one, edited")
    assert (edited.id, edited.body) == (made.id, "one, edited")
    bodies = [c.body for c in await gitea.list_comments(owner, repo_name, issue.number)]
    assert bodies == ["one, edited", "two"]


async def test_pull_request_review_status_and_merge(
    forge: RunningForge, gitea: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    owner, head = forge.admin, "autopilot/issue-7"
    push_change(forge, repo_name, head, tmp_path / "work")
    pull, created = await gitea.create_or_find_pull(owner, repo_name, head, "main", "Fix", "b")
    again, created_again = await gitea.create_or_find_pull(owner, repo_name, head, "main", "X")
    assert (created, created_again, again.number) == (True, False, pull.number)
    assert [p.number for p in await gitea.list_pulls(owner, repo_name)] == [pull.number]
    edited = await gitea.edit_pull(owner, repo_name, pull.number, title="Fix it", body="B")
    assert (edited.title, edited.body) == ("Fix it", "B")
    got = await gitea.get_pull(owner, repo_name, pull.number)
    assert (got.head.ref, got.base.ref, got.merged) == (head, "main", False)
    sha = got.head.sha

    await gitea.create_status(owner, repo_name, sha, "pending", "ci", description="running")
    await gitea.create_status(owner, repo_name, sha, "success", "ci", target_url="http://ci/1")
    statuses = await gitea.list_statuses(owner, repo_name, sha)
    assert {s.status for s in statuses} == {"pending", "success"}
    combined = await gitea.combined_status(owner, repo_name, head)
    assert (combined.state, combined.sha) == ("success", sha)

    review = await gitea.create_review(owner, repo_name, pull.number, "COMMENT", "looks fine")
    assert [r.id for r in await gitea.list_reviews(owner, repo_name, pull.number)] == [review.id]

    assert await gitea.is_merged(owner, repo_name, pull.number) is False
    await gitea.merge_pull(owner, repo_name, pull.number, "merge")
    assert await gitea.is_merged(owner, repo_name, pull.number) is True
    assert (await gitea.get_pull(owner, repo_name, pull.number)).merged is True
    assert await gitea.list_pulls(owner, repo_name) == []


async def test_pagination_over_more_than_one_page(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    wanted = [LabelSpec(name=f"l{i:02d}") for i in range(57)]
    await gitea.ensure_labels(owner, repo_name, wanted)
    assert sorted(label.name for label in await gitea.list_labels(owner, repo_name)) == [
        spec.name for spec in wanted
    ]
    for i in range(52):
        await gitea.create_issue(owner, repo_name, f"issue {i}")
    assert len(await gitea.list_issues(owner, repo_name)) == 52


async def test_errors_from_the_forge(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    with pytest.raises(GiteaError) as missing:
        await gitea.get_issue(owner, repo_name, 999)
    assert (missing.value.type, missing.value.non_retryable) == (names.ERR_NOT_FOUND, True)

    bad_token = "0" * 40
    async with GiteaClient(forge.base_url, bad_token) as stranger:
        with pytest.raises(GiteaError) as denied:
            await stranger.get_repo(owner, repo_name)
    assert denied.value.type == names.ERR_UNAUTHORIZED
    assert bad_token not in str(denied.value)

    issue = await gitea.create_issue(owner, repo_name, "Before archiving")
    forge.api("PATCH", f"/repos/{owner}/{repo_name}", {"archived": True})
    with pytest.raises(GiteaError) as archived:
        await gitea.create_comment(owner, repo_name, issue.number, "too late")
    assert archived.value.type == names.ERR_REPO_ARCHIVED
    assert archived.value.non_retryable
    assert forge.token not in str(archived.value)


async def test_permission_of_owner_and_of_a_reader(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    mine = await gitea.get_permission(owner, repo_name, owner)
    assert (mine.permission, mine.can_write) == ("admin", True)
    assert mine.user is not None and mine.user.login == owner
    forge.api("POST", "/admin/users", {"username": "reader", "email": "reader@example.com"})
    theirs = await gitea.get_permission(owner, repo_name, "reader")
    assert (theirs.permission, theirs.can_write) == ("read", False)
    with pytest.raises(GiteaError) as unknown:
        await gitea.get_permission(owner, repo_name, "nobody-at-all")
    assert unknown.value.type == names.ERR_NOT_FOUND
