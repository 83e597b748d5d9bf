"""What runs learn from each other: outcome records, lessons derived from them, experiments.

Every ended run writes one compact ``OutcomeRecord`` to its repository's learning workflow
(``workflows/learning.py``), which keeps the last records and derives ``Lesson``s from them by
the deterministic rules below. A new run recalls the lessons and puts the most relevant ones,
within a token budget, into its plan, implement and review prompts as advisory data.

Everything here is pure and deterministic, so workflow code can use it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from statistics import median
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.estimate import RecordedUsage
from domain.tiers import estimate_tokens
from domain.usage import TokenUsage

LessonKind = Literal["plan-feedback", "review", "test-failure", "failure"]
LessonPurpose = Literal["plan", "implement", "review"]
# ``domain.run.Outcome`` without "running": how a run ended.
RecordedOutcome = Literal["pr_opened", "merged", "pr_closed", "expired", "failed", "cancelled"]

MAX_RECORDS = 200  # per repository: the newest are kept, the aggregates count them all
MAX_LESSONS = 50  # per repository: the least seen, unedited lessons are dropped first
MAX_LESSON_CHARS = 400
MAX_NOTE_CHARS = 300  # one objection, feedback or failure line in a record
MAX_NOTES = 8  # of each kind in one record
MAX_DELETED = 200  # deleted lessons remembered so the rules do not derive them again
DEFAULT_LESSON_TOKENS = 400  # per prompt
RECENT_USAGE_RECORDS = 20  # the newest records a plan's estimate from recorded usage looks at

# Which prompts each kind of lesson is relevant to.
APPLIES_TO: dict[LessonKind, tuple[LessonPurpose, ...]] = {
    "plan-feedback": ("plan",),
    "review": ("implement", "review"),
    "test-failure": ("implement", "review"),
    "failure": ("plan", "implement"),
}
_WORD = re.compile(r"[a-z][a-z0-9_]{3,}")
# A failing test's summary line in pytest-like output.
_FAILURE_LINE = re.compile(r"^(FAILED |ERROR |E   |\w*Error: |error: )")


def learning_workflow_id(repo: str) -> str:
    """The one learning workflow of repository ``owner/name``."""
    return f"autopilot:learning:{repo}"


def clip(text: str, limit: int = MAX_NOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_lines(output: str) -> list[str]:
    """The lines of failing test output worth remembering: which tests failed, and why."""
    found = [clip(line) for line in output.splitlines() if _FAILURE_LINE.match(line)]
    return list(dict.fromkeys(found))[:MAX_NOTES]


class OutcomeRecord(BaseModel):
    """One ended run, compactly: what it cost, how often it looped, what people objected to."""

    repo: str
    issue: int
    workflow_id: str
    run_id: str = Field(description="The first run of the chain: one record per run chain")
    ended_at: datetime
    outcome: RecordedOutcome
    error: str | None = None
    plan_tasks: int = 0
    plan_versions: int = 0
    tiers: dict[str, str] = Field(default_factory=dict, description="stage or task -> tier")
    usage: TokenUsage = Field(default_factory=TokenUsage)
    usage_after_approval: TokenUsage | None = Field(
        default=None,
        description="The model's usage once the plan was approved (None: not implemented)",
    )
    attempts: dict[str, int] = Field(default_factory=dict, description="plan, verify, review")
    agent_turns: dict[str, int] = Field(default_factory=dict, description="Per implementer loop")
    gates_failed: list[str] = Field(default_factory=list)
    rubric: dict[str, int] = Field(default_factory=dict, description="Last review's scores")
    objections: list[str] = Field(default_factory=list, description="Reviewers' requests")
    rejections: list[str] = Field(default_factory=list, description="People's plan feedback")
    test_failures: list[str] = Field(default_factory=list, description="Failing test lines")
    variants: dict[str, str] = Field(default_factory=dict, description="experiment -> variant")
    merged: bool | None = Field(default=None, description="Set later, when the PR's fate is known")

    @property
    def key(self) -> str:
        return f"{self.workflow_id}/{self.run_id}"

    @property
    def pull_request(self) -> bool:
        """The run got as far as a pull request (its tests passed)."""
        return self.outcome in ("pr_opened", "merged", "pr_closed")

    @property
    def succeeded(self) -> bool:
        """A pull request merged, or opened and not (yet) known to be closed unmerged."""
        if self.outcome == "merged":
            return True
        return self.outcome == "pr_opened" and self.merged is not False


class MergedNote(BaseModel):
    """The fate of a run's pull request, known after the run ended."""

    workflow_id: str
    merged: bool


