"""Markdown that Autopilot writes on issues and pull requests (pure functions of state)."""

from __future__ import annotations

from domain.change import TestRun
from domain.estimate import actual_after_approval, comparison_markdown
from domain.issue import IssueRef
from domain.plan import Plan
from domain.pull_body import PULL_STATUS_MARKER, section_block
from domain.review import GateResult, ReviewVerdict
from domain.run import IssueStatus, run_link
from domain.usage import TokenUsage

STAGE_TITLES = {
    "intake": "Intake",
    "setup": "Setup",
    "plan": "Plan",
    "approval": "Approval",
    "implement": "Implement",
    "verify": "Verify",
    "review": "Review",
    "pull_request": "Pull request",
    "monitor": "Monitor",
    "done": "Done",
}
SHOWN_ONCE_ENTERED = ("monitor",)  # only runs that watch their PR list this stage


def _seconds(value: float | None) -> str:
    if value is None:
        return "running"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}min"


def usage_table(usage: dict[str, TokenUsage]) -> str:
    rows = ["| stage | calls | input tokens | output tokens |", "|---|---:|---:|---:|"]
    total = TokenUsage()
    for stage, used in usage.items():
        rows.append(f"| {stage} | {used.calls} | {used.input_tokens} | {used.output_tokens} |")
        total = total + used
    rows.append(f"| **total** | {total.calls} | {total.input_tokens} | {total.output_tokens} |")
    return "\n".join(rows)


def progress_comment(status: IssueStatus, workflow_id: str, runs_url: str = "") -> str:
    lines = ["### Autopilot progress", ""]
    seen = {t.stage: t for t in status.timings}
    for stage, title in STAGE_TITLES.items():
        if stage == "done" or (stage in SHOWN_ONCE_ENTERED and stage not in seen):
            continue
        timing = seen.get(stage)
        if timing is None:
            mark, note = "⬜", ""
        elif timing.finished_at is None:
            mark, note = "⏳", "in progress"
        else:
            mark, note = "✅", _seconds(timing.seconds)
        lines.append(f"- {mark} **{title}** {note}".rstrip())
    lines.append("")
    if status.waiting_for:
        lines.append(f"Waiting for: **{status.waiting_for}**")
    if status.mode is not None and status.mode.mode != "normal":
        lines.append(f"Mode: **{status.mode.describe()}**")
    if status.pr_url:
        lines.append(f"Pull request: {status.pr_url}")
    if status.environment is not None:
        env = status.environment
        how = "built" if env.built else "reused"
        lines.append(f"Environment: {how} in {_seconds(env.seconds)} (`{env.key[:12]}`)")
    if status.outcome != "running":
        lines.append(f"Outcome: **{status.outcome}**")
    if status.error:
        lines.append(f"Error: {status.error}")
    if status.note:
        lines.append(f"Note: {status.note}")
    attempts = ", ".join(f"{k}: {v}" for k, v in sorted(status.attempts.items()))
    if attempts:
        lines.append(f"Attempts: {attempts}")
    run = f"`{workflow_id}`"
    if runs_url:
        run = f"[{run}]({run_link(runs_url, workflow_id)}) (Temporal Web UI)"
    lines += ["", f"Run: {run}"]
    if status.decisions:
        lines += ["", decisions_markdown(status)]
    if status.tasks:
        lines += ["", tasks_table(status)]
    if status.usage:
        lines += ["", usage_markdown(status)]
    return "\n".join(lines)


def usage_markdown(status: IssueStatus) -> str:
    """Tiers and cost when the run is tiered; plain token counts otherwise."""
    if status.model is not None and status.model.total.calls:
        return status.model.markdown()
    return usage_table(status.usage)


TASK_MARKS = {
    "waiting": "⬜",
    "running": "⏳",
    "completed": "✅",
    "failed": "❌",
    "blocked": "⛔",
    "skipped": "⏭️",
}


def tasks_table(status: IssueStatus) -> str:
    rows = ["| task | state | attempts | note |", "|---|---|---:|---|"]
    for task_id, task in status.tasks.items():
        note = (task.cause or "").replace("|", "\\|").replace("\n", " ")[:200]
        rows.append(
            f"| {task_id} | {TASK_MARKS[task.state]} {task.state} | {task.attempts} | {note} |"
        )
    return "\n".join(rows)


