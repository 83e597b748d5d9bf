"""Starters answer user mistakes with one clear line and a non-zero status, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.forge.testing import RunningForge, free_port

ROOT = Path(__file__).resolve().parents[2]


def run_module(
    module: str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


REPO = "starter-errors"


@pytest.fixture(scope="module")
def repo(forge: RunningForge) -> str:
    forge.api("POST", "/user/repos", {"name": REPO})
    forge.api("POST", f"/repos/{forge.admin}/{REPO}/issues", {"title": "an issue"})
    return f"{forge.admin}/{REPO}"


@pytest.fixture
def env(forge: RunningForge, repo: str, tmp_path: Path) -> dict[str, str]:
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text(f"repositories:\n  - name: s\n    repo: {repo}\n")
    return {
        "AUTOPILOT_FORGE_TOKEN": forge.token,
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "AUTOPILOT__FORGE__URL": forge.base_url,
        # Nothing listens here: a starter that gets past the forge must say so clearly.
        "AUTOPILOT__TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}",
    }


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_repository(env: dict[str, str]) -> None:
    proc = run_module("starters.start_issue", ["--repo", "nobody/nothing", "--issue", "1"], env)
    assert_one_clear_line(proc, "unknown repository 'nobody/nothing'")


def test_unknown_issue(env: dict[str, str], repo: str) -> None:
    proc = run_module("starters.start_issue", ["--repo", repo, "--issue", "999"], env)
    assert_one_clear_line(proc, f"issue #999 not found in {repo}")


def test_configured_repository_missing_on_the_forge(
    env: dict[str, str], forge: RunningForge, tmp_path: Path
) -> None:
    missing = f"{forge.admin}/never-created"
    repositories = tmp_path / "missing.yaml"
    repositories.write_text(f"repositories:\n  - name: m\n    repo: {missing}\n")
    env["AUTOPILOT_REPOSITORIES"] = str(repositories)
    proc = run_module("starters.start_issue", ["--repo", missing, "--issue", "1"], env)
    assert_one_clear_line(proc, f"repository {missing} not found on the forge")
    assert "issue #1" not in proc.stderr


def test_unreachable_temporal(env: dict[str, str], repo: str) -> None:
    proc = run_module("starters.start_issue", ["--repo", repo, "--issue", "1"], env)
    assert_one_clear_line(proc, "cannot reach Temporal at 127.0.0.1:")


def test_missing_token_names_the_variable(env: dict[str, str], repo: str) -> None:
    del env["AUTOPILOT_FORGE_TOKEN"]
    proc = run_module("starters.start_issue", ["--repo", repo, "--issue", "1"], env)
    assert_one_clear_line(proc, "AUTOPILOT_FORGE_TOKEN")


def test_actions_starter_ignores_other_labels(
    env: dict[str, str], repo: str, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "label_updated",
                "issue": {"number": 1},
                "repository": {"full_name": repo},
                "changes": {"added_labels": [{"name": "bug"}], "removed_labels": None},
            }
        )
    )
    actions = {**env, "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event)}
    proc = run_module("starters.gitea_actions", [], actions)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.strip()
        == "autopilot: nothing to do (label 'autopilot' was not added by this event)"
    )
    assert proc.stderr == ""


def test_invalid_config_names_file_key_and_reason(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "autopilot.yaml"
    bad.write_text("run:\n  max_verify_attempts: lots\n")
    proc = run_module(
        "starters.start_issue",
        ["--repo", "a/b", "--issue", "1"],
        {**env, "AUTOPILOT_CONFIG": str(bad)},
    )
    assert_one_clear_line(proc, f"{bad}: run.max_verify_attempts:")


@pytest.mark.parametrize(
    "action", [["skip-task", "fix-parser"], ["cancel"], ["raise-budget", "--issue-usd", "5"]]
)
def test_steer_says_clearly_when_temporal_is_unreachable(
    env: dict[str, str], repo: str, action: list[str]
) -> None:
    proc = run_module("starters.steer", ["--repo", repo, "--issue", "1", *action], env)
    assert_one_clear_line(proc, "cannot reach Temporal at 127.0.0.1:")
