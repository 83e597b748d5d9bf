"""config.settings: the shipped files, env overrides, secrets, and one-line errors for mistakes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_REPOSITORIES_PATH,
    AutopilotConfig,
    ConfigError,
    RepositoryConfig,
    load_config,
)
from domain.run import RepoSettings

GOOD_REPOS = """\
repositories:
  - name: demo
    repo: autopilot/demo
  - name: other
    repo: acme/widgets
    default_branch: trunk
    automation: false
    test_command: make test
    max_diff_lines: 50
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(
    tmp_path: Path,
    service: str = "",
    repositories: str = GOOD_REPOS,
    env: dict[str, str] | None = None,
) -> AutopilotConfig:
    return load_config(
        write(tmp_path, "autopilot.yaml", service),
        write(tmp_path, "repositories.yaml", repositories),
        env=env or {},
    )


def config_error(tmp_path: Path, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return caught.value


# -- the shipped files --------------------------------------------------------------------------


def test_shipped_files_load_and_declare_the_demo_repository() -> None:
    config = load_config(env={})
    demo = config.repository("autopilot/demo")
    assert demo is not None
    assert demo.name == "demo"
    assert demo.test_command == "python -m pytest -q"
    assert demo.automation
    # The shipped service file spells out the code defaults, plus the demo's tiers and budgets.
    demo_only = {"repositories", "model", "budget"}
    assert config.model_dump(exclude=demo_only) == AutopilotConfig().model_dump(exclude=demo_only)
    assert set(config.model.tiers) == {"fast", "balanced", "advanced"}
    assert config.budget.limits().issue_usd == 5.0


def test_runs_link_to_the_web_ui_of_their_namespace() -> None:
    env = {
        "AUTOPILOT__TEMPORAL__UI_URL": "https://temporal.example.com/",
        "AUTOPILOT__TEMPORAL__NAMESPACE": "team a",
    }
    settings = load_config(env=env).run_settings()
    assert settings.runs_url == "https://temporal.example.com/namespaces/team%20a/workflows"
    # Unset in Autopilot's config, the namespace is Temporal's own (its variable or profile).
    env = {"AUTOPILOT__TEMPORAL__UI_URL": "https://t.example", "TEMPORAL_NAMESPACE": "prod"}
    assert (
        load_config(env=env).run_settings().runs_url
        == "https://t.example/namespaces/prod/workflows"
    )


def test_default_paths_come_from_environment_variables(tmp_path: Path) -> None:
    service = write(tmp_path, "a.yaml", "trigger:\n  label: robot\n")
    repos = write(tmp_path, "r.yaml", "repositories:\n  - name: x\n    repo: o/x\n")
    env = {"AUTOPILOT_CONFIG": str(service), "AUTOPILOT_REPOSITORIES": str(repos)}
    config = load_config(env=env)
    assert config.trigger.label == "robot"
    assert [r.repo for r in config.repositories] == ["o/x"]
    assert DEFAULT_CONFIG_PATH.is_file()
    assert DEFAULT_REPOSITORIES_PATH.is_file()


def test_empty_service_file_means_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, service="# nothing\nforge:\n")
    assert config.forge.url == "http://127.0.0.1:3000"
    assert config.run.auto_approve is False
    assert config.model.max_reasks == 2


def test_repository_lookup_and_flattened_repo_settings(tmp_path: Path) -> None:
    config = load(tmp_path)
    other = config.repository("ACME/Widgets")  # Gitea names are case-insensitive
    assert other is not None
    assert other.name == "other"
    assert other.default_branch == "trunk"
    assert other.automation is False
    settings = other.repo_settings()
    assert type(settings) is RepoSettings
    assert settings.test_command == "make test"
    assert settings.max_diff_lines == 50
    assert settings.protected_paths == RepoSettings().protected_paths
    assert config.repository("acme/unknown") is None


def test_relative_workspace_root_resolves_against_the_current_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load(tmp_path, service="workspace:\n  root: ws/here\n")
    assert config.workspace.root == tmp_path / "ws" / "here"
    absolute = tmp_path / "abs"
    config = load(tmp_path, service=f"workspace:\n  root: {absolute}\n")
    assert config.workspace.root == absolute


def test_urls_lose_trailing_slashes(tmp_path: Path) -> None:
    config = load(tmp_path, service="forge:\n  url: http://forge.test:3000/\n")
    assert config.forge.url == "http://forge.test:3000"


# -- environment overrides ----------------------------------------------------------------------


def test_environment_overrides_are_parsed_as_yaml_scalars(tmp_path: Path) -> None:
    env = {
        "AUTOPILOT__FORGE__URL": "http://gitea.internal:3000",
        "AUTOPILOT__RUN__AUTO_APPROVE": "true",
        "AUTOPILOT__RUN__APPROVERS": "[alice, bob]",
        "AUTOPILOT__MODEL__MAX_REASKS": "4",
        "AUTOPILOT__LOGGING__LEVEL": "debug",
        "AUTOPILOT__TEMPORAL__NAMESPACE": "autopilot-dev",
    }
    config = load(tmp_path, service="forge:\n  url: http://from-file:3000\n", env=env)
    assert config.forge.url == "http://gitea.internal:3000"
    assert config.run.auto_approve is True
    assert config.run.approvers == ["alice", "bob"]
    assert config.model.max_reasks == 4
    assert config.logging.level == "DEBUG"
    assert config.temporal.namespace == "autopilot-dev"


