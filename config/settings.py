"""Autopilot configuration: two YAML files, validated by pydantic, plus environment variables.

``autopilot.yaml`` holds service settings; ``repositories.yaml`` the repositories to work on.
Secrets never live in either file: the files name the environment variables that hold them.
Any value in ``autopilot.yaml`` can be overridden with ``AUTOPILOT__SECTION__KEY=value``.
Every user mistake becomes a one-line :class:`ConfigError` naming the file, the key and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    field_validator,
)
from temporalio.envconfig import ClientConfigProfile

from config.environment import SandboxConfig
from config.errors import ConfigError
from config.reading import SECRET_ENV_KEYS, SECRET_KEY, read_mapping, validate
from config.sections import (
    DEFAULT_PROVIDER,
    BudgetSettings,
    CapacitySettings,
    CrossRepoWorkflowConfig,
    ForgeSettings,
    LoggingSettings,
    ModelSettings,
    OperationsSettings,
    RepoKey,
    RepositoriesFile,
    RepositoryConfig,
    ReviewConfig,
    RunConfig,
    Section,
    TelemetrySettings,
    TemporalSettings,
    TriggerSettings,
    WorkspaceSettings,
)
from domain import graph
from domain.budget import ModelRunSettings
from domain.run import RunSettings

CONFIG_DIR = Path(__file__).parent
DEFAULT_CONFIG_PATH = CONFIG_DIR / "autopilot.yaml"
DEFAULT_REPOSITORIES_PATH = CONFIG_DIR / "repositories.yaml"
CONFIG_PATH_ENV = "AUTOPILOT_CONFIG"
REPOSITORIES_PATH_ENV = "AUTOPILOT_REPOSITORIES"
OVERRIDE_PREFIX = "AUTOPILOT__"


class AutopilotConfig(Section):
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    forge: ForgeSettings = Field(default_factory=ForgeSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    trigger: TriggerSettings = Field(default_factory=TriggerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    operations: OperationsSettings = Field(default_factory=OperationsSettings)
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    repositories: list[RepositoryConfig] = Field(default_factory=list)
    cross_repo_workflows: dict[RepoKey, CrossRepoWorkflowConfig] = Field(default_factory=dict)

    _source: str = PrivateAttr(default="config")
    _env: Mapping[str, str] = PrivateAttr(default_factory=lambda: os.environ)

    @field_validator("repositories")
    @classmethod
    def _unique(cls, repositories: list[RepositoryConfig]) -> list[RepositoryConfig]:
        problem = _duplicate(repositories)
        if problem:
            raise ValueError(f"{problem[0]}: {problem[1]}")
        return repositories

    def repository_named(self, name: str) -> RepositoryConfig | None:
        return next((r for r in self.repositories if r.name == name), None)

    def repository(self, full_name: str) -> RepositoryConfig | None:
        """The repository configured for ``owner/name`` (Gitea names are case-insensitive)."""
        wanted = full_name.lower()
        return next((r for r in self.repositories if r.repo.lower() == wanted), None)

    def forge_token(self) -> str:
        token = self._env.get(self.forge.token_env, "")
        if not token:
            raise ConfigError(
                self._source,
                "forge.token_env",
                f"environment variable {self.forge.token_env} is not set (it must hold the "
                "forge API token)",
            )
        return token

    def model_api_key(self, provider: str = DEFAULT_PROVIDER) -> str | None:
        """A provider's API key, or None when its variable is unset (local models need none)."""
        env = self.model.provider_config(provider).api_key_env
        return (self._env.get(env) or None) if env else None

    def runs_url(self) -> str:
        """The Web UI's list of the workflows of the namespace runs live in."""
        return self.temporal.runs_url(resolved_namespace(self))

    def run_settings(self, repo: RepositoryConfig | None = None) -> RunSettings:
        """What a run's input carries: ``run.*`` with the reviewer panel of ``review.*``; a
        repository's own approvers (when it names them) and approval rule."""
        run = self.run.model_dump(exclude={"review"})
        if repo is not None:
            if repo.approvers is not None:
                run["approvers"] = repo.approvers
            run["verified_approvals"] = run["verified_approvals"] or repo.verified_approvals
        runs_url = self.runs_url()
        return RunSettings.model_validate(
            {**run, "review": self.review.model_dump(), "runs_url": runs_url}
        )

    def model_run_settings(self, repo: RepositoryConfig | None = None) -> ModelRunSettings:
        """Tiers, stage defaults, the repository's overrides and the budgets, for a run's input."""
        overrides = {str(k): t for k, t in (repo.model_tiers or {}).items()} if repo else None
        return ModelRunSettings(routing=self.model.routing(overrides), budget=self.budget.limits())


def _duplicate(repositories: Sequence[RepositoryConfig]) -> tuple[str, str] | None:
    """(dotted key, reason) of the first repository repeating an earlier name or repo."""
    seen_names: dict[str, int] = {}
    seen_repos: dict[str, int] = {}
    for index, repo in enumerate(repositories):
        if repo.name in seen_names:
            first = seen_names[repo.name]
            reason = f"duplicate repository name {repo.name!r} (first at repositories[{first}])"
            return f"repositories[{index}].name", reason
        if repo.repo.lower() in seen_repos:
            first = seen_repos[repo.repo.lower()]
            reason = f"{repo.repo!r} is already configured at repositories[{first}]"
            return f"repositories[{index}].repo", reason
        seen_names[repo.name] = index
        seen_repos[repo.repo.lower()] = index
    return None


