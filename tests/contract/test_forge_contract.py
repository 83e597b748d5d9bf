"""Every forge endpoint the project uses, success and error paths, validated against the
Gitea 1.25.4 spec (tests/contract/spec.py checks status codes, shapes and undeclared fields)."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass

import httpx
import pytest

from devstack.forge.testing import RunningForge, push_files, seed_repo
from tests.contract.conftest import CheckedApi

OWNER = "autopilot"
_names = itertools.count(1)


@dataclass
class Other:
    login: str
    password: str
    token: str


@pytest.fixture(scope="module")
def other(api: CheckedApi) -> Other:
    """A second, non-admin user with a token made through the API (Basic auth)."""
    login, password = "bob", "s3cret-pass"
    api.expect(
        201,
        "POST",
        "/admin/users",
        {"username": login, "email": "bob@example.com", "password": password},
    )
    basic = base64.b64encode(f"{login}:{password}".encode()).decode()
    token = api.expect(
        201,
        "POST",
        f"/users/{login}/tokens",
        {"name": "bob-token", "scopes": ["all"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    return Other(login, password, token["sha1"])


def new_repo(forge: RunningForge, files: dict[str, str] | None = None) -> str:
    name = f"repo{next(_names)}"
    seed_repo(forge, OWNER, name, files or {"README.md": "hello\n", "src/app.py": "x = 1\n"})
    return f"/repos/{OWNER}/{name}"


@pytest.fixture(scope="module")
def repo(forge: RunningForge) -> str:
    return new_repo(forge)


# --- misc, auth, errors ----------------------------------------------------------------------


def test_version_and_user(api: CheckedApi) -> None:
    assert api.expect(200, "GET", "/version") == {"version": "1.25.4"}
    me = api.expect(200, "GET", "/user")
    assert me["login"] == OWNER and me["username"] == OWNER and me["is_admin"] is True


def test_missing_and_bad_credentials_are_401(api: CheckedApi) -> None:
    missing = api.expect(401, "GET", "/user", token=None)
    assert missing["message"] == "token is required"
    bad = api.expect(401, "GET", "/user", token="0" * 40)
    assert bad["message"] == "invalid username, password or token"
    assert api.forge.token not in str(bad)


def test_every_auth_form_is_accepted(api: CheckedApi) -> None:
    tok = api.forge.token
    forms = [
        {"Authorization": f"Bearer {tok}"},
        {"Authorization": f"TOKEN {tok}"},
        {"Authorization": "Basic " + base64.b64encode(f"{OWNER}:{tok}".encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(f"{tok}:".encode()).decode()},
    ]
    for headers in forms:
        assert api.expect(200, "GET", "/user", token=None, headers=headers)["login"] == OWNER
    for param in ("token", "access_token"):
        assert api.expect(200, "GET", "/user", token=None, params={param: tok})["login"] == OWNER


def test_unknown_route_is_gitea_404(forge: RunningForge) -> None:
    resp = httpx.get(
        f"{forge.api_url}/no/such/route", headers={"Authorization": f"token {forge.token}"}
    )
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/json;charset=utf-8"
    body = resp.json()
    assert body["message"] == "not found" and body["errors"] is None and body["url"]


def test_admin_only_user_creation_and_tokens(api: CheckedApi, other: Other) -> None:
    dup = {"username": other.login, "email": "x@example.com"}
    api.expect(422, "POST", "/admin/users", dup)
    api.expect(422, "POST", "/admin/users", {"email": "y@example.com"})
    api.expect(
        403,
        "POST",
        "/admin/users",
        {"username": "eve", "email": "e@example.com"},
        token=other.token,
    )
    assert api.expect(200, "GET", "/user", token=other.token)["is_admin"] is False
    made = api.expect(
        201, "POST", f"/users/{other.login}/tokens", {"name": "by-admin", "scopes": ["write:issue"]}
    )
    assert len(made["sha1"]) == 40 and made["token_last_eight"] == made["sha1"][-8:]
    api.expect(400, "POST", f"/users/{other.login}/tokens", {"name": "no-scope"})
    api.expect(
        403,
        "POST",
        f"/users/{OWNER}/tokens",
        {"name": "steal", "scopes": ["all"]},
        token=other.token,
    )


# --- repositories ----------------------------------------------------------------------------


def test_repo_lifecycle(api: CheckedApi, forge: RunningForge) -> None:
    created = api.expect(
        201,
        "POST",
        "/user/repos",
        {"name": "lifecycle", "auto_init": True, "default_branch": "trunk"},
    )
    assert created["default_branch"] == "trunk" and created["empty"] is False
    assert created["clone_url"] == f"{forge.base_url}/{OWNER}/lifecycle.git"
    assert created["permissions"] == {"admin": True, "push": True, "pull": True}
    api.expect(409, "POST", "/user/repos", {"name": "lifecycle"})
    api.expect(422, "POST", "/user/repos", {"name": "bad name!"})
    api.expect(
        422,
        "POST",
        "/user/repos",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    got = api.expect(200, "GET", f"/repos/{OWNER}/lifecycle")
    assert got["id"] == created["id"] and got["owner"]["login"] == OWNER
    api.expect(404, "GET", f"/repos/{OWNER}/nope")
    api.expect(204, "DELETE", f"/repos/{OWNER}/lifecycle")
    api.expect(404, "GET", f"/repos/{OWNER}/lifecycle")
    assert not (forge.data_dir / "repos" / OWNER / "lifecycle.git").exists()


def test_admin_creates_repo_for_user_and_private_repos_hide(api: CheckedApi, other: Other) -> None:
    api.expect(201, "POST", f"/admin/users/{other.login}/repos", {"name": "bobs"})
    api.expect(404, "POST", "/admin/users/ghost/repos", {"name": "x"})
    api.expect(403, "POST", f"/admin/users/{OWNER}/repos", {"name": "x"}, token=other.token)
    api.expect(201, "POST", "/user/repos", {"name": "secret", "private": True})
    api.expect(404, "GET", f"/repos/{OWNER}/secret", token=other.token)
    api.expect(404, "GET", f"/repos/{OWNER}/secret", token=None)
    assert api.expect(200, "GET", f"/repos/{OWNER}/secret")["private"] is True


def test_archived_repo_refuses_writes_with_423(api: CheckedApi, forge: RunningForge) -> None:
    path = new_repo(forge)
    push_files(forge, OWNER, path.rsplit("/", 1)[1], "topic", {"t.txt": "t\n"}, base="main")
    push_files(forge, OWNER, path.rsplit("/", 1)[1], "topic2", {"u.txt": "u\n"}, base="main")
    issue = api.expect(201, "POST", f"{path}/issues", {"title": "before archiving"})
    pr = api.expect(201, "POST", f"{path}/pulls", {"head": "topic", "base": "main", "title": "p"})
    assert api.expect(200, "PATCH", path, {"archived": True})["archived"] is True
    api.expect(423, "POST", f"{path}/pulls/{pr['number']}/merge", {"Do": "merge"})
    api.expect(423, "POST", f"{path}/pulls", {"head": "topic2", "base": "main", "title": "q"})
    api.expect(423, "DELETE", f"{path}/branches/topic")
    api.expect(423, "POST", f"{path}/issues", {"title": "t"})
    api.expect(423, "POST", f"{path}/labels", {"name": "l", "color": "#00aabb"})
    api.expect(423, "POST", f"{path}/issues/{issue['number']}/comments", {"body": "b"})
    api.expect(423, "POST", f"{path}/branches", {"new_branch_name": "x"})
    api.expect(423, "PATCH", f"{path}/issues/{issue['number']}", {"state": "closed"})
    api.expect(200, "GET", f"{path}/issues/{issue['number']}")  # reads still work
    assert api.expect(200, "PATCH", path, {"archived": False})["archived"] is False
    api.expect(201, "POST", f"{path}/issues", {"title": "after"})


# --- branches and contents -------------------------------------------------------------------


def test_branches(api: CheckedApi, forge: RunningForge, repo: str) -> None:
    made = api.expect(201, "POST", f"{repo}/branches", {"new_branch_name": "topic/one"})
    main = api.expect(200, "GET", f"{repo}/branches/main")
    assert made["commit"]["id"] == main["commit"]["id"] and made["name"] == "topic/one"
    assert api.expect(200, "GET", f"{repo}/branches/topic/one")["name"] == "topic/one"
    api.expect(409, "POST", f"{repo}/branches", {"new_branch_name": "topic/one"})
    api.expect(404, "POST", f"{repo}/branches", {"new_branch_name": "x", "old_ref_name": "nope"})
    api.expect(422, "POST", f"{repo}/branches", {})
    resp = api.call("GET", f"{repo}/branches", params={"limit": 1})
    assert resp.status_code == 200 and resp.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in resp.headers["Link"]
    api.expect(404, "GET", f"{repo}/branches/ghost")
    api.expect(403, "DELETE", f"{repo}/branches/main")
    api.expect(204, "DELETE", f"{repo}/branches/topic/one")
    api.expect(404, "DELETE", f"{repo}/branches/topic/one")
    api.expect(403, "POST", f"{repo}/branches", {"new_branch_name": "y"}, token=_other_token(api))


def _other_token(api: CheckedApi) -> str:
    return api.expect(
        201, "POST", "/users/bob/tokens", {"name": f"t{next(_names)}", "scopes": ["all"]}
    )["sha1"]


def test_contents(api: CheckedApi, forge: RunningForge, repo: str) -> None:
    push_files(
        forge, OWNER, repo.rsplit("/", 1)[1], "contents-ref", {"src/app.py": "x = 2\n"}, base="main"
    )
    file = api.expect(200, "GET", f"{repo}/contents/src/app.py", token=None)  # public: anonymous
    assert file["type"] == "file" and file["encoding"] == "base64"
    assert base64.b64decode(file["content"]) == b"x = 1\n"
    at_ref = api.expect(200, "GET", f"{repo}/contents/src/app.py", params={"ref": "contents-ref"})
    assert base64.b64decode(at_ref["content"]) == b"x = 2\n"
    listing = api.expect(200, "GET", f"{repo}/contents/src")
    assert [(e["name"], e["type"]) for e in listing] == [("app.py", "file")]
    root = api.expect(200, "GET", f"{repo}/contents")
    assert {e["name"]: e["type"] for e in root} == {"README.md": "file", "src": "dir"}
    api.expect(404, "GET", f"{repo}/contents/missing.txt")
    api.expect(404, "GET", f"{repo}/contents/src/app.py", params={"ref": "no-such-ref"})


# --- labels ----------------------------------------------------------------------------------


def test_repo_labels(api: CheckedApi, forge: RunningForge) -> None:
    path = new_repo(forge)
    made = api.expect(
        201, "POST", f"{path}/labels", {"name": "bug", "color": "#00AABB", "description": "d"}
    )
    assert made["color"] == "00aabb" and made["url"].endswith(f"/labels/{made['id']}")
    api.expect(201, "POST", f"{path}/labels", {"name": "short", "color": "f00"})
    api.expect(422, "POST", f"{path}/labels", {"name": "bad", "color": "#zzzzzz"})
    api.expect(422, "POST", f"{path}/labels", {"color": "#000000"})
    api.expect(
        403, "POST", f"{path}/labels", {"name": "x", "color": "#000000"}, token=_other_token(api)
    )
    resp = api.call("GET", f"{path}/labels", params={"limit": 1})
    assert resp.headers["X-Total-Count"] == "2" and "Link" not in resp.headers
    assert [lb["color"] for lb in resp.json()] == ["00aabb"]
    # Names are not unique in Gitea: a second "bug" is a second label; deleting one (or an
    # unknown id) answers 204.
    again = api.expect(201, "POST", f"{path}/labels", {"name": "bug", "color": "#00aabb"})
    assert again["id"] != made["id"]
    api.expect(204, "DELETE", f"{path}/labels/{again['id']}")
    api.expect(204, "DELETE", f"{path}/labels/999999")
    assert [lb["id"] for lb in api.expect(200, "GET", f"{path}/labels") if lb["name"] == "bug"] == [
        made["id"]
    ]


def test_issue_labels_by_id_and_name(api: CheckedApi, forge: RunningForge) -> None:
    path = new_repo(forge)
    a = api.expect(201, "POST", f"{path}/labels", {"name": "a", "color": "#111111"})
    b = api.expect(201, "POST", f"{path}/labels", {"name": "b", "color": "#222222"})
    n = api.expect(201, "POST", f"{path}/issues", {"title": "labels"})["number"]
    url = f"{path}/issues/{n}/labels"
    assert [lb["name"] for lb in api.expect(200, "POST", url, {"labels": [a["id"]]})] == ["a"]
    added = api.expect(200, "POST", url, {"labels": ["b", "unknown-name"]})
    assert [lb["name"] for lb in added] == ["a", "b"]
    api.expect(400, "POST", url, {"labels": [a["id"], "b"]})
    api.expect(400, "PUT", url, {"labels": [True]})
    assert [lb["name"] for lb in api.expect(200, "PUT", url, {"labels": ["b"]})] == ["b"]
    api.expect(422, "DELETE", f"{url}/999999")
    api.expect(204, "DELETE", f"{url}/{b['id']}")
    assert api.expect(200, "GET", url) == []
    api.expect(200, "POST", url, {"labels": [a["id"], b["id"]]})
    api.expect(204, "DELETE", url)
    assert api.expect(200, "GET", f"{path}/issues/{n}")["labels"] == []
    api.expect(404, "GET", f"{path}/issues/999/labels")


# --- issues and comments ---------------------------------------------------------------------


def test_issue_crud(api: CheckedApi, forge: RunningForge, other: Other) -> None:
    path = new_repo(forge)
    label = api.expect(201, "POST", f"{path}/labels", {"name": "todo", "color": "#333333"})
    made = api.expect(
        201,
        "POST",
        f"{path}/issues",
        {"title": "Fix it", "body": "details", "labels": [label["id"]]},
    )
    assert made["state"] == "open" and made["pull_request"] is None
    assert made["milestone"] is None and made["closed_at"] is None
    assert [lb["name"] for lb in made["labels"]] == ["todo"]
    assert made["repository"]["full_name"] == path.removeprefix("/repos/")
    api.expect(422, "POST", f"{path}/issues", {"body": "no title"})
    api.expect(401, "POST", f"{path}/issues", {"title": "anon"}, token=None)
    got = api.expect(200, "GET", f"{path}/issues/{made['number']}")
    assert got["title"] == "Fix it" and got["user"]["username"] == OWNER
    api.expect(404, "GET", f"{path}/issues/4242")
    api.expect(404, "GET", f"{path}/issues/99999999999999999999999")
    closed = api.expect(
        201, "PATCH", f"{path}/issues/{made['number']}", {"state": "closed", "title": "Fixed"}
    )
    assert closed["state"] == "closed" and closed["closed_at"] and closed["title"] == "Fixed"
    reopened = api.expect(201, "PATCH", f"{path}/issues/{made['number']}", {"state": "open"})
    assert reopened["state"] == "open" and reopened["closed_at"] is None
    api.expect(403, "PATCH", f"{path}/issues/{made['number']}", {"title": "x"}, token=other.token)
    theirs = api.expect(
        201,
        "POST",
        f"{path}/issues",
        {"title": "by bob", "labels": [label["id"]]},
        token=other.token,
    )
    assert theirs["labels"] == []  # labels from non-writers are dropped, like Gitea
    api.expect(
        201, "PATCH", f"{path}/issues/{theirs['number']}", {"body": "edited"}, token=other.token
    )


def test_issue_list_filters_and_pulls(api: CheckedApi, forge: RunningForge) -> None:
    path = new_repo(forge)
    name = path.rsplit("/", 1)[1]
    lbl = api.expect(201, "POST", f"{path}/labels", {"name": "ready", "color": "#444444"})
    api.expect(201, "POST", f"{path}/issues", {"title": "one", "labels": [lbl["id"]]})
    two = api.expect(201, "POST", f"{path}/issues", {"title": "two"})
    api.expect(201, "PATCH", f"{path}/issues/{two['number']}", {"state": "closed"})
    push_files(forge, OWNER, name, "feature", {"f.txt": "f\n"}, base="main")
    pr = api.expect(201, "POST", f"{path}/pulls", {"head": "feature", "base": "main", "title": "p"})
    titles = [i["title"] for i in api.expect(200, "GET", f"{path}/issues")]
    assert titles == ["p", "one"]  # newest first; PRs included by default
    assert [
        i["title"] for i in api.expect(200, "GET", f"{path}/issues", params={"type": "issues"})
    ] == ["one"]
    pulls = api.expect(200, "GET", f"{path}/issues", params={"type": "pulls"})
    assert [i["number"] for i in pulls] == [pr["number"]] and pulls[0]["pull_request"]
    assert [
        i["title"] for i in api.expect(200, "GET", f"{path}/issues", params={"state": "all"})
    ] == ["p", "two", "one"]
    assert [
        i["title"] for i in api.expect(200, "GET", f"{path}/issues", params={"labels": "ready"})
    ] == ["one"]
    resp = api.call("GET", f"{path}/issues", params={"state": "all", "limit": 2})
    assert resp.headers["X-Total-Count"] == "3" and 'rel="next"' in resp.headers["Link"]


def test_comments(api: CheckedApi, forge: RunningForge, other: Other) -> None:
    path = new_repo(forge)
    n = api.expect(201, "POST", f"{path}/issues", {"title": "talk"})["number"]
    c1 = api.expect(201, "POST", f"{path}/issues/{n}/comments", {"body": "first"})
    assert c1["issue_url"].endswith(f"/issues/{n}") and c1["pull_request_url"] == ""
    c2 = api.expect(
        201, "POST", f"{path}/issues/{n}/comments", {"body": "second"}, token=other.token
    )
    api.expect(422, "POST", f"{path}/issues/{n}/comments", {"body": ""})
    api.expect(404, "POST", f"{path}/issues/999/comments", {"body": "x"})
    resp = api.call("GET", f"{path}/issues/{n}/comments")
    assert [c["body"] for c in resp.json()] == ["first", "second"]
    assert resp.headers["X-Total-Count"] == "2" and "Link" not in resp.headers
    assert api.expect(200, "GET", f"{path}/issues/comments/{c1['id']}")["body"] == "first"
    edited = api.expect(200, "PATCH", f"{path}/issues/comments/{c1['id']}", {"body": "1st"})
    assert edited["body"] == "1st"
    api.expect(403, "PATCH", f"{path}/issues/comments/{c1['id']}", {"body": "x"}, token=other.token)
    api.expect(204, "DELETE", f"{path}/issues/comments/{c2['id']}", token=other.token)
    api.expect(404, "GET", f"{path}/issues/comments/{c2['id']}")
    api.expect(404, "DELETE", f"{path}/issues/comments/{c2['id']}")
    assert api.expect(200, "GET", f"{path}/issues/{n}")["comments"] == 1


# --- pull requests ---------------------------------------------------------------------------


def test_pull_request_flow(api: CheckedApi, forge: RunningForge, other: Other) -> None:
    path = new_repo(forge)
    name = path.rsplit("/", 1)[1]
    head_sha = push_files(
        forge,
        OWNER,
        name,
        "autopilot/issue-1",
        {"src/app.py": "x = 1\ny = 2\n", "new.txt": "n\n"},
        base="main",
    )
    api.expect(422, "POST", f"{path}/pulls", {"head": "autopilot/issue-1", "base": "main"})
    api.expect(422, "POST", f"{path}/pulls", {"head": "main", "base": "main", "title": "t"})
    api.expect(404, "POST", f"{path}/pulls", {"head": "ghost", "base": "main", "title": "t"})
    pr = api.expect(
        201,
        "POST",
        f"{path}/pulls",
        {"head": "autopilot/issue-1", "base": "main", "title": "Fix", "body": "b"},
    )
    assert pr["head"]["sha"] == head_sha and pr["head"]["ref"] == "autopilot/issue-1"
    assert pr["mergeable"] is True and pr["merged"] is False and pr["merge_commit_sha"] is None
    assert (pr["additions"], pr["deletions"], pr["changed_files"]) == (2, 0, 2)
    dup = {"head": "autopilot/issue-1", "base": "main", "title": "again"}
    api.expect(409, "POST", f"{path}/pulls", dup)
    comment = api.expect(201, "POST", f"{path}/issues/{pr['number']}/comments", {"body": "c"})
    assert comment["pull_request_url"].endswith(f"/pulls/{pr['number']}")
    resp = api.call("GET", f"{path}/pulls", params={"limit": 1})
    assert resp.headers["X-Total-Count"] == "1" and "Link" not in resp.headers
    edited = api.expect(201, "PATCH", f"{path}/pulls/{pr['number']}", {"title": "Fix it"})
    assert edited["title"] == "Fix it"
    api.expect(404, "GET", f"{path}/pulls/{pr['number']}/merge")
    api.expect(422, "POST", f"{path}/pulls/{pr['number']}/reviews", {"event": "APPROVED"})
    review = api.expect(
        200,
        "POST",
        f"{path}/pulls/{pr['number']}/reviews",
        {"event": "APPROVED", "body": "lgtm"},
        token=other.token,
    )
    assert review["state"] == "APPROVED" and review["commit_id"] == head_sha
    api.expect(
        422, "POST", f"{path}/pulls/{pr['number']}/reviews", {"event": "COMMENT"}, token=other.token
    )
    listed = api.expect(200, "GET", f"{path}/pulls/{pr['number']}/reviews")
    assert [r["id"] for r in listed] == [review["id"]]
    api.expect(
        405, "POST", f"{path}/pulls/{pr['number']}/merge", {"Do": "merge"}, token=other.token
    )
    api.expect(422, "POST", f"{path}/pulls/{pr['number']}/merge", {"Do": "octopus"})
    api.expect(200, "POST", f"{path}/pulls/{pr['number']}/merge", {"Do": "merge"})
    api.expect(405, "POST", f"{path}/pulls/{pr['number']}/merge", {"Do": "merge"})
    api.expect(204, "GET", f"{path}/pulls/{pr['number']}/merge")
    merged = api.expect(200, "GET", f"{path}/pulls/{pr['number']}")
    assert merged["merged"] and merged["state"] == "closed" and merged["merge_commit_sha"]
    assert merged["merged_by"]["login"] == OWNER
    api.expect(412, "PATCH", f"{path}/pulls/{pr['number']}", {"state": "open"})
    main = api.expect(200, "GET", f"{path}/branches/main")
    assert main["commit"]["id"] == merged["merge_commit_sha"]
    api.expect(404, "GET", f"{path}/pulls/4242")


def test_a_conflicted_merge_is_refused_as_not_mergeable(
    api: CheckedApi, forge: RunningForge
) -> None:
    """Gitea checks the PR's status first: "conflict" is ErrNotMergeableState, a 405."""
    path = new_repo(forge)
    name = path.rsplit("/", 1)[1]
    push_files(forge, OWNER, name, "left", {"src/app.py": "x = 'left'\n"}, base="main")
    push_files(forge, OWNER, name, "right", {"src/app.py": "x = 'right'\n"}, base="main")
    left = api.expect(201, "POST", f"{path}/pulls", {"head": "left", "base": "main", "title": "L"})
    right = api.expect(
        201, "POST", f"{path}/pulls", {"head": "right", "base": "main", "title": "R"}
    )
    api.expect(200, "POST", f"{path}/pulls/{left['number']}/merge", {"do": "squash"})
    assert api.expect(200, "GET", f"{path}/pulls/{right['number']}")["mergeable"] is False
    refused = api.expect(405, "POST", f"{path}/pulls/{right['number']}/merge", {"do": "merge"})
    assert refused["message"] == "Please try again later"
    api.expect(404, "GET", f"{path}/pulls/{right['number']}/merge")


