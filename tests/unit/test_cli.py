"""The `outcomes` command line: every command has working help; usage errors exit 2."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import pytest

from pipelines.cli import main

COMMANDS = sorted(main.commands)


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command, as the words that invoke it."""
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


def test_the_command_line_registers_the_foundation_commands() -> None:
    """Tests that the NGO and hub commands of the foundation are all registered."""
    assert {"generate", "submit", "intake", "status", "audit", "ui", "demo"} <= set(COMMANDS)
    assert {"serve", "outbox", "figures", "key", "ngo"} <= set(COMMANDS)


@pytest.mark.parametrize("words", _command_paths(main), ids=" ".join)
def test_every_command_has_help_that_exits_0(
    words: tuple[str, ...], run_cli: Callable[..., Any]
) -> None:
    """Tests that `outcomes COMMAND --help` (and every sub-command's) prints its usage, exits 0."""
    result = run_cli(*words, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: main {' '.join(words)} [OPTIONS]" in result.output


def test_the_top_level_help_lists_every_command(run_cli: Callable[..., Any]) -> None:
    """Tests that `outcomes --help` exits 0 and lists every registered command."""
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", [None, "submit", "intake"])
def test_an_unknown_option_is_a_usage_error(
    command: str | None, run_cli: Callable[..., Any]
) -> None:
    """Tests that an unknown option exits 2 and names the option."""
    args = [command] if command else []
    result = run_cli(*args, "--no-such-option")
    assert result.exit_code == 2
    assert "No such option '--no-such-option'" in result.output


def test_submit_of_a_missing_file_is_a_usage_error(
    run_cli: Callable[..., Any], tmp_path: Any
) -> None:
    """Tests that submitting a file that does not exist exits 2 and says there is no file."""
    result = run_cli(
        "submit",
        tmp_path / "nope.csv",
        "--ngo",
        "ngo-0042",
        "--period",
        "2025-Q3",
        "--dataset",
        "episodes",
        "--ngo-home",
        tmp_path / "ngo",
    )
    assert result.exit_code == 2
    assert "there is no file at" in result.output
    assert not (tmp_path / "ngo").exists()


@pytest.mark.parametrize("words", _command_paths(main), ids=" ".join)
def test_every_command_says_what_it_does_without_markup(
    words: tuple[str, ...], run_cli: Callable[..., Any]
) -> None:
    """Tests that every command's help has a description (approve and withdraw once had none)
    and shows no reStructuredText backticks: help is read in a terminal, not rendered."""
    result = run_cli(*words, "--help")
    description = result.output.split("\n\n", 2)[1].strip()
    assert description, result.output
    assert not description.startswith("Options:"), result.output
    assert "`" not in result.output


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ("2026-Q3..2025-Q4", "the range 2026-Q3..2025-Q4 runs backwards"),
        ("2025-10..2026-09", "'2025-10' is not a quarter"),
        ("2026-Q1..2026-Q3", "the demo runs 4 to 8 consecutive quarters"),
        ("2098-Q1..2098-Q4", "2098-Q4 has not begun yet"),
    ],
)
def test_the_demo_refuses_a_range_of_quarters_it_cannot_run(
    periods: str, message: str, run_cli: Callable[..., Any], tmp_path: Any
) -> None:
    """Tests that `outcomes demo --periods` with a backwards range, something other than
    quarters, fewer quarters than the demo's year, or quarters to come is a usage error (exit 2) that says why,
    before anything is created."""
    result = run_cli("demo", "--periods", periods, "--home", tmp_path / "demo")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "demo").exists()
