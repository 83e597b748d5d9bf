"""Deterministic review gates: checks that need no model (the scan they read is an activity's)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from domain.change import DiffSummary, TestRun
from domain.review import ChangeScan, GateResult
from domain.run import RepoSettings

GITMODULES = ".gitmodules"
MAX_LISTED = 10  # findings named in a gate's detail; the rest are counted


def is_protected(path: str, patterns: list[str]) -> bool:
    # "dir/**" also protects "dir" itself and everything below it.
    for pattern in patterns:
        if fnmatchcase(path, pattern):
            return True
        if pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2])):
            return True
    return False


def review_gates(
    diff: DiffSummary, test_run: TestRun, settings: RepoSettings, scan: ChangeScan | None = None
) -> list[GateResult]:
    """Every gate's result, in the order the PR shows them; ``scan`` None (runs recorded before
    the scan existed) leaves out the secrets and submodule gates."""
    changed = diff.additions + diff.deletions
    protected = [f for f in diff.files if is_protected(f, settings.protected_paths)]
    gates = [
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
    ]
    if scan is not None:
        gates += [secrets_gate(scan), submodules_gate(diff, scan)]
    gates.append(
        GateResult(
            name="non-empty change",
            passed=bool(diff.files),
            detail=f"{len(diff.files)} files changed",
        )
    )
    return gates


def secrets_gate(scan: ChangeScan) -> GateResult:
    """Fails on any likely secret on an added line; names where and what kind, never the value."""
    found = [f"{s.path}:{s.line} ({s.kind})" for s in scan.secrets]
    detail = (
        f"{len(found)} likely secret(s) on added lines: {_listed(found)}; remove them (and "
        "rotate them: the branch holding them was pushed)"
        if found
        else "none found on the added lines"
    )
    if scan.unscanned:
        detail += f"; not scanned: {_listed(scan.unscanned)}"
    return GateResult(name="secrets", passed=not found, detail=detail)


def submodules_gate(diff: DiffSummary, scan: ChangeScan) -> GateResult:
    """Fails when the change touches .gitmodules or a submodule entry: never made automatically."""
    touched = sorted({*(f for f in diff.files if f == GITMODULES), *scan.submodules})
    return GateResult(
        name="submodules",
        passed=not touched,
        detail="untouched" if not touched else "changes " + _listed(touched),
    )


def _listed(items: list[str]) -> str:
    more = len(items) - MAX_LISTED
    return ", ".join(items[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")
