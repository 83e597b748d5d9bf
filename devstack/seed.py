"""Seed a forge the way a person would: create a repo through the API, push it with git,
open an issue and label it."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx


class SeedError(RuntimeError):
    pass


class Seeder:
    def __init__(self, forge_url: str, token: str) -> None:
        self.forge_url = forge_url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=f"{self.forge_url}/api/v1",
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=30,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise SeedError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    async def create_repo(
        self,
        name: str,
        source: Path,
        default_branch: str = "main",
        tags: list[str] | None = None,
    ) -> None:
        """Create ``name`` and push ``source`` as its first commit, with ``tags`` as annotated
        tags on that commit (a release, for versions derived from git)."""
        await self.call("POST", "/user/repos", {"name": name, "default_branch": default_branch})
        owner = (await self.call("GET", "/user"))["login"]
        await self._push(source, f"{self.forge_url}/{owner}/{name}.git", default_branch, tags)

    async def _push(
        self, source: Path, clone_url: str, branch: str, tags: list[str] | None = None
    ) -> None:
        basic = base64.b64encode(f"seeder:{self._token}".encode()).decode()
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            # The token travels in the environment, never in argv or a remote URL.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            "GIT_AUTHOR_NAME": "Demo Maintainer",
            "GIT_AUTHOR_EMAIL": "maintainer@example.com",
            "GIT_COMMITTER_NAME": "Demo Maintainer",
            "GIT_COMMITTER_EMAIL": "maintainer@example.com",
        }
        with tempfile.TemporaryDirectory(prefix="autopilot-seed-") as tmp:
            work = Path(tmp) / "repo"
            shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git", "__pycache__"))
            steps = [
                ["init", "-q", f"--initial-branch={branch}"],
                ["add", "-A"],
                ["commit", "-q", "-m", "Initial import"],
            ]
            steps += [["tag", "-a", "-m", f"Release {tag}", tag] for tag in tags or []]
            refspecs = [f"refs/tags/{tag}" for tag in tags or []]
            steps.append(["push", "-q", clone_url, f"HEAD:refs/heads/{branch}", *refspecs])
            for args in steps:
                proc = await asyncio.create_subprocess_exec(
                    "git",
                    *args,
                    cwd=work,
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                out, _ = await proc.communicate()
                if proc.returncode != 0:
                    raise SeedError(f"git {args[0]} failed: {out.decode(errors='replace')[-300:]}")

    async def open_issue(self, owner: str, repo: str, issue_md: Path) -> dict[str, Any]:
        title, _, body = issue_md.read_text(encoding="utf-8").partition("\n")
        issue: dict[str, Any] = await self.call(
            "POST",
            f"/repos/{owner}/{repo}/issues",
            {"title": title.lstrip("# ").strip(), "body": body.strip()},
        )
        return issue

    async def add_label(self, owner: str, repo: str, number: int, label: str) -> dict[str, Any]:
        """Create the label if needed and put it on the issue; returns the label."""
        labels = await self.call("GET", f"/repos/{owner}/{repo}/labels")
        found = next((item for item in labels if item["name"] == label), None)
        if found is None:
            found = await self.call(
                "POST",
                f"/repos/{owner}/{repo}/labels",
                {"name": label, "color": "#5319e7", "description": "Carry this issue to a PR"},
            )
        await self.call(
            "POST", f"/repos/{owner}/{repo}/issues/{number}/labels", {"labels": [label]}
        )
        assert found is not None
        return found

    async def label_event(
        self, owner: str, repo: str, number: int, label: dict[str, Any]
    ) -> dict[str, Any]:
        """The payload Gitea Actions hands a job for this label being added."""
        return {
            "action": "label_updated",
            "number": number,
            "changes": {"added_labels": [label], "removed_labels": None},
            "issue": await self.call("GET", f"/repos/{owner}/{repo}/issues/{number}"),
            "repository": await self.call("GET", f"/repos/{owner}/{repo}"),
            "sender": await self.call("GET", "/user"),
            "commit_id": "",
        }
