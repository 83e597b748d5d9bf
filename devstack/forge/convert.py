"""Rows and git objects to Gitea's API JSON (services/convert in Gitea).

Every object carries every key; absent objects are null, as Gitea's structs have no omitempty
(gitea-notes §0). User JSON adds the undeclared `username` copy of `login`.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from devstack.forge import git
from devstack.forge.context import Forge, RepoAccess
from devstack.forge.store import Row

EPOCH = "1970-01-01T00:00:00Z"  # Gitea's zero TimeStamp, e.g. archived_at of a live repo
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time


def user_json(forge: Forge, user: Row) -> dict[str, Any]:
    login = user["login"]
    return {
        "id": user["id"],
        "login": login,
        "login_name": "",
        "source_id": 0,
        "full_name": user["full_name"],
        "email": user["email"],
        "avatar_url": f"{forge.root_url}avatars/{hashlib.md5(user['email'].encode()).hexdigest()}",
        "html_url": f"{forge.root_url}{quote(login)}",
        "language": "",
        "is_admin": bool(user["is_admin"]),
        "last_login": GO_ZERO_TIME,
        "created": user["created"],
        "restricted": False,
        "active": True,
        "prohibit_login": False,
        "location": "",
        "website": "",
        "description": "",
        "visibility": "public",
        "followers_count": 0,
        "following_count": 0,
        "starred_repos_count": 0,
        "username": login,
    }


def user_ref(forge: Forge, user_id: int | None) -> dict[str, Any] | None:
    return None if user_id is None else user_json(forge, forge.store.user(user_id))


# Fields of Gitea's Repository the local forge does not model: what a plain repository shows.
REPO_FIXED_FIELDS: dict[str, Any] = {
    "fork": False,
    "template": False,
    "parent": None,
    "mirror": False,
    "size": 0,
    "language": "",
    "link": "",
    "original_url": "",
    "website": "",
    "stars_count": 0,
    "forks_count": 0,
    "watchers_count": 1,
    "release_counter": 0,
    "has_code": True,
    "has_issues": True,
    "internal_tracker": {
        "enable_time_tracker": True,
        "allow_only_contributors_to_track_time": True,
        "enable_issue_dependencies": True,
    },
    "external_tracker": None,
    "has_wiki": False,
    "external_wiki": None,
    "has_pull_requests": True,
    "has_projects": False,
    "projects_mode": "all",
    "has_releases": False,
    "has_packages": False,
    "has_actions": False,
    "ignore_whitespace_conflicts": False,
    "allow_merge_commits": True,
    "allow_rebase": True,
    "allow_rebase_explicit": True,
    "allow_squash_merge": True,
    "allow_fast_forward_only_merge": True,
    "allow_rebase_update": True,
    "allow_manual_merge": False,
    "autodetect_manual_merge": False,
    "default_delete_branch_after_merge": False,
    "default_merge_style": "merge",
    "default_allow_maintainer_edit": False,
    "avatar_url": "",
    "internal": False,
    "mirror_interval": "",
    "object_format_name": "sha1",
    "mirror_updated": GO_ZERO_TIME,
    "repo_transfer": None,
    "topics": [],
    "licenses": [],
}


async def repo_json(access: RepoAccess) -> dict[str, Any]:
    repo, owner, forge = access.repo, access.owner, access.forge
    open_issues, open_pulls = forge.store.open_counts(repo["id"])
    full_name = f"{owner['login']}/{repo['name']}"
    host = forge.root_url.split("//", 1)[-1].rstrip("/").rsplit(":", 1)[0]
    return {
        **REPO_FIXED_FIELDS,
        "id": repo["id"],
        "owner": user_json(forge, owner),
        "name": repo["name"],
        "full_name": full_name,
        "description": repo["description"],
        "empty": not await git.branches(access.path),
        "private": bool(repo["private"]),
        "languages_url": access.api("/languages"),
        "html_url": access.html(),
        "url": access.api(),
        "ssh_url": f"git@{host}:{full_name}.git",
        "clone_url": access.html(".git"),
        "open_issues_count": open_issues,
        "open_pr_counter": open_pulls,
        "default_branch": repo["default_branch"],
        "archived": bool(repo["archived"]),
        "created_at": repo["created"],
        "updated_at": repo["updated"],
        "archived_at": repo["archived_at"] or EPOCH,
        "permissions": {
            "admin": access.can_admin,
            "push": access.can_write,
            "pull": True,
        },
    }


def repo_meta(access: RepoAccess) -> dict[str, Any]:
    return {
        "id": access.repo["id"],
        "name": access.repo["name"],
        "owner": access.owner["login"],
        "full_name": f"{access.owner['login']}/{access.repo['name']}",
    }


def label_json(access: RepoAccess, label: Row) -> dict[str, Any]:
    return {
        "id": label["id"],
        "name": label["name"],
        "exclusive": bool(label["exclusive"]),
        "is_archived": bool(label["is_archived"]),
        "color": label["color"],
        "description": label["description"],
        "url": access.api(f"/labels/{label['id']}"),
    }


def issue_html(access: RepoAccess, issue: Row) -> str:
    kind = "pulls" if issue["is_pull"] else "issues"
    return access.html(f"/{kind}/{issue['number']}")


def issue_json(access: RepoAccess, issue: Row) -> dict[str, Any]:
    store, forge = access.forge.store, access.forge
    pull_meta = None
    if issue["is_pull"]:
        pull = store.pull(issue["id"])
        pull_meta = {
            "merged": bool(pull["merged"]),
            "merged_at": pull["merged_at"],
            "draft": False,
            "html_url": issue_html(access, issue),
        }
    return {
        "id": issue["id"],
        "url": access.api(f"/issues/{issue['number']}"),
        "html_url": issue_html(access, issue),
        "number": issue["number"],
        "user": user_json(forge, store.user(issue["user_id"])),
        "original_author": "",
        "original_author_id": 0,
        "title": issue["title"],
        "body": issue["body"],
        "ref": issue["ref"],
        "assets": [],
        "labels": [label_json(access, lb) for lb in store.issue_labels(issue["id"])],
        "milestone": None,
        "assignee": None,
        "assignees": None,
        "state": issue["state"],
        "is_locked": False,
        "comments": store.comment_count(issue["id"]),
        "created_at": issue["created"],
        "updated_at": issue["updated"],
        "closed_at": issue["closed_at"],
        "due_date": None,
        "time_estimate": 0,
        "pull_request": pull_meta,
        "repository": repo_meta(access),
        "pin_order": 0,
    }


def comment_json(access: RepoAccess, issue: Row, comment: Row) -> dict[str, Any]:
    html = issue_html(access, issue)
    return {
        "id": comment["id"],
        "html_url": f"{html}#issuecomment-{comment['id']}",
        "pull_request_url": html if issue["is_pull"] else "",
        "issue_url": "" if issue["is_pull"] else html,
        "user": user_json(access.forge, access.forge.store.user(comment["user_id"])),
        "original_author": "",
        "original_author_id": 0,
        "body": comment["body"],
        "assets": [],
        "created_at": comment["created"],
        "updated_at": comment["updated"],
    }


def status_json(access: RepoAccess, status: Row) -> dict[str, Any]:
    return {
        "id": status["idx"],
        "status": status["state"],
        "target_url": status["target_url"],
        "description": status["description"],
        "url": access.api(f"/statuses/{status['sha']}"),
        "context": status["context"],
        "creator": user_ref(access.forge, status["creator_id"]),
        "created_at": status["created"],
        "updated_at": status["created"],
    }


def _payload_user(sig: git.Signature) -> dict[str, Any]:
    return {"name": sig.name, "email": sig.email, "username": ""}


async def payload_commit(access: RepoAccess, sha: str) -> dict[str, Any]:
    info = await git.commit(access.path, sha)
    return {
        "id": info.sha,
        "message": info.message,
        "url": access.html(f"/commit/{info.sha}"),
        "author": _payload_user(info.author),
        "committer": _payload_user(info.committer),
        "verification": {
            "verified": False,
            "reason": "gpg.error.not_signed_commit",
            "signature": "",
            "signer": None,
            "payload": "",
        },
        "timestamp": info.author.date,
        "added": None,
        "removed": None,
        "modified": None,
    }


async def branch_json(access: RepoAccess, name: str, sha: str) -> dict[str, Any]:
    return {
        "name": name,
        "commit": await payload_commit(access, sha),
        "protected": False,
        "required_approvals": 0,
        "enable_status_check": False,
        "status_check_contexts": [],
        "user_can_push": access.can_write,
        "user_can_merge": access.can_write,
        "effective_branch_protection_name": "",
    }
