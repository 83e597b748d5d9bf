"""examples/gitea/.gitea/workflows/autopilot.yml: a pinned release, the ``autopilot`` command, and
repository variables left unset (empty in the job) meaning the defaults, not a failed job."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.test_compose import ROOT

EXAMPLE = ROOT / "examples" / "gitea" / ".gitea" / "workflows" / "autopilot.yml"
AUTOPILOT = str(Path(sys.executable).parent / "autopilot")


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def steps() -> list[dict[str, Any]]:
    return list(workflow()["jobs"]["start"]["steps"])


def unset_variables(env: dict[str, str]) -> dict[str, str]:
    """The step's env as Gitea hands it over when no variable or optional secret is set."""
    filled = {}
    for name, value in env.items():
        if "secrets.GITEA_TOKEN" in value:
            filled[name] = "job-token"
        else:
            filled[name] = re.sub(r"\$\{\{[^}]*\}\}", "", value)
    return filled


def test_installs_one_pinned_release() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    package = workflow()["env"]["AUTOPILOT_PACKAGE"]
    assert f"@v{version}'" in package, package  # the release tag of this version
    installs = [s["run"] for s in steps() if "pip install" in s.get("run", "")]
    assert installs == ['pip install "$AUTOPILOT_PACKAGE"']


def test_unset_variables_mean_the_defaults(tmp_path: Path) -> None:
    (step,) = [s for s in steps() if s.get("run") == "autopilot gitea-actions"]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "issue": {"number": 1}}))
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text("")
    env = {
        **unset_variables(step["env"]),
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AUTOPILOT_REPOSITORIES": str(repositories),
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SERVER_URL": "http://gitea.example:3000",
    }
    assert env["AUTOPILOT__TEMPORAL__NAMESPACE"] == ""
    done = subprocess.run(
        [AUTOPILOT, "gitea-actions"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "is not a label change" in done.stdout + done.stderr
