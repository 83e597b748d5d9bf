"""Per-repository environments: built once per dependency-file hash, cached, shared.

An environment is a directory outside every checkout (``<root>/<repository>/<key>``), shown to
sandboxed commands at ``/autopilot/env``: setup commands write it, tests only read it. Its
key hashes the repository, the setup commands, the content of the dependency files
(``domain.workspace.ENVIRONMENT_FILES``) and the sandbox's Python, so changing any of them
builds a new one while every run and task with the same inputs reuses the first.

A build holds a lock file per key (two tasks on one worker, or two workers sharing a disk,
never build the same environment twice), writes into ``.build-<key>-<random>`` and renames it
into place only when every command succeeded, so a crash never leaves a half-built environment
that looks ready. ``sandbox.mode: none`` cannot move the environment (a venv records its own
path), so there it is built in place and is ready only once its marker file is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shlex
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.sandbox import Sandbox, SandboxRequest
from activities.sandbox.bwrap import BASE_PATH
from activities.workspace.paths import checkout_dir_name
from activities.workspace.python_setup import default_setup_commands
from domain import names
from domain.issue import RepoRef
from domain.workspace import (
    EnvironmentRef,
    EnvironmentSpec,
    PrepareEnvironmentResult,
    SetupFailure,
    is_environment_file,
)

FORMAT = 2  # bump when the layout of an environment changes: every key changes with it
# 2: built by a uid of the sandbox pool and shared with its group for the uids after it
MARKER = "autopilot-environment.json"
NO_ENVIRONMENT = "none"
SETUP_TAIL_CHARS = 4_000  # what a comment shows of a failing setup command
LOCK_POLL_SECONDS = 0.5
UNUSED_DAYS = 14  # environments not used this long are removed (any repository's)
_MAX_HASHED_BYTES = 50 * 1024 * 1024


def parse_command(command: str, what: str) -> list[str]:
    """``command`` as argv (no shell), or a non-retryable InvalidRequest saying why not."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise _invalid(f"{what} cannot be parsed: {e}") from None
    if not argv:
        raise _invalid(f"{what} is empty")
    return argv


def dependency_files(checkout: Path) -> dict[str, str]:
    """{path: sha256} of the checkout's dependency files (regular files only, no symlinks)."""
    found: dict[str, str] = {}
    for directory in (checkout, checkout / "requirements"):
        if directory.is_symlink() or not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            rel = path.relative_to(checkout).as_posix()
            if is_environment_file(rel) and path.is_file() and not path.is_symlink():
                with path.open("rb") as f:
                    found[rel] = hashlib.sha256(f.read(_MAX_HASHED_BYTES)).hexdigest()
    return found


def toolchain() -> str:
    """Which ``python3`` the sandbox finds: a system Python upgrade means new environments."""
    found = shutil.which("python3", path=BASE_PATH)
    if not found:
        return "no-python3"
    real = Path(found).resolve()
    info = real.stat()
    return f"{real}:{info.st_size}:{info.st_mtime_ns}"


