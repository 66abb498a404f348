"""The NGO's side of the hub's API: its outbox, its verdicts, its figures, its key.

``outcomes outbox [send]``, ``outcomes status --hub``, ``outcomes figures --hub``
and ``outcomes key export|import``. The token comes from ``--token-file`` (a
file only its owner can read) or ``$OUTCOMES_HUB_TOKEN``, never from the
command line, where any user of the computer can read it in the process list.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from pipelines.cli.options import (
    EXIT_NOT_DELIVERED,
    EXIT_REFUSED,
    HubFailure,
    console,
    ngo_option,
    period_option,
)
from pipelines.standard.periods import Period

F = TypeVar("F", bound=Callable[..., Any])
HUB_URL_ENV = "OUTCOMES_HUB_URL"


# --- options ---------------------------------------------------------------------------------


def _to_ngo_home(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Any:
    from pipelines.ngo.folder import NgoFolderError, NgoHome

    try:
        return NgoHome.resolve(value)
    except NgoFolderError as exc:
        raise click.BadParameter(str(exc), param_hint="--ngo-home") from None


ngo_home_option = click.option(
    "--ngo-home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_to_ngo_home,
    help="The NGO's own folder (key, reports, outbox). Default: $OUTCOMES_NGO_HOME, else "
    "~/.local/share/outcome-hub.",
)


@dataclass(frozen=True)
class Hub:
    """Where the hub is and how to prove who is calling; the token never shows itself."""

    url: str
    token: Any
    ca_file: Path | None


def hub_options(required: bool) -> Callable[[F], F]:
    """``--hub URL`` (default ``$OUTCOMES_HUB_URL``), ``--token-file F`` and ``--ca-file F``,
    given to the command as ``hub``: a :class:`Hub`, or None when no hub was named."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            url = kwargs.pop("hub_url") or os.environ.get(HUB_URL_ENV)
            token_file, ca_file = kwargs.pop("token_file"), kwargs.pop("ca_file")
            if url is None and required:
                raise click.UsageError(f"give the hub's address with --hub URL (or ${HUB_URL_ENV})")
            kwargs["hub"] = None if url is None else _hub(url, token_file, ca_file)
            return func(*args, **kwargs)

        for option in (
            click.option(
                "--ca-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="The certificate of the hub's own certificate authority (PEM), if it has one.",
            ),
            click.option(
                "--token-file",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="A file holding the NGO's API token, readable by you only. Default: "
                "$OUTCOMES_HUB_TOKEN.",
            ),
            click.option(
                "--hub",
                "hub_url",
                default=None,
                help=f"The hub's address, like https://hub.example.org. Default: ${HUB_URL_ENV}.",
            ),
        ):
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _hub(url: str, token_file: Path | None, ca_file: Path | None) -> Hub:
    from pipelines.ngo.client import HubUrlError, check_hub_url
    from pipelines.ngo.token import TokenError, read_token

    try:
        checked = check_hub_url(url)
    except HubUrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--hub") from None
    try:
        token = read_token(token_file)
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None
    return Hub(checked, token, ca_file)


def open_hub(hub: Hub) -> Any:
    """A client of the hub; use as a context manager."""
    from pipelines.ngo.client import HubClient

    return HubClient(hub.url, hub.token, ca_file=hub.ca_file)


def _failure(exc: Exception) -> HubFailure:
    """A refusal or an unreachable hub, as the words to print."""
    from pipelines.ngo.client import HubRefused

    if isinstance(exc, HubRefused):
        return HubFailure(f"The hub refused: {exc.problem.message}")
    return HubFailure(f"{str(exc)[0].upper()}{str(exc)[1:]}.")


# --- delivering ------------------------------------------------------------------------------


def delivery_line(result: Any) -> None:
    """One line about one package: delivered with its receipt, refused, or still waiting."""
    sid = result.package.submission_id
    if result.outcome == "delivered":
        console.print(f"[green]Delivered[/] {sid}. {result.message}")
    elif result.outcome == "refused":
        console.print(f"[red]Refused by the hub[/] {sid}: {result.message}")
        if result.kept:
            console.print(
                "The package stays in the outbox: with the right token (or address) send it "
                "again with outcomes outbox send."
            )
    else:
        console.print(f"[yellow]Not delivered[/] {sid}: {result.message}")


