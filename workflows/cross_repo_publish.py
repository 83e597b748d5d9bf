"""What a cross-repository change keeps up to date on the forge: each PR's section and a summary.

The text comes from ``workflows.cross_repo_report``; this module only writes it, through the
workflow's one ``Activities`` caller.
"""

from __future__ import annotations

from temporalio import workflow

from domain import names
from domain.cross_repo import UpdatePullSectionInput
from domain.forge import UpsertCommentInput
from workflows import cross_repo_report as report
from workflows.calls import Activities
from workflows.cross_repo_set import CrossRepoSet


class Publisher:
    def __init__(self, activities: Activities, crs: CrossRepoSet) -> None:
        self._activities = activities
        self._set = crs
        self._sections: dict[str, str] = {}  # the last section written to each PR

    async def publish(self) -> None:
        """Edit each PR's cross-repo section (only when it changed) and the summary."""
        status = self._set.status
        changed = False
        for name in status.order:
            progress = status.repos[name]
            if progress.pr_number is None or progress.stage == "merged":
                continue
            section = report.pull_section(status, name, self._set.deps)
            if self._sections.get(name) == section:
                continue
            await self._activities.run(
                names.UPDATE_PULL_SECTION,
                UpdatePullSectionInput(pull=self._set.pull(name), section=section),
                None,
            )
            self._sections[name] = section
            changed = True
        if changed:
            await self.summary()

    async def summary(self) -> None:
        """The one comment on the trigger issue, edited in place."""
        await self._activities.run(
            names.UPSERT_COMMENT,
            UpsertCommentInput(
                issue=self._set.input.trigger,
                marker=report.SUMMARY_MARKER,
                body=report.summary_comment(self._set.status, workflow.info().workflow_id),
            ),
            None,
        )
