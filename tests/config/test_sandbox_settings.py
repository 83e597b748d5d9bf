"""The sandbox section, the environments directory and a repository's setup commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.sandbox import SandboxSettings
from domain.workspace import EnvironmentSpec
from tests.config.test_settings import config_error, load

REPOS = """\
repositories:
  - name: py
    repo: acme/py
  - name: web
    repo: acme/web
    setup_command:
      - npm ci --prefix /autopilot/env
    setup_timeout_seconds: 300
  - name: bare
    repo: acme/bare
    setup_command: []
"""


def test_defaults_are_a_bubblewrap_sandbox(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.sandbox.model_dump() == SandboxSettings().model_dump()
    assert config.sandbox.mode == "bubblewrap" and config.sandbox.setup_network
    assert config.workspace.environments.is_absolute()
    assert not config.workspace.environments.is_relative_to(config.workspace.root)


def test_setup_commands_become_an_environment_spec(tmp_path: Path) -> None:
    config = load(tmp_path, repositories=REPOS)
    specs = {r.name: r.environment_spec() for r in config.repositories}
    assert specs["py"] == EnvironmentSpec()  # detected
    assert specs["web"] == EnvironmentSpec(
        setup_commands=["npm ci --prefix /autopilot/env"], timeout_seconds=300
    )
    assert specs["bare"].setup_commands == []  # no environment at all


def test_sandbox_keys_and_overrides(tmp_path: Path) -> None:
    service = "sandbox:\n  max_processes: 64\n  extra_ro_paths: [/opt/go]\n"
    env = {"AUTOPILOT__SANDBOX__MODE": "none", "AUTOPILOT__SANDBOX__SETUP_NETWORK": "false"}
    config = load(tmp_path, service=service, env=env)
    assert config.sandbox.mode == "none" and not config.sandbox.setup_network
    assert config.sandbox.max_processes == 64 and config.sandbox.extra_ro_paths == ["/opt/go"]


@pytest.mark.parametrize(
    ("service", "key", "reason"),
    [
        ("sandbox:\n  mode: docker\n", "sandbox.mode", "'bubblewrap' or 'none'"),
        ("sandbox:\n  uid: 0\n", "sandbox.uid", "greater than or equal to 1"),
        ("sandbox:\n  max_memory_mb: 0\n", "sandbox.max_memory_mb", "greater than 0"),
        ("sandbox:\n  extra_ro_paths: [opt]\n", "sandbox.extra_ro_paths", "absolute path"),
        ("sandbox:\n  network: true\n", "sandbox.network", "unknown key"),
        (
            "sandbox:\n  setup_env_vars: [AUTOPILOT_FORGE_TOKEN]\n",
            "sandbox.setup_env_vars",
            "never reach repository code",
        ),
        (
            "workspace:\n  root: /srv/ap\n  environments: /srv/ap/envs\n",
            "workspace",
            "environments: must be outside workspace.root",
        ),
    ],
)
def test_service_mistakes_name_the_key(tmp_path: Path, service: str, key: str, reason: str) -> None:
    error = config_error(tmp_path, service=service)
    assert error.source.endswith("autopilot.yaml") and error.key == key
    assert reason in error.reason


@pytest.mark.parametrize(
    ("entry", "key", "reason"),
    [
        ("setup_command: pip install .", "setup_command", "must be a list of commands"),
        ('setup_command: ["pip \'unclosed"]', "setup_command", "[0] cannot be parsed"),
        ("setup_command: ['ok', '  ']", "setup_command", "[1] is empty"),
        ("setup_timeout_seconds: 0", "setup_timeout_seconds", "greater than 0"),
    ],
)
def test_repository_mistakes_name_the_key(
    tmp_path: Path, entry: str, key: str, reason: str
) -> None:
    repos = f"repositories:\n  - name: x\n    repo: o/x\n    {entry}\n"
    error = config_error(tmp_path, repositories=repos)
    assert error.source.endswith("repositories.yaml")
    assert error.key == f"repositories[0].{key}" and reason in error.reason
