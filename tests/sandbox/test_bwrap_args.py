"""The sandbox's command line, as a pure function of the request and the policy."""

from __future__ import annotations

from pathlib import Path

from activities.sandbox.bwrap import (
    SandboxRequest,
    Tools,
    bwrap_args,
    host_mounts,
    prlimit_args,
    sandbox_env,
)
from domain.sandbox import SandboxSettings

TOOLS = Tools(bwrap="/usr/bin/bwrap", prlimit="/usr/bin/prlimit", setpriv="/usr/bin/setpriv",
              tmpfs_size=True)  # fmt: skip
CHECKOUT = Path("/state/workspaces/co")
ENV = Path("/state/environments/repo/key")


def args(request: SandboxRequest, drop_to: tuple[int, int] | None = None, **policy: object) -> str:
    settings = SandboxSettings.model_validate(policy)
    return " ".join(bwrap_args(request, settings, TOOLS, ["--ro-bind", "/usr", "/usr"], drop_to))


def test_tests_get_no_network_and_a_read_only_environment() -> None:
    line = args(SandboxRequest(argv=["pytest"], checkout=CHECKOUT, environment=ENV))
    assert "--unshare-net" in line and "--unshare-pid" in line and "--die-with-parent" in line
    assert f"--ro-bind {ENV} /autopilot/env" in line
    assert f"--bind {CHECKOUT} /autopilot/src" in line
    assert line.endswith("--chdir /autopilot/src -- pytest")


def test_setup_writes_the_environment_and_may_use_the_network() -> None:
    request = SandboxRequest(argv=["pip"], checkout=CHECKOUT, environment=ENV, setup=True)
    line = args(request)
    assert f"--bind {ENV} /autopilot/env" in line and "--unshare-net" not in line
    assert "--unshare-net" in args(request, setup_network=False)


def test_a_root_worker_hands_the_command_to_the_sandbox_user() -> None:
    line = args(SandboxRequest(argv=["pytest"], checkout=CHECKOUT), drop_to=(1234, 4321))
    assert "--unshare-user" not in line and "--cap-drop ALL" in line
    assert line.endswith(
        "-- /usr/bin/setpriv --reuid=1234 --regid=4321 --clear-groups --bounding-set=-all "
        "--inh-caps=-all --no-new-privs -- pytest"
    )
    unprivileged = args(SandboxRequest(argv=["pytest"], checkout=CHECKOUT))
    assert "--unshare-user" in unprivileged and "setpriv" not in unprivileged


def test_limits_come_from_the_policy() -> None:
    settings = SandboxSettings(max_memory_mb=1, max_processes=7, max_cpu_seconds=9,
                               max_file_size_mb=2, max_open_files=64)  # fmt: skip
    assert prlimit_args(TOOLS, settings) == [
        "/usr/bin/prlimit", "--data=1048576", "--nproc=7", "--cpu=9", "--fsize=2097152",
        "--nofile=64", "--core=0", "--",
    ]  # fmt: skip


def test_private_tmp_has_the_configured_size() -> None:
    line = args(SandboxRequest(argv=["x"], checkout=CHECKOUT), tmp_size_mb=3)
    assert "--perms 1777 --size 3145728 --tmpfs /tmp" in line


def test_system_paths_are_read_only_and_private_ones_absent() -> None:
    mounts = host_mounts(["/opt/toolchain"])
    binds = [mounts[i + 1] for i, a in enumerate(mounts) if a.startswith("--ro-bind")]
    assert "/usr" in binds and "/etc" in binds and "/opt/toolchain" in binds
    assert not {"/home", "/root", "/var", "/run", "/proc", "/tmp"} & set(binds)
    assert "--bind" not in mounts  # nothing of the host is writable


def test_environment_variables_are_a_clean_minimal_set() -> None:
    source = {"AUTOPILOT_FORGE_TOKEN": "t", "PYTHONPATH": "/x", "PYTHONHASHSEED": "3",
              "HTTPS_PROXY": "http://proxy:3128", "LANG": "en_US.UTF-8"}  # fmt: skip
    env = sandbox_env(source, environment="/autopilot/env", home="/tmp")
    assert env["PATH"] == "/autopilot/env/bin:/usr/local/bin:/usr/bin:/bin"
    assert env["VIRTUAL_ENV"] == "/autopilot/env" and env["HOME"] == "/tmp"
    assert env["PYTHONHASHSEED"] == "3" and env["LANG"] == "en_US.UTF-8"
    assert not {"AUTOPILOT_FORGE_TOKEN", "PYTHONPATH", "HTTPS_PROXY"} & set(env)
    setup = sandbox_env(source, environment=None, home="/tmp", passthrough=["HTTPS_PROXY"])
    assert setup["HTTPS_PROXY"] == "http://proxy:3128" and "VIRTUAL_ENV" not in setup
