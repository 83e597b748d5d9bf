"""What a run left on the forge, read directly (never through its proxy), and what is wrong
with it: duplicates, and endings nobody can see.

"Ended visibly" means, for this suite:

- ``pr_opened``: the workflow completed, ``Outcome`` is ``pr_opened``, one PR for the issue's
  branch, the issue labelled ``autopilot-pr-open`` and no longer ``autopilot-in-progress``;
- ``failed``: the workflow failed, ``Outcome`` is ``failed``, a ``failed:<stage>`` comment on the
  issue, labelled ``autopilot-failed`` and no longer ``autopilot-in-progress``;
- waiting for a person: VISIBLE BUT NOT ENDED. The workflow runs, ``Outcome`` stays ``running``
  (truthfully), the issue is labelled ``needs-human`` and has a ``needs-human:<n>`` comment. The
  suite then cancels it as a person would (signal ``cancel``) and the run must END as
  ``cancelled``: completed, ``Outcome`` ``cancelled`` (the progress comment says so), neither
  ``needs-human`` nor ``autopilot-in-progress`` left on the issue, unless the forge refused to
  remove them and the progress comment says that too.

Anything else (still running at the deadline without asking anyone, terminated, timed out, an
outcome the issue does not show) is a silent ending.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.forge.testing import run_git
from domain import names

if TYPE_CHECKING:
    from tests.faults.conftest import Suite
    from tests.faults.harness import RunRecord, Watched

MARKER = re.compile(r"<!-- autopilot:(\S+) -->")
PROGRESS = "<!-- autopilot:progress -->"
# A forge that refuses the cleanup leaves labels; the progress comment must then say so.
LABELS_REFUSED = "Note: the forge refused to remove"
TRAILER = "Autopilot-Change:"
PAGE = 50


@dataclass
class Evidence:
    branch: str  # the issue's branch
    issue_labels: list[str]
    repo_labels: list[str]
    markers: list[str]  # every hidden marker of every comment, in order
    unmarked: list[str]  # bodies of comments without a marker (the seeder writes none)
    pulls: list[dict[str, Any]]  # PRs whose head is the issue's branch
    comments: list[str] = field(default_factory=list)  # "id created updated: first line"
    progress: str = ""  # the progress comment's body
    trailers: dict[str, list[str]] = field(default_factory=dict)  # branch -> change ids


async def _pages(suite: Suite, path: str) -> list[Any]:
    items: list[Any] = []
    for page in range(1, 21):
        sep = "&" if "?" in path else "?"
        chunk = await suite.seeder.call("GET", f"{path}{sep}limit={PAGE}&page={page}")
        items.extend(chunk)
        if len(chunk) < PAGE:
            break
    return items


async def collect(suite: Suite, repo: str, number: int) -> Evidence:
    base = f"/repos/{repo}"
    issue = await suite.seeder.call("GET", f"{base}/issues/{number}")
    comments = await suite.seeder.call("GET", f"{base}/issues/{number}/comments")
    markers = [m for c in comments for m in MARKER.findall(c["body"])]
    branch = f"autopilot/issue-{number}"
    pulls = [
        p for p in await _pages(suite, f"{base}/pulls?state=all") if p["head"]["ref"] == branch
    ]
    return Evidence(
        branch=branch,
        issue_labels=[label["name"] for label in issue["labels"]],
        repo_labels=[label["name"] for label in await _pages(suite, f"{base}/labels")],
        markers=markers,
        unmarked=[c["body"] for c in comments if not MARKER.search(c["body"])],
        pulls=pulls,
        comments=[
            f"#{c['id']} created {c['created_at']} updated {c['updated_at']}: "
            + " | ".join(c["body"].splitlines()[:2])[:140]
            for c in comments
        ],
        trailers=await asyncio.to_thread(_trailers, suite, repo, branch),
        progress=next((c["body"] for c in comments if PROGRESS in c["body"]), ""),
    )


def _trailers(suite: Suite, repo: str, branch: str) -> dict[str, list[str]]:
    """``Autopilot-Change:`` ids of each commit on the issue's branch and its task branches."""
    owner, name = repo.split("/")
    token = suite.forge.token
    with tempfile.TemporaryDirectory(prefix="fault-evidence-") as tmp:
        bare = Path(tmp) / "repo.git"
        run_git("clone", "-q", "--bare", suite.forge.clone_url(owner, name), str(bare), token=token)
        refs = run_git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=bare)
        found: dict[str, list[str]] = {}
        for ref in refs.split():
            if ref != branch and not ref.startswith(branch + "/"):
                continue
            log = run_git("log", "--format=%B", f"main..{ref}", cwd=bare)
            found[ref] = [
                line.split(":", 1)[1].strip()
                for line in log.splitlines()
                if line.startswith(TRAILER)
            ]
        return found


