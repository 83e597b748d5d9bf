"""Intake: read the issue and its repository, mark the issue, check out the issue branch."""

from __future__ import annotations

from dataclasses import dataclass

from domain import names
from domain.forge import EnsureLabelsInput, GetIssueInput, GetRepoInput
from domain.issue import IssueInfo, RepoInfo
from domain.workspace import PrepareWorkspaceInput, WorkspaceRef, WorkspaceState
from workflows.calls import Activities
from workflows.errors import StageFailed
from workflows.progress import LABELS, Progress


@dataclass(frozen=True)
class Intake:
    """What intake learned: the issue, its branch's workspace, the repository's files."""

    issue: IssueInfo
    workspace: WorkspaceRef
    files: list[str]


async def read_issue(calls: Activities, progress: Progress) -> Intake:
    ref = progress.issue
    issue = await calls.run(names.GET_ISSUE, GetIssueInput(issue=ref), IssueInfo)
    repo = await calls.run(names.GET_REPO, GetRepoInput(repo=ref.repo), RepoInfo)
    if repo.archived:
        raise StageFailed("intake", f"{repo.full_name} is archived; nothing can be pushed")
    await calls.run(names.ENSURE_LABELS, EnsureLabelsInput(repo=ref.repo, labels=LABELS), None)
    await progress.labels(
        add=[names.LABEL_IN_PROGRESS],
        remove=[names.LABEL_FAILED, names.LABEL_NEEDS_HUMAN, names.LABEL_PR_OPEN],
    )
    await progress.report()
    workspace = WorkspaceRef(
        repo=ref.repo,
        clone_url=repo.clone_url,
        base_branch=repo.default_branch,
        branch=ref.branch,
        key=ref.workflow_id,
    )
    prepared = await calls.run(
        names.PREPARE_WORKSPACE, PrepareWorkspaceInput(workspace=workspace), WorkspaceState
    )
    return Intake(issue, workspace, prepared.files)
