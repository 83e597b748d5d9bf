"""Autopilot configuration: two YAML files, validated by pydantic, plus environment variables.

``autopilot.yaml`` holds service settings; ``repositories.yaml`` the repositories to work on.
Secrets never live in either file: the files name the environment variables that hold them.
Any value in ``autopilot.yaml`` can be overridden with ``AUTOPILOT__SECTION__KEY=value``.
Every user mistake becomes a one-line :class:`ConfigError` naming the file, the key and the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from temporalio.envconfig import ClientConfigProfile

from config.environment import SandboxConfig, SetupCommands
from domain import graph, names
from domain.budget import BudgetLimits, ModelRunSettings
from domain.review import Reviewer, ReviewSettings
from domain.run import RepoSettings, RunSettings
from domain.tiers import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    TIERS,
    ModelRouting,
    ModelStage,
    Tier,
    TierModel,
    TokenLimitField,
    single_model_routing,
)
from domain.workspace import DEFAULT_SETUP_TIMEOUT_SECONDS, EnvironmentSpec

CONFIG_DIR = Path(__file__).parent
DEFAULT_CONFIG_PATH = CONFIG_DIR / "autopilot.yaml"
DEFAULT_REPOSITORIES_PATH = CONFIG_DIR / "repositories.yaml"
CONFIG_PATH_ENV = "AUTOPILOT_CONFIG"
REPOSITORIES_PATH_ENV = "AUTOPILOT_REPOSITORIES"
OVERRIDE_PREFIX = "AUTOPILOT__"
DEFAULT_PROVIDER = "default"  # the provider the flat model.* keys describe


def _checked(pattern: str, problem: str) -> AfterValidator:
    """A validator giving a plain-words reason instead of pydantic's regex message."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


HttpUrlStr = Annotated[
    str,
    _checked(r"https?://[^\s/]+\S*", "must be an http:// or https:// URL"),
    AfterValidator(lambda url: url.rstrip("/")),
]
HostPort = Annotated[str, _checked(r"[^\s:]+:\d{1,5}", "must look like host:port")]
EnvName = Annotated[
    str, _checked(r"[A-Za-z_][A-Za-z0-9_]*", "must be an environment variable name")
]
# Gitea owner and repository names: letters, digits, '-', '_' and '.', but not '.' or '..'.
RepoFullName = Annotated[
    str,
    _checked(r"(?!\.\.?/)[A-Za-z0-9_.-]+/(?!\.\.?$)[A-Za-z0-9_.-]+", "must look like 'owner/name'"),
]
RepoKey = Annotated[
    str,
    _checked(r"[A-Za-z0-9][A-Za-z0-9_.-]*", "may hold only letters, digits, '.', '_' and '-'"),
]


class ConfigError(Exception):
    """A configuration mistake; ``str()`` is one line: ``<file>: <dotted.key>: <reason>``."""

    def __init__(self, source: str | Path, key: str, reason: str) -> None:
        self.source = str(source)
        self.key = key
        self.reason = " ".join(reason.split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.reason}"
        return f"{self.source}: {self.reason}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemporalSettings(_Section):
    """Where and how to reach Temporal (resolved with Temporal's own profile: config/temporal.py).

    ``address`` and ``namespace`` left unset here fall back to Temporal's environment variables
    and profile (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_PROFILE``, ...).
    """

    address: HostPort = "127.0.0.1:7233"
    namespace: str = Field(default="default", min_length=1)
    task_queue: str = Field(default=names.TASK_QUEUE, min_length=1)
    ui_url: HttpUrlStr = "http://127.0.0.1:8233"

    def runs_url(self, namespace: str) -> str:
        """The Web UI's list of a namespace's workflows; a run's page is below it."""
        return f"{self.ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows"

    # Temporal client profile (temporal.toml) to start from; None: TEMPORAL_PROFILE or "default".
    profile: str | None = Field(default=None, min_length=1)
    # TLS: None follows the profile, or turns on with any certificate or an API key.
    tls: bool | None = None
    server_ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = Field(default=None, min_length=1)
    api_key_env: EnvName = "TEMPORAL_API_KEY"
    # A stopping worker lets running activities (test runs, model calls) finish this long.
    graceful_shutdown_seconds: float = Field(default=660, ge=0)
    health_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _cert_with_key(self) -> TemporalSettings:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key: set both for mTLS, or neither")
        return self


