"""The real-repository benchmark: its helpers, and one bundled project through the whole path.

The end-to-end test needs no mirror: tomli's history is vendored as a git bundle
(``benchmarks/real_repos/bundles/tomli.bundle``). It starts the real Temporal dev server, the
local forge, the gold-patch replay model and a worker, builds the case's environment in the
sandbox (pip from the package index), runs the issue to a PR and evaluates the PR with the
hidden tests in a fresh virtualenv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.real_repo_bench import LARGEST_ANSWER_LIMIT, run_benchmark, summarize
from benchmarks.real_repos import sources
from benchmarks.real_repos.stack import (
    RUN_TEST_COMMANDS,
    repositories_yaml,
    setup_commands,
    venv_command,
)
from config.settings import load_config

PROJECT = Path(__file__).resolve().parents[2]
BUNDLED = ["tomli-load-text-mode", "tomli-parse-float-illegal-types"]


def test_setup_uses_the_environment_s_own_interpreter() -> None:
    (case,) = sources.load_cases(["tomli-load-text-mode"])
    commands = setup_commands(case)
    assert commands[0] == "python3 -m venv /autopilot/env"
    assert commands[1].startswith("/autopilot/env/bin/python -m pip install pytest==")
    assert commands[2:] == ["/autopilot/env/bin/python -m pip install -e ."]
    assert venv_command("pip install 'a b'") == "/autopilot/env/bin/pip install 'a b'"
    assert venv_command("make develop") == "make develop"


def test_every_case_is_a_configured_repository(tmp_path: Path) -> None:
    cases = sources.load_cases()
    path = tmp_path / "repositories.yaml"
    path.write_text(repositories_yaml(cases, "bench"))
    config = load_config(env={"AUTOPILOT_REPOSITORIES": str(path)})
    for case in cases:
        repo = config.repository(f"bench/{case.id}")
        wanted = RUN_TEST_COMMANDS.get(case.id, case.data["test_command"])
        assert repo is not None and repo.test_command == wanted
        assert repo.setup_command == setup_commands(case)


def test_bundles_cover_their_cases_and_the_rest_is_named(tmp_path: Path) -> None:
    cases = sources.load_cases()
    found, missing = sources.locate(cases, {}, [str(tmp_path)])
    assert found == {"hukkin/tomli": str(sources.BUNDLES_DIR / "tomli.bundle")}
    assert len(missing) == len({c.repo for c in cases}) - 1
    assert any(line.startswith("pallets/click (cases: click-") for line in missing)
    message = sources.missing_message(missing, [str(tmp_path)])
    assert "--mirror-root" in message and "REAL_REPOS_MIRROR_ROOT" in message
    # The bundle holds both cases' commits and the tag their base describes.
    sources.clone_upstream(found, tmp_path / "upstream")
    for case in sources.load_cases(BUNDLED):
        sources.check_commits(case, tmp_path / "upstream")
        assert sources.release_tag(case, tmp_path / "upstream")
        assert sources.gold_tokens(case, tmp_path / "upstream") > 0


def test_without_repositories_the_command_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REAL_REPOS_")}
    command = [sys.executable, "-m", "benchmarks.real_repo_bench"]
    done = subprocess.run(
        [*command, "--cases", "click-echo-empty-bytes", "--mirror-root", str(tmp_path)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "pallets/click (cases: click-echo-empty-bytes)" in done.stderr
    assert "--mirror-root" in done.stderr and not done.stdout


def _record(output: int, gold: int, largest: int, green: bool) -> dict[str, Any]:
    model = {"calls": 3, "input_tokens": 10, "output_tokens": output}
    model["largest_answer_tokens"] = largest
    outcome = "pr_opened" if green else "failed"
    return {"outcome": outcome, "green": green, "gold_tokens": gold, "model": model}


def test_summary_checks_the_bar() -> None:
    met = summarize([_record(500, 200, 300, True), _record(100, 100, 8192, True)], 12.0)
    assert met["output_over_gold"] == 2.0 and met["largest_answer_tokens"] == 8192
    assert all(met["done"].values()) and met["green"] == 2
    missed = summarize([_record(700, 200, 9000, True), _record(1, 1, 1, False)], 1.0)
    assert not any(missed["done"].values())


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_bundled_cases_go_green_through_the_whole_pipeline(tmp_path: Path) -> None:
    cases = sources.load_cases(BUNDLED)
    found, missing = sources.locate(cases, {}, [])
    assert not missing and found["hukkin/tomli"].endswith("tomli.bundle")
    report = await run_benchmark(cases, found, tmp_path, jobs=2)
    for case, record in zip(cases, report["cases"], strict=True):
        assert record["outcome"] == "pr_opened", record
        evaluation = record["evaluation"]
        assert evaluation["fail_to_pass_ok"], evaluation
        assert evaluation["full_suite_ok"], evaluation
        assert evaluation["pr_files"] == sorted(case.data["source_files_changed"])
        assert record["green"]
        assert 0 < record["model"]["largest_answer_tokens"] <= LARGEST_ANSWER_LIMIT
    summary = report["summary"]
    assert summary["green"] == len(BUNDLED)
    # The issue's bar is on the totals: output tokens at most 3x the gold diffs' tokens.
    spent = {record["case"]: record["model"] for record in report["cases"]}
    assert summary["output_tokens"] <= 3 * summary["gold_tokens"], json.dumps([summary, spent])
