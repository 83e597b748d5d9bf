"""The git CLI as a subprocess: minimal environment, header auth, secrets kept out of errors."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.exceptions import ApplicationError

from domain import names

# Worker variables git may need to reach the forge (proxies, private CAs); nothing else leaks in.
_PASSTHROUGH = (
    "PATH",
    "HOME",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)

# Messages of git failures that a retry cannot fix, mapped to the error types workflows match on.
_PERMANENT = (
    (
        re.compile(r"returned error: 401|Authentication failed|could not read Username"),
        names.ERR_UNAUTHORIZED,
    ),
    (re.compile(r"returned error: 403"), names.ERR_FORBIDDEN),
    (
        re.compile(
            r"returned error: 404|repository '.*' not found|does not appear to be a git repository"
        ),
        names.ERR_NOT_FOUND,
    ),
)

_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class GitError(RuntimeError):
    """A git command failed; retryable unless :func:`Git.run` turned it into an ApplicationError."""


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


def auth_header(token: str) -> str:
    """Gitea accepts a token as the Basic password for any user name."""
    raw = base64.b64encode(f"autopilot:{token}".encode()).decode("ascii")
    return f"Authorization: Basic {raw}"


class Git:
    """Runs git for one checkout (or none, for commands that need no repository)."""

    def __init__(
        self,
        *,
        checkout: Path | None = None,
        token: str | None = None,
        author: tuple[str, str] = ("Autopilot", "autopilot@localhost"),
        timeout_seconds: float = 300.0,
    ) -> None:
        self._checkout = checkout
        self._token = token
        self._timeout = timeout_seconds
        self._env = self._build_env(author)

    def _build_env(self, author: tuple[str, str]) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
        env.setdefault("PATH", os.defpath)
        name, email = author
        env |= {
            "LC_ALL": "C",  # English messages, so failures can be classified
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            # The worker's own git config (signing, hooks, credential helpers) must not apply.
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ALLOW_PROTOCOL": "file:http:https",
            "GIT_LITERAL_PATHSPECS": "1",
            # Abort transfers that stall instead of hanging until the activity times out.
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": "60",
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        if self._checkout is not None:
            # Explicit, so git never walks up into an enclosing repository.
            env["GIT_DIR"] = str(self._checkout / ".git")
            env["GIT_WORK_TREE"] = str(self._checkout)
        if self._token:
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": auth_header(self._token),
            }
        return env

    def scrub(self, text: str) -> str:
        """Removes the token (plain and encoded) and URL credentials from ``text``."""
        if self._token:
            for secret in (auth_header(self._token), self._token):
                text = text.replace(secret, "***")
        return _URL_USERINFO.sub("***@", text)

    async def run(
        self,
        *args: str,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> GitResult:
        """Runs ``git args...``; on failure raises ApplicationError (permanent) or GitError."""
        cwd = self._checkout if self._checkout is not None and self._checkout.is_dir() else None
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=self._env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self._timeout)
        except TimeoutError:
            raise GitError(f"git {_describe(args)} timed out after {self._timeout:.0f}s") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        result = GitResult(proc.returncode or 0, out, err)
        if check and result.returncode != 0:
            raise self._error(args, result)
        return result

    def _error(self, args: Sequence[str], result: GitResult) -> Exception:
        stderr = self.scrub(result.stderr.decode("utf-8", errors="replace").strip())[-2000:]
        message = f"git {self.scrub(_describe(args))} failed ({result.returncode}): {stderr}"
        for pattern, error_type in _PERMANENT:
            if pattern.search(stderr):
                return ApplicationError(message, type=error_type, non_retryable=True)
        return GitError(message)


def _describe(args: Sequence[str]) -> str:
    return " ".join(a if len(a) <= 200 else a[:200] + "..." for a in args)