class Lesson(BaseModel):
    id: str
    kind: LessonKind
    key: str = Field(description="What the rule derived it from: finds it again")
    text: str = Field(min_length=1, max_length=MAX_LESSON_CHARS)
    seen: int = Field(default=1, description="Records that gave rise to it")
    last_seen: datetime
    issues: list[int] = Field(default_factory=list, description="The latest issues, at most 5")
    edited_by: str | None = Field(default=None, description="A person's edit: rules keep it")


class LessonEdit(BaseModel):
    """Update ``edit_lesson``: new text for a lesson (the ``lessons`` CLI)."""

    id: str = Field(min_length=1)
    text: str
    by: str = Field(min_length=1)


class LessonDelete(BaseModel):
    id: str = Field(min_length=1)
    by: str = Field(min_length=1)


class Aggregates(BaseModel):
    """Counts over every record ever written, also those no longer kept."""

    runs: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    cost_usd: float = 0.0


class LearningState(BaseModel):
    repo: str
    records: list[OutcomeRecord] = Field(default_factory=list, description="Newest last")
    aggregates: Aggregates = Field(default_factory=Aggregates)
    lessons: list[Lesson] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list, description="Keys of deleted lessons")
    next_id: int = 1


class LearningInput(BaseModel):
    state: LearningState
    max_records: int = Field(default=MAX_RECORDS, gt=0)
    max_operations_per_run: int = Field(default=500, gt=0)


class RecallInput(BaseModel):
    repo: str


class RecallOutput(BaseModel):
    lessons: list[Lesson] = Field(default_factory=list)
    recorded: RecordedUsage | None = Field(
        default=None, description="Tokens per plan task of the repository's recent runs"
    )


def recorded_usage(
    records: list[OutcomeRecord], recent: int = RECENT_USAGE_RECORDS
) -> RecordedUsage | None:
    """Per plan task, the median usage after approval of the newest runs that got as far as a
    pull request (a run that failed half-way used less than its plan needed); None without any.
    The median, so that one run that looped for long does not set every estimate after it."""
    done: list[tuple[TokenUsage, int]] = []
    for record in records:
        used = record.usage_after_approval
        if used is not None and record.pull_request and record.plan_tasks > 0:
            done.append((used, record.plan_tasks))
    done = done[-recent:]
    if not done:
        return None
    per_task = TokenUsage(
        input_tokens=round(median(used.input_tokens / tasks for used, tasks in done)),
        output_tokens=round(median(used.output_tokens / tasks for used, tasks in done)),
        calls=round(median(used.calls / tasks for used, tasks in done)),
        cost_usd=round(median(used.cost_usd / tasks for used, tasks in done), 6),
    )
    return RecordedUsage(runs=len(done), tasks=1, usage=per_task)


# ----- lessons from records ------------------------------------------------------------------


