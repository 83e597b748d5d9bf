"""``run.lessons`` and ``run.experiments`` in autopilot.yaml: loaded, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_config

ENV = {"AUTOPILOT_FORGE_TOKEN": "t"}


def load(tmp_path: Path, run: str) -> object:
    path = tmp_path / "autopilot.yaml"
    path.write_text("run:\n" + run)
    return load_config(path=path, env=ENV)


def test_experiments_and_lesson_settings_load(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "  lessons: {token_budget: 100}\n"
        "  experiments:\n"
        "    - {name: plan-style, variants: [{name: a}, {name: b, plan_prompt: One task.}]}\n",
    )
    run = config.run  # type: ignore[attr-defined]
    assert run.lessons.token_budget == 100 and run.lessons.enabled
    (experiment,) = run.experiments
    assert [v.plan_prompt for v in experiment.variants] == ["", "One task."]
    assert (experiment.confidence, experiment.min_samples) == (0.95, 30)


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        ("  experiments: [{name: x, variants: [{name: a}]}]\n", "run.experiments[0].variants: "),
        (
            "  experiments: [{name: x, variants: [{name: a}, {name: a}]}]\n",
            "run.experiments[0]: experiment 'x' names a variant twice",
        ),
        (
            "  experiments: [{name: x, confidence: 1.5, variants: [{name: a}, {name: b}]}]\n",
            "run.experiments[0].confidence: ",
        ),
        ("  experiments: [{name: x, variants: [{name: a, prompt: p}, {name: b}]}]\n", "prompt"),
        ("  lessons: {budget: 10}\n", "run.lessons.budget: unknown key"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, run: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, run)
    message = str(refused.value)
    assert message.startswith(str(tmp_path / "autopilot.yaml")) and reason in message
    assert "\n" not in message
