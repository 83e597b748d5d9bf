"""The forge process: durable state across restarts, the token file, clean shutdown, bad args."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from devstack.forge.testing import free_port, push_files, run_git, running_forge, seed_repo


def test_state_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_forge(data) as forge:
        seed_repo(forge, forge.admin, "durable", {"a.txt": "1\n"})
        sha = push_files(forge, forge.admin, "durable", "topic", {"b.txt": "2\n"}, base="main")
        forge.api("POST", f"/repos/{forge.admin}/durable/labels", {"name": "x", "color": "#123456"})
        issue = forge.api("POST", f"/repos/{forge.admin}/durable/issues", {"title": "keep me"})
        forge.api(
            "POST",
            f"/repos/{forge.admin}/durable/issues/{issue['number']}/comments",
            {"body": "still here"},
        )
        pr = forge.api(
            "POST",
            f"/repos/{forge.admin}/durable/pulls",
            {"head": "topic", "base": "main", "title": "pr"},
        )
        token = forge.token
    with running_forge(data) as again:
        assert again.token == token
        assert again.api("GET", "/user")["login"] == again.admin
        got = again.api("GET", f"/repos/{again.admin}/durable/issues/{issue['number']}")
        assert got["title"] == "keep me" and got["comments"] == 1
        assert [lb["name"] for lb in again.api("GET", f"/repos/{again.admin}/durable/labels")] == [
            "x"
        ]
        pull = again.api("GET", f"/repos/{again.admin}/durable/pulls/{pr['number']}")
        assert pull["head"]["sha"] == sha
        nxt = again.api("POST", f"/repos/{again.admin}/durable/issues", {"title": "next"})
        assert nxt["number"] == pr["number"] + 1  # one number sequence, kept across restarts
        run_git("clone", "--quiet", again.clone_url(again.admin, "durable"), str(tmp_path / "c"))
        assert (tmp_path / "c" / "a.txt").read_text() == "1\n"


def test_token_file_is_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_forge(data) as forge:
        mode = stat.S_IMODE((data / "admin-token").stat().st_mode)
        assert mode == 0o600
        assert len(forge.token) == 40 and int(forge.token, 16) >= 0
    assert forge.process.returncode == 0  # SIGTERM stops it cleanly


def test_existing_token_file_is_registered(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    chosen = "ab" * 20
    (data / "admin-token").write_text(chosen + "\n")
    with running_forge(data) as forge:
        assert forge.token == chosen
        assert forge.api("GET", "/user")["login"] == forge.admin


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "devstack.forge", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    no_dir = _cli("--port", "1")
    assert no_dir.returncode == 2 and "--data-dir" in no_dir.stderr
    bad_port = _cli("--data-dir", str(tmp_path), "--port", "70000")
    assert bad_port.returncode == 2 and "--port" in bad_port.stderr
    (tmp_path / "bad-token").write_text("not-a-token")
    bad_token = _cli(
        "--data-dir", str(tmp_path), "--port", "0", "--token-file", str(tmp_path / "bad-token")
    )
    assert bad_token.returncode != 0 and "40-hex" in bad_token.stderr
    assert "Traceback" not in no_dir.stderr + bad_port.stderr + bad_token.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    with running_forge(tmp_path / "one", port=port):
        clash = _cli("--data-dir", str(tmp_path / "two"), "--port", str(port))
    assert clash.returncode != 0 and "cannot listen" in clash.stderr
    assert "Traceback" not in clash.stderr


def test_sigint_also_stops(tmp_path: Path) -> None:
    with running_forge(tmp_path / "d") as forge:
        os.kill(forge.process.pid, signal.SIGINT)
        assert forge.process.wait(timeout=10) == 0
