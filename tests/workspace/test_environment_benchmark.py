"""benchmarks/environment_reuse.py: its core on a tiny repository with an offline setup."""

from __future__ import annotations

from pathlib import Path

from benchmarks.environment_reuse import measure

SETUP = "sh -c 'sleep 0.3; mkdir -p /autopilot/env/bin'"


async def test_report_compares_the_first_build_with_reuse(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# tiny\n")
    work = tmp_path / "work"
    work.mkdir()
    report = await measure(repo, work, runs=3, setup=[SETUP])

    assert report["commands"] == [SETUP] and report["first_built"]
    assert report["first_build_seconds"] >= 0.3
    reuse = report["reuse_seconds"]
    assert len(reuse["runs"]) == 3 and reuse["rebuilt"] == 0
    assert reuse["max"] < report["first_build_seconds"]
    assert report["first_over_reuse"] > 1 and report["activity_seconds"]["first_over_reuse"] > 1
    assert report["test_run"]["exit_code"] != 0  # no pytest in this environment
