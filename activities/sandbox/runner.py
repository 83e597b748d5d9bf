"""The one way Autopilot runs repository code: :meth:`Sandbox.run`.

With ``sandbox.mode: bubblewrap`` (the default) the command runs in new mount, PID, IPC, UTS,
cgroup and (except setup with ``setup_network``) network namespaces; it sees the system
read-only, the checkout at ``/autopilot/src`` (its ``.git`` read-only), the environment at
``/autopilot/env`` (writable for setup only) and a private ``/tmp``; it runs under resource
limits as an unprivileged user; and everything it started dies with it. When that cannot be
had, :meth:`Sandbox.run` refuses (``SandboxUnavailable``) unless the operator chose
``mode: none``, which runs the command unconfined and says so in a warning on every run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from temporalio import activity

from activities.sandbox.availability import check_sandbox, find_tools
from activities.sandbox.bwrap import (
    SandboxRequest,
    Tools,
    bwrap_args,
    host_mounts,
    prlimit_args,
    sandbox_env,
)
from activities.sandbox.process import OUTPUT_TAIL_CHARS, ProcessResult, run_process
from activities.sandbox.uids import UidPool
from domain.sandbox import SANDBOX_CHECKOUT, SANDBOX_ENVIRONMENT, SandboxSettings

log = logging.getLogger("autopilot.sandbox")
UNCONFINED_WARNING = (
    "sandbox.mode is 'none': running repository code WITHOUT a sandbox (it can read the "
    "worker's files and reach the network); set sandbox.mode: bubblewrap"
)


class Sandbox:
    """Runs commands per ``settings``; checks once per worker that bubblewrap works here."""

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        bwrap: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self._bwrap = bwrap
        self._environ = environ
        self._tools: Tools | None = None
        self._mounts = host_mounts(self.settings.extra_ro_paths)
        self._check = asyncio.Lock()
        self._uids = UidPool(self.settings.uid, self.settings.uid_pool_size)

    @property
    def confined(self) -> bool:
        return self.settings.mode != "none"

    def drop_to(self) -> tuple[int, int] | None:
        """The identity repository code takes: a root worker hands it to ``uid``/``gid``
        (each command to a uid of the pool from ``uid`` up, see :mod:`.uids`)."""
        return (self.settings.uid, self.settings.gid) if os.geteuid() == 0 else None

    async def ensure_available(self) -> None:
        """Raises the one-line ``SandboxUnavailable`` refusal if the sandbox cannot work."""
        if not self.confined:
            return
        async with self._check:
            if self._tools is not None:
                return
            tools = await find_tools(self._bwrap, root=self.drop_to() is not None)
            env = sandbox_env(self._environ, environment=None, home="/tmp")
            await check_sandbox(tools, self.settings, self._mounts, self.drop_to(), env)
            self._tools = tools  # only success is remembered: a fixed host is noticed

    async def run(
        self,
        request: SandboxRequest,
        *,
        timeout_seconds: float,
        heartbeat: Callable[[], None],
        heartbeat_interval: float = 5.0,
        tail_chars: int = OUTPUT_TAIL_CHARS,
    ) -> ProcessResult:
        """Runs ``request`` to the end (or the timeout); a failing command is a result."""
        if not self.confined:
            return await self._run_unconfined(
                request, timeout_seconds, heartbeat, heartbeat_interval, tail_chars
            )
        await self.ensure_available()
        if self.drop_to() is None:
            return await self._run_confined(
                request, None, timeout_seconds, heartbeat, heartbeat_interval, tail_chars
            )
        with self._uids.lease() as uid:
            return await self._run_confined(
                request,
                (uid, self.settings.gid),
                timeout_seconds,
                heartbeat,
                heartbeat_interval,
                tail_chars,
            )

    async def _run_confined(
        self,
        request: SandboxRequest,
        drop_to: tuple[int, int] | None,
        timeout_seconds: float,
        heartbeat: Callable[[], None],
        heartbeat_interval: float,
        tail_chars: int,
    ) -> ProcessResult:
        assert self._tools is not None
        if drop_to is not None:
            writable = [request.checkout]
            if request.setup and request.environment is not None:
                writable.append(request.environment)
            await asyncio.to_thread(share_with_group, writable, drop_to[1])
        argv = prlimit_args(self._tools, self.settings) + bwrap_args(
            request, self.settings, self._tools, self._mounts, drop_to
        )
        env = sandbox_env(
            self._environ,
            environment=SANDBOX_ENVIRONMENT if request.environment is not None else None,
            home="/tmp",
            passthrough=self.settings.setup_env_vars if request.setup else (),
        )
        result = await run_process(
            argv,
            cwd=Path("/"),
            env=env,
            timeout_seconds=timeout_seconds,
            heartbeat=heartbeat,
            heartbeat_interval=heartbeat_interval,
            tail_chars=tail_chars,
        )
        if drop_to is not None and request.setup and request.environment is not None:
            # What setup made is its uid's; the test runs that read it get other uids.
            await asyncio.to_thread(share_with_group, [request.environment], drop_to[1])
        return result

    async def _run_unconfined(
        self,
        request: SandboxRequest,
        timeout_seconds: float,
        heartbeat: Callable[[], None],
        heartbeat_interval: float,
        tail_chars: int,
    ) -> ProcessResult:
        """``mode: none``: same command, same clean environment, real paths, no confinement."""
        (activity.logger if activity.in_activity() else log).warning(UNCONFINED_WARNING)
        paths = {SANDBOX_CHECKOUT: str(request.checkout)}
        if request.environment is not None:
            paths[SANDBOX_ENVIRONMENT] = str(request.environment)
        argv = [_real_paths(arg, paths) for arg in request.argv]
        with tempfile.TemporaryDirectory(prefix="autopilot-run-") as scratch:
            env = sandbox_env(
                self._environ,
                environment=paths.get(SANDBOX_ENVIRONMENT),
                home=scratch,
                passthrough=self.settings.setup_env_vars if request.setup else (),
            )
            return await run_process(
                argv,
                cwd=request.checkout,
                env=env,
                timeout_seconds=timeout_seconds,
                heartbeat=heartbeat,
                heartbeat_interval=heartbeat_interval,
                tail_chars=tail_chars,
            )


def _real_paths(arg: str, paths: Mapping[str, str]) -> str:
    """``/autopilot/env/bin/x`` -> the real path, for commands written for the sandbox."""
    for inside, outside in paths.items():
        if arg == inside or arg.startswith(inside + "/"):
            return outside + arg[len(inside) :]
    return arg


def share_with_group(roots: list[Path], gid: int) -> None:
    """Gives group ``gid`` (the sandbox user's) read and write access under each root, so a
    root worker's files stay the worker's (git's ownership checks pass) yet the unprivileged
    sandbox user can work in them. ``.git`` only gets read access: it is mounted read-only.

    Symlinks are never followed, other file systems and hard-linked files never touched: the
    tree was written by repository code, which must not steer this into other files. Every
    process of that code is dead by now (its PID namespace is gone), so nothing races this.
    """
    for root in roots:
        device = root.lstat().st_dev
        for directory, _subdirs, files in os.walk(root):  # never follows symlinks
            here = Path(directory)
            read_only = here.relative_to(root).parts[:1] == (".git",)
            _share(here, gid, device, read_only)
            for name in files:
                _share(here / name, gid, device, read_only or (here == root and name == ".git"))


def _share(path: Path, gid: int, device: int, read_only: bool) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if info.st_dev != device or stat.S_ISLNK(info.st_mode):
        return
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        return
    wanted = stat.S_IRGRP | (0 if read_only else stat.S_IWGRP)
    if stat.S_ISDIR(info.st_mode) or info.st_mode & stat.S_IXUSR:
        wanted |= stat.S_IXGRP
    if info.st_gid != gid:
        os.lchown(path, -1, gid)
    if info.st_mode & wanted != wanted:
        os.chmod(path, stat.S_IMODE(info.st_mode) | wanted)  # not a symlink: checked above
