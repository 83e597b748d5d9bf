"""Judge a pull request against its case, as ``shared/reference/real-repo-cases.md`` says.

Clone the PR's head branch from the forge, overwrite the case's ``test_files_changed`` with
their ``fix_commit`` versions (the hidden tests), build a fresh virtualenv the way
``verify_cases.py`` does (``install``, then ``setup_commands`` with the venv first on ``PATH``),
run the ``fail_to_pass`` ids (each must pass) and ``full_test_command`` (nothing may fail).
Per-node-id outcomes come from the verifier's own pytest plugin. Blocking: run it in a thread.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.real_repos import verify_cases as vc
from benchmarks.real_repos.sources import Case, file_at
from devstack.forge.testing import run_git


def _hidden_tests(case: Case, upstream: Path, repo: Path) -> None:
    fix = case.data["fix_commit"]
    for path in case.data["test_files_changed"]:
        content = file_at(case, upstream, fix, path)
        target = repo / path
        if content is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _build_env(runner: vc.Runner) -> None:
    """``verify_cases.Runner.prepare``'s environment half, on a checkout already in place."""
    started = time.monotonic()
    vc.sh([runner.python, "-m", "venv", str(runner.venv)], cwd=runner.work)
    runner.plugin_dir.mkdir()
    (runner.plugin_dir / "rr_outcomes_plugin.py").write_text(vc._PLUGIN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env["VIRTUAL_ENV"] = str(runner.venv)
    env["PATH"] = f"{runner.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    runner.env = env
    pip = [str(runner.venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    if runner.case["install"]:
        vc.sh([*pip, *runner.case["install"]], cwd=runner.repo, env=env)
    for command in runner.case["setup_commands"]:
        vc.sh(command, cwd=runner.repo, env=env)
    runner.timings["env_build_s"] = round(time.monotonic() - started, 2)


def _counts(outcomes: dict[str, str]) -> dict[str, int]:
    return {o: sum(1 for v in outcomes.values() if v == o) for o in sorted(set(outcomes.values()))}


def pr_files(repo: Path, base_branch: str) -> list[str]:
    """The files the PR's head changes against the base branch it targets."""
    diff = run_git("diff", "--name-only", f"origin/{base_branch}...HEAD", cwd=repo)
    return sorted(diff.split())


def _same_as_gold(case: Case, upstream: Path, repo: Path) -> bool:
    fix = case.data["fix_commit"]
    for path in case.data["source_files_changed"]:
        gold = file_at(case, upstream, fix, path)
        mine = (repo / path).read_bytes() if (repo / path).is_file() else None
        if gold != mine:
            return False
    return True


def evaluate(
    case: Case, upstream: Path, clone_url: str, branch: str, token: str, work: Path
) -> dict[str, Any]:
    """The evaluation record: ``fail_to_pass_ok``, ``full_suite_ok`` and what shows why."""
    report: dict[str, Any] = {"fail_to_pass_ok": False, "full_suite_ok": False}
    work.mkdir(parents=True, exist_ok=True)
    runner = vc.Runner(case.id, case.data, work, "python3")
    started = time.monotonic()
    try:
        run_git("clone", "--quiet", "--branch", branch, clone_url, str(runner.repo), token=token)
        report["pr_files"] = pr_files(runner.repo, "main")
        report["sources_equal_gold"] = _same_as_gold(case, upstream, runner.repo)
        _hidden_tests(case, upstream, runner.repo)
        _build_env(runner)
        ids = case.data["fail_to_pass"]
        command = "python -m pytest " + shlex.join(ids)
        code, outcomes, secs, tail = runner.pytest(command, "fail-to-pass")
        runner.timings["fail_to_pass_s"] = secs
        report["fail_to_pass"] = {nid: outcomes.get(nid, "missing") for nid in ids}
        report["fail_to_pass_ok"] = all(outcomes.get(nid) == vc.PASSED for nid in ids)
        if not report["fail_to_pass_ok"]:
            report["fail_to_pass_tail"] = tail
        code, outcomes, secs, tail = runner.pytest(case.data["full_test_command"], "full")
        runner.timings["full_suite_s"] = secs
        bad = sorted(n for n, o in outcomes.items() if o in vc.BAD)
        report["full_suite"] = {"exit_code": code, "counts": _counts(outcomes)}
        report["full_suite_ok"] = code == 0 and bool(outcomes) and not bad
        if not report["full_suite_ok"]:
            report["full_suite"].update(failing=bad[:20], tail=tail)
    except (vc.CaseError, RuntimeError, OSError, subprocess.SubprocessError) as err:
        report["error"] = " ".join(str(err).split())[:1500]
    report["timings"] = runner.timings
    report["seconds"] = round(time.monotonic() - started, 2)
    return report