def task_escalation_help(issue: IssueRef) -> str:
    """What a person can do when tasks failed: their work so far is on the issue branch."""
    steer = f"python -m starters.steer --repo {issue.repo.full_name} --issue {issue.number}"
    return (
        "Tasks that completed are already merged into "
        f"`{issue.branch}`; they will not run again.\n\n"
        "- **resume**: run the failed task(s) again, with optional guidance (command above).\n"
        f"- **skip a task**, so its dependents proceed without it: `{steer} skip-task <task id>`\n"
        f"- **cancel** the run (running tasks are cancelled): `{steer} cancel`"
    )


def plan_markdown(plan: Plan, done: dict[str, str] | None = None) -> str:
    """``done``: task id -> its state; completed tasks are ticked, skipped ones say so."""
    lines = [plan.summary, ""]
    for task in plan.in_dependency_order():
        deps = f" (after {', '.join(task.depends_on)})" if task.depends_on else ""
        state = (done or {}).get(task.id)
        box = "[x]" if done is not None and state in (None, "completed") else "[ ]"
        skipped = " (skipped)" if state == "skipped" else ""
        lines.append(f"- {box} **{task.id}** — {task.title}{deps}{skipped}")
        lines.append(f"  {task.description}")
        if task.files:
            lines.append(f"  Files: {', '.join(f'`{f}`' for f in task.files)}")
        for criterion in task.acceptance_criteria:
            lines.append(f"  - accept: {criterion}")
    return "\n".join(lines)


def plan_comment(
    plan: Plan,
    version: int,
    issue: IssueRef,
    auto_approved: bool,
    cost_estimate: str | None = None,
) -> str:
    head = f"### Autopilot plan (version {version})"
    estimate = f"\n\n#### Estimated model cost\n\n{cost_estimate}" if cost_estimate else ""
    if auto_approved:
        gate = "This plan was approved automatically (auto-approve is on for this installation)."
    else:
        repo = issue.repo.full_name
        gate = (
            "Approve or reject this plan:\n\n"
            f"```\npython -m starters.approve --repo {repo} --issue {issue.number} "
            "--approve --as <you>\n"
            f"python -m starters.approve --repo {repo} --issue {issue.number} "
            '--reject "what to change" --as <you>\n```\n\n'
            "or with the Temporal CLI:\n\n"
            f"```\ntemporal workflow update execute --workflow-id '{issue.workflow_id}' "
            '--name approve --input \'{"approver": "<you>", "approved": true}\'\n```'
        )
    return f"{head}\n\n{plan_markdown(plan)}{estimate}\n\n{gate}"


def reminder_comment(version: int, waited_seconds: int, expires_in_seconds: int) -> str:
    return (
        f"⏰ Plan version {version} has been waiting for approval for {_seconds(waited_seconds)}. "
        f"The run ends as *expired* in {_seconds(expires_in_seconds)} without a decision."
    )


def escalation_comment(reason: str, details: str, issue: IssueRef) -> str:
    tail = details[-4000:]
    return (
        f"🙋 **Autopilot needs a human.** {reason}\n\n"
        f"<details><summary>Details</summary>\n\n```\n{tail}\n```\n</details>\n\n"
        "Push a fix to the branch or give guidance, then resume:\n\n"
        f"```\npython -m starters.resume --repo {issue.repo.full_name} --issue {issue.number} "
        '--guidance "what to try"\n```'
    )


def refused_decision(approver: str, reason: str) -> str:
    return (
        f"⛔ A plan decision sent as `{approver}` with the `decide` signal was refused: {reason}. "
        "Nothing changed; the run still waits. The `approve` Update (the approve CLI) answers "
        "its sender directly."
    )


def task_budget_raised(task_id: str) -> str:
    return f"▶️ Task {task_id}'s budget was raised; the task continues."


def failure_comment(stage: str, message: str) -> str:
    return f"❌ **Autopilot stopped in stage {stage}.** {message}\n\nThe work so far is kept."


