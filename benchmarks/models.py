"""Inputs and results passed between the benchmark's workflows, activity and runner."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.plan import PlanTask


class BenchDag(BaseModel):
    """A plan-shaped random DAG with a duration (in units) per task."""

    name: str
    tasks: list[PlanTask]
    durations: dict[str, int] = Field(description="task id -> duration in units")


class ExecuteDagInput(BaseModel):
    dag: BenchDag
    max_parallel: int = Field(ge=1)
    unit_ms: int = Field(ge=1)


class ExecuteDagResult(BaseModel):
    makespan_ms: float = Field(description="first to last workflow activation, in ms")
    tasks_run: int


class RunTaskInput(BaseModel):
    task_id: str
    units: int = Field(ge=0)
    unit_ms: int = Field(ge=1)
