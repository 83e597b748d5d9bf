"""The sections of ``autopilot.yaml`` and ``repositories.yaml``, as pydantic models.

Each model forbids unknown keys; validators give plain-words reasons, which
config/settings.py turns into one-line :class:`~config.errors.ConfigError` messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from config.environment import SetupCommands
from domain import names
from domain.budget import BudgetLimits
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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemporalSettings(Section):
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


class ForgeSettings(Section):
    url: HttpUrlStr = "http://127.0.0.1:3000"
    token_env: EnvName = "AUTOPILOT_FORGE_TOKEN"
    timeout_seconds: float = Field(default=30, gt=0)


def _default_stage_tiers() -> dict[ModelStage, Tier]:
    return {"plan": "balanced", "review": "fast"}


class ProviderConfig(Section):
    """One model API endpoint, named in ``model.providers`` and referred to by the tiers."""

    kind: Literal["openai", "anthropic"] = "openai"
    base_url: HttpUrlStr
    api_key_env: EnvName | None = None
    timeout_seconds: float = Field(default=120, gt=0)
    token_limit_field: TokenLimitField = "max_tokens"


class TierConfig(TierModel):
    """``domain.tiers.TierModel``, but unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid")


class ModelSettings(Section):
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


class BudgetSettings(Section):
    """Hard model budgets in USD (``domain.budget.BudgetLimits``); empty means unlimited."""

    task_usd: float | None = Field(default=None, gt=0)
    issue_usd: float | None = Field(default=None, gt=0)
    global_usd_per_hour: float | None = Field(default=None, gt=0)

    def limits(self) -> BudgetLimits:
        return BudgetLimits.model_validate(self.model_dump())


class WorkspaceSettings(Section):
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


class TriggerSettings(Section):
    label: str = Field(default="autopilot", min_length=1)


class TelemetrySettings(Section):
    """Metrics and traces (``workers.telemetry``); see config/README.md."""

    # One Prometheus endpoint per worker: Temporal's SDK metrics and Autopilot's.
    metrics_host: str = Field(default="127.0.0.1", min_length=1)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Traces: "none" records nothing; "otlp" sends them to an OpenTelemetry collector.
    traces: Literal["none", "otlp", "console"] = "none"
    otlp_endpoint: HttpUrlStr = "http://127.0.0.1:4318/v1/traces"
    service_name: str = Field(default="autopilot", min_length=1)


class OperationsSettings(Section):
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


class CapacitySettings(Section):
    """Per-kind concurrency of one worker (``workers.main``)."""

    # Test runs and environment builds go to their own task queue ("<task_queue>-heavy"), so
    # a worker runs at most this many at once however many runs are in flight.
    max_heavy_activities: int = Field(default=2, ge=1)
    max_model_activities: int = Field(default=50, ge=1)  # model calls in flight per worker
    max_activities: int = Field(default=200, ge=1)  # everything else (forge, git) per worker


class LoggingSettings(Section):
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


class CrossRepoWorkflowConfig(Section):
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


class RepositoriesFile(Section):
    """The whole of ``repositories.yaml``: the repositories and the cross-repo workflows."""

    repositories: list[RepositoryConfig] = Field(default_factory=list)
    cross_repo_workflows: dict[RepoKey, CrossRepoWorkflowConfig] = Field(default_factory=dict)
