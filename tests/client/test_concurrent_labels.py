"""Twenty runs label issues of one repository at once, on the real local forge.

The forge, like Gitea, lets two labels share a name, so list-then-create alone races. Each run
has its own worker (its own ForgeActivities and connection pool) and does what a run does:
ensure the labels, put ``autopilot-in-progress`` on its issue, then swap it for
``autopilot-pr-open``. Afterwards every name is one label and no issue carries a name twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.forge.activities import ForgeActivities
from activities.forge.client import GiteaClient
from activities.forge.gitea_models import Label
from devstack.forge.testing import RunningForge
from domain import names
from domain.forge import EnsureLabelsInput, LabelSpec, SetIssueLabelsInput
from domain.issue import IssueRef, RepoRef

RUNS = 20
ATTEMPTS = 5
T = TypeVar("T")
R = TypeVar("R")
SPECS = [
    LabelSpec(name=names.LABEL_IN_PROGRESS),
    LabelSpec(name=names.LABEL_PR_OPEN),
    LabelSpec(name=names.LABEL_NEEDS_HUMAN),
    LabelSpec(name=names.LABEL_FAILED),
]


class CountingClient(GiteaClient):
    creates = 0

    async def create_label(
        self, owner: str, repo: str, name: str, color: str, description: str = ""
    ) -> Label:
        CountingClient.creates += 1
        return await super().create_label(owner, repo, name, color, description)


async def attempt(fn: Callable[[T], Awaitable[R]], arg: T) -> R:
    """Like Temporal: a retryable failure (a label deleted by a racing run) is tried again."""
    for tries in range(ATTEMPTS):
        try:
            return await ActivityEnvironment().run(fn, arg)
        except ApplicationError as err:
            if err.non_retryable or tries == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def one_run(forge: RunningForge, issue: IssueRef) -> list[str]:
    acts = ForgeActivities(lambda _: forge.token, client_factory=CountingClient)
    try:
        await attempt(acts.ensure_labels, EnsureLabelsInput(repo=issue.repo, labels=SPECS))
        start = SetIssueLabelsInput(issue=issue, add=[names.LABEL_IN_PROGRESS], remove=[])
        await attempt(acts.set_issue_labels, start)
        done = SetIssueLabelsInput(
            issue=issue, add=[names.LABEL_PR_OPEN], remove=[names.LABEL_IN_PROGRESS]
        )
        return await attempt(acts.set_issue_labels, done)
    finally:
        await acts.aclose()


async def test_twenty_concurrent_runs_leave_one_label_per_name(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    repo = RepoRef(forge_url=forge.base_url, owner=owner, name=repo_name)
    made = [await gitea.create_issue(owner, repo_name, f"Issue {i}") for i in range(RUNS)]
    issues = [IssueRef(repo=repo, number=issue.number) for issue in made]
    # Two runs per issue for a quarter of them: a retried activity racing its first attempt.
    issues += issues[: RUNS // 4]
    CountingClient.creates = 0
    results = await asyncio.gather(*(one_run(forge, issue) for issue in issues))

    assert all(labels == [names.LABEL_PR_OPEN] for labels in results), results
    repo_labels = Counter(label.name for label in await gitea.list_labels(owner, repo_name))
    assert repo_labels == {spec.name: 1 for spec in SPECS}
    for issue in await gitea.list_issues(owner, repo_name, state="all"):
        assert issue.label_names == [names.LABEL_PR_OPEN], issue.number
    # The race did happen: more labels were created than survive.
    assert CountingClient.creates > len(SPECS)


async def test_duplicates_left_by_an_older_version_are_merged(
    forge: RunningForge, gitea: GiteaClient, repo_name: str
) -> None:
    owner = forge.admin
    first = await gitea.create_label(owner, repo_name, names.LABEL_PR_OPEN, "0e8a16")
    second = await gitea.create_label(owner, repo_name, names.LABEL_PR_OPEN, "0e8a16")
    only_second = await gitea.create_issue(owner, repo_name, "carries the duplicate")
    both = await gitea.create_issue(owner, repo_name, "carries both", label_ids=[first.id])
    await gitea.add_issue_labels(owner, repo_name, only_second.number, [second.id])
    await gitea.add_issue_labels(owner, repo_name, both.number, [second.id])

    [survivor] = await gitea.ensure_labels(owner, repo_name, [LabelSpec(name=names.LABEL_PR_OPEN)])

    assert survivor.id == first.id
    assert [label.id for label in await gitea.list_labels(owner, repo_name)] == [first.id]
    for number in (only_second.number, both.number):
        carried = await gitea.list_issue_labels(owner, repo_name, number)
        assert [label.id for label in carried] == [first.id]