def _observations(record: OutcomeRecord) -> list[tuple[LessonKind, str, str]]:
    """(kind, key, text) of what one record teaches, by the deterministic rules."""
    found: list[tuple[LessonKind, str, str]] = []
    for feedback in record.rejections:
        found.append(
            ("plan-feedback", _key("plan", feedback), f"People asked plans here to: {feedback}")
        )
    for objection in record.objections:
        found.append(("review", _key("review", objection), f"Reviewers here asked: {objection}"))
    fixed = " (a later change in the same run fixed it)" if record.pull_request else ""
    for line in record.test_failures:
        found.append(
            ("test-failure", _key("test", line), f"Tests here have failed with: {line}{fixed}")
        )
    if record.outcome == "failed" and record.error:
        found.append(("failure", _key("failed", record.error), f"A run failed: {record.error}"))
    return found


def _key(kind: str, text: str) -> str:
    return kind + ":" + " ".join(text.lower().split())[:120]


def learn(state: LearningState, record: OutcomeRecord) -> None:
    """Fold one record's observations into the lessons (in place)."""
    by_key = {lesson.key: lesson for lesson in state.lessons}
    for kind, key, text in _observations(record):
        if key in state.deleted:
            continue
        lesson = by_key.get(key)
        if lesson is None:
            lesson = Lesson(
                id=f"L{state.next_id}",
                kind=kind,
                key=key,
                text=clip(text, MAX_LESSON_CHARS),
                seen=0,
                last_seen=record.ended_at,
            )
            state.next_id += 1
            state.lessons.append(lesson)
            by_key[key] = lesson
        lesson.seen += 1
        lesson.last_seen = record.ended_at
        lesson.issues = [*[n for n in lesson.issues if n != record.issue], record.issue][-5:]
    if len(state.lessons) > MAX_LESSONS:
        keep = sorted(
            state.lessons,
            key=lambda x: (x.edited_by is not None, x.seen, x.last_seen),
            reverse=True,
        )[:MAX_LESSONS]
        state.lessons = [lesson for lesson in state.lessons if lesson in keep]


def relevant(
    lessons: list[Lesson], purpose: LessonPurpose, context: str, budget_tokens: int
) -> list[str]:
    """The lessons for one kind of prompt, most relevant first, within ``budget_tokens``.

    Relevance: how many records gave rise to a lesson, plus twice the words it shares with
    ``context`` (the issue's title and body); ties go to the more recent, then the lower id.
    """
    words = set(_WORD.findall(context.lower()))
    scored = sorted(
        (lesson for lesson in lessons if purpose in APPLIES_TO[lesson.kind]),
        key=lambda x: (
            -(x.seen + 2 * len(words & set(_WORD.findall(x.text.lower())))),
            -x.last_seen.timestamp(),
            x.id,
        ),
    )
    chosen, used = [], 0
    for lesson in scored:
        cost = estimate_tokens(len(lesson.text) + 3)
        if used + cost > budget_tokens:
            continue
        chosen.append(lesson.text)
        used += cost
    return chosen


# ----- experiments -----------------------------------------------------------------------------


def assign_variant(repo: str, issue: int, experiment: str, variants: list[str]) -> str:
    """The variant of one experiment for one issue: a stable hash, so every replay, retry and
    rerun of the issue gets the same one, and issues spread evenly over the variants."""
    digest = hashlib.sha256(f"{repo}#{issue}:{experiment}".encode()).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    plan_prompt: str = Field(default="", description="Extra planning instructions of this arm")


class Experiment(BaseModel):
    """``run.experiments[]``: variants compared by the outcomes of the runs assigned to them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    variants: list[Variant] = Field(min_length=2)
    enabled: bool = Field(default=True, description="False: no new assignments")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="For declaring a winner")
    min_samples: int = Field(default=30, ge=1, description="Runs per variant before a winner")

    @model_validator(mode="after")
    def _unique_variants(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r} names a variant twice")
        return self


class LessonSettings(BaseModel):
    """``run.lessons``: whether runs recall lessons, and how much of a prompt they may take."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    token_budget: int = Field(
        default=DEFAULT_LESSON_TOKENS, ge=0, description="Per prompt; 0 records but injects none"
    )
