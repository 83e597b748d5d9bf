"""The fault mix: one entry per faulted run of the demo issue.

Each run is an issue of the one demo repository with its own worker process (task queue) and
two proxies (forge, model) carrying its plan. Budgets (``count``) are small enough for a run to
finish: transient faults must be absorbed by retries (``expect="pr"``); a few runs spend a
model call's retries on purpose and must then END VISIBLY instead (``expect="ending"``).

Timeouts the plans are built around: the forge client's HTTP timeout is ``FORGE_TIMEOUT``, the
model's is ``MODEL_TIMEOUT`` (both set for every run's worker); git has none.

Each run earns its place: together they meet every fault kind on forge, git and model traffic,
kill workers in three stages, and end visibly in each way a faulted run can end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devstack.faults import WRITES, FaultKind, FaultRule

MODEL_TIMEOUT = 5  # seconds: AUTOPILOT__MODEL__TIMEOUT_SECONDS for every run
FORGE_TIMEOUT = 5  # seconds: AUTOPILOT__FORGE__TIMEOUT_SECONDS for every run
FORGE_HOLD = FORGE_TIMEOUT + 3.0
MODEL_HOLD = MODEL_TIMEOUT + 3.0
GIT_HOLD = 20.0  # git waits forever: held this long, then reset

API = r"^/api/v1/"
COMMENTS = r"/issues/\d+/comments$"
COMMENT_EDIT = r"/issues/comments/\d+$"
LABELS = r"/labels(/\d+)?$"
PULLS = r"/pulls$"
GIT = r"\.git/"
RECEIVE = r"\.git/git-receive-pack$"
UPLOAD = r"\.git/git-upload-pack$"
REFS = r"\.git/info/refs"
CHAT = r"/chat/completions$"
GET = ("GET",)
POST = ("POST",)


@dataclass(frozen=True)
class Kill:
    """SIGKILL the worker ``delay`` s after the ``nth`` request matching ``what`` passed the
    forge or model proxy, or once the run is in stage ``what``; then start it again."""

    on: Literal["forge", "model", "stage"]
    what: str
    nth: int = 1
    methods: tuple[str, ...] = ()
    delay: float = 0.3


@dataclass(frozen=True)
class RunSpec:
    name: str
    forge: tuple[FaultRule, ...] = ()
    model: tuple[FaultRule, ...] = ()
    kills: tuple[Kill, ...] = ()
    expect: Literal["pr", "ending"] = "pr"
    settings: tuple[tuple[str, str], ...] = ()  # more AUTOPILOT__* overrides for its worker

    @property
    def weight(self) -> int:
        """A guess at its length: long runs start first."""
        held = sum(r.kind in ("stall", "late") for r in (*self.forge, *self.model))
        return 10 * len(self.kills) + 8 * (self.expect == "ending") + 6 * held


def rule(
    kind: FaultKind, path: str = "", methods: tuple[str, ...] = (), **kw: float | None
) -> FaultRule:
    return FaultRule(kind, path, methods, **kw)  # type: ignore[arg-type]


def down(after: int, status: int = 503) -> FaultRule:
    """The model fails every call from the ``after``-th on: a call's retries run out."""
    return FaultRule("fail", CHAT, after=after, count=None, status=status)