def test_overrides_reach_nested_settings(tmp_path: Path) -> None:
    env = {"AUTOPILOT__RUN__IMPLEMENT__MAX_TURNS": "7", "AUTOPILOT__RUN__LESSONS__ENABLED": "no"}
    config = load(tmp_path, env=env)
    assert config.run.implement.max_turns == 7 and config.run.lessons.enabled is False


@pytest.mark.parametrize(
    ("variable", "key", "reason"),
    [
        ("AUTOPILOT__FORGE__URLX", "forge.urlx", "unknown key"),
        ("AUTOPILOT__NOPE__URL", "nope.url", "unknown key"),
        ("AUTOPILOT__FORGE__URL__DEEPER", "forge.url.deeper", "unknown key"),
        ("AUTOPILOT__RUN__IMPLEMENT__NOPE", "run.implement.nope", "unknown key"),
        ("AUTOPILOT__FORGE", "forge", "whole section"),
        ("AUTOPILOT__REPOSITORIES", "repositories", "cannot be set from the environment"),
    ],
)
def test_override_of_unknown_key_names_the_variable(
    tmp_path: Path, variable: str, key: str, reason: str
) -> None:
    error = config_error(tmp_path, env={variable: "1"})
    assert error.source == f"environment variable {variable}"
    assert error.key == key
    assert reason in error.reason


def test_invalid_override_value_names_the_variable_not_the_file(tmp_path: Path) -> None:
    error = config_error(tmp_path, env={"AUTOPILOT__MODEL__MAX_REASKS": "9"})
    assert str(error).startswith("environment variable AUTOPILOT__MODEL__MAX_REASKS: ")
    assert error.key == "model.max_reasks"
    assert "less than or equal to 5" in error.reason


# -- one-line errors naming file, key and reason ------------------------------------------------


@pytest.mark.parametrize(
    ("service", "key", "reason"),
    [
        ("forge:\n  url: http://x\n  urlx: 1\n", "forge.urlx", "unknown key"),
        ("surprise: 1\n", "surprise", "unknown key"),
        ("run:\n  auto_aprove: true\n", "run.auto_aprove", "unknown key"),
        ("forge:\n  timeout_seconds: soon\n", "forge.timeout_seconds", "valid number"),
        ("model:\n  max_reasks: 6\n", "model.max_reasks", "less than or equal to 5"),
        ("model:\n  provider: gemini\n", "model.provider", "'openai' or 'anthropic'"),
        ("forge: [1, 2]\n", "forge", "must be a mapping"),
        ("forge:\n  url: ftp://x\n", "forge.url", "http:// or https:// URL"),
        ("temporal:\n  address: nohost\n", "temporal.address", "host:port"),
        ("forge:\n  token_env: not a name\n", "forge.token_env", "environment variable name"),
        ("logging:\n  level: loud\n", "logging.level", "'DEBUG'"),
        ("repositories: []\n", "repositories", "belongs in repositories.yaml"),
    ],
)
def test_service_file_mistakes(tmp_path: Path, service: str, key: str, reason: str) -> None:
    error = config_error(tmp_path, service=service)
    assert error.source == str(tmp_path / "autopilot.yaml")
    assert error.key == key
    assert reason in error.reason
    assert str(error) == f"{tmp_path / 'autopilot.yaml'}: {key}: {error.reason}"


@pytest.mark.parametrize(
    ("repositories", "key", "reason"),
    [
        (
            "repositories:\n  - {name: a, repo: o/a}\n  - {name: b, repo: not-a-repo}\n",
            "repositories[1].repo",
            "owner/name",
        ),
        ("repositories:\n  - {name: a, repo: ../x}\n", "repositories[0].repo", "owner/name"),
        ("repositories:\n  - {name: a, repo: o/n/x}\n", "repositories[0].repo", "owner/name"),
        (
            "repositories:\n  - {name: a, repo: o/a}\n  - {name: a, repo: o/b}\n",
            "repositories[1].name",
            "duplicate repository name 'a'",
        ),
        (
            "repositories:\n  - {name: a, repo: o/a}\n  - {name: b, repo: O/A}\n",
            "repositories[1].repo",
            "already configured",
        ),
        ("repositories:\n  - {name: a}\n", "repositories[0].repo", "required key is missing"),
        ("repositories:\n  - {name: 'a b', repo: o/a}\n", "repositories[0].name", "letters"),
        (
            "repositories:\n  - {name: a, repo: o/a, test_timeout_seconds: 0}\n",
            "repositories[0].test_timeout_seconds",
            "greater than 0",
        ),
        ("repositories:\n  - {name: a, repo: o/a, tests: x}\n", "repositories[0].tests", "unknown"),
        ("repositories: 5\n", "repositories", "valid list"),
        ("cross_repo: []\n", "cross_repo", "unknown key"),
    ],
)
def test_repositories_file_mistakes(
    tmp_path: Path, repositories: str, key: str, reason: str
) -> None:
    error = config_error(tmp_path, repositories=repositories)
    assert error.source == str(tmp_path / "repositories.yaml")
    assert error.key == key
    assert reason in error.reason


