"""Dependency graphs: cycles, topological order and longest chains, in one place.

A graph maps each node to the nodes it depends on, in a meaningful order (plan order, config
order). Every function is pure and deterministic, so workflows, validators and the config loader
all see the same answer for the same graph. Edges to unknown nodes are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Graph = Mapping[str, Sequence[str]]


class CycleError(ValueError):
    """The graph is not a DAG; ``members`` are the nodes that could not be ordered."""

    def __init__(self, members: list[str]) -> None:
        super().__init__("dependency cycle among " + ", ".join(sorted(members)))
        self.members = members


def _known(deps: Graph) -> dict[str, list[str]]:
    return {n: [d for d in dict.fromkeys(deps[n]) if d in deps] for n in deps}


def reverse(deps: Graph) -> dict[str, list[str]]:
    """node -> the nodes that depend on it directly, in graph order."""
    out: dict[str, list[str]] = {n: [] for n in deps}
    for node, after in _known(deps).items():
        for dep in after:
            out[dep].append(node)
    return out


def strong_components(deps: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative (recursion limits are not the graph's problem)."""
    edges = _known(deps)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                nxt = edges[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def cycles(deps: Graph) -> list[list[str]]:
    """One simple cycle per strongly connected component (a self loop is one too).

    Each cycle starts at the component's first node in graph order and lists members in
    dependency order: each depends on the next, the last on the first.
    """
    edges = _known(deps)
    order = {n: i for i, n in enumerate(edges)}
    found: list[list[str]] = []
    for component in strong_components(edges):
        members = set(component)
        start = min(component, key=order.__getitem__)
        if len(component) == 1 and start not in edges[start]:
            continue
        path, seen, node = [start], {start: 0}, start
        while True:
            node = next(d for d in edges[node] if d in members)
            if node in seen:
                found.append(path[seen[node] :])
                break
            seen[node] = len(path)
            path.append(node)
    found.sort(key=lambda c: order[c[0]])
    return found


def find_cycle(deps: Graph) -> list[str]:
    """The first cycle, closed (``[a, b, ..., a]``), or ``[]`` when the graph is a DAG."""
    first = next(iter(cycles(deps)), None)
    if first is None:
        return []
    return [*first, first[0]]


def topological_order(deps: Graph, rank: Callable[[str], Any] | None = None) -> list[str]:
    """Dependencies first. Among the nodes ready at each step, the lowest ``rank`` goes first,
    then graph order. Raises ``CycleError`` when the graph is not a DAG."""
    edges = _known(deps)
    position = {n: i for i, n in enumerate(edges)}

    def key(node: str) -> tuple[Any, int]:
        return (rank(node) if rank is not None else 0, position[node])

    done: set[str] = set()
    order: list[str] = []
    remaining = list(edges)
    while remaining:
        ready = [n for n in remaining if all(d in done for d in edges[n])]
        if not ready:
            raise CycleError(remaining)
        best = min(ready, key=key)
        order.append(best)
        done.add(best)
        remaining.remove(best)
    return order


def longest_chain(deps: Graph, weight: Callable[[str], float]) -> dict[str, float]:
    """Each node's weight plus the heaviest chain of what it depends on (CPM on ``deps``).

    On the reversed graph this is the critical path still ahead of each node.
    """
    edges = _known(deps)
    total: dict[str, float] = {}
    for node in topological_order(edges):
        total[node] = weight(node) + max((total[d] for d in edges[node]), default=0.0)
    return {n: total[n] for n in edges}
