"""The demo for the agent loop (scenario_agent.yaml) played on the demo repository with the
worker's brief and tools, and the structured demo scenario (scenario.yaml) answering exactly as
before, on both wires."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from activities.model.agent_prompts import brief_message
from devstack.model_server.testing import running_model_server
from devstack.model_server.toolbox import Wire, Workbench, converse
from domain.agent import AgentBrief, AgentPurpose
from domain.issue import IssueInfo
from domain.plan import Plan
from domain.review import ReviewVerdict
from tests.model.test_replay_worker_tools import WorkerTools

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
TITLE = (DEMO / "issue.md").read_text().partition("\n")[0].removeprefix("# ")
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"]


@pytest.fixture(scope="module")
def agent_url() -> Iterator[str]:
    with running_model_server(DEMO / "scenario_agent.yaml") as url:
        yield url


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    shutil.copytree(DEMO / "repo", path, ignore=shutil.ignore_patterns("__pycache__"))
    # The scenario runs `python -m pytest -q`: this interpreter, which has pytest.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:cacheprovider -p no:asyncio")
    return path


def brief(purpose: AgentPurpose, plan: Plan, task: str) -> str:
    """The first message as the worker writes it (activities.model.agent_prompts)."""
    issue = IssueInfo(
        number=1,
        title=TITLE,
        body="Ten mugs pay full price.",
        state="open",
        html_url="http://forge.test/autopilot/demo/issues/1",
        author="customer",
    )
    [current] = [t for t in plan.tasks if t.id == task]
    agent_brief = AgentBrief(
        purpose=purpose, issue=issue, plan=plan, task=current, test_command="python -m pytest -q"
    )
    return brief_message(agent_brief).text


def green(repo: Path) -> bool:
    return subprocess.run(PYTEST, cwd=repo, capture_output=True, timeout=120).returncode == 0


def play(
    url: str, bench: Workbench, plan: Plan, purpose: AgentPurpose, task: str, wire: Wire
) -> list[str]:
    transcript = converse(url, brief(purpose, plan, task), bench, wire=wire)
    for turn in transcript.turns:
        assert not any(is_error for _, is_error in turn.results), turn.results
    assert transcript.finished
    return [name for turn in transcript.turns for name, _ in turn.calls]


def structured(url: str, schema: str, prompt: str) -> Any:
    body = {
        "model": "m",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": prompt}],
        "response_format": {"type": "json_schema", "json_schema": {"name": schema}},
    }
    response = httpx.post(f"{url}/chat/completions", json=body)
    return json.loads(response.json()["choices"][0]["message"]["content"])


@pytest.mark.parametrize(
    ("wire", "tools"),
    [("openai", Workbench), ("anthropic", WorkerTools)],
    ids=["openai", "anthropic"],
)
def test_the_agent_demo_goes_red_then_green(
    agent_url: str, repo: Path, wire: Wire, tools: type[Workbench]
) -> None:
    plan = Plan.model_validate(structured(agent_url, "plan", f"Stage: plan\n{TITLE}"))
    first, second = (t.id for t in plan.in_dependency_order())
    bench = tools(repo)

    steps = ["view", "str_replace", "run", "finish"]
    assert play(agent_url, bench, plan, "task", first, wire) == steps
    assert "return quantity >= BULK_MIN_QUANTITY" in (repo / "shop/pricing.py").read_text()
    assert not green(repo)  # plausible, but line_total keeps its own '>'
    assert play(agent_url, bench, plan, "task", second, wire) == steps
    assert "test_bulk_discount_boundary" in (repo / "tests/test_pricing.py").read_text()
    assert not green(repo)
    assert play(agent_url, bench, plan, "fix", second, wire) == steps
    assert green(repo)

    # Asked again (a second fix round, an answer to a review): it sees the fix and stops.
    assert play(agent_url, bench, plan, "review", second, wire) == ["view", "finish"]
    verdict = ReviewVerdict.model_validate(structured(agent_url, "review_verdict", "Stage: review"))
    assert verdict.verdict == "approve"


def test_the_structured_demo_scenario_answers_as_before() -> None:
    rules = yaml.safe_load((DEMO / "scenario.yaml").read_text())["rules"]
    asks = [
        ("plan", "Stage: plan", rules[0]),
        ("edit_set", "Stage: edits\nPurpose: fix\nTask: add-regression-test", rules[1]),
        ("edit_set", "Stage: edits\nPurpose: review\nTask: x", rules[2]),
        ("edit_set", "Stage: edits\nPurpose: task\nTask: fix-bulk-discount-threshold", rules[3]),
        ("edit_set", "Stage: edits\nPurpose: task\nTask: add-regression-test", rules[4]),
        ("review_verdict", "Stage: review", rules[5]),
    ]
    with running_model_server(DEMO / "scenario.yaml") as url:
        for schema, prompt, rule in asks:
            assert structured(url, schema, prompt) == rule["reply"]
            messages = [{"role": "user", "content": prompt}]
            tool = {"name": schema, "input_schema": {"type": "object"}}
            forced = {"tools": [tool], "tool_choice": {"type": "tool", "name": schema}}
            body = {"model": "m", "max_tokens": 4096, "messages": messages, **forced}
            headers = {"anthropic-version": "2023-06-01"}
            data = httpx.post(f"{url}/messages", json=body, headers=headers).json()
            assert data["stop_reason"] == "tool_use"
            assert data["content"][0]["input"] == rule["reply"]