def test_several_mistakes_are_counted_on_the_same_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, service="forge:\n  urlx: 1\n  timeout_seconds: x\nfoo: 1\n")
    assert error.reason.endswith("(and 2 more problems)")


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, service="forge:\n  url: http://x\n   bad: 1\n")
    assert error.source == str(tmp_path / "autopilot.yaml")
    assert error.key == "line 3, column 7"
    assert error.reason == "invalid YAML: mapping values are not allowed here"


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    error = config_error(tmp_path, service="forge:\n  url: http://a\nforge:\n  url: http://b\n")
    assert error.key == "line 3, column 1"
    assert "duplicate key 'forge'" in error.reason


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    error = config_error(tmp_path, service="forge: !!python/object/apply:os.getpid []\n")
    assert "invalid YAML" in error.reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [("- just\n- a list\n", "top level must be a mapping"), (b"\xff\xfe\x00", "not UTF-8")],
)
def test_top_level_shape_and_encoding(tmp_path: Path, content: str | bytes, reason: str) -> None:
    path = tmp_path / "autopilot.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=reason) as caught:
        load_config(path, write(tmp_path, "repositories.yaml", GOOD_REPOS), env={})
    assert caught.value.source == str(path)


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing, env={})
    assert str(caught.value) == f"{missing}: cannot read file: No such file or directory"

    service = write(tmp_path, "autopilot.yaml", "")
    with pytest.raises(ConfigError) as caught:
        load_config(service, tmp_path, env={})  # a directory, not a file
    assert str(caught.value).startswith(f"{tmp_path}: cannot read file: ")


# -- secrets --------------------------------------------------------------------------------------


def test_secrets_come_from_the_environment_only(tmp_path: Path) -> None:
    token = "gitea-token-" + os.urandom(6).hex()
    env = {"MY_FORGE_TOKEN": token, "AUTOPILOT_MODEL_API_KEY": "sk-model"}
    config = load(tmp_path, service="forge:\n  token_env: MY_FORGE_TOKEN\n", env=env)
    assert config.forge_token() == token
    assert config.model_api_key() == "sk-model"
    # The values are looked up, never stored in the settings themselves.
    assert token not in config.model_dump_json()
    assert token not in repr(config)


def test_missing_secrets(tmp_path: Path) -> None:
    config = load(tmp_path, env={"AUTOPILOT_FORGE_TOKEN": ""})
    with pytest.raises(ConfigError) as caught:
        config.forge_token()
    assert caught.value.key == "forge.token_env"
    assert "AUTOPILOT_FORGE_TOKEN is not set" in str(caught.value)
    assert config.model_api_key() is None


def test_a_secret_pasted_into_the_file_is_refused_and_not_echoed(tmp_path: Path) -> None:
    token = "pasted-" + os.urandom(6).hex()
    error = config_error(tmp_path, service=f"forge:\n  token: {token}\n")
    assert error.key == "forge.token"
    assert "forge.token_env" in error.reason
    assert token not in str(error)

    error = config_error(tmp_path, service=f"model:\n  api_key: {token}\n")
    assert "model.api_key_env" in error.reason
    assert token not in str(error)


def test_bad_values_are_not_echoed(tmp_path: Path) -> None:
    value = "oops-" + os.urandom(6).hex()
    error = config_error(tmp_path, env={"AUTOPILOT__FORGE__TIMEOUT_SECONDS": value})
    assert value not in str(error)


def test_config_built_in_code_rejects_duplicate_repositories() -> None:
    repos = [RepositoryConfig(name="a", repo="o/a"), RepositoryConfig(name="a", repo="o/b")]
    with pytest.raises(ValueError, match="duplicate repository name"):
        AutopilotConfig(repositories=repos)


def test_a_repository_names_its_own_approvers_or_falls_back_to_the_global_list(
    tmp_path: Path,
) -> None:
    repositories = """\
repositories:
  - name: strict
    repo: acme/payments
    approvers: [carol]
    verified_approvals: true
  - name: open
    repo: acme/docs
"""
    config = load(tmp_path, service="run:\n  approvers: [alice, bob]\n", repositories=repositories)
    strict = config.run_settings(config.repository("acme/payments"))
    assert (strict.approvers, strict.verified_approvals) == (["carol"], True)
    loose = config.run_settings(config.repository("acme/docs"))
    assert (loose.approvers, loose.verified_approvals) == (["alice", "bob"], False)
    assert config.run_settings().approvers == ["alice", "bob"]
