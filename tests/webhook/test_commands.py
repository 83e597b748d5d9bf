"""Parsing ``/autopilot`` commands out of comment bodies."""

from __future__ import annotations

import pytest

from starters.webhook.commands import Command, UnknownCommand, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/autopilot approve", Command("approve")),
        ("  \n/autopilot approve\nthanks!", Command("approve", "thanks!")),
        ("/Autopilot APPROVE", Command("approve")),
        ("/autopilot reject split task 2", Command("reject", "split task 2")),
        (
            "/autopilot reject split task 2\nand test it",
            Command("reject", "split task 2\nand test it"),
        ),
        ("/autopilot reject", Command("reject")),
        ("/autopilot resume use Decimal", Command("resume", "use Decimal")),
        ("/autopilot resume", Command("resume")),
        ("/autopilot retry", Command("retry")),
        ("/autopilot\tretry", Command("retry")),
        ("/autopilot retry with Decimal", Command("retry", "with Decimal")),
    ],
)
def test_commands(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "looks good to me",
        "/autopilotapprove",
        "> /autopilot approve",
        "please /autopilot approve",
        "LGTM\n/autopilot approve",  # only the first line counts
        "`/autopilot approve`",
        "/autopilots approve",
    ],
)
def test_not_commands(body: str) -> None:
    assert parse_command(body) is None


@pytest.mark.parametrize("body", ["/autopilot", "/autopilot merge", "/autopilot\napprove"])
def test_unknown_commands_say_what_is_known(body: str) -> None:
    with pytest.raises(UnknownCommand, match="approve, reject, resume, retry"):
        parse_command(body)
