"""repositories.yaml: depends_on, triggers and cross_repo_workflows, and their mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_config
from domain.issue import IssueRef, RepoRef
from starters.common import StarterError
from starters.cross_repo import cross_repo_input, workflow_for_labels
from workflows.cross_repo_report import merge_order

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

REPOS = """
repositories:
  - {name: backend, repo: acme/backend, triggers: [infrastructure]}
  - {name: frontend, repo: acme/frontend, depends_on: [backend], triggers: [infrastructure]}
  - {name: infrastructure, repo: acme/infrastructure}
"""


def load(tmp_path: Path, text: str) -> object:
    (tmp_path / "autopilot.yaml").write_text("")
    (tmp_path / "repositories.yaml").write_text(text)
    return load_config(tmp_path / "autopilot.yaml", tmp_path / "repositories.yaml", env={})


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def trigger() -> IssueRef:
    return IssueRef(repo=RepoRef(forge_url="http://f", owner="acme", name="backend"), number=4)


def test_the_shipped_files_are_valid() -> None:
    for name in ("repositories.yaml", "repositories.example.yaml"):
        load_config(CONFIG_DIR / "autopilot.yaml", CONFIG_DIR / name, env={})


def test_triggers_and_depends_on_give_the_merge_order(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        REPOS + "cross_repo_workflows:\n  c: {repositories: "
        "[infrastructure, frontend, backend], coordination: parallel}\n",
    )
    input = cross_repo_input(config, "c", trigger())  # type: ignore[arg-type]
    assert input.coordination == "parallel" and input.on_failure == "hold"
    deps = {t.name: t.depends_on for t in input.targets}
    assert deps == {
        "backend": [],
        "frontend": ["backend"],
        "infrastructure": ["backend", "frontend"],
    }
    assert merge_order(input.targets) == ["backend", "frontend", "infrastructure"]
    assert workflow_for_labels(config, ["bug", "autopilot:c"]) == "c"  # type: ignore[arg-type]
    assert workflow_for_labels(config, ["autopilot:other"]) is None  # type: ignore[arg-type]


def test_an_unknown_workflow_is_one_clear_line(tmp_path: Path) -> None:
    config = load(tmp_path, REPOS)
    with pytest.raises(StarterError, match="unknown cross-repo workflow 'nope'"):
        cross_repo_input(config, "nope", trigger())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "repositories:\n  - {name: a, repo: o/a, depends_on: [ghost]}\n",
            "repositories[0].depends_on[0]: unknown repository 'ghost'",
        ),
        (
            "repositories:\n  - {name: a, repo: o/a, triggers: [a]}\n",
            "repositories[0].triggers[0]: names the repository itself",
        ),
        (
            "repositories:\n  - {name: a, repo: o/a, depends_on: [b]}\n"
            "  - {name: b, repo: o/b, depends_on: [c]}\n"
            "  - {name: c, repo: o/c, triggers: [b]}\n"
            "  - {name: d, repo: o/d, triggers: [c], depends_on: [a]}\n",
            "dependency cycle (depends_on and triggers): a -> b -> c -> d -> a",
        ),
        (
            REPOS + "cross_repo_workflows:\n  c: {repositories: [backend, ghost]}\n",
            "cross_repo_workflows.c.repositories[1]: unknown repository 'ghost'",
        ),
        (
            REPOS + "cross_repo_workflows:\n  c: {repositories: [backend, backend]}\n",
            "cross_repo_workflows.c.repositories: lists backend more than once",
        ),
        (
            REPOS + "cross_repo_workflows:\n  c: {coordination: sequential}\n",
            "cross_repo_workflows.c.repositories: required key is missing",
        ),
        (
            REPOS + "cross_repo_workflows:\n  c: {repositories: [backend], coordination: x}\n",
            "cross_repo_workflows.c.coordination:",
        ),
        (
            REPOS + "cross_repo_workflows:\n  c: {repositories: [backend], order: 1}\n",
            "cross_repo_workflows.c.order: unknown key",
        ),
        (
            "repositories:\n  - {name: a, repo: o/a}\n  - {name: a, repo: o/b}\n",
            "repositories[1].name: duplicate repository name 'a'",
        ),
    ],
)
def test_mistakes_name_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    message = problem(tmp_path, text)
    assert message.startswith(str(tmp_path / "repositories.yaml") + ": ")
    assert expected in message and "\n" not in message