def merge_edges(repositories: Sequence[RepositoryConfig]) -> dict[str, set[str]]:
    """name -> names merged before it: its ``depends_on`` and every repository triggering it."""
    edges: dict[str, set[str]] = {r.name: set(r.depends_on) for r in repositories}
    for repo in repositories:
        for triggered in repo.triggers:
            edges.setdefault(triggered, set()).add(repo.name)
    return edges


def _graph_problem(file: RepositoriesFile) -> tuple[str, str] | None:
    """(dotted key, reason) of an unknown repository name or a dependency cycle."""
    known = {r.name for r in file.repositories}
    for index, repo in enumerate(file.repositories):
        for key in ("depends_on", "triggers"):
            for position, name in enumerate(getattr(repo, key)):
                where = f"repositories[{index}].{key}[{position}]"
                if name not in known:
                    return where, f"unknown repository {name!r}"
                if name == repo.name:
                    return where, "names the repository itself"
    for workflow, spec in file.cross_repo_workflows.items():
        for position, name in enumerate(spec.repositories):
            if name not in known:
                key = f"cross_repo_workflows.{workflow}.repositories[{position}]"
                return key, f"unknown repository {name!r}"
    edges = merge_edges(file.repositories)
    cycle = graph.find_cycle({name: sorted(edges[name]) for name in sorted(edges)})
    if cycle:
        index = next(i for i, r in enumerate(file.repositories) if r.name == cycle[0])
        return f"repositories[{index}].depends_on", (
            "dependency cycle (depends_on and triggers): " + " -> ".join(cycle)
        )
    return None


def load_config(
    path: Path | None = None,
    repositories_path: Path | None = None,
    env: Mapping[str, str] = os.environ,
) -> AutopilotConfig:
    """Read, override from ``env``, and validate both files; raise ConfigError on any mistake."""
    path = Path(path or env.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    repositories_path = Path(
        repositories_path or env.get(REPOSITORIES_PATH_ENV) or DEFAULT_REPOSITORIES_PATH
    )

    service = read_mapping(path)
    if "repositories" in service:
        raise ConfigError(path, "repositories", f"belongs in {repositories_path.name}")
    overrides = _apply_overrides(service, env)
    config = validate(AutopilotConfig, service, path, overrides)

    repositories = validate(RepositoriesFile, read_mapping(repositories_path), repositories_path)
    problem = _duplicate(repositories.repositories) or _graph_problem(repositories)
    if problem:
        raise ConfigError(repositories_path, *problem)
    config.repositories = repositories.repositories
    config.cross_repo_workflows = repositories.cross_repo_workflows
    config._source = str(path)
    config._env = env
    return config


def _apply_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Apply ``AUTOPILOT__SECTION__KEY`` variables to ``data``; return {dotted key: variable}."""
    applied: dict[str, str] = {}
    for variable in sorted(env):
        if not variable.startswith(OVERRIDE_PREFIX):
            continue
        if not env[variable].strip():
            continue  # set but empty (an unset CI variable, a blank .env line): the default
        parts = variable[len(OVERRIDE_PREFIX) :].lower().split("__")
        dotted = ".".join(parts)
        problem = _override_problem(parts)
        if problem:
            raise ConfigError(f"environment variable {variable}", dotted, problem)
        target: Any = data
        for part in parts[:-1]:
            target = target.setdefault(part, {}) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue  # the file's own value is wrong; validation reports it against the file
        target[parts[-1]] = _yaml_scalar(env[variable])
        applied[dotted] = variable
    return applied


def _override_problem(parts: Sequence[str]) -> str | None:
    """Why ``parts`` does not name one overridable ``section.key``, or None if it does."""
    if parts[0] == "repositories":
        return "repositories cannot be set from the environment"
    field = AutopilotConfig.model_fields.get(parts[0])
    section = field.annotation if field else None
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return "unknown key"
    if len(parts) == 1:
        return "names a whole section; override its keys one by one"
    if len(parts) == 2 and parts[1] not in section.model_fields and SECRET_KEY.search(parts[1]):
        env_key = SECRET_ENV_KEYS.get(parts[0], "a *_env key")
        return f"secrets are read from the variable named by {env_key}, not from overrides"
    model: type[BaseModel] = section
    for depth, part in enumerate(parts[1:], start=2):
        if part not in model.model_fields:
            return "unknown key"
        inner = model.model_fields[part].annotation
        if depth == len(parts):
            return None
        # A nested settings model (run.implement, run.lessons) takes its keys one level down.
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return "unknown key"
        model = inner
    return None


def _yaml_scalar(raw: str) -> object:
    """Read an override as YAML would ('true' -> True, '5' -> 5, '[a, b]' -> list)."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    # Text that merely looks like a mapping or is empty stays the text it was.
    return raw if value is None or isinstance(value, dict) else value


def temporal_profile(
    settings: TemporalSettings, env: Mapping[str, str], source: str = "config"
) -> ClientConfigProfile:
    """Temporal's own client profile (config file and ``TEMPORAL_*`` variables) from ``env``."""
    try:
        return ClientConfigProfile.load(profile=settings.profile, override_env_vars=dict(env))
    except Exception as failure:  # the bridge raises plain RuntimeErrors for bad files
        reason = " ".join(str(failure).split())
        reason = f"Temporal client profile: {reason}"
        raise ConfigError(source, "temporal.profile", reason) from None


def resolved_namespace(config: AutopilotConfig) -> str:
    """The namespace runs live in: ``temporal.namespace`` when set, else Temporal's own."""
    settings = config.temporal
    if "namespace" in settings.model_fields_set:
        return settings.namespace
    profile = temporal_profile(settings, config._env, config._source)
    return profile.namespace or settings.namespace
