"""The pull request activities of the monitor stage and the cross-repo gate, on the local
forge: what a PR's verdict and feedback say, a merge at a checked head, and a PR body whose
cross-repo section survives the issue run rewriting it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.forge.client import GiteaClient
from activities.forge.cross_repo import CrossRepoForgeActivities
from activities.forge.sections import keeping_section, replace_section, section_of
from devstack.forge.testing import RunningForge, push_files
from domain.cross_repo import (
    DeleteBranchInput,
    MergePullInput,
    PullRef,
    PullVerdictInput,
    UpdatePullSectionInput,
)
from domain.forge import OpenPullRequestInput
from domain.issue import RepoRef
from domain.pull_body import PULL_STATUS_MARKER
from domain.pull_feedback import PullFeedbackInput
from tests.client.conftest import push_change

env = ActivityEnvironment()


@pytest.fixture
async def acts(forge: RunningForge) -> AsyncIterator[CrossRepoForgeActivities]:
    tokens = {forge.base_url: forge.token}
    activities = CrossRepoForgeActivities(lambda url: tokens[url])
    yield activities
    await activities.aclose()


@pytest.fixture
def repo(forge: RunningForge, repo_name: str) -> RepoRef:
    return RepoRef(forge_url=forge.base_url, owner=forge.admin, name=repo_name)


def person(forge: RunningForge, login: str) -> str:
    """A user with their own token (not a collaborator of anything yet)."""
    password = "pass-word-1"
    user = {"username": login, "email": f"{login}@x.test", "password": password}
    forge.api("POST", "/admin/users", user)
    answer = httpx.post(
        f"{forge.api_url}/users/{login}/tokens",
        json={"name": "t", "scopes": ["all"]},
        auth=(login, password),
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["sha1"])


@pytest.fixture(scope="module")
def people(forge: RunningForge) -> dict[str, str]:
    return {login: person(forge, login) for login in ("writer-wu", "reader-rey")}


async def opened(
    acts: CrossRepoForgeActivities, forge: RunningForge, repo: RepoRef, tmp_path: Path
) -> PullRef:
    push_change(forge, repo.name, "autopilot/issue-1", tmp_path / "one")
    request = OpenPullRequestInput(
        repo=repo, head="autopilot/issue-1", base="main", title="Fix #1", body="Fixes #1"
    )
    pull = await env.run(acts.open_pull_request, request)
    return PullRef(repo=repo, number=pull.number)


async def test_feedback_counts_writers_only_and_is_read_once(
    acts: CrossRepoForgeActivities,
    forge: RunningForge,
    repo: RepoRef,
    people: dict[str, str],
    tmp_path: Path,
) -> None:
    pull = await opened(acts, forge, repo, tmp_path)
    path = f"/repos/{repo.full_name}"
    forge.api("PUT", f"{path}/collaborators/writer-wu", {"permission": "write"})
    reviews = f"{path}/pulls/{pull.number}/reviews"
    note = {"path": "README.md", "body": "say why", "new_position": 1}
    ask = {"event": "REQUEST_CHANGES", "body": "rename it", "comments": [note]}
    forge.api("POST", reviews, ask, token=people["writer-wu"])
    forge.api("POST", reviews, {"event": "REQUEST_CHANGES", "body": "no"}, people["reader-rey"])
    comments = f"{path}/issues/{pull.number}/comments"
    forge.api("POST", comments, {"body": "also the docs"}, token=people["writer-wu"])
    forge.api("POST", comments, {"body": "/autopilot retry"}, token=people["writer-wu"])
    forge.api("POST", comments, {"body": "done\n\n<!-- autopilot:answer:1 -->"})

    feedback = await env.run(acts.pull_feedback, PullFeedbackInput(pull=pull))
    assert [(i.kind, i.author, i.body) for i in feedback.items] == [
        ("review", "writer-wu", "rename it"),
        ("comment", "writer-wu", "also the docs"),
    ]
    assert [(n.path, n.line, n.body) for n in feedback.items[0].lines] == [
        ("README.md", 1, "say why")
    ]
    again = await env.run(
        acts.pull_feedback,
        PullFeedbackInput(
            pull=pull, after_review=feedback.last_review, after_comment=feedback.last_comment
        ),
    )
    assert again.items == []

    verdict = await env.run(acts.pull_verdict, PullVerdictInput(pull=pull, writers_only=True))
    assert verdict.changes_requested_by == ["writer-wu"] and verdict.mergeable
    everyone = await env.run(acts.pull_verdict, PullVerdictInput(pull=pull))
    assert everyone.changes_requested_by == ["reader-rey", "writer-wu"]


async def test_verdict_reports_statuses_and_a_merge_names_the_checked_head(
    acts: CrossRepoForgeActivities,
    forge: RunningForge,
    repo: RepoRef,
    people: dict[str, str],
    tmp_path: Path,
) -> None:
    pull = await opened(acts, forge, repo, tmp_path)
    verdict = await env.run(acts.pull_verdict, PullVerdictInput(pull=pull))
    status = {"state": "pending", "context": "ci"}
    forge.api("POST", f"/repos/{repo.full_name}/statuses/{verdict.head_sha}", status)
    verdict = await env.run(acts.pull_verdict, PullVerdictInput(pull=pull))
    assert verdict.statuses == {"ci": "pending"} and verdict.combined_status == "pending"
    # A push after the check: the merge at the checked head is refused, nothing merges.
    push_files(forge, repo.owner, repo.name, "autopilot/issue-1", {"late.txt": "x\n"})
    with pytest.raises(ApplicationError, match="refused to merge"):
        await env.run(acts.merge_pull, MergePullInput(pull=pull, head_sha=verdict.head_sha))
    latest = await env.run(acts.pull_verdict, PullVerdictInput(pull=pull))
    assert not latest.merged and latest.head_sha != verdict.head_sha
    merged = await env.run(acts.merge_pull, MergePullInput(pull=pull, head_sha=latest.head_sha))
    assert merged.merged and merged.merge_commit_sha


async def test_the_cross_repo_section_survives_the_issue_run_rewriting_its_pr(
    acts: CrossRepoForgeActivities, forge: RunningForge, repo: RepoRef, tmp_path: Path
) -> None:
    pull = await opened(acts, forge, repo, tmp_path)
    section = "Depends-On: o/api#4\n\n| repo | PR |\n|---|---|"
    await env.run(acts.update_pull_section, UpdatePullSectionInput(pull=pull, section=section))
    rerun = OpenPullRequestInput(
        repo=repo, head="autopilot/issue-1", base="main", title="Fix #1", body="Fixes #1, v2"
    )
    await env.run(acts.open_pull_request, rerun)
    async with GiteaClient(forge.base_url, forge.token) as gitea:
        body = (await gitea.get_pull(repo.owner, repo.name, pull.number)).body
    assert body.startswith("Fixes #1, v2") and section_of(body) == section


async def test_deleting_a_branch_can_close_a_pr_nobody_reported(
    acts: CrossRepoForgeActivities, forge: RunningForge, repo: RepoRef, tmp_path: Path
) -> None:
    """Compensation of a run cancelled just after it opened its PR: found by the branch."""
    pull = await opened(acts, forge, repo, tmp_path)
    why = "The cross-repository change `currency` was stopped."
    undo = DeleteBranchInput(repo=repo, branch="autopilot/issue-1", close_pulls_comment=why)
    assert await env.run(acts.delete_branch, undo) is True
    assert await env.run(acts.delete_branch, undo) is False  # a retry finds it done
    async with GiteaClient(forge.base_url, forge.token) as gitea:
        closed = await gitea.get_pull(repo.owner, repo.name, pull.number)
        comments = await gitea.list_comments(repo.owner, repo.name, pull.number)
    assert closed.state == "closed" and not closed.merged
    assert [c.body.startswith(why) for c in comments] == [True]


def test_sections_are_replaced_in_place_and_kept_only_when_the_new_body_has_none() -> None:
    body = replace_section("Intro", "one")
    assert section_of(body) == "one" and body.startswith("Intro\n\n")
    assert section_of(replace_section(body + "\n\nTail", "two")) == "two"
    assert replace_section(body + "\n\nTail", "two").endswith("Tail")
    assert section_of(keeping_section(body, "New intro")) == "one"
    assert section_of(keeping_section(body, replace_section("x", "three"))) == "three"
    assert keeping_section("no section", "new") == "new"
    assert section_of("<!-- autopilot:cross-repo -->\nunterminated") is None


def test_each_writer_rewrites_only_its_own_section() -> None:
    body = replace_section("Fixes #1", "Depends-On: o/api#4")  # the cross-repo set's
    body = replace_section(body, "## Tests\n`passed` after 2 run(s).", PULL_STATUS_MARKER)
    body = replace_section(body, "## Tests\n`passed` after 3 run(s).", PULL_STATUS_MARKER)
    assert section_of(body, PULL_STATUS_MARKER) == "## Tests\n`passed` after 3 run(s)."
    assert section_of(body) == "Depends-On: o/api#4" and body.count("Tests") == 1
    assert section_of(keeping_section(body, "Fixes #1, v2")) == "Depends-On: o/api#4"
