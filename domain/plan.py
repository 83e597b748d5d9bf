"""The plan a model proposes for an issue, validated before anyone sees it."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationInfo, model_validator

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
        cycle = find_cycle(self.tasks)
        if cycle:
            raise ValueError(f"dependency cycle: {' -> '.join(cycle)}")
        return self

    def in_dependency_order(self) -> list[PlanTask]:
        """Tasks so that each comes after everything it depends on (stable by plan order)."""
        done: set[str] = set()
        ordered: list[PlanTask] = []
        pending = list(self.tasks)
        while pending:
            ready = [t for t in pending if set(t.depends_on) <= done]
            ready.sort(key=lambda t: -t.priority)
            for task in ready:
                ordered.append(task)
                done.add(task.id)
            pending = [t for t in pending if t.id not in done]
        return ordered


def find_cycle(tasks: list[PlanTask]) -> list[str]:
    """One dependency cycle as [a, b, ..., a], or [] when the graph is acyclic."""
    deps = {t.id: [d for d in t.depends_on] for t in tasks}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for task in tasks:
        if task.id not in state:
            found = visit(task.id)
            if found:
                return found
    return []
