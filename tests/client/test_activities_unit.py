"""Forge activities against a faked HTTP boundary: marker lookup, find-or-create PRs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.forge.activities import ForgeActivities, carries_marker, marker_line
from activities.forge.client import GiteaClient
from domain import names
from domain.forge import OpenPullRequestInput, UpsertCommentInput
from domain.issue import IssueRef, RepoRef
from tests.client import payloads

REPO = RepoRef(forge_url="http://forge.test/", owner="acme", name="app")
ISSUE = IssueRef(repo=REPO, number=3)
R = "/api/v1/repos/acme/app"


class CommentThread:
    """An issue's comment list with create and edit, as Gitea keeps it."""

    def __init__(self, bodies: list[str]) -> None:
        self.comments = [payloads.comment(i + 1, body) for i, body in enumerate(bodies)]
        self.edits: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == f"{R}/issues/3/comments":
            return httpx.Response(200, json=self.comments)
        if request.method == "POST" and path == f"{R}/issues/3/comments":
            created = payloads.comment(len(self.comments) + 1, json.loads(request.content)["body"])
            self.comments.append(created)
            return httpx.Response(201, json=created)
        if request.method == "PATCH" and path.startswith(f"{R}/issues/comments/"):
            comment_id = int(path.rsplit("/", 1)[1])
            self.edits.append(comment_id)
            comment = next(c for c in self.comments if c["id"] == comment_id)
            comment["body"] = json.loads(request.content)["body"]
            return httpx.Response(200, json=comment)
        return httpx.Response(404, json=payloads.error("not found"))


def activities_over(handler: Any) -> ForgeActivities:
    def factory(base_url: str, token: str) -> GiteaClient:
        return GiteaClient(base_url, token, transport=httpx.MockTransport(handler))

    return ForgeActivities(lambda url: "tok", client_factory=factory)


async def upsert(acts: ForgeActivities, marker: str, body: str) -> Any:
    return await ActivityEnvironment().run(
        acts.upsert_comment, UpsertCommentInput(issue=ISSUE, marker=marker, body=body)
    )


async def test_upsert_creates_when_no_comment_carries_the_marker() -> None:
    thread = CommentThread(["hello", f"quoted:\n> {marker_line('plan')}", marker_line("plan-2")])
    acts = activities_over(thread)
    ref = await upsert(acts, "plan", "The plan")
    await acts.aclose()
    assert (ref.id, ref.created) == (4, True)
    assert thread.comments[-1]["body"] == f"The plan\n\n{marker_line('plan')}"


async def test_upsert_edits_the_marked_comment_only_when_body_differs() -> None:
    thread = CommentThread(["hello", f"Old plan\n\n{marker_line('plan')}", "bye"])
    acts = activities_over(thread)
    first = await upsert(acts, "plan", "New plan")
    second = await upsert(acts, "plan", "New plan")
    await acts.aclose()
    assert (first.id, first.created, second.id, second.created) == (2, False, 2, False)
    assert thread.edits == [2]
    assert len(thread.comments) == 3
    assert thread.comments[1]["body"] == f"New plan\n\n{marker_line('plan')}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"x\n\n{marker_line('plan')}", True),
        (f"{marker_line('plan')}\r\nx", True),
        (f"x {marker_line('plan')}", False),
        (f"> {marker_line('plan')}", False),
        (marker_line("plan:v2"), False),
        ("", False),
    ],
)
def test_marker_matching(body: str, expected: bool) -> None:
    assert carries_marker(body, "plan") is expected


class PullsServer:
    def __init__(self, pulls: list[dict[str, Any]], *, create_status: int = 201) -> None:
        self.pulls = pulls
        self.create_status = create_status
        self.created: list[Any] = []
        self.edited: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == f"{R}/pulls":
            return httpx.Response(200, json=self.pulls)
        if request.method == "POST" and path == f"{R}/pulls":
            body = json.loads(request.content)
            self.created.append(body)
            if self.create_status == 409:
                # Another attempt won the race: from now on the list shows its PR.
                self.pulls.append(payloads.pull(8, title="racer", body="racer"))
                return httpx.Response(409, json=payloads.error("already exists"))
            made = payloads.pull(11, head=body["head"], title=body["title"], body=body["body"])
            self.pulls.append(made)
            return httpx.Response(201, json=made)
        if request.method == "PATCH" and path.startswith(f"{R}/pulls/"):
            body = json.loads(request.content)
            self.edited.append(body)
            pull = next(p for p in self.pulls if str(p["number"]) == path.rsplit("/", 1)[1])
            pull.update(body)
            return httpx.Response(201, json=pull)
        return httpx.Response(404, json=payloads.error("not found"))


def pr_input(title: str = "Fix it", body: str = "Closes #3") -> OpenPullRequestInput:
    return OpenPullRequestInput(
        repo=REPO, head="autopilot/issue-3", base="main", title=title, body=body
    )


async def test_open_pull_request_creates_then_finds() -> None:
    server = PullsServer([payloads.pull(4, head="other")])
    acts = activities_over(server)
    env = ActivityEnvironment()
    first = await env.run(acts.open_pull_request, pr_input())
    again = await env.run(acts.open_pull_request, pr_input())
    await acts.aclose()
    assert (first.number, first.created, again.number, again.created) == (11, True, 11, False)
    assert len(server.created) == 1
    assert server.edited == []


async def test_open_pull_request_updates_title_and_body_of_existing() -> None:
    server = PullsServer([payloads.pull(9, title="Old", body="old")])
    acts = activities_over(server)
    info = await ActivityEnvironment().run(acts.open_pull_request, pr_input())
    await acts.aclose()
    assert (info.number, info.created) == (9, False)
    assert server.created == []
    assert server.edited == [{"title": "Fix it", "body": "Closes #3"}]


async def test_open_pull_request_on_409_adopts_and_updates_the_racer() -> None:
    server = PullsServer([], create_status=409)
    acts = activities_over(server)
    info = await ActivityEnvironment().run(acts.open_pull_request, pr_input())
    await acts.aclose()
    assert (info.number, info.created) == (8, False)
    assert server.edited == [{"title": "Fix it", "body": "Closes #3"}]


async def test_unknown_forge_token_is_a_non_retryable_error() -> None:
    def no_token(url: str) -> str:
        raise KeyError(url)

    acts = ForgeActivities(no_token)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            acts.upsert_comment, UpsertCommentInput(issue=ISSUE, marker="plan", body="x")
        )
    assert caught.value.type == names.ERR_UNAUTHORIZED
    assert caught.value.non_retryable


async def test_one_client_per_forge_and_aclose_closes_them() -> None:
    tokens: list[str] = []

    def token_for(url: str) -> str:
        tokens.append(url)
        return "tok"

    acts = ForgeActivities(token_for)
    first = acts.client_for(REPO)
    same = acts.client_for(RepoRef(forge_url="http://forge.test", owner="o", name="n"))
    other = acts.client_for(RepoRef(forge_url="http://other.test", owner="o", name="n"))
    assert first is same and first is not other
    assert tokens == ["http://forge.test", "http://other.test"]
    await acts.aclose()
    assert acts.client_for(REPO) is not first
    await acts.aclose()
