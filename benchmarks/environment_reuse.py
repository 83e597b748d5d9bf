"""A repository's environment: the first build against its reuse by later runs and tasks.

    python -m benchmarks.environment_reuse              # the demo repository, 5 reuses
    python -m benchmarks.environment_reuse --runs 20 --repo path/to/a/repository

Seeds a local git origin with the repository's files, then calls the real
``workspace.prepare_environment`` activity (real git checkouts, the real sandbox, the detected
default setup unless ``--setup`` is given; pip needs the package index) once with an empty
environment cache, and ``--runs`` more times from other workspaces of the same repository, as
other runs and tasks would. Prints one JSON document:

- ``first_build_seconds``: the environment built (inside the activity, without the checkout);
- ``reuse_seconds``: the same for each reuse (median, max, every run), and how many of them
  built anything (``rebuilt``, 0 when the cache works);
- ``first_over_reuse``: the ratio of the two (median reuse);
- ``activity_seconds``: the whole activity call (git checkout included), first and median
  reuse, and their ratio: what a run actually waits;
- ``test_run``: one ``python -m pytest -q`` with the environment, for scale (the demo's tests
  fail by design: they show the bug the demo fixes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from domain.issue import RepoRef
from domain.sandbox import SandboxSettings
from domain.workspace import PrepareEnvironmentInput, RunTestsInput, WorkspaceRef

DEMO_REPO = Path(__file__).resolve().parents[1] / "devstack" / "demo" / "repo"
DEFAULT_RUNS = 5
TEST_COMMAND = "python -m pytest -q -p no:cacheprovider"
_GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def seed_origin(repo: Path, work: Path) -> str:
    """A bare origin whose ``main`` holds ``repo``'s files; its file:// URL."""
    seed, bare = work / "seed", work / "origin.git"
    ignore = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.egg-info")
    shutil.copytree(repo, seed, ignore=ignore)
    env = {**os.environ, **_GIT_ENV}
    for args in (
        ["init", "-q", "--bare", "-b", "main", str(bare)],
        ["-C", str(seed), "init", "-q", "-b", "main"],
        ["-C", str(seed), "add", "-A"],
        ["-C", str(seed), "commit", "-q", "-m", "seed"],
        ["-C", str(seed), "push", "-q", str(bare), "main"],
    ):
        subprocess.run(["git", *args], env=env, check=True, capture_output=True)
    return bare.as_uri()


def workspace(url: str, run: int) -> WorkspaceRef:
    return WorkspaceRef(
        repo=RepoRef(forge_url="http://forge.invalid", owner="bench", name="env-reuse"),
        clone_url=url,
        base_branch="main",
        branch=f"autopilot/issue-{run}",
        key=f"bench:env-reuse:{run}",
    )


async def measure(
    repo: Path, work: Path, runs: int = DEFAULT_RUNS, setup: list[str] | None = None
) -> dict[str, Any]:
    """The report (see the module docstring); ``work`` must be an empty scratch directory."""
    url = seed_origin(repo, work)
    settings = SandboxSettings()
    acts = WorkspaceActivities(
        work / "workspaces",
        lambda _: None,
        sandbox=settings,
        environments_root=work / "environments",
    )
    env = ActivityEnvironment()
    refs, walls = [], []
    for run in range(runs + 1):
        started = time.monotonic()
        request = PrepareEnvironmentInput(workspace=workspace(url, run), setup_commands=setup)
        result = await env.run(acts.prepare_environment, request)
        walls.append(round(time.monotonic() - started, 3))
        if result.failure is not None:
            raise RuntimeError(result.failure.describe())
        assert result.environment is not None
        refs.append(result.environment)
    first, reuses = refs[0], refs[1:]
    reuse = [r.seconds for r in reuses]
    median = statistics.median(reuse) if reuse else 0.0
    wall_median = statistics.median(walls[1:]) if reuse else 0.0
    tests = await env.run(
        acts.run_tests,
        RunTestsInput(workspace=workspace(url, 0), command=TEST_COMMAND, environment=first),
    )
    return {
        "repository": "demo" if repo == DEMO_REPO else repo.name,
        "commands": first.commands,
        "sandbox": settings.mode,
        "first_build_seconds": first.seconds,
        "first_built": first.built,
        "reuse_seconds": {
            "median": median,
            "max": max(reuse, default=0.0),
            "runs": reuse,
            "rebuilt": sum(r.built for r in reuses),
        },
        "first_over_reuse": round(first.seconds / median, 1) if median else None,
        "activity_seconds": {
            "first": walls[0],
            "reuse_median": wall_median,
            "first_over_reuse": round(walls[0] / wall_median, 1) if wall_median else None,
        },
        "test_run": {"seconds": tests.duration_seconds, "exit_code": tests.exit_code},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.environment_reuse")
    parser.add_argument("--repo", type=Path, default=DEMO_REPO, help="repository files to seed")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="reuses after the build")
    parser.add_argument("--setup", action="append", help="a setup command (repeatable)")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="autopilot-bench-env-") as work:
            report = asyncio.run(measure(args.repo, Path(work), args.runs, args.setup))
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        print(f"environment_reuse: {err}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    print(json.dumps(report, indent=2))
    sys.stdout.flush()
    os._exit(0)  # as the other benchmarks: no interpreter teardown


if __name__ == "__main__":
    main()
