"""Options and output helpers shared by every ``outcomes`` command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from pipelines.home import Home, resolve_home
from pipelines.standard.names import check_ngo_id
from pipelines.standard.periods import Period

F = TypeVar("F", bound=Callable[..., Any])

EXIT_REFUSED = 1
"""Refused: by the NGO side's validation, or by the hub."""
EXIT_USAGE = 2
EXIT_NOT_DELIVERED = 3
"""Validated on the NGO's side, but not yet delivered to the hub: it waits in the outbox."""

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def require_hub(home: Home) -> Home:
    """``home``, or a usage error when that folder holds no hub (nothing is created)."""
    if not home.is_hub():
        raise click.BadParameter(
            f"{home.root} is not an Outcome Hub home (it holds no hub). Point --home, or "
            "$OUTCOMES_HOME, at the hub's folder; a new hub is created by `outcomes ngo "
            "register` or `outcomes serve`.",
            param_hint="--home",
        )
    return home


def _home_option(creates: bool, checked: bool = True) -> Callable[[F], F]:
    def to_home(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Home:
        home = Home(resolve_home(value))
        return home if creates or not checked else require_hub(home)

    def decorate(func: F) -> F:
        return click.option(
            "--home",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            callback=to_home,
            help="The hub's folder. Default: $OUTCOMES_HOME, else ./var."
            + (" Created if it does not exist." if creates else ""),
        )(func)

    return decorate


home_option = _home_option(creates=False)
"""``--home DIR``: an existing hub's folder; anything else is refused, never created."""
creating_home_option = _home_option(creates=True)
"""``--home DIR`` for the commands that create a hub: ``demo``, ``ngo register``, ``serve``."""
unchecked_home_option = _home_option(creates=False, checked=False)
"""``--home DIR`` for a command that checks it only when it uses it (see :func:`require_hub`)."""


def parse_period(
    _ctx: click.Context | None, _param: click.Parameter | None, value: str | None
) -> Period | None:
    if value is None:
        return None
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def parse_ngo(
    _ctx: click.Context | None, _param: click.Parameter | None, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return check_ngo_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def period_option(
    required: bool = True, help_text: str = "Reporting period, like 2026-Q3."
) -> Callable[[F], F]:
    return click.option("--period", required=required, callback=parse_period, help=help_text)


def ngo_option(
    required: bool = True, help_text: str = "NGO id, like ngo-0042."
) -> Callable[[F], F]:
    return click.option("--ngo", "ngo_id", required=required, callback=parse_ngo, help=help_text)


class HubFailure(click.ClickException):
    """An expected failure that the person can act on: printed without a traceback, exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        errors.print(f"[bold red]Error:[/] {self.message}")
