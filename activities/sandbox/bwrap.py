"""The command line of one sandboxed command: limits (prlimit), namespaces and mounts
(bubblewrap), identity (setpriv), and the few environment variables it gets. Pure functions of
their inputs (plus :func:`host_mounts`, which looks at how this host lays out its system)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from domain.sandbox import MIB, SANDBOX_CHECKOUT, SANDBOX_ENVIRONMENT, SandboxSettings

# What repository code sees of the host, read-only: programs, libraries and /etc. Never /home,
# /root, /var, /run, /srv, /opt, /proc of the host, or any worker state.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_TMP = "/tmp"
SHM_BYTES = 64 * MIB
# PYTHON* variables that change output or determinism, never which code runs (unlike
# PYTHONPATH, PYTHONSTARTUP or PYTHONHOME).
SAFE_PYTHON_VARS = (
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONDONTWRITEBYTECODE",
)
# A root worker needs these in the sandbox only to become ``uid`` (setpriv); then they are gone.
_DROP_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


@dataclass(frozen=True)
class SandboxRequest:
    """One command to confine. ``setup`` commands may write the environment and, with
    ``sandbox.setup_network``, use the network; every other command gets neither."""

    argv: list[str]
    checkout: Path
    environment: Path | None = None
    setup: bool = False


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the programs the sandbox is made of, found once per worker."""

    bwrap: str
    prlimit: str
    setpriv: str | None  # only needed when the worker is root
    tmpfs_size: bool  # this bwrap knows --size (0.7+)


def host_mounts(extra_ro_paths: Sequence[str] = ()) -> list[str]:
    """bwrap arguments showing the system read-only, as this host lays it out."""
    args: list[str] = []
    for path in SYSTEM_PATHS:
        host = Path(path)
        if host.is_symlink():  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(host), path]
        elif host.is_dir():
            args += ["--ro-bind", path, path]
    resolv = Path("/etc/resolv.conf")
    if resolv.is_symlink():  # often into /run, which is otherwise hidden
        target = resolv.resolve()
        if target.is_file() and not target.is_relative_to("/etc"):
            args += ["--ro-bind", str(target), str(target)]
    for path in extra_ro_paths:
        args += ["--ro-bind-try", path, path]
    return args


def prlimit_args(tools: Tools, settings: SandboxSettings) -> list[str]:
    """Resource limits for bwrap and everything under it (soft = hard, so none can be raised)."""
    return [
        tools.prlimit,
        f"--data={settings.max_memory_mb * MIB}",
        f"--nproc={settings.max_processes}",
        f"--cpu={settings.max_cpu_seconds}",
        f"--fsize={settings.max_file_size_mb * MIB}",
        f"--nofile={settings.max_open_files}",
        "--core=0",
        "--",
    ]


def bwrap_args(
    request: SandboxRequest,
    settings: SandboxSettings,
    tools: Tools,
    mounts: Sequence[str],
    drop_to: tuple[int, int] | None,
) -> list[str]:
    """bwrap ... [setpriv ...] argv. ``drop_to`` (uid, gid): the worker is root, so bwrap runs
    privileged without a user namespace and the command becomes that user; otherwise bwrap
    makes a user namespace and the command keeps the worker's own (unprivileged) uid."""
    network = request.setup and settings.setup_network
    args = [tools.bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if drop_to is None:
        args.append("--unshare-user")
    else:
        args += ["--cap-drop", "ALL"] + [x for cap in _DROP_CAPS for x in ("--cap-add", cap)]
    if not network:
        args.append("--unshare-net")
    args += [*mounts, "--proc", "/proc", "--dev", "/dev"]
    args += _tmpfs(SANDBOX_TMP, settings.tmp_size_mb * MIB, tools)
    args += _tmpfs("/dev/shm", SHM_BYTES, tools)
    # Made by bwrap as root: without 0755 the sandbox user could not look up its own paths.
    args += ["--perms", "0755", "--dir", str(Path(SANDBOX_CHECKOUT).parent)]
    args += ["--bind", str(request.checkout), SANDBOX_CHECKOUT]
    if (request.checkout / ".git").exists():  # git history readable, never writable
        args += ["--ro-bind", str(request.checkout / ".git"), f"{SANDBOX_CHECKOUT}/.git"]
    if request.environment is not None:
        bind = "--bind" if request.setup else "--ro-bind"
        args += [bind, str(request.environment), SANDBOX_ENVIRONMENT]
    args += ["--chdir", SANDBOX_CHECKOUT, "--"]
    if drop_to is not None:
        assert tools.setpriv is not None, "found for a root worker"
        uid, gid = drop_to
        args += [tools.setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        args += ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"]
    return args + request.argv


def _tmpfs(path: str, size: int, tools: Tools) -> list[str]:
    sized = ["--size", str(size)] if tools.tmpfs_size else []
    return ["--perms", "1777", *sized, "--tmpfs", path]


def sandbox_env(
    source: Mapping[str, str],
    *,
    environment: str | None,
    home: str,
    passthrough: Sequence[str] = (),
) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing of the worker's but locale,
    harmless PYTHON* switches, and (setup only) the variables the operator listed."""
    env = {
        "PATH": f"{environment}/bin:{BASE_PATH}" if environment else BASE_PATH,
        "HOME": home,
        "TMPDIR": home,
        "LANG": source.get("LANG") or "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # output arrives in order, and survives a kill
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        # The checkout belongs to the worker's user; git (setuptools_scm) must still read it.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    if "LC_ALL" in source:
        env["LC_ALL"] = source["LC_ALL"]
    env |= {k: source[k] for k in SAFE_PYTHON_VARS if k in source}
    if environment:
        env["VIRTUAL_ENV"] = environment
    env |= {k: source[k] for k in passthrough if k in source}
    return env