@click.group(invoke_without_command=True)
@ngo_option(required=False, help_text="Only this NGO's packages.")
@ngo_home_option
@click.pass_context
def outbox(ctx: click.Context, ngo_id: str | None, ngo_home: Any) -> None:
    """What waits in the NGO's outbox for the hub's receipt (outbox send sends it)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipelines.ngo.outbox import waiting

    packages = waiting(ngo_home, ngo_id)
    if not packages:
        console.print(
            f"The outbox is empty: everything validated in {ngo_home.root} was delivered."
        )
        return
    table = Table(title=f"Waiting in the outbox ({len(packages)})", title_justify="left")
    for col in ("Submission", "Period", "Dataset", "Rows", "Packed (UTC)"):
        table.add_column(col, overflow="fold")
    for p in packages:
        m = p.manifest
        packed = m.submitted_at.strftime("%Y-%m-%d %H:%M") if m.submitted_at else ""
        table.add_row(p.submission_id, m.period, m.dataset, f"{m.rows:,}", packed)
    console.print(table)
    console.print("Send them with: outcomes outbox send --ngo ID --hub URL")


@outbox.command("send")
@ngo_option(help_text="The NGO whose packages to send (its token is used).")
@click.option(
    "--attempts",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Tries per package while the hub cannot be reached, waiting 1, 2, 4 … s between.",
)
@hub_options(required=True)
@ngo_home_option
def outbox_send(ngo_id: str, attempts: int, hub: Hub, ngo_home: Any) -> None:
    """Send every package waiting in the NGO's outbox to the hub, oldest first.

    A package leaves the outbox once the hub's receipt is kept (receipts/ in the
    NGO's folder). Exit 0 when all were delivered, 1 when the hub refused one, 3
    when some still wait.
    """
    from pipelines.ngo.deliver import send_outbox
    from pipelines.ngo.outbox import waiting

    if not waiting(ngo_home, ngo_id):
        console.print(f"Nothing waits in {ngo_id}'s outbox.")
        return
    with open_hub(hub) as client:
        results = send_outbox(ngo_home, ngo_id, client, attempts=attempts, progress=delivery_line)
    left = waiting(ngo_home, ngo_id)
    if any(r.outcome == "refused" for r in results):
        raise SystemExit(EXIT_REFUSED)
    if left:
        console.print(f"{len(left)} package(s) still wait in the outbox; nothing was lost.")
        raise SystemExit(EXIT_NOT_DELIVERED)


# --- the hub's verdicts and the NGO's figures ------------------------------------------------


def print_remote_status(hub: Hub, period: Period | None) -> None:
    """The NGO's submissions as the hub holds them, and the hub's report on each refused one."""
    from pipelines.ngo.client import HubRefused, HubUnavailable

    try:
        with open_hub(hub) as client:
            found = client.submissions(str(period) if period else None)
    except (HubRefused, HubUnavailable) as exc:
        raise _failure(exc) from None
    if not found:
        console.print(
            f"The hub at {hub.url} holds no submission of this NGO"
            + (f" for {period}." if period else ".")
        )
        return
    table = Table(title=f"Submissions at {hub.url}", title_justify="left")
    for col in ("Submission", "Period", "Dataset", "Received (UTC)", "Status", "Why"):
        table.add_column(col, overflow="fold")
    style = {"accepted": "green", "refused": "red", "superseded": "dim", "received": "yellow"}
    for s in found:
        table.add_row(
            s.submission_id,
            s.period,
            s.dataset,
            s.received_at[:16].replace("T", " "),
            f"[{style.get(s.status, 'white')}]{s.status}[/]",
            s.reason or "",
        )
    console.print(table)
    for s in found:
        failures = (s.report or {}).get("failures") or []
        if s.status == "refused" and isinstance(failures, list):
            console.print(f"[bold red]The hub refused {s.submission_id}:[/]")
            for f in failures:
                if isinstance(f, dict):
                    console.print(f"  {f.get('rule')}: {f.get('description')} {f.get('fix') or ''}")
    if any(s.status == "received" for s in found):
        console.print("Received submissions wait for the hub to validate them again.")


@click.command()
@period_option(help_text="The quarter, like 2026-Q3.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the figures to this file (.csv or .json) instead of showing them.",
)
@hub_options(required=True)
def figures(period: Period, out: Path | None, hub: Hub) -> None:
    """Download the NGO's own released figures for a quarter, with the pooled ones for context.

    Every figure is a differentially private aggregate with its 95% interval;
    no individual record is ever in it.
    """
    from pipelines.ngo.client import HubRefused, HubUnavailable

    try:
        with open_hub(hub) as client:
            if out is not None and out.suffix.lower() == ".csv":
                data = client.figures_csv(str(period))
            else:
                result = client.figures(str(period))
                data = result.model_dump_json(indent=2).encode() if out is not None else b""
    except (HubRefused, HubUnavailable) as exc:
        raise _failure(exc) from None
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        console.print(f"Wrote the figures for {period} to {out}")
        return
    print_figures(result)
    console.print(
        f"All {len(result.cells):,} cells: outcomes figures --period {period} --out FILE.csv"
    )


def print_figures(result: Any) -> None:
    """The NGO's own totals (or its first cells) of a download, as a table."""
    own = [c for c in result.cells if c.scope == "own"]
    pooled = [c for c in result.cells if c.scope == "pooled"]
    table = Table(
        title=f"{result.ngo_id}, {result.period}: {len(own):,} own cells "
        f"({len(pooled):,} pooled for context)",
        title_justify="left",
    )
    for col in ("Measure", "Breakdown", "Value", "95% interval", "Reliability"):
        table.add_column(col, overflow="fold")
    shown = [c for c in own if not c.breakdown][:12] or own[:12]
    for c in shown:
        value = "withheld" if c.value is None else f"{c.value:,.3g}"
        interval = "" if c.ci95_low is None else f"{c.ci95_low:,.3g} to {c.ci95_high:,.3g}"
        breakdown = ", ".join(f"{k}={v}" for k, v in c.breakdown.items()) or "total"
        table.add_row(c.title or c.measure, breakdown, value, interval, c.reliability)
    console.print(table)


