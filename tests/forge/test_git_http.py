"""Plain git over HTTP against the forge: clone, fetch, push, and push authentication."""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from devstack.forge.testing import RunningForge, git_env, run_git, seed_repo


@pytest.fixture(scope="module")
def demo(forge: RunningForge) -> str:
    seed_repo(forge, forge.admin, "demo", {"README.md": "hello\n", "pkg/mod.py": "A = 1\n"})
    return forge.clone_url(forge.admin, "demo")


def test_clone_gets_the_seeded_files(demo: str, tmp_path: Path) -> None:
    run_git("clone", "--quiet", demo, str(tmp_path / "c"))
    assert (tmp_path / "c" / "README.md").read_text() == "hello\n"
    assert (tmp_path / "c" / "pkg" / "mod.py").read_text() == "A = 1\n"
    assert run_git("branch", "--show-current", cwd=tmp_path / "c").strip() == "main"


def _commit(work: Path, name: str, content: str) -> str:
    (work / name).write_text(content)
    run_git("add", name, cwd=work)
    run_git("commit", "--quiet", "-m", f"add {name}", cwd=work)
    return run_git("rev-parse", "HEAD", cwd=work).strip()


def test_push_is_visible_to_the_api_at_once(forge: RunningForge, demo: str, tmp_path: Path) -> None:
    work = tmp_path / "w"
    run_git("clone", "--quiet", demo, str(work))
    run_git("checkout", "--quiet", "-b", "autopilot/issue-7", cwd=work)
    sha = _commit(work, "new.txt", "new\n")
    run_git("push", "--quiet", "origin", "autopilot/issue-7", cwd=work, token=forge.token)
    branch = forge.api("GET", f"/repos/{forge.admin}/demo/branches/autopilot/issue-7")
    assert branch["commit"]["id"] == sha
    other = tmp_path / "other"
    run_git("clone", "--quiet", "--branch", "autopilot/issue-7", demo, str(other))
    assert (other / "new.txt").read_text() == "new\n"


@pytest.mark.parametrize("where", ["password", "username"])
def test_push_with_basic_auth_token(
    forge: RunningForge, demo: str, tmp_path: Path, where: str
) -> None:
    work = tmp_path / "w"
    run_git("clone", "--quiet", demo, str(work))
    sha = _commit(work, f"basic-{where}.txt", where)
    host = demo.split("//", 1)[1]
    creds = f"x:{forge.token}" if where == "password" else f"{forge.token}"
    run_git("push", "--quiet", f"http://{creds}@{host}", f"HEAD:refs/heads/basic-{where}", cwd=work)
    assert (
        forge.api("GET", f"/repos/{forge.admin}/demo/branches/basic-{where}")["commit"]["id"] == sha
    )


def test_anonymous_push_is_refused(forge: RunningForge, demo: str, tmp_path: Path) -> None:
    work = tmp_path / "w"
    run_git("clone", "--quiet", demo, str(work))
    _commit(work, "anon.txt", "x")
    proc = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/anon"],
        cwd=work,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    resp = httpx.get(f"{demo}/info/refs", params={"service": "git-receive-pack"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Gitea"'
    with pytest.raises(RuntimeError):
        forge.api("GET", f"/repos/{forge.admin}/demo/branches/anon")


def test_bad_token_and_non_writer_cannot_push(forge: RunningForge, demo: str) -> None:
    bad = base64.b64encode(b"x:" + b"0" * 40).decode()
    resp = httpx.get(
        f"{demo}/info/refs",
        params={"service": "git-receive-pack"},
        headers={"Authorization": f"Basic {bad}"},
    )
    assert resp.status_code == 401
    forge.api(
        "POST",
        "/admin/users",
        {"username": "reader", "email": "r@example.com", "password": "pw-reader-1"},
    )
    tok = forge.api("POST", "/users/reader/tokens", {"name": "t", "scopes": ["all"]})["sha1"]
    resp = httpx.get(
        f"{demo}/info/refs",
        params={"service": "git-receive-pack"},
        headers={"Authorization": f"token {tok}"},
    )
    assert resp.status_code == 403
    resp = httpx.get(
        f"{demo}/info/refs",
        params={"service": "git-upload-pack"},
        headers={"Authorization": f"token {tok}"},
    )
    assert resp.status_code == 200  # reading a public repo is fine


def test_fetch_sees_new_commits(forge: RunningForge, demo: str, tmp_path: Path) -> None:
    reader, writer = tmp_path / "r", tmp_path / "w"
    run_git("clone", "--quiet", demo, str(reader))
    run_git("clone", "--quiet", demo, str(writer))
    sha = _commit(writer, "fetched.txt", "f")
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/fetch-me", cwd=writer, token=forge.token)
    run_git("fetch", "--quiet", "origin", cwd=reader)
    assert run_git("rev-parse", "origin/fetch-me", cwd=reader).strip() == sha


def test_unknown_repo_over_git(forge: RunningForge) -> None:
    resp = httpx.get(
        f"{forge.base_url}/{forge.admin}/missing.git/info/refs",
        params={"service": "git-upload-pack"},
        headers={"Authorization": f"token {forge.token}"},
    )
    assert resp.status_code == 404


def test_large_chunked_push(forge: RunningForge, demo: str, tmp_path: Path) -> None:
    writer, reader = tmp_path / "w", tmp_path / "r"
    size = 3 * 1024 * 1024  # above git's http.postBuffer: the push body is sent chunked
    run_git("clone", "--quiet", demo, str(writer))
    (writer / "big.bin").write_bytes(os.urandom(size))
    run_git("add", "big.bin", cwd=writer)
    run_git("commit", "--quiet", "-m", "big", cwd=writer)
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/big", cwd=writer, token=forge.token)
    run_git("clone", "--quiet", "--branch", "big", demo, str(reader))
    assert (reader / "big.bin").stat().st_size == size


def _pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}{line}".encode()


def test_gzipped_upload_pack_request(forge: RunningForge, demo: str) -> None:
    """git gzips large negotiation bodies; the bridge must hand the encoding to http-backend."""
    sha = forge.api("GET", f"/repos/{forge.admin}/demo/branches/main")["commit"]["id"]
    body = _pkt(f"want {sha}\n") + b"0000" + _pkt("done\n")
    resp = httpx.post(
        f"{demo}/git-upload-pack",
        content=gzip.compress(body),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in resp.content


def test_seed_repo_from_a_directory(forge: RunningForge, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "x.py").write_text("X = 1\n")
    seed_repo(forge, forge.admin, "from-dir", src, default_branch="trunk")
    repo = forge.api("GET", f"/repos/{forge.admin}/from-dir")
    assert repo["default_branch"] == "trunk" and repo["empty"] is False
    got = forge.api("GET", f"/repos/{forge.admin}/from-dir/contents/pkg/x.py?ref=trunk")
    assert base64.b64decode(got["content"]) == b"X = 1\n"
