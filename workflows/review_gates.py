"""Deterministic review gates: checks that need no model and no I/O."""

from __future__ import annotations

from fnmatch import fnmatchcase

from domain.change import DiffSummary, TestRun
from domain.review import GateResult
from domain.run import RepoSettings


def is_protected(path: str, patterns: list[str]) -> bool:
    # "dir/**" also protects "dir" itself and everything below it.
    for pattern in patterns:
        if fnmatchcase(path, pattern):
            return True
        if pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2])):
            return True
    return False


def review_gates(diff: DiffSummary, test_run: TestRun, settings: RepoSettings) -> list[GateResult]:
    changed = diff.additions + diff.deletions
    protected = [f for f in diff.files if is_protected(f, settings.protected_paths)]
    return [
        GateResult(
            name="tests green",
            passed=test_run.passed,
            detail="tests pass" if test_run.passed else "the last test run failed",
        ),
        GateResult(
            name="diff size",
            passed=changed <= settings.max_diff_lines,
            detail=f"{changed} changed lines (limit {settings.max_diff_lines})",
        ),
        GateResult(
            name="protected paths",
            passed=not protected,
            detail="untouched" if not protected else "touches " + ", ".join(protected),
        ),
        GateResult(
            name="non-empty change",
            passed=bool(diff.files),
            detail=f"{len(diff.files)} files changed",
        ),
    ]
