"""The interactive gates a person names on the command line: ``--gates`` and ``--stage``.

``--gates implement,verify`` gives one run its own gates, overriding the repository's ``gates``
and ``run.gates``; ``--gates none`` runs without any. ``--stage`` names the gate a decision is
for (``plan`` or a gate stage), so a decision meant for another gate is refused.
"""

from __future__ import annotations

from typing import Literal, cast

from domain.run import GATE_STAGES, GateStage
from starters.common import StarterError

NO_GATES = "none"
PLAN = "plan"
GATES_HELP = (
    f"comma-separated gates of this run ({', '.join(GATE_STAGES)}, or '{NO_GATES}'); "
    "overrides the configured gates"
)
STAGE_HELP = f"the gate decided on ({PLAN}, {', '.join(GATE_STAGES)}); refused if another waits"


def parse_gates(raw: str | None) -> list[GateStage] | None:
    """The run's own gates from ``--gates``; None when not given (the configured ones)."""
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if names == [NO_GATES]:
        return []
    if not names:
        raise StarterError(f"--gates is empty; name gates ({_choices()}) or '{NO_GATES}'")
    unknown = [name for name in names if name not in GATE_STAGES]
    if unknown:
        raise StarterError(f"unknown gate {unknown[0]!r} in --gates; choose from {_choices()}")
    return list(dict.fromkeys(cast(list[GateStage], names)))


def parse_stage(raw: str | None) -> GateStage | Literal["plan"] | None:
    """The gate a decision is for, from ``--stage``; None when not given (whichever waits)."""
    if raw is None:
        return None
    if raw == PLAN:
        return "plan"
    if raw not in GATE_STAGES:
        raise StarterError(f"unknown gate {raw!r} in --stage; choose from {PLAN}, {_choices()}")
    return cast(GateStage, raw)


def _choices() -> str:
    return ", ".join(GATE_STAGES)
