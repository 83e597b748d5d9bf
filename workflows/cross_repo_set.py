"""What every part of a ``CrossRepoWorkflow`` shares: its input, its status and the linked issues.

The workflow builds one ``CrossRepoSet`` and hands it to its collaborators (children, gate,
compensation, publisher), so none of them reaches into the workflow's own members.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.cross_repo import (
    CrossRepoInput,
    CrossRepoStatus,
    CrossRepoTarget,
    PullRef,
    RepoProgress,
    cross_repo_key,
)
from domain.issue import IssueRef
from workflows import cross_repo_report as report


def initial_status(input: CrossRepoInput) -> CrossRepoStatus:
    try:
        order = report.merge_order(input.targets)
    except ValueError:
        order = [t.name for t in input.targets]  # run() refuses the input
    return CrossRepoStatus(
        workflow_name=input.workflow_name,
        coordination=input.coordination,
        order=order,
        repos={t.name: RepoProgress(name=t.name, repo=t.repo.full_name) for t in input.targets},
    )


@dataclass(frozen=True)
class CrossRepoSet:
    input: CrossRepoInput
    status: CrossRepoStatus  # the one the ``status`` query answers, updated in place
    targets: dict[str, CrossRepoTarget]
    deps: dict[str, list[str]]  # name -> the names of the set it merges after
    issues: dict[str, IssueRef] = field(default_factory=dict)  # filled by the link stage
    # What reviewers asked of a repository's failed PR: its next run (``retry``) plans for it.
    feedback: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, input: CrossRepoInput, status: CrossRepoStatus) -> CrossRepoSet:
        targets = {t.name: t for t in input.targets}
        return cls(input, status, targets, report.dependencies(input.targets))

    @property
    def key(self) -> str:
        """The ``CrossRepo`` search attribute of the parent and every child."""
        return cross_repo_key(self.input.workflow_name, self.input.trigger)

    def progress(self, name: str) -> RepoProgress:
        return self.status.repos[name]

    def pull(self, name: str) -> PullRef:
        """The PR of ``name``; only for a repository whose run opened one."""
        number = self.status.repos[name].pr_number
        assert number is not None
        return PullRef(repo=self.targets[name].repo, number=number)
