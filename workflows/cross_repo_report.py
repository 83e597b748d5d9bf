"""What a cross-repository change tells the forge (PR sections, the summary), and its merge order.

Deterministic and I/O-free, so ``CrossRepoWorkflow`` can use them and tests can call them alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain import graph
from domain.cross_repo import CrossRepoStatus, CrossRepoTarget, RepoProgress
from domain.pull_feedback import PullFeedback

# Hidden markers of the comments the parent keeps up to date (find-or-create on retries).
SUMMARY_MARKER = "cross-repo:summary"  # the set's summary, on the trigger issue
OUTCOME_MARKER = "cross-repo:outcome"  # why a linked issue's PR was closed


def dependencies(targets: Sequence[CrossRepoTarget]) -> dict[str, list[str]]:
    """name -> the names of the set it merges after (dependencies outside the set are ignored)."""
    names = {t.name for t in targets}
    return {t.name: [d for d in t.depends_on if d in names and d != t.name] for t in targets}


def merge_order(targets: Sequence[CrossRepoTarget]) -> list[str]:
    """Dependencies first; ties keep the configured order. ValueError on a cycle."""
    return graph.topological_order(dependencies(targets))


def _ref(progress: RepoProgress) -> str:
    if progress.pr_number is not None:
        return f"{progress.repo}#{progress.pr_number}"
    if progress.issue_number is not None:
        return f"{progress.repo}#{progress.issue_number} (issue)"
    return progress.repo


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def set_table(status: CrossRepoStatus) -> str:
    lines = [
        "| Repository | Issue | PR | Stage | Review | Green |",
        "|---|---|---|---|---|---|",
    ]
    for name in status.order:
        p = status.repos[name]
        issue = _link(f"#{p.issue_number}", p.issue_url) if p.issue_number else "—"
        pr = _link(f"#{p.pr_number}", p.pr_url) if p.pr_number else "—"
        green = "yes" if p.green else "no"
        lines.append(f"| {p.repo} | {issue} | {pr} | {p.stage} | {p.verdict} | {green} |")
    return "\n".join(lines)


def pull_section(status: CrossRepoStatus, name: str, deps: Mapping[str, list[str]]) -> str:
    """The part of a PR body the parent owns: ``Depends-On:`` lines and the set's table."""
    lines = [f"Depends-On: {_ref(status.repos[d])}" for d in deps.get(name, [])]
    if lines:
        lines.append("")
    lines += [
        f"**Cross-repository change `{status.workflow_name}`** ({status.coordination}): "
        "no PR of this set merges until every one is approved and green; they then merge "
        "in dependency order.",
        "",
        set_table(status),
    ]
    return "\n".join(lines)


def summary_comment(status: CrossRepoStatus, workflow_id: str) -> str:
    """The one comment on the trigger issue, edited in place."""
    head = f"### Cross-repository change `{status.workflow_name}`: {status.phase}"
    if status.outcome != "running":
        head += f" ({status.outcome})"
    parts = [head, "", set_table(status)]
    if status.failure:
        parts += ["", f"**Stopped:** {status.failure}"]
    if status.partial_merge:
        parts += [
            "",
            "**Partial merge:** already merged when the gate failed: "
            + ", ".join(status.partial_merge),
        ]
    carried = still_on_main(status)
    if carried:
        parts += ["", "**Still on main** (the change is not undone there yet):", *carried]
    if status.phase == "held":
        parts += [
            "",
            "Waiting for a decision. Send one of the signals `compensate` (close the PRs, "
            "delete their branches, revert what merged), `retry` (run the failed repositories "
            "again) or `abandon` (leave everything as it is), e.g.:",
            "",
            f"    temporal workflow signal --workflow-id '{workflow_id}' --name compensate "
            '--input \'{"by": "you"}\'',
        ]
    return "\n".join(parts)


def still_on_main(status: CrossRepoStatus) -> list[str]:
    """One line per repository whose main still carries a merged PR of the set: compensation
    opened a revert PR that is not merged (yet)."""
    lines = []
    for name in status.order:
        p = status.repos[name]
        if p.stage != "reverted" or p.revert_merged:
            continue
        sha = f" (merge {p.merge_commit_sha[:10]})" if p.merge_commit_sha else ""
        why = f": {p.error}" if p.error else ""
        revert = _link("its revert PR", p.revert_pr_url)
        lines.append(
            f"- {p.repo}: main still carries #{p.pr_number}{sha}; {revert} is not merged{why}"
        )
    return lines


def retry_feedback(feedback: PullFeedback) -> str:
    """A retried repository's planning feedback: the reviews that stopped its last PR."""
    said = feedback.render() or "(the reviews gave no text; ask the reviewers)"
    return f"Reviewers of the earlier pull request for this issue asked for changes:\n\n{said}"
