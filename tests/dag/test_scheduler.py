from __future__ import annotations

import pytest

from domain.plan import PlanTask
from tests.dag.helpers import task
from workflows.dag import DagScheduler, DagState


def diamond() -> list[PlanTask]:
    return [task("a"), task("b", ["a"]), task("c", ["a"]), task("d", ["b", "c"])]


def test_task_starts_as_soon_as_its_last_dependency_completes() -> None:
    # b is long, c is short: d must wait for both, but e (after c only) must not wait for b.
    tasks = [task("a"), task("b", ["a"]), task("c", ["a"]), task("d", ["b", "c"]), task("e", ["c"])]
    s = DagScheduler(tasks, max_parallel=5)
    assert s.next_to_start() == ["a"]
    s.started("a")
    assert s.next_to_start() == []
    s.completed("a")
    assert s.next_to_start() == ["b", "c"]
    s.started("b")
    s.started("c")
    s.completed("c")
    assert s.next_to_start() == ["e"]  # not held back until b, the rest of its "level", finishes
    s.started("e")
    s.completed("b")
    assert s.next_to_start() == ["d"]


def test_concurrency_bound() -> None:
    s = DagScheduler([task(f"t{i}") for i in range(5)], max_parallel=2)
    assert s.next_to_start() == ["t0", "t1"]
    s.started("t0")
    assert s.next_to_start() == ["t1"]
    s.started("t1")
    assert s.next_to_start() == []
    with pytest.raises(ValueError, match="2 already running"):
        s.started("t2")
    s.completed("t0")
    assert s.next_to_start() == ["t2"]


def test_longest_remaining_critical_path_goes_first() -> None:
    # "long" heads a chain of three; "short" has nothing after it but is first in plan order.
    tasks = [task("short"), task("long"), task("mid", ["long"]), task("end", ["mid"])]
    s = DagScheduler(tasks, max_parallel=1)
    assert s.next_to_start() == ["long"]


def test_weights_decide_the_critical_path() -> None:
    tasks = [task("a"), task("b"), task("c", ["a"])]
    weights = {"a": 1.0, "b": 5.0, "c": 1.0}
    s = DagScheduler(tasks, max_parallel=3, weight=lambda t: weights[t.id])
    assert s.next_to_start() == ["b", "a"]


def test_priority_breaks_ties_then_plan_order() -> None:
    tasks = [task("a", priority=1), task("b", priority=3), task("c", priority=1), task("d")]
    s = DagScheduler(tasks, max_parallel=4)
    assert s.next_to_start() == ["b", "a", "c", "d"]


def test_failure_blocks_only_transitive_dependents() -> None:
    tasks = [
        task("a"),
        task("b", ["a"]),
        task("c", ["b"]),
        task("x"),
        task("y", ["x", "c"]),
        task("z", ["x"]),
    ]
    s = DagScheduler(tasks, max_parallel=3)
    s.started("a")
    s.started("x")
    s.failed("a", "tests red")
    assert s.blocked == {"b": "tests red", "c": "tests red", "y": "tests red"}
    assert s.failed_ids == ("a",)
    assert s.failures == {"a": "tests red"}
    s.completed("x")
    assert s.next_to_start() == ["z"]
    s.started("z")
    s.completed("z")
    assert s.finished()
    assert s.completed_ids == ("x", "z")


def test_blocked_task_cannot_start() -> None:
    s = DagScheduler(diamond(), max_parallel=2)
    s.started("a")
    s.failed("a", "boom")
    with pytest.raises(ValueError, match="'b' cannot start: it is blocked"):
        s.started("b")


def test_skipping_a_failed_task_unblocks_its_dependents() -> None:
    s = DagScheduler(diamond(), max_parallel=2)
    s.started("a")
    s.failed("a", "boom")
    assert s.finished()
    s.skipped("a")
    assert s.blocked == {}
    assert s.failed_ids == ()
    assert s.skipped_ids == ("a",)
    assert s.next_to_start() == ["b", "c"]


def test_skipping_a_waiting_task_lets_dependents_run() -> None:
    s = DagScheduler(diamond(), max_parallel=2)
    s.skipped("a")
    assert s.next_to_start() == ["b", "c"]
    with pytest.raises(ValueError, match="cannot be skipped: it is skipped"):
        s.skipped("a")


def test_skipping_a_blocked_task_unblocks_only_what_it_held() -> None:
    tasks = [task("a"), task("b", ["a"]), task("c", ["b"]), task("d", ["a", "c"])]
    s = DagScheduler(tasks, max_parallel=2)
    s.started("a")
    s.failed("a", "boom")
    s.skipped("b")
    assert s.blocked == {"d": "boom"}  # d still depends on the failed a directly
    assert s.next_to_start() == ["c"]


def test_misreports_are_refused() -> None:
    s = DagScheduler(diamond(), max_parallel=2)
    with pytest.raises(ValueError, match="cannot start before a"):
        s.started("b")
    with pytest.raises(ValueError, match="'a' is not running: it is waiting"):
        s.completed("a")
    with pytest.raises(ValueError, match="unknown task 'zz'"):
        s.started("zz")
    s.started("a")
    with pytest.raises(ValueError, match="cannot start: it is running"):
        s.started("a")


def test_invalid_graph_or_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="dependency cycle"):
        DagScheduler([task("a", ["b"]), task("b", ["a"])], max_parallel=1)
    with pytest.raises(ValueError, match="duplicate task ids: a"):
        DagScheduler([task("a"), task("a")], max_parallel=1)
    with pytest.raises(ValueError, match="at least 1"):
        DagScheduler([task("a")], max_parallel=0)


def test_snapshot_restore_round_trip_through_json() -> None:
    tasks = [*diamond(), task("e"), task("f", ["e"]), task("g")]
    s = DagScheduler(tasks, max_parallel=3)
    for t in ("a", "e", "g"):
        s.started(t)
    s.completed("a")
    s.failed("e", "no")
    s.started("b")
    s.skipped("g")
    state = DagState.model_validate_json(s.snapshot().model_dump_json())
    r = DagScheduler.restore(tasks, 3, state)
    assert r.snapshot() == s.snapshot()
    assert r.running == s.running == ("b",)
    assert r.blocked == s.blocked == {"f": "no"}
    assert r.next_to_start() == s.next_to_start() == ["c"]
    r.started("c")
    r.completed("b")
    r.completed("c")
    assert r.next_to_start() == ["d"]


def test_restore_refuses_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="unknown tasks: zz"):
        DagScheduler.restore(diamond(), 2, DagState(completed=["zz"]))
    with pytest.raises(ValueError, match="more than once: a"):
        DagScheduler.restore(diamond(), 2, DagState(completed=["a"], running=["a"]))
