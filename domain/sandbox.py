"""How repository code is confined: the ``sandbox`` section of ``config/autopilot.yaml``.

Every command that runs a repository's code (environment setup, tests, the test run of a
conflict resolution) goes through ``activities.sandbox``; these settings are its policy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

# Where the sandbox shows the checkout and the repository's environment. Fixed paths, so an
# environment built for one checkout (its venv scripts, its editable install) works in every
# other checkout of the repository.
SANDBOX_CHECKOUT = "/autopilot/src"
SANDBOX_ENVIRONMENT = "/autopilot/env"

# ``nobody``/``nogroup`` on Debian: the identity repository code runs as when the worker is root.
NOBODY = 65534
MAX_UID = 2**32 - 2  # (uid_t)-1 means "unchanged" to setresuid
MIB = 1024 * 1024

SandboxMode = Literal["bubblewrap", "none"]


class SandboxSettings(BaseModel):
    """The sandbox policy; ``mode: none`` runs repository code unconfined (warned every run)."""

    mode: SandboxMode = "bubblewrap"
    setup_network: bool = Field(
        default=True, description="Setup commands share the worker's network (package index)"
    )
    uid: int = Field(default=NOBODY, ge=1, description="User repository code runs as (root worker)")
    uid_pool_size: int = Field(
        default=32,
        ge=1,
        le=65536,
        description="Uids from `uid` up; each running command gets one of its own (root worker)",
    )
    gid: int = Field(default=NOBODY, ge=1, description="Its group (root worker)")
    max_memory_mb: int = Field(default=2048, gt=0, description="RLIMIT_DATA per process")
    max_processes: int = Field(default=256, gt=0, description="RLIMIT_NPROC (per uid)")
    max_cpu_seconds: int = Field(default=1800, gt=0, description="RLIMIT_CPU per process")
    max_file_size_mb: int = Field(default=1024, gt=0, description="RLIMIT_FSIZE")
    max_open_files: int = Field(default=1024, gt=0, description="RLIMIT_NOFILE")
    tmp_size_mb: int = Field(default=1024, gt=0, description="Size of the private /tmp (tmpfs)")
    extra_ro_paths: list[str] = Field(
        default_factory=list, description="More host paths shown read-only, e.g. a toolchain"
    )
    setup_env_vars: list[str] = Field(
        default_factory=list,
        description="Worker environment variables passed to setup commands (proxies, index URL)",
    )

    @field_validator("extra_ro_paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/") or "\x00" in path or "/.." in path:
                raise ValueError(f"{path!r} must be an absolute path without '..'")
        return paths

    @field_validator("setup_env_vars")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name.replace("_", "a").isalnum() or name[:1].isdigit():
                raise ValueError(f"{name!r} is not an environment variable name")
        return names

    @model_validator(mode="after")
    def _pool_fits(self) -> SandboxSettings:
        if self.uid + self.uid_pool_size - 1 > MAX_UID:
            raise ValueError(f"uid + uid_pool_size - 1 must be at most {MAX_UID}")
        return self