# --- commit statuses -------------------------------------------------------------------------


def test_commit_statuses(api: CheckedApi, forge: RunningForge, repo: str) -> None:
    sha = api.expect(200, "GET", f"{repo}/branches/main")["commit"]["id"]
    empty = api.expect(200, "GET", f"{repo}/commits/main/status")
    assert empty["total_count"] == 0 and empty["statuses"] is None
    ci = api.expect(
        201,
        "POST",
        f"{repo}/statuses/{sha}",
        {"state": "pending", "context": "ci", "target_url": "http://ci/1"},
    )
    assert ci["status"] == "pending" and "state" not in ci
    api.expect(201, "POST", f"{repo}/statuses/{sha}", {"state": "success", "context": "ci"})
    api.expect(201, "POST", f"{repo}/statuses/{sha}", {"state": "failure", "context": "lint"})
    api.expect(400, "POST", f"{repo}/statuses/{sha}", {"state": "great"})
    api.expect(404, "POST", f"{repo}/statuses/{'f' * 40}", {"state": "success"})
    listed = api.expect(200, "GET", f"{repo}/statuses/{sha}")
    assert [s["status"] for s in listed] == ["failure", "success", "pending"]
    assert len(api.expect(200, "GET", f"{repo}/commits/main/statuses")) == 3
    combined = api.expect(200, "GET", f"{repo}/commits/main/status")
    assert combined["state"] == "failure" and combined["sha"] == sha
    assert sorted(s["context"] for s in combined["statuses"]) == ["ci", "lint"]
    api.expect(404, "GET", f"{repo}/commits/no-such-ref/status")
    api.expect(403, "POST", f"{repo}/statuses/{sha}", {"state": "success"}, token=_other_token(api))