FORGE_RUNS = (
    RunSpec("forge-fail-writes", forge=(rule("fail", API, WRITES, rate=0.5, count=5),)),
    RunSpec("forge-reset", forge=(rule("reset", API, rate=0.25, count=5),)),
    RunSpec(
        "forge-stall",
        forge=(rule("stall", COMMENT_EDIT, ("PATCH",), after=1, stall_seconds=FORGE_HOLD),),
    ),
    RunSpec("forge-lose-comments", forge=(rule("lose", COMMENTS, POST, count=3),)),
    RunSpec("forge-lose-labels", forge=(rule("lose", LABELS, ("POST", "PUT"), count=4),)),
    RunSpec("forge-lose-pull", forge=(rule("lose", PULLS, POST),)),
    RunSpec(
        "forge-lose-edits",
        forge=(
            rule("lose", COMMENT_EDIT, ("PATCH",), count=3),
            rule("lose", LABELS, ("DELETE",), count=2),
        ),
    ),
)
GIT_RUNS = (
    RunSpec("git-lose-push", forge=(rule("lose", RECEIVE, POST, count=3),)),
    RunSpec("git-reset-fetch", forge=(rule("reset", UPLOAD, POST, rate=0.5, count=3),)),
    RunSpec(
        "git-stall-push", forge=(rule("stall", RECEIVE, POST, after=1, stall_seconds=GIT_HOLD),)
    ),
)
# Beyond fail/stall/reset/lose: a write held past the client's timeout that lands anyway, after
# the retry (a slow forge). Find-or-create cannot see a write still in flight.
LATE_RUNS = (
    RunSpec("late-comment", forge=(rule("late", COMMENTS, POST, stall_seconds=FORGE_HOLD),)),
    RunSpec(
        "late-pull-labels",
        forge=(
            rule("late", PULLS, POST, stall_seconds=FORGE_HOLD),
            rule("late", LABELS, POST, stall_seconds=FORGE_HOLD),
        ),
    ),
)
MODEL_RUNS = (
    RunSpec("model-429", model=(rule("fail", CHAT, rate=0.5, count=3, status=429, retry_after=1),)),
    RunSpec("model-500", model=(rule("fail", CHAT, rate=0.4, count=4, status=500),)),
    RunSpec(
        "model-stall", model=(rule("stall", CHAT, rate=0.3, count=2, stall_seconds=MODEL_HOLD),)
    ),
    RunSpec("model-reset", model=(rule("reset", CHAT, rate=0.4, count=3),)),
    RunSpec("model-lose", model=(rule("lose", CHAT, rate=0.4, count=3),)),
    # Every call from the plan's drafting on fails: the run must fail visibly at plan.
    RunSpec("model-down-at-plan", model=(down(2),), expect="ending"),
    # Every call from a task's first turn on fails: the task fails, the run asks a person.
    RunSpec("model-down-in-task", model=(down(4, 502),), expect="ending"),
)
ENDING_RUNS = (
    # The endings themselves under faults: the failure's comment and labels lost or killed.
    RunSpec(
        "failing-lossy",
        forge=(rule("lose", COMMENTS, POST, after=1), rule("lose", LABELS, count=2, after=2)),
        model=(down(2),),
        expect="ending",
    ),
    # The forge refuses (403, as a secondary rate limit or a revoked permission would) to take
    # needs-human off the issue while the run is being cancelled.
    RunSpec(
        "cancel-refused",
        forge=(rule("fail", r"/issues/\d+/labels/\d+$", ("DELETE",), count=None, status=403),),
        model=(down(4),),
        expect="ending",
    ),
    RunSpec(
        "needs-human-lossy",
        forge=(rule("lose", LABELS, POST, after=1, count=2), rule("fail", COMMENTS, POST, after=1)),
        model=(down(4),),
        expect="ending",
    ),
)
KILL_RUNS = (
    RunSpec(
        "kill-implement-lossy",
        forge=(rule("lose", API, WRITES, rate=0.3, count=3),),
        kills=(Kill("model", CHAT, 6, delay=0.5),),
    ),
    RunSpec(
        "kill-at-pull-lost",
        forge=(rule("lose", PULLS, POST),),
        kills=(Kill("forge", PULLS, 1, POST, delay=0.0),),
    ),
    RunSpec("kill-in-verify", kills=(Kill("stage", "verify", delay=1.0),)),
)
MIXED_RUNS = (
    # One verify and one review round per run of the workflow: it continues as new twice.
    RunSpec(
        "continued-as-new",
        model=(rule("fail", CHAT, rate=0.3, count=2, status=429),),
        settings=(("AUTOPILOT__RUN__MAX_LOOP_ROUNDS_PER_RUN", "1"),),
    ),
)
RUNS: tuple[RunSpec, ...] = (
    *FORGE_RUNS,
    *GIT_RUNS,
    *LATE_RUNS,
    *MODEL_RUNS,
    *ENDING_RUNS,
    *KILL_RUNS,
    *MIXED_RUNS,
)
