"""Test helpers: run the forge as a subprocess and seed repositories the way a user would."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN = "autopilot"
READY_PREFIX = "forge listening on "
START_TIMEOUT = 30.0


@dataclass
class RunningForge:
    base_url: str  # ROOT_URL without the trailing '/', e.g. http://127.0.0.1:40123
    token: str
    admin: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def clone_url(self, owner: str, name: str) -> str:
        return f"{self.base_url}/{owner}/{name}.git"

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """A small JSON call as the admin (or ``token``); raises on a non-2xx answer."""
        return api_call(self.api_url, method, path, body, token or self.token)[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_call(
    api_url: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{api_url}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise RuntimeError(f"{method} {path} -> {err.code}: {detail}") from None


@contextlib.contextmanager
def running_forge(data_dir: Path, port: int | None = None) -> Iterator[RunningForge]:
    """Start ``python -m devstack.forge`` on a free loopback port; stop it on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    token_file = data_dir / "admin-token"
    cmd = [
        sys.executable,
        "-m",
        "devstack.forge",
        "--host",
        "127.0.0.1",
        "--port",
        str(port if port is not None else 0),
        "--data-dir",
        str(data_dir),
        "--admin-user",
        ADMIN,
        "--token-file",
        str(token_file),
    ]
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=root
    )
    output: list[str] = []
    try:
        base_url = _wait_ready(proc, output)
        forge = RunningForge(
            base_url, token_file.read_text().strip(), ADMIN, data_dir, proc, output
        )
        yield forge
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[str], output: list[str]) -> str:
    assert proc.stdout is not None
    ready: list[str] = []
    stream = proc.stdout

    def pump() -> None:
        for line in stream:
            output.append(line)
            if line.startswith(READY_PREFIX) and not ready:
                ready.append(line[len(READY_PREFIX) :].strip())

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready:
            return ready[0]
        if proc.poll() is not None:
            time.sleep(0.1)  # let the pump catch the last lines
            raise RuntimeError("forge exited early:\n" + "".join(output)[-2000:])
        time.sleep(0.02)
    raise RuntimeError("forge did not become ready:\n" + "".join(output)[-2000:])


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def git_env() -> dict[str, str]:
    """Environment for a user's git: no prompts, no user/system config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Seeder",
        GIT_AUTHOR_EMAIL="seeder@example.com",
        GIT_COMMITTER_NAME="Seeder",
        GIT_COMMITTER_EMAIL="seeder@example.com",
    )
    return env


def _redact(text: str) -> str:
    """Hide credentials embedded in URLs (http://user:token@host) from error messages."""
    return re.sub(r"//[^/@\s]+@", "//***@", text)


def run_git(*args: str, cwd: Path | None = None, token: str | None = None) -> str:
    """Run git as a user would; with ``token`` it is sent as an Authorization header."""
    auth = ["-c", f"http.extraHeader=Authorization: token {token}"] if token else []
    proc = subprocess.run(
        ["git", *auth, *args], cwd=cwd, env=git_env(), capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        safe = _redact(" ".join(args))
        raise RuntimeError(f"git {safe} failed ({proc.returncode}): {_redact(proc.stderr.strip())}")
    return proc.stdout


def seed_repo(
    forge: RunningForge,
    owner: str,
    name: str,
    files: dict[str, str] | Path,
    default_branch: str = "main",
) -> None:
    """Create owner/name through the API and push an initial commit over HTTP with git."""
    body = {"name": name, "default_branch": default_branch, "auto_init": False}
    path = "/user/repos" if owner == forge.admin else f"/admin/users/{owner}/repos"
    forge.api("POST", path, body)
    with tempfile.TemporaryDirectory(prefix="forge-seed-") as tmp:
        work = Path(tmp) / "work"
        if isinstance(files, Path):
            shutil.copytree(files, work, ignore=shutil.ignore_patterns(".git"))
        else:
            work.mkdir()
            for rel, content in files.items():
                target = work / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
        run_git("init", "--quiet", f"--initial-branch={default_branch}", cwd=work)
        run_git("add", "--all", cwd=work)
        run_git("commit", "--quiet", "--allow-empty", "-m", "Initial commit", cwd=work)
        run_git(
            "push",
            "--quiet",
            forge.clone_url(owner, name),
            f"HEAD:refs/heads/{default_branch}",
            cwd=work,
            token=forge.token,
        )


def push_files(
    forge: RunningForge,
    owner: str,
    name: str,
    branch: str,
    files: dict[str, str],
    *,
    base: str | None = None,
    message: str = "Update files",
) -> str:
    """Commit ``files`` on ``branch`` (created from ``base`` when given) and push it; its sha."""
    with tempfile.TemporaryDirectory(prefix="forge-push-") as tmp:
        work = Path(tmp) / "work"
        start = base or branch
        run_git("clone", "--quiet", "--branch", start, forge.clone_url(owner, name), str(work))
        if base is not None:
            run_git("checkout", "--quiet", "-B", branch, cwd=work)
        for rel, content in files.items():
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        run_git("add", "--all", cwd=work)
        run_git("commit", "--quiet", "-m", message, cwd=work)
        run_git(
            "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work, token=forge.token
        )
        return run_git("rev-parse", "HEAD", cwd=work).strip()
