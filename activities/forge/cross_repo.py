"""Forge activities of a cross-repository change: linked issues, the PR gate, merge, close.

Each is find-then-change like ``ForgeActivities``: a retry finds its own earlier work (the
linked issue by its hidden marker, the PR section between its markers, a merge already done).
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.forge.activities import (
    ForgeActivities,
    carries_marker,
    with_marker,
)
from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from activities.forge.gitea_models import PullRequest, PullReview
from activities.forge.pull_feedback import Writers, read_feedback
from activities.forge.sections import replace_section
from domain import names
from domain.cross_repo import (
    ClosePullInput,
    DeleteBranchInput,
    EnsureLinkedIssueInput,
    LinkedIssue,
    MergeOutcome,
    MergePullInput,
    PullVerdict,
    PullVerdictInput,
    UpdatePullSectionInput,
    link_marker,
)
from domain.forge import PullRequestInfo
from domain.issue import RepoRef
from domain.names import (
    CLOSE_PULL,
    DELETE_BRANCH,
    ENSURE_LINKED_ISSUE,
    ERR_MERGE_REFUSED,
    MERGE_PULL,
    PULL_FEEDBACK,
    PULL_VERDICT,
    UPDATE_PULL_SECTION,
)
from domain.pull_feedback import PullFeedback, PullFeedbackInput

CLOSED_MARKER = "cross-repo:closed"
WRITE_PERMISSIONS = ("write", "admin", "owner")
# The forge refuses a merge with 405 (not mergeable, already merged) or 409 (head moved, conflict).
REFUSED_MERGE_STATUSES = (405, 409)


def review_verdicts(reviews: list[tuple[str, str]], bot: str) -> tuple[list[str], list[str]]:
    """(approvers, change requesters) from (login, state) in order; each person's last word."""
    latest: dict[str, str] = {}
    for login, state in reviews:
        if login and login.lower() != bot.lower() and state in ("APPROVED", "REQUEST_CHANGES"):
            latest[login] = state
    approved = sorted(u for u, s in latest.items() if s == "APPROVED")
    requested = sorted(u for u, s in latest.items() if s == "REQUEST_CHANGES")
    return approved, requested


def stale_requests(reviews: list[PullReview], requested: list[str], head: str) -> list[str]:
    """Of ``requested``, those whose change request was on an older head (a retry pushed since)."""
    last: dict[str, PullReview] = {}
    for review in reviews:
        if review.user is not None and review.state in ("APPROVED", "REQUEST_CHANGES"):
            last[review.user.login] = review
    return [
        login
        for login in requested
        if login in last and (last[login].stale or last[login].commit_id not in ("", head))
    ]


