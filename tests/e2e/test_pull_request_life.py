"""After the PR opens: the run watches it and, with ``merge.mode: when-approved``, merges it
once a person with write access approved and every required status is green; a pending status
keeps it waiting. The reviewer, the statuses and the merge are real forge calls."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from activities.forge.client import GiteaClient
from activities.forge.sections import section_of
from config.settings import load_config
from devstack.model_server.testing import running_model_server
from devstack.stack import DEMO_SCENARIO
from domain import names
from domain.issue import IssueRef, RepoRef
from domain.pull_body import PULL_STATUS_MARKER, marker_line
from domain.run import IssueResult, IssueStatus
from starters.common import issue_ref, start_issue_run
from starters.webhook.backend import TemporalBackend
from tests.e2e.conftest import DEMO, Stack
from tests.e2e.histories import save_history
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

WHEN_APPROVED_YAML = """
repositories:
  - name: under-test
    repo: {repo}
    test_command: python -m pytest -q -p no:cacheprovider
    test_timeout_seconds: 120
    merge:
      mode: when-approved
      style: squash
      required_statuses: [ci]
      poll_seconds: 1
"""


REVIEW_ASK = "Please state the bulk threshold in the README"
# The implementer's answer to that review: one more rule ahead of the demo's.
ANSWER_RULE = {
    "when": ["Purpose: review", REVIEW_ASK],
    "note": "the answer to a review on the open PR",
    "trajectory": [
        {"tool_calls": [{"name": "view", "arguments": {"path": "README.md"}}]},
        {
            "tool_calls": [
                {
                    "name": "str_replace",
                    "arguments": {
                        "path": "README.md",
                        "old_str": "## Pricing rules",
                        "new_str": "Ten units or more get the bulk discount.\n\n## Pricing rules",
                    },
                }
            ]
        },
        {
            "tool_calls": [
                {"name": "finish", "arguments": {"summary": "README states the threshold."}}
            ]
        },
    ],
}


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's model, plus the answer to the review this module's test asks for."""
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text(encoding="utf-8"))
    scenario["rules"].insert(0, ANSWER_RULE)
    path = tmp_path_factory.mktemp("scenario") / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    with running_model_server(path) as url:
        yield url


def reviewer(stack: Stack, repo: str, login: str) -> str:
    """A person with write access to ``repo`` (a collaborator); their API token."""
    password = "review-pass-1"
    user = {"username": login, "email": f"{login}@x.test", "password": password}
    stack.forge.api("POST", "/admin/users", user)
    # The token endpoint takes Basic auth only.
    answer = httpx.post(
        f"{stack.forge.api_url}/users/{login}/tokens",
        json={"name": "review", "scopes": ["all"]},
        auth=(login, password),
        timeout=30,
    )
    answer.raise_for_status()
    stack.forge.api("PUT", f"/repos/{repo}/collaborators/{login}", {"permission": "write"})
    return str(answer.json()["sha1"])


async def monitor_waits_for(stack: Stack, workflow_id: str, text: str) -> IssueStatus:
    handle = stack.client.get_workflow_handle(workflow_id)
    return await eventually(
        lambda: handle.query("status", result_type=IssueStatus),
        lambda status: status.stage == "monitor" and status.waiting_for == text,
        timeout=120,
        interval=0.2,
        what=f"{workflow_id} waiting for {text!r}",
    )


async def start_watched_run(stack: Stack, tmp_path: Path, **run: str) -> tuple[int, str]:
    """The demo issue's run with ``WHEN_APPROVED_YAML`` and ``run.*`` settings; (issue, id)."""
    owner, name = stack.repo.split("/")
    await stack.seeder.create_repo(name, DEMO / "repo")
    issue = await stack.seeder.open_issue(owner, name, DEMO / "issue.md")
    repositories = tmp_path / "when-approved.yaml"
    repositories.write_text(WHEN_APPROVED_YAML.format(repo=stack.repo))
    env = {**stack.env, "AUTOPILOT_REPOSITORIES": str(repositories)}
    overrides = {f"AUTOPILOT__RUN__{key.upper()}": value for key, value in run.items()}
    config = load_config(env={**env, "AUTOPILOT__RUN__AUTO_APPROVE": "true", **overrides})
    ref = issue_ref(config, stack.repo, issue["number"])
    await start_issue_run(stack.client, config, ref)
    return issue["number"], ref.workflow_id


