"""Concurrent requests on pull requests: no duplicate PR, no half-created PR in a listing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from devstack.forge.testing import RunningForge, push_files, run_git, seed_repo

CONCURRENT_REQUESTS = 6
BRANCHES = 6
LISTERS = 4


def _client(forge: RunningForge) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=forge.api_url, headers={"Authorization": f"token {forge.token}"}, timeout=30
    )


async def test_concurrent_creates_for_one_branch_open_exactly_one_pull(
    forge: RunningForge,
) -> None:
    seed_repo(forge, forge.admin, "race-create", {"app.py": "a = 1\n"})
    push_files(forge, forge.admin, "race-create", "feature", {"app.py": "a = 2\n"}, base="main")
    body = {"head": "feature", "base": "main", "title": "Change app"}
    async with _client(forge) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"/repos/{forge.admin}/race-create/pulls", json=body)
                for _ in range(CONCURRENT_REQUESTS)
            )
        )
        listed = (await http.get(f"/repos/{forge.admin}/race-create/pulls?state=all")).json()
    assert sorted(a.status_code for a in answers) == [201] + [409] * (CONCURRENT_REQUESTS - 1)
    assert len(listed) == 1


async def test_listing_while_pulls_are_created_never_fails(forge: RunningForge) -> None:
    seed_repo(forge, forge.admin, "race-list", {"app.py": "a = 1\n"})
    for i in range(BRANCHES):
        push_files(forge, forge.admin, "race-list", f"b{i}", {f"f{i}.py": "x\n"}, base="main")
    path = f"/repos/{forge.admin}/race-list/pulls"
    async with _client(forge) as http:

        async def create(i: int) -> int:
            answer = await http.post(path, json={"head": f"b{i}", "base": "main", "title": f"{i}"})
            return answer.status_code

        async def listing_until(done: asyncio.Future[list[int]]) -> set[int]:
            seen: set[int] = set()
            while not done.done():
                seen.add((await http.get(f"{path}?state=all")).status_code)
            return seen

        created = asyncio.gather(*(create(i) for i in range(BRANCHES)))
        listed = await asyncio.gather(*(listing_until(created) for _ in range(LISTERS)))
        assert await created == [201] * BRANCHES
        assert set().union(*listed) == {200}


async def test_concurrent_merges_of_one_pull_merge_it_once(
    forge: RunningForge, tmp_path: Path
) -> None:
    seed_repo(forge, forge.admin, "race-merge", {"app.py": "a = 1\n"})
    push_files(forge, forge.admin, "race-merge", "feature", {"app.py": "a = 2\n"}, base="main")
    pr = forge.api(
        "POST",
        f"/repos/{forge.admin}/race-merge/pulls",
        {"head": "feature", "base": "main", "title": "Change app"},
    )
    merge = f"/repos/{forge.admin}/race-merge/pulls/{pr['number']}/merge"
    async with _client(forge) as http:
        answers = await asyncio.gather(
            *(http.post(merge, json={"Do": "merge"}) for _ in range(CONCURRENT_REQUESTS))
        )
    assert sorted(a.status_code for a in answers) == [200] + [405] * (CONCURRENT_REQUESTS - 1)
    run_git("clone", "--quiet", forge.clone_url(forge.admin, "race-merge"), str(tmp_path / "c"))
    log = run_git("log", "--format=%s", "main", cwd=tmp_path / "c").splitlines()
    assert len(log) == 3, log  # the initial commit, the feature commit and one merge commit