def gates_markdown(gates: list[GateResult]) -> str:
    return "\n".join(f"- {'✅' if g.passed else '❌'} {g.name}: {g.detail}" for g in gates)


def pull_request_body(
    issue: IssueRef,
    plan: Plan,
    test_run: TestRun,
    verdict: ReviewVerdict,
    gates: list[GateResult],
    status: IssueStatus,
) -> str:
    rubric = "\n".join(f"| {r.criterion} | {r.score}/5 | {r.note} |" for r in verdict.rubric)
    rubric_table = f"| criterion | score | note |\n|---|---|---|\n{rubric}\n" if rubric else ""
    return "\n".join(
        [
            f"Fixes #{issue.number}",
            "",
            "## Plan",
            plan_markdown(plan, {t: p.state for t, p in status.tasks.items()}),
            "",
            *([decisions_markdown(status), ""] if status.decisions else []),
            "## Review",
            f"Verdict: **{verdict.verdict}** — {verdict.summary}",
            "",
            *([status.review_panel.markdown(), ""] if status.review_panel else []),
            gates_markdown(gates),
            "",
            rubric_table,
            section_block(PULL_STATUS_MARKER, pull_status_markdown(test_run, status)),
            "",
            f"_Opened by Autopilot, run `{issue.workflow_id}`._",
        ]
    )


def pull_status_markdown(test_run: TestRun, status: IssueStatus) -> str:
    """The PR body's part that follows the head: rewritten after every answer to a review."""
    tests = "passed" if test_run.passed else "FAILED"
    return "\n".join(
        [
            "## Tests",
            f"`{tests}` in {test_run.duration_seconds:.1f}s "
            f"after {status.attempts.get('verify', 0)} run(s).",
            "",
            *loops_markdown(status),
            *estimate_against_actual(status),
            "## Model usage",
            usage_markdown(status),
        ]
    )


def estimate_against_actual(status: IssueStatus) -> list[str]:
    """The PR body's section: the approved plan's estimate beside what the run used since."""
    estimate, model = status.cost_estimate, status.model
    if estimate is None or model is None:
        return []
    actual = actual_after_approval(model.total, model.usage_by_stage.get("plan"))
    return ["## Cost estimate", "", comparison_markdown(estimate, actual), ""]


DECISION_PATHS = {
    "update": "`approve` Update (approve CLI; `--as` is self-declared)",
    "signal": "`decide` signal (self-declared)",
    "comment": "comment command (verified on the forge)",
    "auto-approve": "`run.auto_approve`",
}


def decisions_markdown(status: IssueStatus) -> str:
    """Who approved or rejected which plan version, and by which path."""
    rows = ["| plan | decision | by | via |", "|---:|---|---|---|"]
    for d in status.decisions:
        verdict = "✅ approved" if d.approved else "↩️ rejected"
        if d.feedback and not d.approved:
            verdict += ": " + d.feedback.replace("\n", " ").replace("|", "\\|")[:200]
        rows.append(f"| {d.plan_version} | {verdict} | {d.approver} | {DECISION_PATHS[d.via]} |")
    return "\n".join(["Plan decisions:", "", *rows])


def loops_markdown(status: IssueStatus) -> list[str]:
    """How the change was made: each loop's turns, tool calls and summary, steps folded."""
    if not status.loops:
        return []
    lines = [
        "## How it was done",
        "",
        "| loop | turns | tool calls | summary |",
        "|---|---|---|---|",
    ]
    for name, loop in status.loops.items():
        summary = loop.summary or ("finished" if loop.finished else "stopped at its limit")
        summary = summary.replace("\n", " ").replace("|", "\\|")[:200]
        lines.append(f"| {name} | {loop.turns} | {loop.tool_calls} | {summary} |")
    lines += ["", "<details><summary>Tool calls</summary>", ""]
    for name, loop in status.loops.items():
        steps = ", ".join(f"`{s.summary}`" + ("" if s.ok else " ✗") for s in loop.steps)
        more = loop.tool_calls - len(loop.steps)
        lines.append(f"- **{name}**: {steps}" + (f" … and {more} more" if more > 0 else ""))
    return [*lines, "", "</details>", ""]
