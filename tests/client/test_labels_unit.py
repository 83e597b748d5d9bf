"""Create-then-deduplicate, against a scripted server: which label survives and what moves."""

from __future__ import annotations

import json

import httpx

from activities.forge.gitea_models import Label
from domain.forge import LabelSpec
from tests.client import payloads
from tests.client.test_client_unit import R, Route, Script, answer, client


def listing(*batches: list[dict[str, object]]) -> Route:
    """Answers the label list with each batch in turn (the last one repeats)."""
    answers = list(batches)

    def route(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0) if len(answers) > 1 else answers[0])

    return route


async def test_a_concurrent_duplicate_is_merged_into_the_lowest_id() -> None:
    # We saw no "bug", created #7; meanwhile another run had created #5.
    script = Script(
        {
            ("GET", f"{R}/labels"): listing(
                [], [payloads.label(5, "bug"), payloads.label(7, "bug")]
            ),
            ("POST", f"{R}/labels"): answer(201, payloads.label(7, "bug")),
            ("GET", f"{R}/issues"): answer(
                200,
                [
                    payloads.issue(3, labels=[payloads.label(7, "bug")]),
                    payloads.issue(4, labels=[payloads.label(5, "bug"), payloads.label(7, "bug")]),
                    payloads.issue(6),
                ],
            ),
            ("POST", f"{R}/issues/3/labels"): answer(200, [payloads.label(5, "bug")]),
            ("DELETE", f"{R}/labels/7"): answer(204),
        }
    )
    async with client(script) as c:
        [bug] = await c.ensure_labels("acme", "app", [LabelSpec(name="bug")])
    assert bug.id == 5
    # Only the issue that carried the duplicate alone gets the survivor, by id.
    assert script.sent("POST", f"{R}/issues/3/labels") == [{"labels": [5]}]
    assert script.sent("POST", f"{R}/issues/4/labels") == []
    assert [r.url.path for r in script.requests if r.method == "DELETE"] == [f"{R}/labels/7"]
    [query] = [r.url.params for r in script.requests if r.url.path == f"{R}/issues"]
    assert query.get("state") == "all" and "type" not in query  # pull requests too


async def test_nothing_to_merge_writes_nothing() -> None:
    script = Script({("GET", f"{R}/labels"): answer(200, [payloads.label(1, "bug")])})
    async with client(script) as c:
        [bug] = await c.ensure_labels("acme", "app", [LabelSpec(name="bug")])
    assert bug.id == 1
    assert [r.method for r in script.requests] == ["GET"]


async def test_duplicates_of_names_not_asked_for_are_left_alone() -> None:
    listed = [Label(id=2, name="ui", color="aaaaaa"), Label(id=3, name="ui", color="aaaaaa")]
    script = Script({})
    async with client(script) as c:
        assert await c.merge_duplicates("acme", "app", listed, ["bug"]) == {}
    assert script.requests == []


async def test_a_duplicate_deleted_by_another_run_meanwhile_is_fine() -> None:
    script = Script(
        {
            ("GET", f"{R}/issues"): answer(200, []),
            ("DELETE", f"{R}/labels/9"): answer(404, payloads.error("not found")),
        }
    )
    listed = [Label(id=9, name="bug", color="aaaaaa"), Label(id=8, name="bug", color="aaaaaa")]
    async with client(script) as c:
        survivors = await c.merge_duplicates("acme", "app", listed, ["bug"])
    assert survivors["bug"].id == 8


async def test_add_labels_by_name_adds_the_survivors_ids() -> None:
    script = Script(
        {
            ("GET", f"{R}/labels"): answer(
                200, [payloads.label(4, "autopilot-pr-open"), payloads.label(2, "needs-human")]
            ),
            ("POST", f"{R}/issues/3/labels"): lambda r: httpx.Response(
                200,
                json=[payloads.label(i, "x") for i in json.loads(r.content)["labels"]],
            ),
        }
    )
    async with client(script) as c:
        await c.add_labels_by_name("acme", "app", 3, ["needs-human", "autopilot-pr-open"])
    assert script.sent("POST", f"{R}/issues/3/labels") == [{"labels": [2, 4]}]