async def test_an_approved_green_pr_merges_and_a_pending_one_waits(
    stack: Stack, tmp_path: Path
) -> None:
    number, workflow_id = await start_watched_run(stack, tmp_path)

    status = await monitor_waits_for(
        stack, workflow_id, "merge: 0 of 1 required approvals; status ci is missing"
    )
    pulls = f"/repos/{stack.repo}/pulls/{status.pr_number}"
    head = stack.forge.api("GET", pulls)["head"]["sha"]
    stack.forge.api(
        "POST", f"/repos/{stack.repo}/statuses/{head}", {"state": "pending", "context": "ci"}
    )
    token = reviewer(stack, stack.repo, "maintainer-ann")
    stack.forge.api("POST", f"{pulls}/reviews", {"event": "APPROVED", "body": "ok"}, token=token)
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    await handle.signal(names.PR_EVENT_SIGNAL, {"action": "reviewed"})
    # Approved, but the required status is pending: pending is never green.
    await monitor_waits_for(stack, workflow_id, "merge: status ci is pending")
    assert stack.forge.api("GET", pulls)["merged"] is False

    stack.forge.api(
        "POST", f"/repos/{stack.repo}/statuses/{head}", {"state": "success", "context": "ci"}
    )
    result = await handle.result()
    assert result.outcome == "merged", result.status.error
    pull = stack.forge.api("GET", pulls)
    assert pull["merged"] and pull["merge_commit_sha"]
    main = stack.forge.api("GET", f"/repos/{stack.repo}/branches/main")
    assert main["commit"]["id"] == pull["merge_commit_sha"]
    branches = {b["name"] for b in stack.forge.api("GET", f"/repos/{stack.repo}/branches")}
    assert branches == {"main"}  # Autopilot's branch is gone after the merge
    labels = stack.forge.api("GET", f"/repos/{stack.repo}/issues/{number}/labels")
    assert names.LABEL_PR_OPEN not in {label["name"] for label in labels}
    comments = stack.forge.api("GET", f"/repos/{stack.repo}/issues/{number}/comments")
    assert any("Autopilot merged" in c["body"] for c in comments)
    await save_history(stack.client, workflow_id, "monitor_merged")


async def test_a_change_request_gets_a_follow_up_commit_and_an_answer(
    stack: Stack, tmp_path: Path
) -> None:
    number, workflow_id = await start_watched_run(stack, tmp_path, max_review_iterations="2")
    status = await monitor_waits_for(
        stack, workflow_id, "merge: 0 of 1 required approvals; status ci is missing"
    )
    pulls = f"/repos/{stack.repo}/pulls/{status.pr_number}"
    first = stack.forge.api("GET", pulls)
    first_head = first["head"]["sha"]
    assert "after 2 run(s)" in (section_of(first["body"], PULL_STATUS_MARKER) or "")
    token = reviewer(stack, stack.repo, "maintainer-bo")
    note = {"path": "README.md", "body": "mention 10 units here", "new_position": 3}
    ask = {"event": "REQUEST_CHANGES", "body": REVIEW_ASK, "comments": [note]}
    stack.forge.api("POST", f"{pulls}/reviews", ask, token=token)
    # What the webhook receiver does with the review's delivery: find the PR's run, signal it.
    owner, name = stack.repo.split("/")
    pull_ref = IssueRef(
        repo=RepoRef(forge_url=stack.forge.base_url, owner=owner, name=name),
        number=status.pr_number,
    )
    async with GiteaClient(stack.forge.base_url, stack.forge.token) as forge:
        receiver = TemporalBackend(stack.client, stack.config, forge)
        assert await receiver.notify(pull_ref, "") == workflow_id

    # Answered: a new commit on the same branch, the tests re-run, and a comment on the PR.
    status = await monitor_waits_for(
        stack,
        workflow_id,
        "merge: changes requested by maintainer-bo; 0 of 1 required approvals; "
        "status ci is missing",
    )
    assert status.attempts.get("verify") == 3, status.attempts  # red, green, green again
    pull = stack.forge.api("GET", pulls)
    assert pull["head"]["sha"] != first_head and pull["state"] == "open"
    # The body's status section follows the head; the plan and the review above it stay.
    section = section_of(pull["body"], PULL_STATUS_MARKER) or ""
    assert "after 3 run(s)" in section and "| review " in section, section
    before = first["body"].split(marker_line(PULL_STATUS_MARKER))[0]
    assert pull["body"].split(marker_line(PULL_STATUS_MARKER))[0] == before
    readme = stack.forge.api(
        "GET", f"/repos/{stack.repo}/contents/README.md?ref={pull['head']['ref']}"
    )
    assert "Ten units or more" in base64.b64decode(readme["content"]).decode()
    answers = [
        c["body"]
        for c in stack.forge.api("GET", f"/repos/{stack.repo}/issues/{status.pr_number}/comments")
        if "Autopilot answered the review" in c["body"]
    ]
    assert len(answers) == 1 and "@maintainer-bo" in answers[0]
    assert "README states the threshold." in answers[0]

    # A person closes the PR: the run ends, says so, and cleans up its branch and label.
    stack.forge.api("PATCH", pulls, {"state": "closed"}, token=token)
    async with GiteaClient(stack.forge.base_url, stack.forge.token) as forge:
        await TemporalBackend(stack.client, stack.config, forge).notify(pull_ref, "")
    handle = stack.client.get_workflow_handle(workflow_id, result_type=IssueResult)
    result = await handle.result()
    assert result.outcome == "pr_closed", result.status.error
    branches = {b["name"] for b in stack.forge.api("GET", f"/repos/{stack.repo}/branches")}
    assert branches == {"main"}
    labels = stack.forge.api("GET", f"/repos/{stack.repo}/issues/{number}/labels")
    assert names.LABEL_PR_OPEN not in {label["name"] for label in labels}
    comments = stack.forge.api("GET", f"/repos/{stack.repo}/issues/{number}/comments")
    assert any("was closed without merging" in c["body"] for c in comments)
    await save_history(stack.client, workflow_id, "monitor_answered_then_closed")