# --- the NGO's key ---------------------------------------------------------------------------


@click.group("key")
def key() -> None:
    """The NGO's pseudonymisation key: move it to a new computer.

    The key never leaves the NGO. Losing it means next quarter's clients get new
    pseudonyms, so the hub can no longer follow their outcomes over time.
    """


@key.command("export")
@ngo_option()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A new file to write the key to (made readable by you only).",
)
@ngo_home_option
def key_export(ngo_id: str, out: Path, ngo_home: Any) -> None:
    """Write the NGO's key to a new file, to carry to another computer (then delete it)."""
    from pipelines.ngo.keys import UnsafeKeyError, export_key

    try:
        path = export_key(ngo_home, ngo_id, out)
    except UnsafeKeyError as exc:
        raise HubFailure(str(exc)) from None
    console.print(
        f"Wrote {ngo_id}'s key to {path} (readable by you only). Carry it to the new computer, "
        f"run outcomes key import --ngo {ngo_id} {path} there, then delete this copy."
    )


@key.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@ngo_option()
@ngo_home_option
def key_import(file: Path, ngo_id: str, ngo_home: Any) -> None:
    """Install a key exported from the NGO's old computer; never replaces a different key."""
    from pipelines.ngo.keys import UnsafeKeyError, import_key

    try:
        path, new = import_key(ngo_home, ngo_id, file)
    except UnsafeKeyError as exc:
        raise HubFailure(str(exc)) from None
    if new:
        console.print(f"Installed {ngo_id}'s key at {path}. You may now delete {file}.")
    else:
        console.print(f"{ngo_id} already has this key at {path}; nothing changed.")


COMMANDS = (outbox, figures, key)