def environment_key(repo: RepoRef, commands: list[str], files: dict[str, str], extra: str) -> str:
    material = {
        "format": FORMAT,
        "repo": f"{repo.forge_host}/{repo.full_name}".lower(),
        "commands": commands,
        "files": files,
        "toolchain": toolchain(),
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


class Environments:
    """The environment cache of one worker, under ``root``."""

    def __init__(self, root: Path, sandbox: Sandbox) -> None:
        self.root = root
        self._sandbox = sandbox

    def directory(self, repo: RepoRef) -> Path:
        return self.root / checkout_dir_name(f"{repo.forge_host}/{repo.full_name}".lower())

    async def ensure(
        self,
        checkout: Path,
        repo: RepoRef,
        spec: EnvironmentSpec,
        heartbeat: Callable[[], None],
    ) -> PrepareEnvironmentResult:
        """The ready environment for ``checkout`` as it is now: reused, or built (waiting for
        another task's build of the same key); a failing setup command is a result."""
        started = time.monotonic()
        await self._sandbox.ensure_available()
        commands = (
            default_setup_commands(checkout)
            if spec.setup_commands is None
            else list(spec.setup_commands)
        )
        argvs = [parse_command(c, f"setup command {c!r}") for c in commands]

        def ready(path: Path | None, built: bool) -> PrepareEnvironmentResult:
            ref = EnvironmentRef(
                key=path.name if path else NO_ENVIRONMENT,
                path=str(path) if path else None,
                built=built,
                seconds=round(time.monotonic() - started, 4),
                commands=commands,
                setup_commands=spec.setup_commands,
                timeout_seconds=spec.timeout_seconds,
            )
            return PrepareEnvironmentResult(environment=ref)

        if not commands:
            return ready(None, built=False)
        # Outside a sandbox a venv's editable install points at the real checkout path.
        extra = f"{self._sandbox.settings.mode}:{checkout if not self._sandbox.confined else ''}"
        key = environment_key(repo, commands, dependency_files(checkout), extra)
        final = self.directory(repo) / key
        if _is_ready(final):
            return ready(final, built=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        async with _locked(final.parent / f"{key}.lock", heartbeat):
            if _is_ready(final):
                return ready(final, built=False)
            failure = await self._build(checkout, final, commands, argvs, spec, heartbeat)
        if failure is not None:
            return PrepareEnvironmentResult(failure=failure)
        await asyncio.to_thread(_prune, self.root, final)
        return ready(final, built=True)

    async def _build(
        self,
        checkout: Path,
        final: Path,
        commands: list[str],
        argvs: list[list[str]],
        spec: EnvironmentSpec,
        heartbeat: Callable[[], None],
    ) -> SetupFailure | None:
        """Runs the setup commands into a new directory and moves it to ``final``."""
        for stale in final.parent.glob(f".build-{final.name}-*"):  # their builder died
            shutil.rmtree(stale, ignore_errors=True)
        if self._sandbox.confined:
            build = final.parent / f".build-{final.name}-{secrets.token_hex(4)}"
        else:
            build = final
            shutil.rmtree(build, ignore_errors=True)
        build.mkdir()
        started = time.monotonic()
        deadline = started + spec.timeout_seconds
        for command, argv in zip(commands, argvs, strict=True):
            result = await self._sandbox.run(
                SandboxRequest(argv=argv, checkout=checkout, environment=build, setup=True),
                timeout_seconds=max(deadline - time.monotonic(), 0.001),
                heartbeat=heartbeat,
                tail_chars=SETUP_TAIL_CHARS,
            )
            if result.exit_code != 0:
                shutil.rmtree(build, ignore_errors=True)
                return SetupFailure(
                    command=command,
                    exit_code=result.exit_code,
                    timed_out=result.timed_out,
                    output_tail=result.output,
                    seconds=round(time.monotonic() - started, 3),
                )
        about = {"commands": commands, "seconds": round(time.monotonic() - started, 3)}
        (build / MARKER).write_text(json.dumps(about, indent=2) + "\n")
        if build != final:
            shutil.rmtree(final, ignore_errors=True)  # only ever there without its marker
            os.rename(build, final)  # atomic: the environment appears whole or not at all
        return None


def _is_ready(path: Path) -> bool:
    marker = path / MARKER
    if not marker.is_file():
        return False
    with contextlib.suppress(OSError):
        os.utime(marker)  # last use, for pruning
    return True


@contextlib.asynccontextmanager
async def _locked(path: Path, heartbeat: Callable[[], None]) -> AsyncIterator[None]:
    """An exclusive flock on ``path``; waiting heartbeats. flock belongs to the open file,
    so this also excludes other tasks of the same worker process."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                heartbeat()
                await asyncio.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # releases the lock


def _prune(root: Path, keep: Path) -> None:
    """Removes environments unused for ``UNUSED_DAYS`` (of every repository; never one being
    built). A test run marks its environment used when it starts, and runs for hours at most."""
    cutoff = time.time() - UNUSED_DAYS * 86_400
    for other in root.glob(f"*/*/{MARKER}"):
        environment = other.parent
        if environment == keep or environment.name.startswith(".build-"):
            continue
        if other.stat().st_mtime >= cutoff:
            continue
        lock = environment.with_name(f"{environment.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(environment, ignore_errors=True)  # the lock file stays: it may be open
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=names.ERR_INVALID_REQUEST, non_retryable=True)
