"""The plan a model proposes for an issue, validated before anyone sees it."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from domain import graph

TASK_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# Validation context that keeps a plan with a broken task graph, so a workflow can decode it and
# send the problems back to the planner instead of failing its own task on decoding.
LENIENT_GRAPH = {"plan_graph": "lenient"}


class PlanTask(BaseModel):
    id: str = Field(pattern=TASK_ID_PATTERN, description="Short stable id, e.g. 'fix-parser'")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1)
    files: list[str] = Field(default_factory=list, description="Files the task expects to touch")
    depends_on: list[str] = Field(default_factory=list)
    acceptance_criteria: list[str] = Field(min_length=1)
    priority: int = Field(default=0, description="Higher runs first among ready tasks")
    effort: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Relative effort estimate; the longest chains of effort are started first",
    )
    requires_deep_analysis: bool = False


class Plan(BaseModel):
    summary: str = Field(min_length=1)
    tasks: list[PlanTask] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _check_task_graph(self, info: ValidationInfo) -> Plan:
        if isinstance(info.context, dict) and info.context.get("plan_graph") == "lenient":
            return self
        ids = [t.id for t in self.tasks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate task ids: {', '.join(dupes)}")
        known = set(ids)
        for task in self.tasks:
            if task.id in task.depends_on:
                raise ValueError(f"task {task.id!r} depends on itself")
            unknown = sorted(set(task.depends_on) - known)
            if unknown:
                raise ValueError(f"task {task.id!r} depends on unknown tasks: {', '.join(unknown)}")
        cycle = graph.find_cycle(self.dependencies())
        if cycle:
            raise ValueError(f"dependency cycle: {' -> '.join(cycle)}")
        return self

    def in_dependency_order(self) -> list[PlanTask]:
        """Tasks so that each comes after everything it depends on: shallowest first, then
        higher priority, then plan order."""
        deps = self.dependencies()
        depth = graph.longest_chain(deps, lambda _: 1.0)
        by_id = {t.id: t for t in self.tasks}
        order = graph.topological_order(deps, rank=lambda i: (depth[i], -by_id[i].priority))
        return [by_id[i] for i in order]

    def dependencies(self) -> dict[str, list[str]]:
        """task id -> the task ids it depends on, in plan order."""
        return {t.id: list(t.depends_on) for t in self.tasks}