def test_collaborator_permission(api: CheckedApi, forge: RunningForge, other: Other) -> None:
    path = new_repo(forge) + "/collaborators/{}/permission"
    mine = api.expect(200, "GET", path.format(OWNER))
    assert (mine["permission"], mine["role_name"], mine["user"]["login"]) == (
        "admin",
        "admin",
        OWNER,
    )
    theirs = api.expect(200, "GET", path.format(other.login))
    assert theirs["permission"] == "read" and theirs["user"]["login"] == other.login
    assert api.expect(200, "GET", path.format(other.login), token=other.token)["permission"] == (
        "read"
    )
    # Only admins and repo admins may ask about somebody else.
    api.expect(403, "GET", path.format(OWNER), token=other.token)
    api.expect(404, "GET", path.format("nobody-at-all"))
    api.expect(404, "GET", f"/repos/{OWNER}/no-such-repo/collaborators/{OWNER}/permission")
    owned = f"/repos/{other.login}/perm-owned/collaborators/{other.login}/permission"
    api.expect(201, "POST", f"/admin/users/{other.login}/repos", {"name": "perm-owned"})
    assert api.expect(200, "GET", owned, token=other.token)["permission"] == "owner"


# --- reviews, collaborators, guarded merges ---------------------------------------------------


def test_reviews_with_line_comments_official_and_stale(
    api: CheckedApi, forge: RunningForge, other: Other
) -> None:
    path = new_repo(forge)
    name = path.rsplit("/", 1)[1]
    first = push_files(forge, OWNER, name, "feature", {"src/app.py": "x = 2\n"}, base="main")
    pr = api.expect(201, "POST", f"{path}/pulls", {"head": "feature", "base": "main", "title": "F"})
    reviews = f"{path}/pulls/{pr['number']}/reviews"
    note = {"path": "src/app.py", "body": "call it y", "new_position": 1, "old_position": 0}
    read_only = api.expect(
        200,
        "POST",
        reviews,
        {"event": "COMMENT", "body": "hm", "comments": [note]},
        token=other.token,
    )
    assert read_only["official"] is False and read_only["comments_count"] == 1
    collaborator = f"{path}/collaborators/{other.login}"
    api.expect(403, "PUT", collaborator, {"permission": "write"}, token=other.token)
    api.expect(422, "PUT", collaborator, {"permission": "owner"})
    api.expect(422, "PUT", f"{path}/collaborators/nobody-here", {"permission": "write"})
    api.expect(204, "PUT", collaborator, {"permission": "write"})
    permission = api.expect(200, "GET", f"{collaborator}/permission")
    assert permission["permission"] == "write"
    asked = api.expect(
        200,
        "POST",
        reviews,
        {"event": "REQUEST_CHANGES", "body": "please rename", "comments": [note]},
        token=other.token,
    )
    assert asked["official"] is True and asked["stale"] is False and asked["commit_id"] == first
    lines = api.expect(200, "GET", f"{reviews}/{asked['id']}/comments")
    assert [(c["path"], c["body"], c["position"]) for c in lines] == [
        ("src/app.py", "call it y", 1)
    ]
    assert lines[0]["pull_request_review_id"] == asked["id"]
    assert lines[0]["user"]["login"] == other.login
    api.expect(404, "GET", f"{reviews}/4242/comments")
    assert api.expect(200, "GET", f"{path}/pulls/{pr['number']}")["review_comments"] == 2
    push_files(forge, OWNER, name, "feature", {"src/app.py": "y = 2\n"}, base="feature")
    listed = api.expect(200, "GET", reviews)
    assert [r["stale"] for r in listed] == [True, True]


def test_merge_with_a_moved_head_is_409(api: CheckedApi, forge: RunningForge) -> None:
    path = new_repo(forge)
    name = path.rsplit("/", 1)[1]
    checked = push_files(forge, OWNER, name, "moving", {"a.txt": "1\n"}, base="main")
    pr = api.expect(201, "POST", f"{path}/pulls", {"head": "moving", "base": "main", "title": "M"})
    moved = push_files(forge, OWNER, name, "moving", {"a.txt": "2\n"}, base="moving")
    merge = f"{path}/pulls/{pr['number']}/merge"
    api.expect(409, "POST", merge, {"Do": "merge", "head_commit_id": checked})
    api.expect(404, "GET", merge)
    api.expect(
        200,
        "POST",
        merge,
        {"Do": "squash", "head_commit_id": moved, "delete_branch_after_merge": True},
    )
    api.expect(404, "GET", f"{path}/branches/moving")
