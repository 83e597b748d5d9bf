"""Client behaviour that needs a scripted server: conflicts, label checks, Gitea quirks."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from activities.forge.client import GiteaClient
from activities.forge.errors import GiteaError
from domain import names
from domain.forge import LabelSpec
from domain.names import ERR_FORGE_CONFLICT
from tests.client import payloads

Route = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers by (method, path) and records every request."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.raw_path.decode().split("?")[0])
        if key not in self.routes:
            return httpx.Response(404, json=payloads.error("not found"))
        return self.routes[key](request)

    def sent(self, method: str, path: str) -> list[object]:
        return [
            json.loads(r.content) if r.content else None
            for r in self.requests
            if r.method == method and r.url.raw_path.decode().split("?")[0] == path
        ]


def client(script: Script) -> GiteaClient:
    return GiteaClient("http://forge.test", "tok", transport=httpx.MockTransport(script))


def answer(status: int, body: object = None) -> Route:
    return lambda request: httpx.Response(status, json=body)


R = "/api/v1/repos/acme/app"


async def test_create_pull_conflict_returns_the_existing_pull() -> None:
    other = payloads.pull(4, head="feature", base="main")
    mine = payloads.pull(9, head="autopilot/issue-3", base="main", title="Old title")
    script = Script(
        {
            ("POST", f"{R}/pulls"): answer(409, payloads.error("pull request already exists")),
            ("GET", f"{R}/pulls"): answer(200, [other, mine]),
        }
    )
    async with client(script) as c:
        pull, created = await c.create_or_find_pull(
            "acme", "app", "autopilot/issue-3", "main", "New title"
        )
    assert (pull.number, created) == (9, False)
    assert script.sent("POST", f"{R}/pulls") == [
        {"head": "autopilot/issue-3", "base": "main", "title": "New title", "body": ""}
    ]


async def test_create_pull_conflict_without_a_match_is_raised() -> None:
    script = Script(
        {
            ("POST", f"{R}/pulls"): answer(409, payloads.error("conflict")),
            ("GET", f"{R}/pulls"): answer(200, []),
        }
    )
    async with client(script) as c:
        with pytest.raises(GiteaError) as caught:
            await c.create_pull("acme", "app", "x", "main", "t")
    assert caught.value.type == ERR_FORGE_CONFLICT


async def test_create_pull_success_reports_created() -> None:
    script = Script({("POST", f"{R}/pulls"): answer(201, payloads.pull(12))})
    async with client(script) as c:
        pull, created = await c.create_or_find_pull("acme", "app", "autopilot/issue-3", "main", "t")
    assert (pull.number, created) == (12, True)


async def test_ensure_labels_creates_only_missing_and_strips_hash() -> None:
    script = Script(
        {
            ("GET", f"{R}/labels"): answer(200, [payloads.label(1, "bug", "ee0701")]),
            ("POST", f"{R}/labels"): lambda r: httpx.Response(
                201, json=payloads.label(2, json.loads(r.content)["name"], "00aabb")
            ),
        }
    )
    specs = [LabelSpec(name="bug", color="#ffffff"), LabelSpec(name="new", color="#00AABB")]
    async with client(script) as c:
        labels = await c.ensure_labels("acme", "app", specs)
    assert [(label.id, label.name) for label in labels] == [(1, "bug"), (2, "new")]
    assert script.sent("POST", f"{R}/labels") == [
        {"name": "new", "color": "00AABB", "description": ""}
    ]


async def test_add_labels_by_name_adds_by_id_and_raises_when_gitea_ignores_one() -> None:
    # The repo lists the label but Gitea's answer lacks it (a person deleted it meanwhile):
    # retryable, since the retry creates it again.
    script = Script(
        {
            ("GET", f"{R}/labels"): answer(
                200, [payloads.label(1, "bug"), payloads.label(2, "ghost")]
            ),
            ("POST", f"{R}/issues/3/labels"): answer(200, [payloads.label(1, "bug")]),
        }
    )
    async with client(script) as c:
        with pytest.raises(GiteaError) as caught:
            await c.add_labels_by_name("acme", "app", 3, ["bug", "ghost"])
    assert caught.value.type == names.ERR_FORGE_UNAVAILABLE
    assert not caught.value.non_retryable
    assert "ghost" in str(caught.value)
    assert script.sent("POST", f"{R}/issues/3/labels") == [{"labels": [1, 2]}]


async def test_add_labels_by_name_creates_missing_labels_first() -> None:
    script = Script(
        {
            ("GET", f"{R}/labels"): answer(200, []),
            ("POST", f"{R}/labels"): answer(201, payloads.label(5, "needs-human")),
            ("POST", f"{R}/issues/3/labels"): answer(200, [payloads.label(5, "needs-human")]),
        }
    )
    async with client(script) as c:
        labels = await c.add_labels_by_name("acme", "app", 3, ["needs-human"])
    assert [label.name for label in labels] == ["needs-human"]
    assert [body["name"] for body in script.sent("POST", f"{R}/labels")] == ["needs-human"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("on_issue", "delete_status", "deleted"),
    [
        ([], 204, []),
        ([("bug", 1)], 204, [f"{R}/issues/3/labels/1"]),
        ([("bug", 1), ("ui", 2)], 204, [f"{R}/issues/3/labels/1"]),
        ([("bug", 1)], 422, [f"{R}/issues/3/labels/1"]),  # removed meanwhile: still fine
    ],
)
async def test_remove_label_by_name(
    on_issue: list[tuple[str, int]], delete_status: int, deleted: list[str]
) -> None:
    labels = [payloads.label(label_id, name) for name, label_id in on_issue]
    script = Script(
        {
            ("GET", f"{R}/issues/3/labels"): answer(200, labels),
            ("DELETE", f"{R}/issues/3/labels/1"): lambda r: httpx.Response(delete_status),
        }
    )
    async with client(script) as c:
        await c.remove_label("acme", "app", 3, "bug")
    assert [r.url.path for r in script.requests if r.method == "DELETE"] == deleted


async def test_remove_label_other_errors_propagate() -> None:
    script = Script(
        {
            ("GET", f"{R}/issues/3/labels"): answer(200, [payloads.label(1, "bug")]),
            ("DELETE", f"{R}/issues/3/labels/1"): answer(403, payloads.error("forbidden")),
        }
    )
    async with client(script) as c:
        with pytest.raises(GiteaError) as caught:
            await c.remove_label("acme", "app", 3, "bug")
    assert caught.value.type == names.ERR_FORBIDDEN


async def test_edit_comment_reads_back_after_204() -> None:
    script = Script(
        {
            ("PATCH", f"{R}/issues/comments/5"): lambda r: httpx.Response(204),
            ("GET", f"{R}/issues/comments/5"): answer(200, payloads.comment(5, "new")),
        }
    )
    async with client(script) as c:
        comment = await c.edit_comment("acme", "app", 5, "new")
    assert (comment.id, comment.body) == (5, "new")


@pytest.mark.parametrize(("status", "merged"), [(204, True), (404, False)])
async def test_is_merged(status: int, merged: bool) -> None:
    script = Script({("GET", f"{R}/pulls/9/merge"): lambda r: httpx.Response(status)})
    async with client(script) as c:
        assert await c.is_merged("acme", "app", 9) is merged


async def test_is_merged_other_errors_propagate() -> None:
    script = Script({("GET", f"{R}/pulls/9/merge"): answer(500, payloads.error(""))})
    async with client(script) as c:
        with pytest.raises(GiteaError):
            await c.is_merged("acme", "app", 9)


@pytest.mark.parametrize(
    ("lowercase", "expected"),
    [
        (False, {"Do": "squash", "MergeTitleField": "T", "delete_branch_after_merge": True}),
        (True, {"do": "squash", "merge_title_field": "T", "delete_branch_after_merge": True}),
    ],
)
async def test_merge_field_spelling(lowercase: bool, expected: dict[str, object]) -> None:
    script = Script({("POST", f"{R}/pulls/9/merge"): lambda r: httpx.Response(200)})
    transport = httpx.MockTransport(script)
    async with GiteaClient(
        "http://forge.test", "tok", transport=transport, lowercase_merge_fields=lowercase
    ) as c:
        await c.merge_pull("acme", "app", 9, "squash", title="T", delete_branch=True)
    assert script.sent("POST", f"{R}/pulls/9/merge") == [expected]


async def test_branch_names_with_slashes_are_encoded_as_one_segment() -> None:
    script = Script(
        {
            ("GET", f"{R}/branches/autopilot%2Fissue-3"): answer(
                200, payloads.branch("autopilot/issue-3")
            )
        }
    )
    async with client(script) as c:
        branch = await c.get_branch("acme", "app", "autopilot/issue-3")
    assert branch.name == "autopilot/issue-3"


async def test_patch_answering_201_is_success() -> None:
    script = Script({("PATCH", f"{R}/issues/3"): answer(201, payloads.issue(3))})
    async with client(script) as c:
        issue = await c.edit_issue("acme", "app", 3, state="closed")
    assert issue.number == 3
    assert script.sent("PATCH", f"{R}/issues/3") == [{"state": "closed"}]


async def test_get_contents_of_a_directory_is_refused() -> None:
    script = Script({("GET", f"{R}/contents/src"): answer(200, [payloads.contents("src/a.py")])})
    async with client(script) as c:
        with pytest.raises(GiteaError) as caught:
            await c.get_contents("acme", "app", "src")
    assert caught.value.type == names.ERR_INVALID_REQUEST


async def test_combined_status_tolerates_null_statuses() -> None:
    body = payloads.combined("failure") | {"statuses": None}
    script = Script({("GET", f"{R}/commits/main/status"): answer(200, body)})
    async with client(script) as c:
        combined = await c.combined_status("acme", "app", "main")
    assert (combined.state, combined.statuses) == ("failure", [])


async def test_commit_status_state_comes_back_in_status() -> None:
    script = Script(
        {("POST", f"{R}/statuses/{'b' * 40}"): answer(201, payloads.status(4, "error"))}
    )
    async with client(script) as c:
        status = await c.create_status("acme", "app", "b" * 40, "error", "ci")
    assert (status.id, status.status) == (4, "error")
    assert script.sent("POST", f"{R}/statuses/{'b' * 40}") == [
        {"state": "error", "context": "ci", "description": ""}
    ]