class ForgeSettings(_Section):
    url: HttpUrlStr = "http://127.0.0.1:3000"
    token_env: EnvName = "AUTOPILOT_FORGE_TOKEN"
    timeout_seconds: float = Field(default=30, gt=0)


def _default_stage_tiers() -> dict[ModelStage, Tier]:
    return {"plan": "balanced", "review": "fast"}


class ProviderConfig(_Section):
    """One model API endpoint, named in ``model.providers`` and referred to by the tiers."""

    kind: Literal["openai", "anthropic"] = "openai"
    base_url: HttpUrlStr
    api_key_env: EnvName | None = None
    timeout_seconds: float = Field(default=120, gt=0)
    token_limit_field: TokenLimitField = "max_tokens"


class TierConfig(TierModel):
    """``domain.tiers.TierModel``, but unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid")


class ModelSettings(_Section):
    # The default provider (named "default"): every call when no tiers are configured.
    provider: Literal["openai", "anthropic"] = "openai"
    base_url: HttpUrlStr = "http://127.0.0.1:8400/v1"
    model: str = Field(default="autopilot-replay", min_length=1)
    api_key_env: EnvName = "AUTOPILOT_MODEL_API_KEY"
    max_reasks: int = Field(default=2, ge=0, le=5)
    timeout_seconds: float = Field(default=120, gt=0)
    token_limit_field: TokenLimitField = "max_tokens"
    max_output_tokens: int = Field(default=DEFAULT_MAX_OUTPUT_TOKENS, gt=0)
    # Tiers, failover and caching (domain.tiers); see config/README.md.
    providers: dict[RepoKey, ProviderConfig] = Field(default_factory=dict)
    tiers: dict[Tier, TierConfig] = Field(default_factory=dict)
    stage_tiers: dict[ModelStage, Tier] = Field(default_factory=_default_stage_tiers)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30, gt=0)
    cache_enabled: bool = True
    cache_max_entries: int = Field(default=256, ge=1)
    cache_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _known_providers(self) -> ModelSettings:
        known = {DEFAULT_PROVIDER, *self.providers}
        for tier, spec in self.tiers.items():
            for key, name in (
                ("provider", spec.provider),
                ("backup_provider", spec.backup_provider),
            ):
                if name is not None and name not in known:
                    raise ValueError(
                        f"tiers.{tier}.{key}: unknown provider {name!r} "
                        f"(known: {', '.join(sorted(known))})"
                    )
        if self.tiers and set(self.tiers) != set(TIERS):
            missing = ", ".join(t for t in TIERS if t not in self.tiers)
            raise ValueError(f"tiers: every tier needs an entry; missing {missing}")
        return self

    def provider_config(self, name: str) -> ProviderConfig:
        if name == DEFAULT_PROVIDER and name not in self.providers:
            return ProviderConfig(
                kind=self.provider,
                base_url=self.base_url,
                api_key_env=self.api_key_env,
                timeout_seconds=self.timeout_seconds,
                token_limit_field=self.token_limit_field,
            )
        return self.providers[name]

    def provider_names(self) -> list[str]:
        return sorted({DEFAULT_PROVIDER, *self.providers})

    def routing(self, overrides: Mapping[str, Tier] | None = None) -> ModelRouting:
        """The tier table a run uses; without tiers, every tier is the default model, unpriced."""
        base = (
            ModelRouting(tiers={t: TierModel(**s.model_dump()) for t, s in self.tiers.items()})
            if self.tiers
            else single_model_routing(DEFAULT_PROVIDER, self.model, self.max_output_tokens)
        )
        return base.model_copy(
            update={"stage_tiers": dict(self.stage_tiers), "overrides": dict(overrides or {})}
        )


class BudgetSettings(_Section):
    """Hard model budgets in USD (``domain.budget.BudgetLimits``); empty means unlimited."""

    task_usd: float | None = Field(default=None, gt=0)
    issue_usd: float | None = Field(default=None, gt=0)
    global_usd_per_hour: float | None = Field(default=None, gt=0)

    def limits(self) -> BudgetLimits:
        return BudgetLimits.model_validate(self.model_dump())


class WorkspaceSettings(_Section):
    root: Path = Field(default=Path(".autopilot/workspaces"), validate_default=True)
    max_edit_bytes: int = Field(default=200_000, gt=0)
    # Per-repository environments (activities.workspace.environment), outside every checkout.
    environments: Path = Field(default=Path(".autopilot/environments"), validate_default=True)

    @field_validator("root", "environments")
    @classmethod
    def _absolute(cls, root: Path) -> Path:
        # Resolved once, at load time, so a later chdir cannot move the workspaces.
        root = root.expanduser()
        return root if root.is_absolute() else Path.cwd() / root

    @model_validator(mode="after")
    def _apart(self) -> WorkspaceSettings:
        # Checkouts are made and deleted under root; an environment there could be deleted
        # or shown to a sandbox as part of a checkout.
        if self.environments == self.root or self.environments.is_relative_to(self.root):
            raise ValueError("environments: must be outside workspace.root")
        return self


class TriggerSettings(_Section):
    label: str = Field(default="autopilot", min_length=1)


class TelemetrySettings(_Section):
    """Metrics and traces (``workers.telemetry``); see config/README.md."""

    # One Prometheus endpoint per worker: Temporal's SDK metrics and Autopilot's.
    metrics_host: str = Field(default="127.0.0.1", min_length=1)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Traces: "none" records nothing; "otlp" sends them to an OpenTelemetry collector.
    traces: Literal["none", "otlp", "console"] = "none"
    otlp_endpoint: HttpUrlStr = "http://127.0.0.1:4318/v1/traces"
    service_name: str = Field(default="autopilot", min_length=1)


class OperationsSettings(_Section):
    """Degradation modes and the background schedules (``workers.schedules``)."""

    # A provider's breaker open this long switches the deployment to ``minimal`` (None: never).
    breaker_minimal_after_seconds: float | None = Field(default=None, gt=0)
    schedules: bool = True  # the worker creates (or updates) the schedules when it starts
    monitor_every_minutes: int = Field(default=15, ge=1)
    # A run whose history has not moved this long, not waiting for a person, is stuck.
    stuck_after_minutes: int = Field(default=120, ge=1)
    maintenance_every_hours: int = Field(default=24, ge=1)
    prune_after_days: int = Field(default=14, ge=1)
    # "owner/name#N": the issue the daily cost report is commented on (None: a log line).
    cost_report_issue: str | None = Field(default=None, pattern=r"^[^/\s]+/[^/#\s]+#\d+$")


class CapacitySettings(_Section):
    """Per-kind concurrency of one worker (``workers.main``)."""

    # Test runs and environment builds go to their own task queue ("<task_queue>-heavy"), so
    # a worker runs at most this many at once however many runs are in flight.
    max_heavy_activities: int = Field(default=2, ge=1)
    max_model_activities: int = Field(default=50, ge=1)  # model calls in flight per worker
    max_activities: int = Field(default=200, ge=1)  # everything else (forge, git) per worker


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_format: bool = True

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level


class RunConfig(RunSettings):
    """``domain.run.RunSettings``, but unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _review_apart(cls, data: Any) -> Any:
        if isinstance(data, dict) and "review" in data:
            raise ValueError("review: set the reviewer panel in the top-level 'review' section")
        return data


