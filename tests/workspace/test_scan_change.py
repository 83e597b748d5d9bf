"""scan_change against a local bare "origin": real git, the real detect-secrets scanner."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.workspace import WorkspaceActivities
from activities.workspace.scan import added_line_numbers, parse_raw_diff
from domain.review import ScanChangeInput
from domain.workspace import WorkspaceRef
from tests.workspace.conftest import Origin, git, make_origin

# Built from parts so this file is no secret itself; the first is AWS's documented example key.
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
PRIVATE_KEY = "\n".join(
    ["-----BEGIN RSA " + "PRIVATE KEY-----", "MIIEpAIBAAKCAQEA", "-----END RSA PRIVATE KEY-----"]
)


def push_branch(tmp_path: Path, origin: Origin, branch: str, change: dict[str, str]) -> None:
    """Commit ``change`` (path -> text) on top of main and push it as ``branch``."""
    work = tmp_path / "author"
    git(tmp_path, "clone", "-q", origin.url, str(work))
    for rel, text in change.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "change")
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")


def workspace_of(ws: WorkspaceRef, origin: Origin) -> WorkspaceRef:
    return ws.model_copy(update={"clone_url": origin.url})


async def test_secrets_on_added_lines_are_found_by_file_line_and_kind_never_by_value(
    tmp_path: Path, env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    # A key already on main is not this change's doing: only added lines count.
    origin = make_origin(
        tmp_path, {"settings.py": f'OLD_KEY = "{AWS_KEY}"\nDEBUG = False\n', "app.py": "x = 1\n"}
    )
    push_branch(
        tmp_path,
        origin,
        ws.branch,
        {
            "settings.py": f'OLD_KEY = "{AWS_KEY}"\nDEBUG = True\nTOKEN = "{GITHUB_TOKEN}"\n',
            "deploy/id_rsa": PRIVATE_KEY + "\n",
            "app.py": "x = 2\n",
        },
    )
    scan = await env.run(acts.scan_change, ScanChangeInput(workspace=workspace_of(ws, origin)))

    found = {(s.path, s.line, s.kind) for s in scan.secrets}
    assert ("settings.py", 3, "GitHub Token") in found
    assert ("deploy/id_rsa", 1, "Private Key") in found
    assert all(s.path != "settings.py" or s.line == 3 for s in scan.secrets), scan.secrets
    assert all(s.path != "app.py" for s in scan.secrets)
    assert scan.submodules == [] and scan.unscanned == []
    text = scan.model_dump_json()
    assert GITHUB_TOKEN not in text and "MIIEpAIBAAKCAQEA" not in text


async def test_a_clean_change_has_no_findings(
    tmp_path: Path, env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    origin = make_origin(tmp_path, {"app.py": "x = 1\n"})
    push_branch(tmp_path, origin, ws.branch, {"app.py": "x = 2\n", "notes.md": "plain words\n"})
    scan = await env.run(acts.scan_change, ScanChangeInput(workspace=workspace_of(ws, origin)))
    assert scan.secrets == [] and scan.submodules == [] and scan.unscanned == []


async def test_gitlinks_are_reported_and_large_files_are_named_unscanned(
    tmp_path: Path, env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    origin = make_origin(tmp_path, {"app.py": "x = 1\n"})
    work = tmp_path / "author"
    git(tmp_path, "clone", "-q", origin.url, str(work))
    (work / "big.txt").write_text("y" * 5_000)
    (work / ".gitmodules").write_text('[submodule "lib"]\n\tpath = vendor/lib\n\turl = ../lib\n')
    git(work, "add", "-A")
    head = git(work, "rev-parse", "HEAD").strip()
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/lib")
    git(work, "commit", "-q", "-m", "vendor a submodule")
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{ws.branch}")

    scan = await env.run(
        acts.scan_change,
        ScanChangeInput(workspace=workspace_of(ws, origin), max_file_bytes=1_000),
    )
    assert scan.submodules == ["vendor/lib"]
    assert scan.unscanned == ["big.txt (5000 bytes, over the 1000 byte limit)"]


def test_raw_diff_records_and_added_hunks_are_parsed() -> None:
    raw = (
        ":100644 100644 " + "a" * 40 + " " + "b" * 40 + " M\0src/a b.py\0"
        ":000000 160000 " + "0" * 40 + " " + "c" * 40 + " A\0vendor/lib\0"
    )
    entries = parse_raw_diff(raw)
    assert [(e.old_mode, e.new_mode, e.status, e.path) for e in entries] == [
        ("100644", "100644", "M", "src/a b.py"),
        ("000000", "160000", "A", "vendor/lib"),
    ]
    hunks = "@@ -1 +1 @@\n-a\n+b\n@@ -5,0 +6,3 @@\n+x\n+y\n+z\n@@ -9,2 +11,0 @@\n-p\n-q\n"
    assert added_line_numbers(hunks) == {1, 6, 7, 8}


async def test_a_line_marked_as_allowed_is_not_a_finding(
    tmp_path: Path, env: ActivityEnvironment, acts: WorkspaceActivities, ws: WorkspaceRef
) -> None:
    # The README's advice for a false positive: detect-secrets' own inline allowlist comment.
    origin = make_origin(tmp_path, {"app.py": "x = 1\n"})
    allowed = f'SAMPLE = "{AWS_KEY}"  # pragma: allowlist secret\n'
    push_branch(tmp_path, origin, ws.branch, {"app.py": allowed, "live.py": f'K = "{AWS_KEY}"\n'})
    scan = await env.run(acts.scan_change, ScanChangeInput(workspace=workspace_of(ws, origin)))
    assert [(s.path, s.line, s.kind) for s in scan.secrets] == [("live.py", 1, "AWS Access Key")]
