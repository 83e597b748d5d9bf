"""The resolution loop's decisions: when a failing test run means the fixes are stuck.

Failures are handled where they happen (see "Failures" in the README): transient activity
errors by their retry policies, an invalid task graph by re-planning, failing tests by this
loop, no progress and failed tasks by asking a person, permanent errors by failing the stage.
"""

from __future__ import annotations


def no_progress(outputs: list[str]) -> bool:
    """The latest failing run printed exactly what the one before it did."""
    return len(outputs) >= 2 and outputs[-1].strip() == outputs[-2].strip()


def fix_feedback(output_tail: str, guidance: str) -> str:
    feedback = f"The tests fail. Output:\n{output_tail}"
    if guidance:
        feedback += f"\n\nGuidance from a human: {guidance}"
    return feedback


def review_feedback(requested_changes: list[str], summary: str) -> str:
    return "Review requested changes:\n" + "\n".join(
        f"- {c}" for c in requested_changes or [summary]
    )
