"""Changes the issue run makes itself: fixes for failing tests and answers to a review.

Since the implementer's loop (patch ``agent-loop``) each is a loop on the issue branch with the
feedback in its brief; runs started before it ask for whole files through the plan's last task.
"""

from __future__ import annotations

from temporalio import workflow

from domain.agent import ALL_TOOLS, AgentBrief, AgentLimits, AgentSummary
from domain.model import EditPurpose
from domain.run import IssueWorkflowInput
from workflows.agent import AgentLoop, Loop
from workflows.calls import Activities
from workflows.carry import RunContext
from workflows.change import ChangeRequest, IssueWork, make_change
from workflows.lessons import note_objections, note_test_failures
from workflows.model_gateway import ModelGateway
from workflows.progress import Progress


class IssueChanges:
    def __init__(
        self,
        input: IssueWorkflowInput,
        calls: Activities,
        gateway: ModelGateway,
        progress: Progress,
    ) -> None:
        self._input = input
        self._calls = calls
        self._gateway = gateway
        self._progress = progress
        self.touched: list[str] = []
        self.count = 0  # carried across continue-as-new: change ids stay unique
        self.with_tools = False  # set once per run from the ``agent-loop`` patch
        self.repo_map = ""

    def touch(self, paths: list[str]) -> None:
        self.touched.extend(p for p in dict.fromkeys(paths) if p not in self.touched)

    async def make(self, run: RunContext, purpose: EditPurpose, feedback: str) -> None:
        """Fix or answer a review on the issue branch."""
        self._progress.bump(purpose)
        status = self._progress.status
        if purpose == "fix":  # remembered for the outcome record, and lessons from it
            note_test_failures(status, feedback)
        elif purpose == "review":
            note_objections(status, status.review)
        task = run.plan.in_dependency_order()[-1]
        self.count += 1
        # Unique per workflow and change, stable across retries; the first run's id, because
        # continue-as-new changes the run id but not the count.
        change_id = f"{workflow.info().first_execution_run_id[:8]}:{self.count}:{purpose}"
        if not self.with_tools:
            commit = await make_change(
                self._calls,
                self._gateway,
                ChangeRequest(
                    work=IssueWork(run.issue, run.plan, task, run.workspace),
                    purpose=purpose,
                    feedback=feedback,
                    scope=[*task.files, *self.touched],
                    change_id=change_id,
                ),
                self._progress.add_usage,
            )
            self.touch(commit.files)
            return
        await self._loop(run, purpose, feedback, change_id)

    async def _loop(
        self, run: RunContext, purpose: EditPurpose, feedback: str, change_id: str
    ) -> None:
        limits: AgentLimits = self._input.settings.implement
        agent = AgentLoop(
            self._calls,
            self._gateway,
            self._progress.add_usage,
            Loop(
                brief=AgentBrief(
                    purpose=purpose,
                    issue=run.issue,
                    plan=run.plan,
                    feedback=feedback,
                    repo_map=self.repo_map,
                    test_command=self._input.repo_settings.test_command,
                    lessons=self._progress.status.lessons.get("implement", []),
                ),
                workspace=run.workspace,
                environment=self._progress.status.environment,
                tools=ALL_TOOLS,
                task=None,
                stage="fix" if purpose == "fix" else "edits",
                change_prefix=change_id,
                limits=limits,
            ),
        )
        state = await agent.run()
        self._progress.status.loops[f"{purpose} {self.count}"] = AgentSummary.of(purpose, state)
        self.touch(state.files)
