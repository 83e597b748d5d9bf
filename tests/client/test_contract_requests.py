"""Client side of the contract: every request the client sends is a spec operation with a
body the spec accepts, and the canned answers used here are themselves spec-valid."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from activities.forge.client import CLIENT_OPERATIONS, GiteaClient
from activities.forge.gitea_models import Label
from domain.forge import LabelSpec
from tests.client import payloads
from tests.contract.spec import match_path, validate_request_body, validate_response

SHA = "b" * 40

# What the fake answers per spec operation: (status, body).
ANSWERS: dict[tuple[str, str], tuple[int, Any]] = {
    ("GET", "/version"): (200, {"version": "1.25.4"}),
    ("GET", "/user"): (200, payloads.user()),
    ("GET", "/repos/{owner}/{repo}"): (200, payloads.repo()),
    ("GET", "/repos/{owner}/{repo}/collaborators/{collaborator}/permission"): (
        200,
        {"permission": "write", "role_name": "write", "user": payloads.user("alice", 5)},
    ),
    ("GET", "/repos/{owner}/{repo}/branches"): (200, [payloads.branch()]),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}"): (200, payloads.branch("autopilot/x")),
    ("POST", "/repos/{owner}/{repo}/branches"): (201, payloads.branch("autopilot/x")),
    ("GET", "/repos/{owner}/{repo}/issues"): (200, [payloads.issue()]),
    ("POST", "/repos/{owner}/{repo}/issues"): (201, payloads.issue()),
    ("GET", "/repos/{owner}/{repo}/issues/{index}"): (200, payloads.issue()),
    ("PATCH", "/repos/{owner}/{repo}/issues/{index}"): (201, payloads.issue()),
    ("GET", "/repos/{owner}/{repo}/labels"): (200, [payloads.label(1, "bug")]),
    ("POST", "/repos/{owner}/{repo}/labels"): (201, payloads.label(2, "new")),
    ("DELETE", "/repos/{owner}/{repo}/labels/{id}"): (204, None),
    ("GET", "/repos/{owner}/{repo}/issues/{index}/labels"): (200, [payloads.label(1, "bug")]),
    ("POST", "/repos/{owner}/{repo}/issues/{index}/labels"): (
        200,
        [payloads.label(1, "bug"), payloads.label(2, "new")],
    ),
    ("DELETE", "/repos/{owner}/{repo}/issues/{index}/labels/{id}"): (204, None),
    ("DELETE", "/repos/{owner}/{repo}/branches/{branch}"): (204, None),
    ("GET", "/repos/{owner}/{repo}/issues/{index}/comments"): (200, [payloads.comment(1, "x")]),
    ("POST", "/repos/{owner}/{repo}/issues/{index}/comments"): (201, payloads.comment(2, "y")),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{id}"): (200, payloads.comment(2, "z")),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{id}"): (200, payloads.comment(2, "z")),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{id}"): (204, None),
    ("GET", "/repos/{owner}/{repo}/contents/{filepath}"): (200, payloads.contents("docs/a.md")),
    ("GET", "/repos/{owner}/{repo}/pulls"): (200, [payloads.pull(9, head="autopilot/x")]),
    ("POST", "/repos/{owner}/{repo}/pulls"): (201, payloads.pull(9)),
    ("GET", "/repos/{owner}/{repo}/pulls/{index}"): (200, payloads.pull(9)),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{index}"): (201, payloads.pull(9)),
    ("POST", "/repos/{owner}/{repo}/pulls/{index}/merge"): (200, None),
    ("GET", "/repos/{owner}/{repo}/pulls/{index}/merge"): (204, None),
    ("GET", "/repos/{owner}/{repo}/pulls/{index}/reviews"): (200, [payloads.review()]),
    ("POST", "/repos/{owner}/{repo}/pulls/{index}/reviews"): (200, payloads.review()),
    ("GET", "/repos/{owner}/{repo}/pulls/{index}/reviews/{id}/comments"): (
        200,
        [payloads.review_comment()],
    ),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}"): (201, payloads.status()),
    ("GET", "/repos/{owner}/{repo}/statuses/{sha}"): (200, [payloads.status()]),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/status"): (200, payloads.combined()),
}


class SpecCheckingForge:
    """Validates each request against the spec, then answers from ANSWERS."""

    def __init__(self, overrides: dict[tuple[str, str], tuple[int, Any]] | None = None) -> None:
        self.answers = {**ANSWERS, **(overrides or {})}
        self.operations: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        template = match_path(request.method, request.url.raw_path.decode())
        body = json.loads(request.content) if request.content else None
        validate_request_body(request.method, template, body)
        self.operations.append((request.method, template))
        status, answer = self.answers[(request.method, template)]
        return httpx.Response(status, json=answer) if answer is not None else httpx.Response(status)


Call = Callable[[GiteaClient], Awaitable[object]]

CALLS: dict[str, Call] = {
    "version": lambda c: c.version(),
    "current_user": lambda c: c.current_user(),
    "get_repo": lambda c: c.get_repo("acme", "app"),
    "get_permission": lambda c: c.get_permission("acme", "app", "alice"),
    "list_branches": lambda c: c.list_branches("acme", "app"),
    "get_branch": lambda c: c.get_branch("acme", "app", "autopilot/x"),
    "create_branch": lambda c: c.create_branch("acme", "app", "autopilot/x", "main"),
    "create_branch_default": lambda c: c.create_branch("acme", "app", "autopilot/x"),
    "get_issue": lambda c: c.get_issue("acme", "app", 3),
    "list_issues": lambda c: c.list_issues("acme", "app", state="all", labels=["bug"]),
    "create_issue": lambda c: c.create_issue("acme", "app", "Title", "Body", [1, 2]),
    "edit_issue": lambda c: c.edit_issue("acme", "app", 3, title="T", body="B", state="closed"),
    "list_labels": lambda c: c.list_labels("acme", "app"),
    "create_label": lambda c: c.create_label("acme", "app", "new", "#00aabb", "d"),
    "ensure_labels": lambda c: c.ensure_labels(
        "acme", "app", [LabelSpec(name="bug"), LabelSpec(name="new", color="#00aabb")]
    ),
    "merge_duplicates": lambda c: c.merge_duplicates(
        "acme",
        "app",
        [Label(id=1, name="bug", color="ee0701"), Label(id=4, name="bug", color="")],
        ["bug"],
    ),
    "delete_label": lambda c: c.delete_label("acme", "app", 4),
    "list_issue_labels": lambda c: c.list_issue_labels("acme", "app", 3),
    "add_issue_labels": lambda c: c.add_issue_labels("acme", "app", 3, [1, 2]),
    "add_labels_by_name": lambda c: c.add_labels_by_name("acme", "app", 3, ["bug", "new"]),
    "remove_label": lambda c: c.remove_label("acme", "app", 3, "bug"),
    "list_comments": lambda c: c.list_comments("acme", "app", 3),
    "create_comment": lambda c: c.create_comment("acme", "app", 3, "hello"),
    "edit_comment": lambda c: c.edit_comment("acme", "app", 2, "edited"),
    "delete_comment": lambda c: c.delete_comment("acme", "app", 2),
    "delete_branch": lambda c: c.delete_branch("acme", "app", "autopilot/issue-3"),
    "get_contents": lambda c: c.get_contents("acme", "app", "docs/a.md", ref="main"),
    "list_pulls": lambda c: c.list_pulls("acme", "app", state="all", base="main"),
    "get_pull": lambda c: c.get_pull("acme", "app", 9),
    "create_pull": lambda c: c.create_pull("acme", "app", "autopilot/x", "main", "T", "B"),
    "edit_pull": lambda c: c.edit_pull("acme", "app", 9, title="T", body="B", state="open"),
    "merge_pull": lambda c: c.merge_pull(
        "acme", "app", 9, "squash", title="t", message="m", head_commit_id=SHA
    ),
    "is_merged": lambda c: c.is_merged("acme", "app", 9),
    "list_reviews": lambda c: c.list_reviews("acme", "app", 9),
    "list_review_comments": lambda c: c.list_review_comments("acme", "app", 9, 1),
    "create_review": lambda c: c.create_review(
        "acme",
        "app",
        9,
        "REQUEST_CHANGES",
        "fix",
        commit_id=SHA,
        comments=[{"path": "a.py", "body": "here", "new_position": 3}],
    ),
    "create_status": lambda c: c.create_status(
        "acme", "app", SHA, "success", "ci", description="ok", target_url="http://ci.test/1"
    ),
    "list_statuses": lambda c: c.list_statuses("acme", "app", SHA),
    "combined_status": lambda c: c.combined_status("acme", "app", "main"),
}


async def run(call: Call, forge: SpecCheckingForge) -> None:
    async with GiteaClient("http://forge.test", "tok", transport=httpx.MockTransport(forge)) as c:
        await call(c)


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_each_method_sends_spec_valid_requests(name: str) -> None:
    forge = SpecCheckingForge()
    await run(CALLS[name], forge)
    assert forge.operations, f"{name} sent no request"


def edit_answering_204() -> SpecCheckingForge:
    return SpecCheckingForge({("PATCH", "/repos/{owner}/{repo}/issues/comments/{id}"): (204, None)})


async def test_edit_comment_read_back_is_a_spec_operation() -> None:
    forge = edit_answering_204()
    await run(CALLS["edit_comment"], forge)
    assert ("GET", "/repos/{owner}/{repo}/issues/comments/{id}") in forge.operations


async def test_client_operations_are_exactly_what_the_methods_call() -> None:
    forge, read_back = SpecCheckingForge(), edit_answering_204()
    for call in CALLS.values():
        await run(call, forge)
    await run(CALLS["edit_comment"], read_back)
    assert set(forge.operations) | set(read_back.operations) == set(CLIENT_OPERATIONS)


@pytest.mark.parametrize("operation", sorted(ANSWERS))
def test_canned_answers_are_spec_valid(operation: tuple[str, str]) -> None:
    method, template = operation
    status, body = ANSWERS[operation]
    validate_response(method, template, status, body)