class CrossRepoForgeActivities(ForgeActivities):
    """The forge calls of ``CrossRepoWorkflow``, on the same pooled clients."""

    def __init__(
        self,
        token_for: Callable[[str], str],
        *,
        client_factory: Callable[[str, str], GiteaClient] = GiteaClient,
    ) -> None:
        super().__init__(token_for, client_factory=client_factory)
        self._bot_logins: dict[str, str] = {}  # forge URL -> the token's own login

    async def _bot(self, repo: RepoRef) -> str:
        """Autopilot's own login: its reviews never count as a person's approval."""
        if repo.forge_url not in self._bot_logins:
            user = await self.client_for(repo).current_user()
            self._bot_logins[repo.forge_url] = user.login
        return self._bot_logins[repo.forge_url]

    @activity.defn(name=ENSURE_LINKED_ISSUE)
    async def ensure_linked_issue(self, input: EnsureLinkedIssueInput) -> LinkedIssue:
        repo = input.repo
        client = self.client_for(repo)
        marker = link_marker(input.trigger)
        for issue in await client.list_issues(repo.owner, repo.name, state="all"):
            if carries_marker(issue.body, marker):
                return LinkedIssue(number=issue.number, html_url=issue.html_url, created=False)
        created = await client.create_issue(
            repo.owner, repo.name, input.title, with_marker(input.body, marker)
        )
        return LinkedIssue(number=created.number, html_url=created.html_url, created=True)

    @activity.defn(name=PULL_VERDICT)
    async def pull_verdict(self, input: PullVerdictInput) -> PullVerdict:
        verdict = PullVerdict(state="", merged=False)
        if input.issue is not None:
            ref = input.issue
            labels = await self.client_for(ref.repo).list_issue_labels(
                ref.repo.owner, ref.repo.name, ref.number
            )
            verdict.needs_human = any(label.name == names.LABEL_NEEDS_HUMAN for label in labels)
        if input.pull is None:
            return verdict
        repo, number = input.pull.repo, input.pull.number
        client = self.client_for(repo)
        pull = await client.get_pull(repo.owner, repo.name, number)
        reviews = await client.list_reviews(repo.owner, repo.name, number)
        said = [(r.user.login if r.user else "", r.state) for r in reviews]
        if input.writers_only:
            writers = await self._writers(repo, {login for login, _ in said if login})
            said = [(login, state) for login, state in said if login in writers]
        approved, requested = review_verdicts(said, await self._bot(repo))
        verdict.stale_change_requests = stale_requests(reviews, requested, pull.head.sha)
        combined = ""
        if pull.head.sha:
            status = await client.combined_status(repo.owner, repo.name, pull.head.sha)
            combined = status.state if status.total_count else ""
            verdict.statuses = {s.context: s.status for s in status.statuses}
        verdict.mergeable = pull.mergeable
        verdict.head_sha = pull.head.sha
        verdict.state = pull.state
        verdict.merged = pull.merged
        verdict.approved_by = approved
        verdict.changes_requested_by = requested
        verdict.combined_status = combined
        verdict.head_branch = pull.head.ref
        verdict.merge_commit_sha = pull.merge_commit_sha
        return verdict

    async def _writers(self, repo: RepoRef, logins: set[str]) -> set[str]:
        """Those of ``logins`` who may write to the repository (their reviews count)."""
        client = self.client_for(repo)
        writers = set()
        for login in sorted(logins):
            permission = await client.get_permission(repo.owner, repo.name, login)
            if permission.permission in WRITE_PERMISSIONS:
                writers.add(login)
        return writers

    @activity.defn(name=PULL_FEEDBACK)
    async def pull_feedback(self, input: PullFeedbackInput) -> PullFeedback:
        """What people with write access said on the PR since the ids the run handled."""
        return await read_feedback(
            self.client_for(input.pull.repo),
            input,
            await self._bot(input.pull.repo),
            self._writers_of(input.pull.repo, input.writers_only),
        )

    def _writers_of(self, repo: RepoRef, writers_only: bool) -> Writers:
        async def everyone(logins: set[str]) -> set[str]:
            return logins

        if not writers_only:
            return everyone
        return lambda logins: self._writers(repo, logins)

    @activity.defn(name=UPDATE_PULL_SECTION)
    async def update_pull_section(self, input: UpdatePullSectionInput) -> None:
        repo, number = input.pull.repo, input.pull.number
        client = self.client_for(repo)
        pull = await client.get_pull(repo.owner, repo.name, number)
        body = replace_section(pull.body, input.section, input.marker)
        if body != pull.body:
            await client.edit_pull(repo.owner, repo.name, number, body=body)

    @activity.defn(name=MERGE_PULL)
    async def merge_pull(self, input: MergePullInput) -> MergeOutcome:
        """Merge once: a retry after a merge that went through finds it merged."""
        repo, number = input.pull.repo, input.pull.number
        client = self.client_for(repo)
        pull = await client.get_pull(repo.owner, repo.name, number)
        if not pull.merged:
            try:
                await client.merge_pull(
                    repo.owner,
                    repo.name,
                    number,
                    input.style,
                    title=input.title or None,
                    head_commit_id=input.head_sha or None,
                )
            except GiteaError as err:
                if err.status not in REFUSED_MERGE_STATUSES:
                    raise
                raise ApplicationError(
                    f"the forge refused to merge {repo.full_name}#{number}: {err.message}",
                    type=ERR_MERGE_REFUSED,
                    non_retryable=True,
                ) from None
            pull = await client.get_pull(repo.owner, repo.name, number)
        return MergeOutcome(merged=pull.merged, merge_commit_sha=pull.merge_commit_sha)

    @activity.defn(name=CLOSE_PULL)
    async def close_pull(self, input: ClosePullInput) -> PullRequestInfo:
        """Comment why, close the PR and delete its branch; a merged PR is left as it is."""
        repo, number = input.pull.repo, input.pull.number
        client = self.client_for(repo)
        pull = await client.get_pull(repo.owner, repo.name, number)
        if not pull.merged:
            pull = await _close_with(client, repo, pull, input.comment)
            if input.delete_branch and pull.head.ref:
                await client.delete_branch(repo.owner, repo.name, pull.head.ref)
        return PullRequestInfo(
            number=pull.number,
            html_url=pull.html_url,
            state=pull.state,
            merged=pull.merged,
            head_sha=pull.head.sha,
        )

    @activity.defn(name=DELETE_BRANCH)
    async def delete_branch(self, input: DeleteBranchInput) -> bool:
        """Delete a work branch (and its task branches); False when it was already gone."""
        repo = input.repo
        client = self.client_for(repo)
        if input.close_pulls_comment:
            for pull in await client.list_pulls(repo.owner, repo.name, state="open"):
                if pull.head.ref == input.branch:
                    await _close_with(client, repo, pull, input.close_pulls_comment)
        if input.with_task_branches:
            prefix = f"{input.branch}-task-"
            for branch in await client.list_branches(repo.owner, repo.name):
                if branch.name.startswith(prefix):
                    await client.delete_branch(repo.owner, repo.name, branch.name)
        return await client.delete_branch(repo.owner, repo.name, input.branch)


async def _close_with(
    client: GiteaClient, repo: RepoRef, pull: PullRequest, comment: str
) -> PullRequest:
    """Say why on the PR (once, found again by its marker) and close it."""
    owner, name, number = repo.owner, repo.name, pull.number
    comments = await client.list_comments(owner, name, number)
    if not any(carries_marker(c.body, CLOSED_MARKER) for c in comments):
        await client.create_comment(owner, name, number, with_marker(comment, CLOSED_MARKER))
    if pull.state != "closed":
        pull = await client.edit_pull(owner, name, number, state="closed")
    return pull
