"""A seeded, deterministic fault plan: which request gets which fault.

A plan is a list of rules. Each rule names a fault kind, which requests it may hit (method and
a regular expression searched in the path and query), how often (``rate``), after how many
matching requests (``after``) and how many times at most (``count``: faults stop, so a run can
finish). Each rule draws from its own generator seeded with the plan's seed and its index, only
for requests it is eligible for: the same sequence of requests meets the same faults.

Fault kinds:

``fail``
    answer ``status`` (500, 502, 503, 429 with an optional ``Retry-After``) without forwarding.
``stall``
    hold the request ``stall_seconds`` (longer than the client's timeout), then drop it unsent.
``reset``
    close the connection abruptly (TCP RST) without forwarding.
``lose``
    forward the request, read the whole upstream answer (the write HAPPENED), then reset the
    connection: the client never learns it succeeded.
``late``
    hold the request ``stall_seconds`` (the client gives up and retries meanwhile), then forward
    it anyway: the write lands after the retry, as a slow upstream's would.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["fail", "stall", "reset", "lose", "late"]
KINDS: tuple[FaultKind, ...] = ("fail", "stall", "reset", "lose", "late")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class FaultRule:
    kind: FaultKind
    path: str = ""  # regular expression searched in path?query; empty: every path
    methods: tuple[str, ...] = ()  # empty: every method
    rate: float = 1.0  # chance of a fault per eligible request
    count: int | None = 1  # faults this rule injects at most; None: no limit
    after: int = 0  # matching requests let through before the rule may fire
    status: int = 503  # fail: the status answered
    retry_after: float | None = None  # fail: a Retry-After header (seconds)
    stall_seconds: float = 35.0  # stall, late: how long the request is held

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(KINDS)})")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {self.rate}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return re.search(self.path, path) is not None

    def describe(self) -> str:
        held = f"{self.kind} {self.stall_seconds:g}s"
        what = {"fail": f"fail {self.status}", "stall": held, "late": held}
        where = f"{'|'.join(self.methods) or '*'} {self.path or '.*'}"
        budget = "∞" if self.count is None else str(self.count)
        return f"{what.get(self.kind, self.kind)} on {where} (rate {self.rate:g}, ≤{budget})"


@dataclass(frozen=True)
class Fault:
    """One injected fault, as the report shows it."""

    kind: FaultKind
    method: str
    path: str
    rule: int  # index of the rule in its plan
    at: float  # seconds since the plan was made
    status: int | None = None  # fail: the status answered; lose: the upstream's (lost) status

    def __str__(self) -> str:
        status = f" [{self.status}]" if self.status is not None else ""
        return f"{self.at:6.1f}s {self.kind}{status} {self.method} {self.path}"


@dataclass
class _RuleState:
    rng: random.Random
    matched: int = 0
    fired: int = 0


@dataclass
class FaultPlan:
    """Rules plus their state; thread-safe (the proxy decides, a test reads the record)."""

    rules: Sequence[FaultRule] = ()
    seed: int = 0
    max_faults: int | None = None  # over all rules
    _states: list[_RuleState] = field(init=False, repr=False)
    _faults: list[Fault] = field(init=False, repr=False, default_factory=list)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _started: float = field(init=False, repr=False, default_factory=time.monotonic)
    _fired: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        self.rules = tuple(self.rules)
        self._states = [
            _RuleState(random.Random(f"{self.seed}/{index}")) for index in range(len(self.rules))
        ]

    def decide(self, method: str, path: str) -> tuple[int, FaultRule] | None:
        """The rule that fires for this request, or None to forward it untouched."""
        with self._lock:
            if self.max_faults is not None and self._fired >= self.max_faults:
                return None
            for index, (rule, state) in enumerate(zip(self.rules, self._states, strict=True)):
                if not rule.matches(method, path):
                    continue
                state.matched += 1
                if state.matched <= rule.after:
                    continue
                if rule.count is not None and state.fired >= rule.count:
                    continue
                if state.rng.random() < rule.rate:
                    state.fired += 1
                    self._fired += 1
                    return index, rule
            return None

    def record(self, index: int, method: str, path: str, status: int | None = None) -> Fault:
        fault = Fault(
            self.rules[index].kind,
            method,
            path,
            index,
            round(time.monotonic() - self._started, 2),
            status,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def describe(self) -> list[str]:
        return [rule.describe() for rule in self.rules]
