"""The spec validator itself must be able to fail: wrong types, undeclared statuses and fields."""

from __future__ import annotations

import pytest

from tests.contract import spec

ISSUE = "/repos/{owner}/{repo}/issues/{index}"
LABELS = "/repos/{owner}/{repo}/labels"
ERROR = {"message": "boom", "url": "http://h/api/swagger"}


def test_load_spec_is_gitea_1_25_4() -> None:
    loaded = spec.load_spec()
    assert loaded["info"]["version"] == "1.25.4" and loaded is spec.load_spec()


def test_operation_and_missing_operation() -> None:
    assert spec.operation("patch", ISSUE)["operationId"] == "issueEditIssue"
    with pytest.raises(KeyError):
        spec.operation("PUT", ISSUE)


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/v1/repos/a/b/issues/3", ISSUE),
        ("PATCH", "/repos/a/b/issues/3?x=1", ISSUE),
        ("GET", "/repos/a/b/issues/comments/7", "/repos/{owner}/{repo}/issues/comments/{id}"),
        ("GET", "/repos/a/b/issues/7/comments", "/repos/{owner}/{repo}/issues/{index}/comments"),
        ("POST", "/repos/a/b/pulls/2/merge", "/repos/{owner}/{repo}/pulls/{index}/merge"),
        ("GET", "/repos/a/b/branches/autopilot/issue-3", "/repos/{owner}/{repo}/branches/{branch}"),
        ("GET", "/repos/a/b/contents/src/x/y.py", "/repos/{owner}/{repo}/contents/{filepath}"),
    ],
)
def test_match_path(method: str, path: str, template: str) -> None:
    assert spec.match_path(method, path) == template


def test_match_path_unknown() -> None:
    with pytest.raises(KeyError):
        spec.match_path("GET", "/api/v1/no/such/thing")


def test_valid_issue_with_gitea_nulls_passes() -> None:
    issue = {
        "number": 3,
        "title": "t",
        "milestone": None,
        "pull_request": None,
        "closed_at": None,
        "assignee": None,
        "assignees": None,
        "labels": [],
    }
    spec.validate_response("GET", ISSUE, 200, issue)


@pytest.mark.parametrize(
    "bad",
    [
        {"number": "3", "title": "t"},  # wrong type
        {"number": None, "title": "t"},  # integers are never null
        {"number": 3, "labels": [{"id": "x"}]},  # nested wrong type
        {"number": 3, "invented": True},  # undeclared field
        {"number": 3, "user": {"login": "a", "bogus": 1}},  # undeclared nested field
    ],
)
def test_wrong_issue_bodies_fail(bad: dict[str, object]) -> None:
    with pytest.raises(AssertionError):
        spec.validate_response("GET", ISSUE, 200, bad)


def test_user_may_carry_username_but_nothing_else() -> None:
    spec.validate_response("GET", "/user", 200, {"login": "a", "username": "a"})
    with pytest.raises(AssertionError, match="undeclared"):
        spec.validate_response("GET", "/user", 200, {"login": "a", "nickname": "a"})


def test_undeclared_status_fails_and_quirks_pass() -> None:
    with pytest.raises(AssertionError, match="does not declare"):
        spec.validate_response("PATCH", ISSUE, 200, {"number": 1})  # Gitea answers 201
    with pytest.raises(AssertionError, match="does not declare"):
        spec.validate_response("GET", "/version", 500, ERROR)
    spec.validate_response("GET", "/version", 401, ERROR)  # auth quirk, any operation
    spec.validate_response("PATCH", ISSUE, 423, ERROR)  # archived repo quirk
    with pytest.raises(AssertionError, match="does not declare"):
        spec.validate_response("GET", ISSUE, 423, ERROR)  # reads are never 423


def test_error_bodies_must_be_message_and_url() -> None:
    spec.validate_response("GET", ISSUE, 404, {**ERROR, "errors": None})
    with pytest.raises(AssertionError):
        spec.validate_response("GET", ISSUE, 404, {"message": "not found"})
    with pytest.raises(AssertionError):
        spec.validate_response("POST", LABELS, 422, {**ERROR, "detail": "x"})


def test_empty_and_non_empty_bodies() -> None:
    spec.validate_response("DELETE", "/repos/{owner}/{repo}", 204, None)
    with pytest.raises(AssertionError, match="empty body"):
        spec.validate_response("DELETE", "/repos/{owner}/{repo}", 204, {"x": 1})
    with pytest.raises(AssertionError, match="JSON body"):
        spec.validate_response("GET", ISSUE, 200, None)


def test_request_bodies() -> None:
    spec.validate_request_body("POST", LABELS, {"name": "bug", "color": "#00aabb"})
    with pytest.raises(AssertionError):
        spec.validate_request_body("POST", LABELS, {"name": "bug"})  # color is required
    with pytest.raises(AssertionError):
        spec.validate_request_body("POST", LABELS, {"name": "bug", "color": 5})
    merge = "/repos/{owner}/{repo}/pulls/{index}/merge"
    spec.validate_request_body(
        "POST", merge, {"do": "squash"}
    )  # Go matches keys case-insensitively
    with pytest.raises(AssertionError):
        spec.validate_request_body("POST", merge, {"Do": "squash", "colour": "x"})
    with pytest.raises(AssertionError, match="title"):
        spec.validate_request_body(
            "POST", "/repos/{owner}/{repo}/pulls", {"head": "a", "base": "b"}
        )
