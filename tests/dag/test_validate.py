from __future__ import annotations

import pytest

from tests.dag.helpers import task
from workflows.dag import DagProblem, remaining_critical_path, validate_dag


def test_valid_dag_has_no_problems() -> None:
    assert validate_dag([task("a"), task("b", ["a"]), task("c", ["a", "b"])]) == []


def test_unknown_dependencies_are_listed_per_task() -> None:
    problems = validate_dag([task("a", ["zz", "b", "yy"]), task("b")])
    assert problems == [
        DagProblem(
            "unknown_dependency", ("a", "yy", "zz"), "task 'a' depends on unknown tasks: yy, zz"
        )
    ]


def test_self_dependency() -> None:
    problems = validate_dag([task("a", ["a"]), task("b", ["a"])])
    assert problems == [DagProblem("self_dependency", ("a",), "task 'a' depends on itself")]


def test_cycle_members_in_dependency_order() -> None:
    tasks = [task("a", ["c"]), task("b", ["a"]), task("c", ["b"]), task("d", ["a"])]
    [problem] = validate_dag(tasks)
    assert problem.kind == "cycle"
    # a depends on c, c on b, b on a: each member depends on the next.
    assert problem.tasks == ("a", "c", "b")
    assert problem.message == "dependency cycle: a -> c -> b -> a"


def test_every_separate_cycle_is_reported() -> None:
    tasks = [task("x", ["y"]), task("y", ["x"]), task("p", ["q"]), task("q", ["p"]), task("z")]
    cycles = [p.tasks for p in validate_dag(tasks) if p.kind == "cycle"]
    assert cycles == [("x", "y"), ("p", "q")]


def test_cycle_reported_is_a_real_cycle_inside_a_tangle() -> None:
    tasks = [
        task("a", ["b", "d"]),
        task("b", ["c"]),
        task("c", ["a", "d"]),
        task("d", ["e"]),
        task("e", ["d"]),
    ]
    deps = {t.id: set(t.depends_on) for t in tasks}
    for problem in validate_dag(tasks):
        members = problem.tasks
        assert len(set(members)) == len(members)
        for here, nxt in zip(members, (*members[1:], members[0]), strict=True):
            assert nxt in deps[here]


def test_critical_path_on_a_diamond_with_weights() -> None:
    tasks = [task("a"), task("b", ["a"]), task("c", ["a"]), task("d", ["b", "c"]), task("e")]
    weights = {"a": 2.0, "b": 5.0, "c": 1.0, "d": 3.0, "e": 4.0}
    tail = remaining_critical_path(tasks, lambda t: weights[t.id])
    assert tail == {"a": 10.0, "b": 8.0, "c": 4.0, "d": 3.0, "e": 4.0}


def test_critical_path_unit_weights_count_tasks_on_the_longest_chain() -> None:
    tasks = [task("d", ["c"]), task("c", ["b"]), task("b", ["a"]), task("a"), task("x", ["a"])]
    assert remaining_critical_path(tasks) == {"d": 1, "c": 2, "b": 3, "a": 4, "x": 1}


def test_critical_path_refuses_a_cycle() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        remaining_critical_path([task("a", ["b"]), task("b", ["a"])])