class ReviewerConfig(Reviewer):
    """``domain.review.Reviewer``, but unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid")


class ReviewConfig(ReviewSettings):
    """``review.*``: the model reviewers of every run and the approvals a change needs."""

    model_config = ConfigDict(extra="forbid")

    reviewers: list[ReviewerConfig] = Field(  # type: ignore[assignment]
        default_factory=list, description="Empty: one general reviewer at the review tier"
    )


class RepositoryConfig(RepoSettings):
    """One repository; the ``RepoSettings`` fields sit flat beside ``name`` and ``repo``."""

    model_config = ConfigDict(extra="forbid")

    name: RepoKey = Field(description="Unique key")
    repo: RepoFullName = Field(description="'owner/name' on the forge")
    default_branch: str = Field(default="main", min_length=1)
    automation: bool = True
    depends_on: list[RepoKey] = Field(
        default_factory=list, description="Repositories whose changes merge before this one's"
    )
    triggers: list[RepoKey] = Field(
        default_factory=list,
        description="Repositories a change here also needs; they merge after this one",
    )
    model_tiers: dict[Literal["plan", "edits", "fix", "review", "task"], Tier] | None = Field(
        default=None, description="Tier overrides per stage ('task': every task's edits)"
    )
    setup_command: SetupCommands = Field(
        default=None,
        description="Commands building the tests' environment; none: detect; []: no environment",
    )
    setup_timeout_seconds: int = Field(default=DEFAULT_SETUP_TIMEOUT_SECONDS, gt=0)
    approvers: list[str] | None = Field(
        default=None, description="Who may approve this repository's plans; None: run.approvers"
    )
    verified_approvals: bool = Field(
        default=False, description="Only comment commands (verified on the forge) decide plans"
    )

    def repo_settings(self) -> RepoSettings:
        return RepoSettings.model_validate(self.model_dump(include=set(RepoSettings.model_fields)))

    def environment_spec(self) -> EnvironmentSpec:
        """What ``workspace.prepare_environment`` needs: the commands and their time limit."""
        return EnvironmentSpec(
            setup_commands=self.setup_command, timeout_seconds=self.setup_timeout_seconds
        )


class CrossRepoWorkflowConfig(_Section):
    """A named set of repositories changed together (``CrossRepoWorkflow``)."""

    repositories: list[RepoKey] = Field(min_length=1, description="Names from 'repositories'")
    coordination: Literal["sequential", "parallel"] = "sequential"
    on_failure: Literal["hold", "compensate"] = "hold"
    poll_seconds: int = Field(default=60, gt=0)
    max_poll_seconds: int = Field(default=900, gt=0)
    needs_human_grace_seconds: int = Field(default=3600, ge=0)
    merge_style: Literal["merge", "squash", "rebase"] = "merge"

    @field_validator("repositories")
    @classmethod
    def _distinct(cls, repositories: list[str]) -> list[str]:
        repeated = sorted({r for r in repositories if repositories.count(r) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return repositories


class RepositoriesFile(_Section):
    """The whole of ``repositories.yaml``: the repositories and the cross-repo workflows."""

    repositories: list[RepositoryConfig] = Field(default_factory=list)
    cross_repo_workflows: dict[RepoKey, CrossRepoWorkflowConfig] = Field(default_factory=dict)


class AutopilotConfig(_Section):
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

    service = _read_mapping(path)
    if "repositories" in service:
        raise ConfigError(path, "repositories", f"belongs in {repositories_path.name}")
    overrides = _apply_overrides(service, env)
    config = _validate(AutopilotConfig, service, path, overrides)

    repositories = _validate(RepositoriesFile, _read_mapping(repositories_path), repositories_path)
    problem = _duplicate(repositories.repositories) or _graph_problem(repositories)
    if problem:
        raise ConfigError(repositories_path, *problem)
    config.repositories = repositories.repositories
    config.cross_repo_workflows = repositories.cross_repo_workflows
    config._source = str(path)
    config._env = env
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "cannot read file: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, where, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "the top level must be a mapping of keys")
    # A section left empty (every key commented out) means "all defaults".
    return {key: value for key, value in data.items() if value is not None}


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
    if len(parts) == 2 and parts[1] not in section.model_fields and _SECRET_KEY.search(parts[1]):
        env_key = _SECRET_ENV_KEYS.get(parts[0], "a *_env key")
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


def _dotted(loc: Sequence[int | str]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


_SECRET_KEY = re.compile(r"(^|_)(token|api_?key|password|secret)$")
_SECRET_ENV_KEYS = {
    "forge": "forge.token_env",
    "model": "model.api_key_env",
    "temporal": "temporal.api_key_env",
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    last = str(error["loc"][-1]).lower() if error["loc"] else ""
    if kind == "extra_forbidden" and _SECRET_KEY.search(last):
        env_key = _SECRET_ENV_KEYS.get(str(error["loc"][0]), "a *_env key")
        return f"secrets do not belong in config files; put it in the variable named by {env_key}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "must be a mapping of keys"
    return str(error["msg"]).removeprefix("Value error, ")


_M = TypeVar("_M", bound=BaseModel)


def _validate(
    model: type[_M], data: dict[str, Any], path: Path, overrides: Mapping[str, str] | None = None
) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # include_input=False: a bad value may be a pasted secret; never echo it.
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]
        key = _dotted(first["loc"])
        reason = _reason(first)
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        source: str | Path = path
        for dotted, variable in (overrides or {}).items():
            if key == dotted:
                source = f"environment variable {variable}"
        raise ConfigError(source, key, reason) from None


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