def duplicates(evidence: Evidence) -> list[str]:
    """Duplicates of one run; the repository's labels, shared by every run, are checked once
    (``repository_duplicates``)."""
    problems = []
    if len(evidence.pulls) > 1:
        urls = [p["html_url"] for p in evidence.pulls]
        problems.append(f"{len(evidence.pulls)} PRs for one branch: {urls}")
    for what, items in (
        ("comments with marker", evidence.markers),
        ("unmarked comments", evidence.unmarked),
        ("labels on the issue", evidence.issue_labels),
    ):
        twice = {item[:60]: n for item, n in Counter(items).items() if n > 1}
        if twice:
            problems.append(f"duplicate {what}: {twice}")
            if what.startswith("comments"):
                problems += [f"  comment {c}" for c in evidence.comments]
    for branch, ids in evidence.trailers.items():
        twice = {i: n for i, n in Counter(ids).items() if n > 1}
        if twice:
            problems.append(f"duplicate commits on {branch}: {twice}")
    return problems


def repository_duplicates(repo_labels: list[str]) -> dict[str, int]:
    return {name: n for name, n in Counter(repo_labels).items() if n > 1}


def _ended_problems(watched: Watched, evidence: Evidence, *, cancelled: bool = False) -> list[str]:
    labels = set(evidence.issue_labels)
    markers = evidence.markers
    problems: list[str] = []
    if watched.outcome in (None, "running"):
        problems.append(f"ended {watched.status} with Outcome={watched.outcome!r}")
    if LABELS_REFUSED in evidence.progress:
        labels -= {names.LABEL_IN_PROGRESS, names.LABEL_NEEDS_HUMAN}  # and the issue says why
    if names.LABEL_IN_PROGRESS in labels:
        problems.append(f"ended {watched.outcome} but still labelled {names.LABEL_IN_PROGRESS}")
    if watched.outcome == "pr_opened":
        if watched.status != "COMPLETED" or len(evidence.pulls) != 1:
            problems.append(f"pr_opened: {watched.status}, {len(evidence.pulls)} PRs")
        if not evidence.trailers.get(evidence.branch):
            problems.append(f"pr_opened but no {TRAILER} commit on {evidence.branch}")
        if names.LABEL_PR_OPEN not in labels:
            problems.append(f"pr_opened but not labelled {names.LABEL_PR_OPEN}: {sorted(labels)}")
    elif watched.outcome == "failed":
        if watched.status != "FAILED":
            problems.append(f"Outcome failed but the workflow is {watched.status}")
        if not any(m.startswith("failed:") for m in markers):
            problems.append(f"failed without a failed: comment (markers {markers})")
        if names.LABEL_FAILED not in labels:
            problems.append(f"failed but not labelled {names.LABEL_FAILED}: {sorted(labels)}")
    elif watched.outcome == "cancelled" and cancelled:
        if watched.status != "COMPLETED":
            problems.append(f"cancelled but the workflow is {watched.status}")
        if "Outcome: **cancelled**" not in evidence.progress:
            problems.append("cancelled but the progress comment does not say so")
        if names.LABEL_NEEDS_HUMAN in labels:
            problems.append(f"cancelled but still labelled {names.LABEL_NEEDS_HUMAN}")
    else:
        problems.append(f"ended {watched.status} with Outcome={watched.outcome!r}: not visible")
    return problems


def _waiting_problems(watched: Watched, evidence: Evidence) -> list[str]:
    problems = []
    if names.LABEL_NEEDS_HUMAN not in evidence.issue_labels:
        problems.append(
            f"waits for a person but is not labelled needs-human: {evidence.issue_labels}"
        )
    if not any(m.startswith("needs-human:") for m in evidence.markers):
        problems.append(f"waits for a person without a needs-human comment: {evidence.markers}")
    if watched.outcome != "running":
        problems.append(f"waits for a person with Outcome={watched.outcome!r}")
    return problems


def judge(record: RunRecord) -> list[str]:
    """Everything wrong with one run: a silent ending, a duplicate, a missing visible end."""
    first, evidence = record.first, record.evidence
    if first is None or evidence is None:
        return ["the run was never watched"]
    problems = duplicates(evidence)
    if record.evidence_waiting is not None:
        problems += [f"while waiting: {p}" for p in duplicates(record.evidence_waiting)]
    if first.timed_out:
        return [
            *problems,
            f"SILENT: still running at stage {first.stage} after the deadline, waiting for "
            f"{first.waiting_for!r}, Outcome={first.outcome!r}; pending: {first.pending}",
        ]
    if first.status == "RUNNING":  # waiting for a person: visible, not ended
        assert record.evidence_waiting is not None
        problems += _waiting_problems(first, record.evidence_waiting)
        after = record.after_cancel
        if after is None or after.timed_out or after.outcome != "cancelled":
            problems.append(f"cancelled while waiting, but did not end cancelled: {after}")
            return [*problems, _issue(evidence)]
        ended = _ended_problems(after, evidence, cancelled=True)
    else:
        ended = _ended_problems(first, evidence)
    return problems + ended + ([_issue(evidence)] if ended else [])


def _issue(evidence: Evidence) -> str:
    return f"the issue shows labels {evidence.issue_labels}, comments {evidence.markers}"


def ending(record: RunRecord) -> str:
    """One word or two for the report."""
    first = record.first
    if first is None:
        return "never watched"
    if first.timed_out:
        return f"STUCK at {first.stage}"
    if first.status == "RUNNING":
        after = record.after_cancel
        return f"needs-human -> {after.outcome if after else '?'}"
    return f"{first.outcome} ({first.status.lower()})"
